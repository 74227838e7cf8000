"""Ground states of spin chains with neural quantum states (Carleo & Troyer 2017) in qphys.nqs.

Trains a restricted Boltzmann machine by variational Monte Carlo with stochastic reconfiguration
(qphys's defaults, no tuning) on the transverse-field Ising chain or the Heisenberg chain
(Marshall sign rule, zero-magnetisation sector), compares with the exact ground-state energy from
sparse Lanczos, and plots the convergence.

    .venv/bin/python examples/nqs_ground_state.py                       # TFIM N=20, α=1, 300 iterations
    .venv/bin/python examples/nqs_ground_state.py --model heisenberg --alpha 2
    .venv/bin/python examples/nqs_ground_state.py --model heisenberg      # α=1: relative error ~1.5e-4
    .venv/bin/python examples/nqs_ground_state.py --constant-lr         # SR without annealing or momentum
    .venv/bin/python examples/nqs_ground_state.py --ansatz cnn          # translation-invariant CNN
    .venv/bin/python examples/nqs_ground_state.py --quick               # N=8, 60 iterations, seconds

The last line printed is ``relative error <value>`` (exact variational energy of the final state).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from qphys.nqs import (
    CNN,
    RBM,
    SR,
    VMC,
    SymmetricRBM,
    chain,
    heisenberg,
    transverse_field_ising,
    variational_energy,
)
from qphys.nqs.plots import energy_convergence


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["tfim", "heisenberg"], default="tfim")
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--alpha", type=int, default=1, help="hidden-unit density (RBMs) / channels (CNN: alpha x 4)")
    ap.add_argument("--ansatz", choices=["rbm", "symmetric", "cnn"], default="rbm")
    ap.add_argument("--constant-lr", action="store_true",
                    help="SR without the default annealing (lr decays 10x over the second half) and momentum")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--samples", type=int, default=1008)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/nqs_ground_state"))
    ap.add_argument("--quick", action="store_true", help="N=8, 60 iterations, 512 samples")
    args = ap.parse_args(argv)
    if args.quick:
        args.sites, args.iters, args.samples = 8, 60, 512
    torch.set_num_threads(1)
    lattice = chain(args.sites)
    if args.model == "tfim":
        h, sector = transverse_field_ising(lattice, h=1.0), None
    else:
        h, sector = heisenberg(lattice, marshall_sign=True), 0
    t0 = time.perf_counter()
    exact = h.ground_state_energy()
    print(f"{args.model}, N={args.sites}: exact ground-state energy {exact:.10f} (Lanczos, {time.perf_counter() - t0:.1f} s)")
    if args.ansatz == "rbm":
        model = RBM(args.sites, alpha=args.alpha, seed=args.seed)
    elif args.ansatz == "symmetric":
        model = SymmetricRBM(lattice, alpha=args.alpha, seed=args.seed)
    else:
        model = CNN(lattice, channels=(4 * args.alpha, 4 * args.alpha), seed=args.seed)
    sr = SR(lr_schedule=None, momentum=0.0) if args.constant_lr else SR()
    vmc = VMC(h, model, optimizer=sr, n_samples=args.samples, seed=args.seed + 1)
    print(f"{type(model).__name__} α={args.alpha} ({sum(p.numel() for p in model.parameters())} parameters), sampler: {vmc.sampler}")
    t0 = time.perf_counter()
    history = vmc.run(args.iters, progress=not args.quick)
    seconds = time.perf_counter() - t0
    final = vmc.energy(4 * args.samples)
    energy = variational_energy(model, h, magnetization=sector)
    rel = abs((energy - exact) / exact)
    print(f"{args.iters} iterations in {seconds:.1f} s ({1e3 * seconds / args.iters:.1f} ms/iteration)")
    print(f"Monte Carlo energy {final.mean:.6f} ± {final.error:.1e} (variance {final.variance:.2e})")
    print(f"exact variational energy {energy:.8f}")
    args.out.mkdir(parents=True, exist_ok=True)
    fig = energy_convergence(history, exact=exact, title=f"{args.model} N={args.sites}, {type(model).__name__} α={args.alpha}")
    fig.savefig(args.out / f"{args.model}_N{args.sites}_alpha{args.alpha}.png", dpi=120)
    (args.out / f"{args.model}_N{args.sites}_alpha{args.alpha}.json").write_text(
        json.dumps({"exact": exact, "variational_energy": energy, "relative_error": rel, "history": history.to_dict()})
    )
    print(f"relative error {rel:.3e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
