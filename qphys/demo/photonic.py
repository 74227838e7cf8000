"""Demo section: a photonic (CV) quantum neural network trained in torch.

Learns to prepare a single photon from the vacuum with 8 CV QNN layers at cutoff 6 (Arrazola et
al.'s first benchmark), then checks torch.fock against the exact Gaussian simulator on a random
Gaussian circuit and times one batched forward+backward pass of a 2-mode layer (batch 32).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import trange

from qphys.demo import DemoContext, Section


def run(ctx: DemoContext) -> dict:
    import qphys
    from qphys import cv
    from qphys.nn import PhotonicLayer

    torch.manual_seed(ctx.seed)
    steps = 80 if ctx.quick else 250
    model = PhotonicLayer(1, num_layers=8, cutoff=6, encoding=None, output="fock_probs", init_std=0.1,
                          seed=ctx.seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in trange(steps, desc="single-photon state learning", disable=not ctx.progress):
        opt.zero_grad()
        probs = model()
        cost = (1 - probs[1]) + 0.5 * (1 - probs.sum()) ** 2
        cost.backward()
        opt.step()
    with torch.no_grad():
        fidelity = float(model()[1])

    rng = np.random.default_rng(ctx.seed)
    c = qphys.Circuit(modes=2)
    c.squeezing(0.2, rng.uniform(0, np.pi), 0).displacement(0.3, rng.uniform(0, np.pi), 1)
    c.beamsplitter(rng.uniform(0, np.pi), rng.uniform(0, np.pi), 0, 1).two_mode_squeezing(0.1, 0.4, 0, 1)
    c.expval(cv.X(0)).expval(cv.P(1)).expval(cv.N(0)).var(cv.N(1))
    fock = qphys.execute(c, qphys.device("torch.fock", cutoff=20)).expvals
    gauss = qphys.execute(c, qphys.device("torch.gaussian")).expvals
    agreement = float((fock - gauss).abs().max())

    layer = PhotonicLayer(2, 1, cutoff=10, output="n", seed=ctx.seed)
    x = torch.rand(32, 2, dtype=torch.float64) * 0.5
    layer(x).sum().backward()
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        layer.zero_grad()
        layer(x).sum().backward()
    ms = (time.perf_counter() - t0) / reps * 1e3
    print(f"   single photon from vacuum: fidelity {fidelity:.5f} after {steps} Adam steps "
          "(Arrazola et al.: 0.99998)")
    print(f"   torch.fock vs torch.gaussian on a Gaussian circuit: max diff {agreement:.1e}")
    print(f"   2-mode CV QNN layer, cutoff 10, batch 32: forward+backward {ms:.1f} ms")
    return {"fidelity": fidelity, "fock_vs_gaussian": agreement, "layer_fwd_bwd_ms": ms}


SECTION = Section(40, "photonic", "Photonic CV quantum neural network (torch.fock)", run, threads=1)
