"""Gram matrices at 8 qubits: qphys (batched statevector path) vs Qiskit ML and PennyLane.

ZZ feature map, 2 repetitions, linear entanglement, N random points in [0, 2π)^8. Peers:
Qiskit ML ``FidelityStatevectorKernel`` (timed in full), ``FidelityQuantumKernel`` and PennyLane
``qml.kernels.square_kernel_matrix`` on ``default.qubit`` (one circuit per pair: timed on a
subset and extrapolated by circuit count, marked as such). All in one process.

    .venv/bin/python benchmarks/kernels.py [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, timeit, update_section  # noqa: E402

import qphys  # noqa: E402
from qphys.kernels import QuantumKernel  # noqa: E402
from qphys.templates import zz_feature_map  # noqa: E402

NQ = 8


def zz(c, x):
    return zz_feature_map(c, x, reps=2, entanglement="linear")


def qphys_time(X, dtype, repeat):
    k = QuantumKernel(zz, qphys.device("torch.qubit", dtype=dtype))

    def fresh():  # every timed call prepares its states: no reuse of the cached reference set
        k.clear_cache()
        return k.matrix(X)

    return timeit(fresh, repeat=repeat), fresh().numpy()


def qiskit_sv(X, repeat):
    from qiskit.circuit.library import zz_feature_map as qzz
    from qiskit_machine_learning.kernels import FidelityStatevectorKernel

    k = FidelityStatevectorKernel(feature_map=qzz(NQ, reps=2, entanglement="linear"))
    return timeit(lambda: k.evaluate(X), repeat=repeat, warmup=1), k.evaluate(X)


def qiskit_fqk_per_circuit(Xs):
    from qiskit.circuit.library import zz_feature_map as qzz
    from qiskit_machine_learning.kernels import FidelityQuantumKernel

    k = FidelityQuantumKernel(feature_map=qzz(NQ, reps=2, entanglement="linear"))
    k.evaluate(Xs[:3])
    t0 = time.perf_counter()
    k.evaluate(Xs)
    n = len(Xs)
    return (time.perf_counter() - t0) / (n * (n - 1) // 2)


def pennylane_per_circuit(Xs):
    import pennylane as qml

    dev = qml.device("default.qubit", wires=NQ)

    def fm(x):
        for _ in range(2):
            for w in range(NQ):
                qml.Hadamard(w)
                qml.PhaseShift(2 * x[w], w)
            for i in range(NQ - 1):
                qml.CNOT([i, i + 1])
                qml.PhaseShift(2 * (np.pi - x[i]) * (np.pi - x[i + 1]), i + 1)
                qml.CNOT([i, i + 1])

    @qml.qnode(dev)
    def kernel_circuit(x1, x2):
        fm(x1)
        qml.adjoint(fm)(x2)
        return qml.probs(wires=range(NQ))

    def kernel(x1, x2):
        return kernel_circuit(x1, x2)[0]

    qml.kernels.square_kernel_matrix(Xs[:3], kernel)
    t0 = time.perf_counter()
    K = qml.kernels.square_kernel_matrix(Xs, kernel, assume_normalized_kernel=True)
    n = len(Xs)
    return (time.perf_counter() - t0) / (n * (n - 1) // 2), np.asarray(K)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable timings on a shared machine)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    sizes = [50] if args.quick else [100, 300]
    subset = 8 if args.quick else 16
    repeat = 3 if args.quick else 5
    rng = np.random.default_rng(0)
    Xs = rng.random((subset, NQ)) * 2 * np.pi
    fqk = qiskit_fqk_per_circuit(Xs)
    pl, K_pl = pennylane_per_circuit(Xs)
    _, K_ref = qphys_time(Xs, "complex128", 1)
    agree_pl = float(np.abs(K_pl - K_ref).max())
    rows = []
    for n in sizes:
        X = rng.random((n, NQ)) * 2 * np.pi
        t64, K64 = qphys_time(X, "complex64", repeat)
        t128, K128 = qphys_time(X, "complex128", repeat)
        tsv, Ksv = qiskit_sv(X, 3 if not args.quick else 2)
        pairs = n * (n - 1) // 2
        rows.append([
            n, f"{t64 * 1e3:.1f} ms", f"{t128 * 1e3:.1f} ms", f"{tsv:.3f} s", f"{tsv / t64:.0f}x",
            f"{fqk * pairs:.0f} s*", f"{fqk * pairs / t64:.0f}x", f"{pl * pairs:.0f} s*", f"{pl * pairs / t64:.0f}x",
            f"{np.abs(K128 - Ksv).max():.1e}",
        ])
        print(rows[-1], flush=True)
    md = [
        "## Quantum kernels: Gram matrix at 8 qubits",
        "",
        f"Machine: {machine()} (torch threads set to {args.threads}). ZZ feature map (2 reps, linear), "
        "N random points. qphys: `QuantumKernel(...).matrix(X)` on `torch.qubit` — N state preparations in "
        "one batched execution + one matrix product. Speed-ups are relative to qphys complex64. "
        f"`*` = pairwise peers timed on N={subset} ({subset * (subset - 1) // 2} circuits) and extrapolated "
        f"by circuit count ({fqk * 1e3:.1f} ms/circuit Qiskit ML FidelityQuantumKernel, {pl * 1e3:.1f} ms/circuit "
        f"PennyLane square_kernel_matrix on default.qubit; PennyLane agrees with qphys to {agree_pl:.1e}).",
        "",
        table(["N", "qphys c64", "qphys c128", "Qiskit ML FidelityStatevectorKernel", "speed-up",
               "Qiskit ML FidelityQuantumKernel", "speed-up", "PennyLane square_kernel_matrix", "speed-up",
               "max abs diff qphys c128 vs Qiskit"], rows),
        "",
        "Reproduce: `.venv/bin/python benchmarks/kernels.py" + (" --quick" if args.quick else "") + "`",
    ]
    update_section("kernels", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
