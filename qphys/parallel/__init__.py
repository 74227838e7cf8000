"""Scale-out: executors that follow :class:`concurrent.futures.Executor`, on Dask clusters.

qphys hands coarse tasks (circuit-batch shards with their vector-Jacobian products, Gram-matrix
tiles, sweep points, decoder shots) to an executor; Dask schedules, retries and moves data, qphys
writes no scheduler of its own. Tasks are pure functions of CPU tensors and plain data, seeded
from :func:`spawn_seeds` (``numpy.random.SeedSequence.spawn``) so that results do not depend on
the number of workers.

- :func:`local`: a process pool on this machine (no setup).
- :func:`dask`: a ``distributed.Client``: an embedded ``LocalCluster`` sized so that workers ×
  torch threads = cores, a scheduler address, or an existing client or cluster.
- :func:`slurm`, :func:`pbs`, :func:`sge`: workers as batch jobs (dask-jobqueue).
- :func:`cuda`: one worker per GPU (dask-cuda when installed, else ``CUDA_VISIBLE_DEVICES`` per worker).
- :func:`sweep`: a function over a parameter grid × seeds, resumable from a store.

Where to pass an executor: ``qphys.execute(..., executor=)`` (or ``RunConfig.executor``),
``QuantumLayer(..., executor=)``, ``QuantumKernel(..., executor=)``, ``sweep(..., executor=)``,
the decoders' ``evaluate(..., executor=)``, and the Aer devices (their bindings).

The Dask parts need the ``parallel`` extra (``pip install "qphys[parallel]"``).

Examples:
    >>> import qphys
    >>> with qphys.parallel.local(workers=2) as ex:
    ...     ex.workers
    2
"""

from qphys.parallel.adapt import as_executor
from qphys.parallel.cluster import DaskExecutor, dask, worker_environment
from qphys.parallel.executor import (
    Executor,
    FuturesExecutor,
    LocalExecutor,
    local,
    payload,
    plan_shards,
    run_tasks,
    shard_ranges,
    spawn_seeds,
)
from qphys.parallel.gpu import cuda, gpu_worker_specs
from qphys.parallel.jobqueue import jobqueue_cluster, pbs, sge, slurm
from qphys.parallel.sweep import grid_points, load_store, sweep

__all__ = [
    "Executor",
    "LocalExecutor",
    "FuturesExecutor",
    "DaskExecutor",
    "local",
    "dask",
    "slurm",
    "pbs",
    "sge",
    "jobqueue_cluster",
    "cuda",
    "gpu_worker_specs",
    "worker_environment",
    "as_executor",
    "run_tasks",
    "plan_shards",
    "payload",
    "shard_ranges",
    "spawn_seeds",
    "sweep",
    "grid_points",
    "load_store",
]
