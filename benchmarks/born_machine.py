"""Born machine on 3x3 bars and stripes: one exact MMD gradient step (9 qubits, Chow-Liu depth 10,
279 parameters) in qphys vs PennyLane default.qubit backprop, plus the L-BFGS training results
(best of 4 seeds, 600 iterations) of ``examples/born_machine_bas.py``.

    .venv/bin/python benchmarks/born_machine.py --quick                 # gradient step only
    .venv/bin/python benchmarks/born_machine.py                         # + runs the 4-seed training
    .venv/bin/python benchmarks/born_machine.py --training-json PATH    # + results of an earlier
                                                                        #   examples/born_machine_bas.py run
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))
from _report import machine, table, timeit, update_section  # noqa: E402

import qphys  # noqa: E402
from qphys.generative import BornMachine, ChowLiuAnsatz, mmd, mmd_kernel  # noqa: E402
from qphys.generative.datasets import bars_and_stripes_distribution  # noqa: E402


def qphys_step(ans, w0, target, K, fuse):
    bm = BornMachine(ans, 9, device=qphys.device("torch.qubit", dtype="complex128"), weights=w0, fuse=fuse)

    def step():
        bm.weights.grad = None
        mmd(bm.probs(), target, kernel=K).backward()
        return bm.weights.grad

    return step


def pennylane_step(ans, w0, target, K):
    import pennylane as qml

    dev = qml.device("default.qubit", wires=9)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(w):
        k = 0
        for layer in range(ans.depth + 1):
            for q in range(9):
                if layer > 0:
                    qml.RZ(w[k], wires=q)
                    k += 1
                qml.RX(w[k], wires=q)
                k += 1
                if layer < ans.depth:
                    qml.RZ(w[k], wires=q)
                    k += 1
            if layer < ans.depth:
                for a, b in ans.edges:
                    qml.CNOT(wires=[a, b])
        return qml.probs(wires=range(9))

    w = w0.clone().requires_grad_(True)

    def step():
        w.grad = None
        d = circuit(w) - target
        (d @ K @ d).backward()
        return w.grad

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--training-json", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    target = bars_and_stripes_distribution(3, 3)
    ans = ChowLiuAnsatz.from_data(10, target, 9)
    K = mmd_kernel(9)
    w0 = torch.rand(279, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 6.283
    repeat = 3 if args.quick else 7
    steps = {
        "qphys torch.qubit (fused layers, backprop)": qphys_step(ans, w0, target, K, True),
        "qphys torch.qubit (gate by gate, backprop)": qphys_step(ans, w0, target, K, False),
        "PennyLane default.qubit (backprop, torch)": pennylane_step(ans, w0, target, K),
    }
    grads = {k: f() for k, f in steps.items()}
    ref = grads["PennyLane default.qubit (backprop, torch)"]
    times = {k: timeit(f, repeat=repeat) for k, f in steps.items()}
    pl = times["PennyLane default.qubit (backprop, torch)"]
    rows = [[k, f"{t * 1e3:.0f} ms", f"{pl / t:.1f}x", f"{float((grads[k] - ref).abs().max()):.1e}"] for k, t in times.items()]
    md = [
        "## Born machine: 3x3 bars and stripes (Liu & Wang)",
        "",
        f"Machine: {machine()} (torch threads set to {args.threads}).",
        "",
        "One exact gradient step: probabilities of the 9-qubit, depth-10 Chow-Liu circuit (279 parameters), "
        "squared MMD (σ = 0.5, 1, 2, 4) and its gradient, complex128 / float64.",
        "",
        table(["implementation", "time per step", "speed-up vs PennyLane", "max grad diff vs PennyLane"], rows),
    ]
    runs = None
    if args.training_json:
        runs = json.loads(Path(args.training_json).read_text())
    elif not args.quick:
        from born_machine_bas import main as train_main

        runs = train_main(["--no-progress", "--threads", str(args.threads), "--out", "out/bench_born_machine"])
    if runs:
        best = min(runs, key=lambda r: r["kl"])
        md += [
            "",
            "L-BFGS-B (SciPy, ftol 1e-16, gtol 1e-14) on exact probabilities, 600 iterations per seed, "
            "`examples/born_machine_bas.py` (MMD: normalized by the 4 bandwidths; 'unnormalized' is "
            "Liu & Wang's convention, who report 2.4e-7 at depth 10):",
            "",
            table(["seed", "KL(target ‖ model)", "valid fraction", "qBAS (20000 samples)", "MMD", "MMD unnormalized",
                   "iterations", "seconds"],
                  [[r["seed"], f"{r['kl']:.4f}", f"{r['valid_fraction']:.4f}", f"{r['qbas']:.4f}", f"{r['mmd']:.2e}",
                    f"{r['mmd_unnormalized']:.2e}", r["iterations"], r["seconds"]] for r in runs]),
            "",
            f"Best seed {best['seed']}: KL {best['kl']:.4f} (goal <= 0.05), valid fraction "
            f"{best['valid_fraction']:.4f} (goal >= 0.95).",
        ]
    md += ["", "Reproduce: `.venv/bin/python examples/born_machine_bas.py --threads 1 --out out/bas_full` then "
           "`.venv/bin/python benchmarks/born_machine.py --training-json out/bas_full/born_machine_bas3x3.json`"]
    update_section("born_machine", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
