"""One Dask worker per GPU.

With dask-cuda installed, :func:`cuda` starts its ``LocalCUDACluster``; without it, a Dask
``SpecCluster`` whose worker ``k`` is started with ``CUDA_VISIBLE_DEVICES=<GPU k>``
(:func:`gpu_worker_specs`). Either way each worker sees exactly one GPU as ``cuda:0``: a
``torch.qubit`` device built with ``device="cuda"`` runs on the worker's own GPU. Tensors travel
between processes as CPU tensors (Dask's torch serializer ships CPU tensors only) and are moved
to the GPU inside the task.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence

from qphys._deps import require
from qphys.errors import ConfigError, ResourceError
from qphys.parallel.cluster import (
    DaskExecutor,
    _drop_inherited_trim_threshold,
    _register_threads,
    dask_config,
)
from qphys.parallel.executor import _positive_int

log = logging.getLogger(__name__)


def visible_gpus() -> list[str]:
    """Ids of the GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else
    ``0..torch.cuda.device_count()-1``."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def gpu_worker_specs(gpus: Sequence, *, torch_threads: int = 1, memory_limit="auto") -> dict:
    """``SpecCluster`` worker specs: one nanny per GPU, each with its ``CUDA_VISIBLE_DEVICES``.

    Args:
        gpus: GPU ids (``["0", "1"]``) or UUIDs, one worker each.
        torch_threads: torch threads of each worker (one task at a time per worker).
        memory_limit: host memory limit of each worker.

    Examples:
        >>> specs = gpu_worker_specs(["0", "3"])
        >>> {name: s["options"]["env"]["CUDA_VISIBLE_DEVICES"] for name, s in specs.items()}
        {'gpu-0': '0', 'gpu-3': '3'}
    """
    from distributed import Nanny

    gpus = [str(g) for g in gpus]
    if not gpus:
        raise ResourceError("no GPU ids given; one worker per GPU needs at least one")
    if len(set(gpus)) != len(gpus):
        raise ConfigError(f"GPU ids must be distinct, got {gpus}")
    return {
        f"gpu-{g}": {
            "cls": Nanny,
            "options": {
                "nthreads": 1,
                "memory_limit": memory_limit,
                "env": {"CUDA_VISIBLE_DEVICES": g},
                "resources": {"GPU": 1},
            },
        }
        for g in gpus
    }


def cuda(
    gpus: Sequence | None = None,
    *,
    torch_threads: int = 1,
    use_dask_cuda: bool | None = None,
    shard_size: int | None = None,
    memory_limit="auto",
) -> DaskExecutor:
    """A Dask executor with one worker per GPU of this machine.

    Args:
        gpus: GPU ids, one worker each (default: :func:`visible_gpus`).
        torch_threads: torch threads of each worker.
        use_dask_cuda: ``None`` (default) uses dask-cuda's ``LocalCUDACluster`` when installed;
            ``False`` always uses plain Dask workers with ``CUDA_VISIBLE_DEVICES`` each.
        shard_size: items per task (see :attr:`qphys.parallel.Executor.shard_size`).
        memory_limit: host memory limit per worker.

    Raises:
        ResourceError: no GPU visible.
        MissingDependencyError: the ``parallel`` extra (or, with ``use_dask_cuda=True``, dask-cuda) is missing.
    """
    require("distributed", extra="parallel", feature="Dask executors (qphys.parallel.cuda)")
    torch_threads = _positive_int(torch_threads, "torch_threads", allow_none=False)
    gpus = visible_gpus() if gpus is None else [str(g) for g in gpus]
    if not gpus:
        raise ResourceError(
            "no CUDA device is visible (torch.cuda.device_count() == 0 or CUDA_VISIBLE_DEVICES empty); "
            "use qphys.parallel.dask() for CPU workers"
        )
    import dask as dask_lib
    from distributed import Client, Scheduler, SpecCluster

    if use_dask_cuda is None:
        use_dask_cuda = importlib.util.find_spec("dask_cuda") is not None
    _drop_inherited_trim_threshold()
    with dask_lib.config.set(dask_config(torch_threads)):
        if use_dask_cuda:
            dask_cuda = require("dask_cuda", extra="parallel", feature="dask-cuda workers")
            cluster = dask_cuda.LocalCUDACluster(
                CUDA_VISIBLE_DEVICES=",".join(gpus), threads_per_worker=1, memory_limit=memory_limit,
                dashboard_address=":0",
            )
        else:
            cluster = SpecCluster(
                workers=gpu_worker_specs(gpus, torch_threads=torch_threads, memory_limit=memory_limit),
                scheduler={"cls": Scheduler, "options": {"dashboard_address": ":0"}},
                name="qphys-gpu",
            )
    try:
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    executor = DaskExecutor(client, cluster=cluster, owns_cluster=True, shard_size=shard_size)
    _register_threads(client, torch_threads)
    log.info("GPU executor: %d workers (%s)", len(gpus), "dask-cuda" if use_dask_cuda else "CUDA_VISIBLE_DEVICES")
    return executor
