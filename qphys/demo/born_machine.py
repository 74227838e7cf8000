"""Demo section: a quantum circuit Born machine on bars and stripes.

Loads the shipped 3x3 model (9 qubits, Chow-Liu depth 10, trained by
``examples/born_machine_bas.py``: L-BFGS-B on the exact MMD), evaluates it, and trains a 2x2
model live.
"""

from __future__ import annotations

from importlib.resources import files

import torch

import qphys
from qphys.demo import DemoContext, Section
from qphys.generative import (
    BornMachine,
    ChowLiuAnsatz,
    bars_and_stripes,
    bars_and_stripes_distribution,
    kl_divergence,
    mmd,
    qbas_score,
    valid_fraction,
)
from qphys.plots import distribution_bars


def run(ctx: DemoContext) -> dict:
    dev = qphys.device("torch.qubit", dtype="complex128")
    with files("qphys.generative").joinpath("data/bas3x3_depth10.pt").open("rb") as fh:
        saved = torch.load(fh)
    target = bars_and_stripes_distribution(3, 3)
    bm = BornMachine(ChowLiuAnsatz(saved["depth"], saved["edges"]), 9, device=dev, weights=saved["weights"],
                     seed=ctx.seed)
    with torch.no_grad():
        p = bm.probs()
    valid = bars_and_stripes(3, 3)
    q = qbas_score(bm.sample(5000 if ctx.quick else 20000), valid)
    kl3 = float(kl_divergence(target, p))
    vf3 = valid_fraction(p, valid)
    print(f"   3x3 BAS, 9 qubits, depth 10 (shipped weights): KL {kl3:.4f}, valid fraction {vf3:.4f}, "
          f"qBAS {q['qbas']:.4f}, MMD {float(mmd(p, target)):.2e}")
    # live training: 2x2 BAS
    t2 = bars_and_stripes_distribution(2, 2)
    bm2 = BornMachine(ChowLiuAnsatz.from_data(2, t2, 4), 4, device=dev, seed=ctx.seed)
    hist = bm2.fit(t2, steps=30 if ctx.quick else 80, progress=ctx.progress)
    with torch.no_grad():
        p2 = bm2.probs()
    kl2 = float(kl_divergence(t2, p2))
    print(f"   2x2 BAS trained live ({len(hist.loss)} L-BFGS iterations): KL {kl2:.4f}, "
          f"valid fraction {valid_fraction(p2, bars_and_stripes(2, 2)):.4f}")
    fig = distribution_bars(target, p, title="3x3 bars and stripes", labels=("target", "Born machine"))
    path = ctx.out_dir / "born_machine_bas.png"
    fig.savefig(path, dpi=120)
    print(f"   plot: {path}")
    return {"kl_3x3": kl3, "valid_3x3": vf3, "qbas_3x3": q["qbas"], "kl_2x2_live": kl2}


SECTION = Section(30, "born_machine", "Quantum circuit Born machine (bars and stripes)", run)
