"""Dask workers as batch jobs on SLURM, PBS or SGE, through dask-jobqueue.

Each job runs ``processes`` worker processes with one task at a time each and ``torch_threads``
torch threads each, on ``cores = processes × torch_threads`` cores. The job script exports the
Dask configuration of :func:`qphys.parallel.cluster.dask_config` (no ``MALLOC_TRIM_THRESHOLD_``)
to the nannies it starts, and a worker plugin sets torch's threads.

For other batch systems (LSF, HTCondor...), build the dask-jobqueue cluster yourself with
``job_script_prologue=job_script_prologue(torch_threads)`` and pass it to
:func:`qphys.parallel.dask`.
"""

from __future__ import annotations

import logging

from qphys._deps import require
from qphys.errors import ConfigError
from qphys.parallel.cluster import DaskExecutor, _register_threads, dask_config
from qphys.parallel.executor import _positive_int

log = logging.getLogger(__name__)


def job_script_prologue(torch_threads: int = 1) -> list[str]:
    """Shell lines that pass qphys' worker configuration to the Dask nannies of a batch job.

    Examples:
        >>> job_script_prologue(1)[0].startswith("export DASK_INTERNAL_INHERIT_CONFIG=")
        True
    """
    import dask.config

    nested: dict = {}
    for key, value in dask_config(torch_threads).items():
        node = nested
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return [f"export DASK_INTERNAL_INHERIT_CONFIG={dask.config.serialize(nested)}"]


