"""Learn to prepare a single photon from the vacuum with a CV QNN (Arrazola et al., 2019).

1 mode, Fock cutoff 6, 8 layers of ``qphys.templates.cv_neural_net_layer`` (rotation,
squeezing, rotation, displacement, Kerr), cost ``1 - F`` with ``F = |<1|psi>|^2`` (the Fock
probability of one photon, so no state vector is needed) plus a penalty on the norm lost past
the cutoff. Arrazola et al. reach F = 0.99998.

Run::

    python examples/photonic_state_learning.py          # 600 steps
    python examples/photonic_state_learning.py --quick  # 150 steps
"""

from __future__ import annotations

import argparse
import time

import torch
from tqdm import trange

from qphys.nn import PhotonicLayer


def train(steps: int = 600, *, seed: int = 0, lr: float = 0.05, progress: bool = True) -> dict:
    """Train and return the final fidelity with |1> and the norm kept inside the cutoff."""
    model = PhotonicLayer(1, num_layers=8, cutoff=6, encoding=None, output="fock_probs", init_std=0.1, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    fid = 0.0
    for _ in trange(steps, disable=not progress, desc="state learning"):
        opt.zero_grad()
        probs = model()
        fid = probs[1]
        norm = probs.sum()
        cost = (1 - fid) + 0.5 * (1 - norm) ** 2
        cost.backward()
        opt.step()
    with torch.no_grad():
        probs = model()
    return {"fidelity": float(probs[1]), "norm": float(probs.sum()), "steps": steps,
            "seconds": time.perf_counter() - t0, "probs": [round(float(p), 6) for p in probs]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 steps instead of 600")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    steps = args.steps or (150 if args.quick else 600)
    m = train(steps, seed=args.seed, progress=not args.no_progress)
    print(f"fidelity with |1>: {m['fidelity']:.6f} (norm in cutoff {m['norm']:.6f}) after {steps} steps "
          f"({m['seconds']:.1f} s); Arrazola et al.: 0.99998")
    return m


if __name__ == "__main__":
    main()
