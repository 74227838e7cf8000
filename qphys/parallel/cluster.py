"""Dask executors: an embedded ``LocalCluster``, an existing scheduler, or a ``distributed.Client``.

Workers run torch, so two of Dask's defaults are changed for every cluster qphys starts:

* Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in each worker (to return memory to the
  OS sooner). Setting any trim threshold switches off glibc's dynamic mmap threshold, so every
  large torch temporary is mapped and unmapped afresh: torch tasks ran 4x slower here. qphys
  removes it from ``distributed.nanny.pre-spawn-environ`` (:func:`worker_environment`).
* The nanny also sets ``OMP_NUM_THREADS=1``; qphys sets torch's threads explicitly in every
  worker with a ``WorkerPlugin`` (:class:`qphys.parallel._plugin.TorchThreads`), so that
  workers × torch threads = cores.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
from typing import Any

from qphys._deps import require
from qphys.errors import ClusterError, ConfigError
from qphys.parallel.executor import Executor, _positive_int, cpu_cores

log = logging.getLogger(__name__)

#: the value Dask's nanny gives ``MALLOC_TRIM_THRESHOLD_`` (distributed.yaml)
DASK_TRIM_THRESHOLD = "65536"


def worker_environment(torch_threads: int = 1) -> dict[str, Any]:
    """The ``distributed.nanny.pre-spawn-environ`` qphys starts workers with.

    ``MALLOC_TRIM_THRESHOLD_`` is ``None`` (not set: glibc keeps its dynamic mmap threshold);
    the BLAS/OpenMP thread counts are ``torch_threads``.

    Examples:
        >>> worker_environment(2)["MALLOC_TRIM_THRESHOLD_"] is None, worker_environment(2)["OMP_NUM_THREADS"]
        (True, 2)
    """
    return {
        "MALLOC_TRIM_THRESHOLD_": None,
        "OMP_NUM_THREADS": torch_threads,
        "MKL_NUM_THREADS": torch_threads,
        "OPENBLAS_NUM_THREADS": torch_threads,
    }


def dask_config(torch_threads: int = 1) -> dict:
    """Dask configuration (for ``dask.config.set``) under which qphys starts worker nannies."""
    return {"distributed.nanny.pre-spawn-environ": worker_environment(torch_threads)}


def _drop_inherited_trim_threshold() -> None:
    # an earlier nanny of this process (with Dask's defaults) exported the threshold into
    # os.environ, and new worker processes would inherit it
    if os.environ.get("MALLOC_TRIM_THRESHOLD_") == DASK_TRIM_THRESHOLD:
        log.debug("removing MALLOC_TRIM_THRESHOLD_=%s left by an earlier Dask nanny", DASK_TRIM_THRESHOLD)
        del os.environ["MALLOC_TRIM_THRESHOLD_"]


class DaskExecutor(Executor):
    """A ``distributed.Client`` as a :class:`concurrent.futures.Executor`.

    Tasks are submitted with ``pure=False`` (every call runs). Use :func:`qphys.parallel.dask`
    (or :func:`~qphys.parallel.slurm`, :func:`~qphys.parallel.cuda`) to build one; ``shutdown``
    closes the client, and the cluster when the executor started it.

    Attributes:
        client: the ``distributed.Client``. cluster: the cluster object, or ``None`` when
            connected to an address. address: the scheduler's address.
    """

    def __init__(self, client, *, cluster=None, owns_cluster: bool = False, shard_size: int | None = None):
        self.client = client
        self.cluster = cluster
        self.owns_cluster = owns_cluster
        self.shard_size = _positive_int(shard_size, "shard_size")
        self.address = client.scheduler.address if client.scheduler is not None else None
        self._cf = client.get_executor(pure=False)

    @property
    def workers(self) -> int:
        """Worker threads in the cluster now (at least 1)."""
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except Exception:  # pragma: no cover - closed client
            return 1
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def worker_pids(self) -> dict[str, int]:
        """``{worker address: pid}`` of the worker processes."""
        return self.client.run(os.getpid)

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        self.check_alive()
        return self._cf.submit(fn, *args, **kwargs)

    def check_alive(self) -> None:
        """Raise :class:`ClusterError` naming the scheduler when the client lost it."""
        status = self.client.status
        if status != "running":  # "connecting" after a start: the scheduler went away
            raise ClusterError(
                f"the Dask scheduler at {self.address} is gone (client status {status!r}); restart the "
                "cluster and build a new executor with qphys.parallel.dask(address)"
            )

    def shutdown(self, wait: bool = True, **kwargs) -> None:
        alive = self.client.status == "running"
        try:
            self._cf.shutdown(wait=wait and alive)
        finally:
            try:  # without a scheduler, closing would wait for a reconnection that never comes
                self.client.close(timeout=30 if alive else 2)
            except Exception as exc:  # noqa: BLE001 - closing a client whose scheduler is gone
                log.debug("closing the Dask client: %s: %s", type(exc).__name__, exc)
            if self.owns_cluster and self.cluster is not None:
                try:
                    self.cluster.close(timeout=30 if alive else 2)
                except Exception as exc:  # noqa: BLE001 - its scheduler is gone already
                    log.debug("closing the Dask cluster: %s: %s", type(exc).__name__, exc)

    def __repr__(self) -> str:
        return f"<DaskExecutor {self.address} workers={self.workers}>"


def _register_threads(client, torch_threads: int) -> None:
    from qphys.parallel._plugin import TorchThreads

    client.register_plugin(TorchThreads(torch_threads))


def connect(address: str, *, timeout: float = 10.0):
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Raises:
        ClusterError: nothing answers at ``address`` within ``timeout`` seconds.
    """
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({type(exc).__name__}: {exc}); "
            "check the address and that the scheduler runs (dask scheduler), or call qphys.parallel.dask() "
            "without an address for a local cluster"
        ) from None


