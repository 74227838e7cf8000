"""A large quantum-kernel Gram matrix and a QSVC, locally, on a Dask LocalCluster, or on SLURM.

The same script, one switch:

    python examples/cluster_kernel.py --cluster local           # one process, no executor
    python examples/cluster_kernel.py --cluster localcluster    # Dask LocalCluster (workers x torch threads = cores)
    python examples/cluster_kernel.py --cluster tcp://10.0.0.5:8786   # an existing Dask scheduler
    python examples/cluster_kernel.py --cluster slurm --jobs 4 --cores 32 --memory 64GB --walltime 02:00:00
    python examples/cluster_kernel.py --cluster slurm --job-script     # print the SLURM job script, submit nothing
    python examples/cluster_kernel.py --quick                   # CI: small, on a 2-worker LocalCluster

On a cluster the Gram matrix is computed in tiles (``QuantumKernel(..., executor=, tile_size=)``):
only the upper triangle, each task preparing the states of its two row blocks once, so a worker
holds at most 2 x tile_size states. The result equals the local one.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

import qphys
from qphys.kernels import QSVC, QuantumKernel
from qphys.templates import zz_feature_map


def feature_map(circuit, x):
    return zz_feature_map(circuit, x, reps=2, entanglement="linear")


def make_data(n: int, features: int, seed: int):
    """Two noisy classes on a ring in feature space, scaled into (0, 2π]."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    radius = np.where(y == 1, 2.2, 1.0)[:, None]
    angles = rng.uniform(0, 2 * np.pi, size=(n, features))
    X = np.pi + radius * np.cos(angles) + 0.15 * rng.normal(size=(n, features))
    return X, y


def build_executor(args):
    if args.cluster == "local":
        return None
    if args.cluster == "localcluster":
        return qphys.parallel.dask(n_workers=args.workers, torch_threads=args.torch_threads)
    if args.cluster == "slurm":
        return qphys.parallel.slurm(cores=args.cores, memory=args.memory, walltime=args.walltime,
                                    jobs=0 if args.job_script else args.jobs, torch_threads=args.torch_threads,
                                    queue=args.queue, account=args.account)
    return qphys.parallel.dask(args.cluster)  # a scheduler address


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small problem on a 2-worker LocalCluster (CI)")
    ap.add_argument("--cluster", default="localcluster",
                    help="local | localcluster | slurm | a scheduler address (tcp://host:8786)")
    ap.add_argument("--n", type=int, default=2000, help="training points (the Gram matrix is n x n)")
    ap.add_argument("--qubits", type=int, default=12)
    ap.add_argument("--tile-size", type=int, default=None, help="rows of a Gram tile (default: automatic)")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: cores)")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="SLURM jobs")
    ap.add_argument("--cores", type=int, default=16, help="cores per SLURM job")
    ap.add_argument("--memory", default="32GB", help="memory per SLURM job")
    ap.add_argument("--walltime", default="01:00:00")
    ap.add_argument("--queue", default=None, help="SLURM partition")
    ap.add_argument("--account", default=None, help="SLURM account")
    ap.add_argument("--job-script", action="store_true", help="print the SLURM job script and exit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("qphys").setLevel(logging.INFO)
    if args.quick:
        args.n, args.qubits, args.workers = 80, 4, args.workers or 2
        if args.cluster == "localcluster":
            args.tile_size = args.tile_size or 20
    executor = build_executor(args)
    try:
        if args.job_script:
            if args.cluster != "slurm":
                ap.error("--job-script needs --cluster slurm")
            print(executor.cluster.job_script())
            return 0
        X, y = make_data(args.n + args.n // 4, args.qubits, args.seed)
        Xtr, ytr, Xte, yte = X[: args.n], y[: args.n], X[args.n:], y[args.n:]
        dev = qphys.device("torch.qubit")
        kernel = QuantumKernel(feature_map, dev, tile_size=args.tile_size, progress=not args.quick)
        clf = QSVC(kernel, C=1.0, executor=executor)  # the fitted kernel gets the executor
        t0 = time.perf_counter()
        clf.fit(Xtr, ytr)  # the n x n Gram matrix, in tiles on the cluster
        t_fit = time.perf_counter() - t0
        stats = clf.kernel_.last_stats
        print(f"Gram matrix {args.n} x {args.n} at {args.qubits} qubits on {args.cluster}: fit in {t_fit:.1f} s "
              f"({stats.get('tiles', 1)} tile(s), {stats.get('circuits')} state preparations)")
        t0 = time.perf_counter()
        acc = clf.score(Xte, yte)
        print(f"QSVC: test accuracy {acc:.3f} on {len(yte)} points ({time.perf_counter() - t0:.1f} s)")
        if args.quick and executor is not None:  # the tiles equal the single-process matrix
            diff = float((clf.kernel_.matrix(Xtr) - QuantumKernel(feature_map, dev).matrix(Xtr)).abs().max())
            print(f"max |K_cluster - K_local| = {diff:.1e}")
            assert diff < 1e-5, diff
    finally:
        if executor is not None:
            executor.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
