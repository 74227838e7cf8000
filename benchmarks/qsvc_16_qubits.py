"""QSVC at 16 qubits with default settings: fit on 1000 samples, predict 200 (issue 10's acceptance).

ZZ feature map (QSVC's default: 2 repetitions, linear entanglement) on ``torch.qubit``
(complex64), features uniform in [0, 2π)^16, labels from the sign of a random linear function.
Also runs the same fit with the old default memory budget (256 MiB), which tiles and prepares
states again per block, to show what the default from available memory saves. Peer-free: this
is a regression figure, not a comparison.

    .venv/bin/python benchmarks/qsvc_16_qubits.py [--quick] [--samples 1000] [--no-old]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, update_section  # noqa: E402

from qphys.kernels import QSVC, QuantumKernel  # noqa: E402
from qphys.kernels.qsvc import default_feature_map  # noqa: E402

NQ = 16


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, NQ)) * 2 * np.pi
    z = X @ rng.normal(size=NQ)
    y = (z > np.median(z)).astype(int)
    return X, y


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): a figure that other jobs on the machine
    do not inflate the way they inflate wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(model: QSVC, Xtr, ytr, Xte) -> tuple[float, float, dict]:
    t0, c0 = time.perf_counter(), cpu_seconds()
    model.fit(Xtr, ytr)
    fit_s, fit_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    fit_stats = dict(model.kernel_.last_stats, cpu=fit_cpu)
    t0 = time.perf_counter()
    model.predict(Xte)
    return fit_s, time.perf_counter() - t0, {"fit": fit_stats, "predict": dict(model.kernel_.last_stats)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 training samples, no old-default run")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--no-old", action="store_true", help="skip the run with the old 256 MiB budget")
    args = ap.parse_args(argv)
    n = 200 if args.quick else args.samples
    Xtr, ytr = data(n)
    Xte, _ = data(200, seed=1)
    rows = []
    fit_s, pred_s, stats = run(QSVC(), Xtr, ytr, Xte)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows.append(["default (half of free memory)", f"{fit_s:.1f}", f"{stats['fit']['cpu']:.1f}", f"{pred_s:.1f}",
                 stats["fit"]["circuits"],
                 stats["predict"]["circuits"], f"{peak:.2f}"])
    print(f"default: fit {fit_s:.1f} s, predict {pred_s:.1f} s, states prepared {stats}, peak RSS {peak:.2f} GiB",
          flush=True)
    if not (args.quick or args.no_old):
        old = QuantumKernel(default_feature_map, "torch.qubit", max_memory=1 << 28)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the recomputation warning, expected here
            fit_o, pred_o, stats_o = run(QSVC(old), Xtr, ytr, Xte)
        rows.append(["max_memory=256 MiB (the old default)", f"{fit_o:.1f}", f"{stats_o['fit']['cpu']:.1f}",
                     f"{pred_o:.1f}",
                     stats_o["fit"]["circuits"], stats_o["predict"]["circuits"], "-"])
        print(f"256 MiB: fit {fit_o:.1f} s, predict {pred_o:.1f} s, states prepared {stats_o}", flush=True)
    if args.quick:
        return
    md = (
        f"## QSVC at 16 qubits, {n} training samples (`benchmarks/qsvc_16_qubits.py`)\n\n"
        f"{machine()}. ZZ feature map (2 reps, linear), torch.qubit complex64, QSVC() with default "
        f"settings; predict on 200 test samples. States prepared = feature-state preparations "
        f"(N for a fit when each state is prepared once).\n\n"
        + table(["kernel memory", "fit wall (s)", "fit CPU user+sys (s)", "predict wall (s)", "states prepared (fit)",
                 "states prepared (predict)", "peak RSS (GiB)"], rows)
    )
    update_section("qsvc16", md)


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