def dask(
    client_or_address=None,
    *,
    n_workers: int | None = None,
    torch_threads: int = 1,
    timeout: float = 10.0,
    shard_size: int | None = None,
    **cluster_options,
) -> DaskExecutor:
    """A Dask executor: an embedded ``LocalCluster``, an existing scheduler, or a client.

    Args:
        client_or_address: ``None`` starts a ``LocalCluster`` of worker processes; a scheduler
            address (``"tcp://10.0.0.5:8786"``) connects to it; a ``distributed.Client`` or a
            cluster object (``LocalCluster``, a dask-jobqueue cluster) is used as it is.
        n_workers: workers of the embedded cluster (default: cores // ``torch_threads``, so that
            workers × torch threads = cores). Each worker runs one task at a time.
        torch_threads: torch threads in every worker (set by a ``WorkerPlugin``).
        timeout: seconds to wait for a scheduler before :class:`~qphys.errors.ClusterError`.
        shard_size: items per task (see :attr:`qphys.parallel.Executor.shard_size`).
        **cluster_options: more ``LocalCluster`` options (``memory_limit``, ``dashboard_address``...).

    Returns:
        A :class:`DaskExecutor`; use it as a context manager or call ``shutdown()``.

    Raises:
        MissingDependencyError: the ``parallel`` extra is not installed.
        ClusterError: the scheduler cannot be reached.
        ConfigError: cluster options given with an existing client or address.

    Examples:
        >>> import qphys
        >>> with qphys.parallel.dask(n_workers=1, processes=False) as ex:
        ...     ex.submit(sum, [1, 2, 3]).result()
        6
    """
    require("distributed", extra="parallel", feature="Dask executors (qphys.parallel.dask)")
    torch_threads = _positive_int(torch_threads, "torch_threads", allow_none=False)
    n_workers = _positive_int(n_workers, "n_workers")
    import dask as dask_lib
    from distributed import Client, LocalCluster

    if client_or_address is not None and (cluster_options or n_workers is not None):
        raise ConfigError(
            "n_workers and cluster options apply to the embedded LocalCluster only; configure an existing "
            f"cluster where it is started (got {sorted(cluster_options) + (['n_workers'] if n_workers else [])})"
        )
    if client_or_address is None:
        options = {"threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
                   "silence_logs": logging.ERROR}
        options.update(cluster_options)
        options["n_workers"] = n_workers or max(1, cpu_cores() // torch_threads)
        _drop_inherited_trim_threshold()
        with dask_lib.config.set(dask_config(torch_threads)):
            cluster = LocalCluster(**options)
        try:
            client = Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
        executor = DaskExecutor(client, cluster=cluster, owns_cluster=True, shard_size=shard_size)
        if not options["processes"]:  # threads of this process: leave its torch settings alone
            log.info("Dask executor: %s (threads of this process)", executor)
            return executor
    elif isinstance(client_or_address, str):
        executor = DaskExecutor(connect(client_or_address, timeout=timeout), shard_size=shard_size)
    elif isinstance(client_or_address, Client):
        executor = DaskExecutor(client_or_address, shard_size=shard_size)
    elif hasattr(client_or_address, "scheduler_address"):
        cluster = client_or_address
        executor = DaskExecutor(Client(cluster, set_as_default=False, timeout=timeout), cluster=cluster,
                                shard_size=shard_size)
    else:
        raise ConfigError(
            "qphys.parallel.dask takes None (a local cluster), a scheduler address, a distributed.Client or "
            f"a cluster object, got {type(client_or_address).__name__}"
        )
    _register_threads(executor.client, torch_threads)
    log.info("Dask executor: %s", executor)
    return executor