def _split(cores, processes, torch_threads) -> tuple[int, int, int]:
    cores = _positive_int(cores, "cores", allow_none=False)
    torch_threads = _positive_int(torch_threads, "torch_threads", allow_none=False)
    processes = _positive_int(processes, "processes") or max(1, cores // torch_threads)
    if processes * torch_threads > cores:
        raise ConfigError(
            f"{processes} worker processes x {torch_threads} torch threads need {processes * torch_threads} "
            f"cores but a job has cores={cores}; lower processes or torch_threads"
        )
    return cores, processes, torch_threads


def jobqueue_cluster(
    system: str,
    *,
    cores: int,
    memory: str,
    walltime: str = "01:00:00",
    processes: int | None = None,
    torch_threads: int = 1,
    **options,
):
    """An unscaled dask-jobqueue cluster (``system``: ``"slurm"``, ``"pbs"`` or ``"sge"``) set up for qphys.

    Nothing is submitted until the cluster is scaled; ``cluster.job_script()`` shows the script.

    Args:
        system: ``"slurm"``, ``"pbs"`` or ``"sge"``.
        cores: cores one job reserves (SGE: slots of the parallel environment
            ``parallel_environment=``, default ``"smp"``; ``h_vmem`` is per slot, memory / cores). memory: memory of one job (``"16GB"``).
        walltime: job time limit (``"HH:MM:SS"``).
        processes: worker processes per job (default: cores // torch_threads).
        torch_threads: torch threads per worker.
        **options: more options of ``SLURMCluster``/``PBSCluster``/``SGECluster`` (``queue``, ``account``,
            ``job_extra_directives``, ``interface``, ``python``...).

    Raises:
        ConfigError: unknown system, or more processes × torch threads than cores.
    """
    require("dask_jobqueue", extra="parallel", feature="batch-system clusters (dask-jobqueue)")
    import dask as dask_lib
    import dask_jobqueue

    cores, processes, torch_threads = _split(cores, processes, torch_threads)
    prologue = job_script_prologue(torch_threads) + list(options.pop("job_script_prologue", None) or [])
    # dask-jobqueue gives each worker cores/processes task threads; qphys wants one task per worker
    # with torch_threads torch threads, so the job asks for all `cores` by the system's own directive
    common = dict(cores=processes, processes=processes, memory=memory, walltime=walltime,
                  job_script_prologue=prologue)
    if system == "slurm":
        cls = dask_jobqueue.SLURMCluster
        common["job_cpu"] = cores
    elif system == "pbs":
        cls = dask_jobqueue.PBSCluster
        common["resource_spec"] = options.pop("resource_spec", None) or f"select=1:ncpus={cores}:mem={memory}"
    elif system == "sge":
        from dask.utils import format_bytes, parse_bytes

        cls = dask_jobqueue.SGECluster
        pe = options.pop("parallel_environment", "smp")
        per_slot = parse_bytes(memory) // cores
        common["resource_spec"] = options.pop("resource_spec", None) or f"h_vmem={per_slot // 2**20}M"
        common["job_extra_directives"] = [f"-pe {pe} {cores}", *(options.pop("job_extra_directives", None) or [])]
        log.debug("SGE job: %d slots of %s", cores, format_bytes(per_slot))
    else:
        raise ConfigError(
            f"system must be 'slurm', 'pbs' or 'sge', got {system!r}; see qphys.parallel.jobqueue for others"
        )
    common.update(options)
    common.setdefault("scheduler_options", {"dashboard_address": ":0"})
    with dask_lib.config.set(dask_config(torch_threads)):
        return cls(**common)


def _executor(system, jobs, shard_size, torch_threads, **kwargs) -> DaskExecutor:
    from distributed import Client

    jobs = _positive_int(jobs, "jobs", allow_none=False) if jobs != 0 else 0
    cluster = jobqueue_cluster(system, torch_threads=torch_threads, **kwargs)
    try:
        if jobs:
            cluster.scale(jobs=jobs)
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    executor = DaskExecutor(client, cluster=cluster, owns_cluster=True, shard_size=shard_size)
    _register_threads(client, torch_threads)
    log.info("%s executor: %d job(s) requested, scheduler %s", system, jobs, executor.address)
    return executor


def slurm(
    *,
    cores: int,
    memory: str,
    walltime: str = "01:00:00",
    jobs: int = 1,
    processes: int | None = None,
    torch_threads: int = 1,
    shard_size: int | None = None,
    **options,
) -> DaskExecutor:
    """A Dask executor whose workers are SLURM jobs (dask-jobqueue ``SLURMCluster``).

    Args:
        cores, memory, walltime, processes, torch_threads, **options: see :func:`jobqueue_cluster`
            (``queue=`` is the partition, ``account=`` the account).
        jobs: jobs to submit now (``0``: none yet; call ``executor.cluster.scale(jobs=n)`` or
            ``executor.cluster.adapt(...)`` later).
        shard_size: items per task (see :attr:`qphys.parallel.Executor.shard_size`).

    Returns:
        A :class:`~qphys.parallel.cluster.DaskExecutor`; ``executor.cluster.job_script()`` shows
        the script each job runs.

    Examples:
        >>> import qphys
        >>> with qphys.parallel.slurm(cores=8, memory="16GB", walltime="02:00:00", jobs=0) as ex:
        ...     script = ex.cluster.job_script()
        >>> "#SBATCH --cpus-per-task=8" in script, "--nworkers 8" in script, "--nthreads 1" in script
        (True, True, True)
    """
    return _executor("slurm", jobs, shard_size, torch_threads, cores=cores, memory=memory, walltime=walltime,
                     processes=processes, **options)


def pbs(
    *,
    cores: int,
    memory: str,
    walltime: str = "01:00:00",
    jobs: int = 1,
    processes: int | None = None,
    torch_threads: int = 1,
    shard_size: int | None = None,
    **options,
) -> DaskExecutor:
    """A Dask executor whose workers are PBS jobs (dask-jobqueue ``PBSCluster``); see :func:`slurm`."""
    return _executor("pbs", jobs, shard_size, torch_threads, cores=cores, memory=memory, walltime=walltime,
                     processes=processes, **options)


def sge(
    *,
    cores: int,
    memory: str,
    walltime: str = "01:00:00",
    jobs: int = 1,
    processes: int | None = None,
    torch_threads: int = 1,
    shard_size: int | None = None,
    **options,
) -> DaskExecutor:
    """A Dask executor whose workers are SGE jobs (dask-jobqueue ``SGECluster``); see :func:`slurm`.

    A job asks for ``cores`` slots of the parallel environment ``parallel_environment=`` (default
    ``"smp"``) and ``h_vmem`` = memory / cores per slot (override with ``resource_spec=``).

    Examples:
        >>> import qphys
        >>> with qphys.parallel.sge(cores=4, memory="8GB", walltime="00:30:00", jobs=0) as ex:
        ...     script = ex.cluster.job_script()
        >>> "#$ -pe smp 4" in script, "#$ -l h_vmem=1907M" in script, "--nworkers 4" in script
        (True, True, True)
    """
    return _executor("sge", jobs, shard_size, torch_threads, cores=cores, memory=memory, walltime=walltime,
                     processes=processes, **options)
