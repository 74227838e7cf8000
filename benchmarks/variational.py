"""Variational-classifier forward+backward: qphys ``torch.qubit`` vs PennyLane, one process.

Circuit (issue 2): RY angle embedding of n features, 4 layers of RY+RZ on every qubit and a
CNOT ring, output <Z0>; batch 128; one forward + backward w.r.t. the 4·n·2 weights.

Peers, when installed: PennyLane ``default.qubit`` (backprop, parameter broadcasting) and
``lightning.qubit`` (adjoint; complex128 default and complex64).

Run: ``.venv/bin/python benchmarks/variational.py [--quick]``; results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, timeit, update_section  # noqa: E402

import qphys  # noqa: E402
from qphys.templates import angle_embedding, hardware_efficient  # noqa: E402

LAYERS, BATCH = 4, 128


def qphys_step(n, method, dtype="complex64"):
    dev = qphys.device("torch.qubit", dtype=dtype)
    real = torch.float32 if dtype == "complex64" else torch.float64
    x = torch.rand(BATCH, n, dtype=real)
    w = torch.rand(LAYERS, n, 2, dtype=real, requires_grad=True)

    def step():
        c = angle_embedding(qphys.Circuit(wires=n), x)
        hardware_efficient(c, w).expval(qphys.Z(0))
        out = qphys.execute(c, dev, diff_method=method).expvals
        (g,) = torch.autograd.grad(out.sum(), w)
        return out.detach(), g

    return step


def pennylane_qnode(dev, n, diff_method):
    """The benchmark circuit as a PennyLane QNode (torch interface) on ``dev``."""
    import pennylane as qml

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def circuit(x, w):
        qml.AngleEmbedding(x, wires=range(n), rotation="Y")
        for layer in range(LAYERS):
            for q in range(n):
                qml.RY(w[layer, q, 0], wires=q)
                qml.RZ(w[layer, q, 1], wires=q)
            for q in range(n):
                qml.CNOT(wires=[q, (q + 1) % n])
        return qml.expval(qml.PauliZ(0))

    return circuit


def pennylane_step(n, device_name, diff_method, c_dtype=None):
    import numpy as np
    import pennylane as qml

    kwargs = {"c_dtype": np.complex64} if c_dtype == "complex64" else {}
    dev = qml.device(device_name, wires=n, **kwargs)
    real = torch.float32 if c_dtype == "complex64" and device_name == "default.qubit" else torch.float64

    circuit = pennylane_qnode(dev, n, diff_method)

    x = torch.rand(BATCH, n, dtype=real)
    w = torch.rand(LAYERS, n, 2, dtype=real, requires_grad=True)

    def step():
        out = circuit(x, w)
        (g,) = torch.autograd.grad(out.sum(), w)
        return out.detach(), g

    return step


def agree(n) -> dict:
    """Max |gradient difference| between qphys adjoint (complex128) and PennyLane devices."""
    import pennylane as qml

    torch.manual_seed(1)
    x = torch.rand(BATCH, n, dtype=torch.float64)
    w = torch.rand(LAYERS, n, 2, dtype=torch.float64, requires_grad=True)
    c = angle_embedding(qphys.Circuit(wires=n), x)
    hardware_efficient(c, w).expval(qphys.Z(0))
    out = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128"), diff_method="adjoint").expvals
    (g1,) = torch.autograd.grad(out.sum(), w)
    diffs = {}
    for name, method in (("default.qubit", "backprop"), ("lightning.qubit", "adjoint")):
        dev = qml.device(name, wires=n)

        circuit = pennylane_qnode(dev, n, method)

        w2 = w.detach().clone().requires_grad_(True)
        (g2,) = torch.autograd.grad(circuit(x, w2).sum(), w2)
        diffs[name] = float((g1 - g2).abs().max())
    return diffs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, 10 qubits only")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument(
        "--threads", type=int, default=None,
        help="torch threads (also export OMP_NUM_THREADS for lightning); default: torch's default",
    )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    repeat = 2 if args.quick else 5
    try:
        import pennylane  # noqa: F401

        have_pl = True
    except ImportError:
        have_pl = False
    cases = [
        (10, "qphys torch.qubit backprop (complex64)", qphys_step(10, "backprop")),
        (10, "qphys torch.qubit adjoint (complex64)", qphys_step(10, "adjoint")),
    ]
    if have_pl:
        cases += [
            (10, "PennyLane default.qubit backprop, broadcasting", pennylane_step(10, "default.qubit", "backprop")),
            (10, "PennyLane lightning.qubit adjoint (complex128)", pennylane_step(10, "lightning.qubit", "adjoint")),
        ]
    if not args.quick:
        cases += [
            (14, "qphys torch.qubit adjoint (complex64)", qphys_step(14, "adjoint")),
            (14, "qphys torch.qubit backprop (complex64)", qphys_step(14, "backprop")),
        ]
        if have_pl:
            cases += [
                (14, "PennyLane lightning.qubit adjoint (complex128)", pennylane_step(14, "lightning.qubit", "adjoint")),
                (14, "PennyLane lightning.qubit adjoint (complex64)",
                 pennylane_step(14, "lightning.qubit", "adjoint", c_dtype="complex64")),
            ]
    times = {}
    for n, label, step in cases:
        t = timeit(step, repeat=repeat, warmup=1)
        times[(n, label)] = t
        print(f"{n:2d} qubits  {label:50s} {t * 1e3:9.1f} ms", flush=True)
    rows, ratios = [], []
    for (n, label), t in times.items():
        rows.append([n, label, f"{t * 1e3:.1f}"])
    if have_pl:
        base10 = times[(10, "qphys torch.qubit backprop (complex64)")]
        r = times[(10, "PennyLane default.qubit backprop, broadcasting")] / base10
        ratios.append(["10", "torch.qubit backprop vs default.qubit backprop", f"{r:.1f}x", ">= 3x"])
        if not args.quick:
            a14 = times[(14, "qphys torch.qubit adjoint (complex64)")]
            for lab in ("complex128", "complex64"):
                r = times[(14, f"PennyLane lightning.qubit adjoint ({lab})")] / a14
                ratios.append(["14", f"torch.qubit adjoint vs lightning.qubit adjoint ({lab})", f"{r:.2f}x", ">= 1.5x"])
    for r in ratios:
        print("ratio:", " | ".join(r))
    err = agree(8) if have_pl else None
    if err is not None:
        print("max |gradient difference|, qphys adjoint (complex128) vs PennyLane, 8 qubits:", err)
    if not args.no_write and not args.quick:
        md = (
            "## Variational classifier forward+backward (`benchmarks/variational.py`)\n\n"
            f"Batch {BATCH}, RY embedding + {LAYERS} layers RY+RZ + CNOT ring, output <Z0>; one forward and "
            f"backward. Machine: {machine()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}.\n\n"
            + table(["qubits", "implementation", "median ms"], rows)
            + "\n\nSpeed-ups (peer time / qphys time):\n\n"
            + table(["qubits", "comparison", "ratio", "goal"], ratios)
            + (
                "\n\nGradient agreement, 8 qubits, qphys adjoint in complex128: max |Δ| = "
                + ", ".join(f"{v:.1e} vs {k}" for k, v in err.items())
                + " (lightning.qubit's results come back through PennyLane's torch interface in torch's"
                " default dtype, float32, even for float64 inputs)."
                if err is not None else ""
            )
        )
        update_section("variational" if not args.threads else f"variational_{args.threads}thread", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
