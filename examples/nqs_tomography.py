"""Neural quantum-state tomography (Torlai et al. 2018) of GHZ and W states from qphys device shots.

Prepares the state on a qphys device (``torch.qubit`` by default; any sampling device works, e.g.
``aer.density_matrix`` or ``ibm.fake_kolkata`` with the plugin installed), measures it in Pauli
bases, fits a positive RBM (Z basis) or amplitude+phase RBMs (Z + rotated bases) by maximum
likelihood, and compares Pauli-word estimates with classical shadows from the same number of shots.

    .venv/bin/python examples/nqs_tomography.py                          # 8-qubit GHZ, 10^4 shots/basis
    .venv/bin/python examples/nqs_tomography.py --state w --model phase
    .venv/bin/python examples/nqs_tomography.py --device ibm.fake_kolkata
    .venv/bin/python examples/nqs_tomography.py --quick                  # 4 qubits, seconds

The last line printed is ``fidelity <value>`` (to the noiseless state).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

import qphys
from qphys.nqs import RBM, AmplitudePhase
from qphys.nqs.plots import observable_comparison
from qphys.nqs.tomography import (
    Tomography,
    classical_shadow,
    exact_state,
    fidelity_to,
    measure,
    model_expectation,
    pauli_expectation,
    shadow_expectation,
)


def prepare(state: str, n: int) -> qphys.Circuit:
    if state == "ghz":
        c = qphys.Circuit(wires=n).h(0)
        for i in range(n - 1):
            c.cx(i, i + 1)
        return c
    v = np.zeros(2**n)
    v[[1 << (n - 1 - i) for i in range(n)]] = 1 / math.sqrt(n)
    return qphys.Circuit(wires=n).state_prep(torch.tensor(v))


def bases_for(state: str, model: str, n: int) -> list[str]:
    if model == "positive":
        return ["Z" * n]  # a positive state is fixed by its computational-basis distribution
    if state == "ghz":  # GHZ coherence shows only in global bases
        return ["Z" * n, "X" * n, "YY" + "X" * (n - 2), "XY" + "X" * (n - 2)]
    out = ["Z" * n]
    for i in range(n - 1):
        for a, b in ("XX", "XY"):
            s = ["Z"] * n
            s[i], s[i + 1] = a, b
            out.append("".join(s))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", choices=["ghz", "w"], default="ghz")
    ap.add_argument("--model", choices=["positive", "phase"], default="positive")
    ap.add_argument("--qubits", type=int, default=8)
    ap.add_argument("--shots", type=int, default=10_000, help="shots per basis")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--device", default="torch.qubit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/nqs_tomography"))
    ap.add_argument("--quick", action="store_true", help="4 qubits, 2000 shots, 300 steps")
    args = ap.parse_args(argv)
    if args.quick:
        args.qubits, args.shots, args.steps = 4, 2000, 300
    torch.set_num_threads(1)
    n = args.qubits
    circuit = prepare(args.state, n)
    bases = bases_for(args.state, args.model, n)
    record = measure(circuit, bases, shots=args.shots, device=args.device, seed=args.seed)
    print(f"{args.state.upper()} on {n} qubits, {args.device}: {len(bases)} bases x {args.shots} shots")
    if args.model == "positive":
        model, lr = RBM(n, alpha=2, seed=args.seed), 0.05
    else:
        model, lr = AmplitudePhase(RBM(n, alpha=2, seed=args.seed), RBM(n, alpha=2, seed=args.seed + 1)), 0.02
    target = exact_state(circuit)
    history = Tomography(model, record, lr=lr, target=target, log_every=max(args.steps // 10, 1)).fit(
        args.steps, progress=not args.quick
    )
    print("fidelity during training:", " ".join(f"{f:.4f}" for f in history.fidelity))
    shadow = classical_shadow(circuit, args.shots * len(bases), device=args.device, seed=args.seed + 1)
    words = ["".join("Z" if k in (i, i + 1) else "I" for k in range(n)) for i in range(n - 1)]
    words += ["".join("X" if k in (i, i + 1) else "I" for k in range(n)) for i in range(n - 1)]
    if args.state == "ghz":
        words += ["X" * n]
    exact_vals = [pauli_expectation(target, w) for w in words]
    nqs_vals = [model_expectation(model, w) for w in words]
    shadow_vals = [shadow_expectation(shadow, w) for w in words]
    nqs_err = np.mean([abs(a - b) for a, b in zip(nqs_vals, exact_vals)])
    sh_err = np.mean([abs(a[0] - b) for a, b in zip(shadow_vals, exact_vals)])
    print(f"mean |error| of {len(words)} Pauli words: NQS {nqs_err:.4f}, classical shadows {sh_err:.4f} "
          f"({shadow.shots} snapshots)")
    args.out.mkdir(parents=True, exist_ok=True)
    fig = observable_comparison(words, exact_vals, nqs_vals, [s[0] for s in shadow_vals], [s[1] for s in shadow_vals],
                                title=f"{args.state.upper()} n={n} on {args.device}")
    fig.savefig(args.out / f"{args.state}_{args.model}_{n}.png", dpi=120)
    print(f"fidelity {fidelity_to(model, circuit):.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
