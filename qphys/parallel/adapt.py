"""``as_executor``: what qphys accepts as ``executor=``, seen as a qphys :class:`~qphys.parallel.Executor`."""

from __future__ import annotations

import concurrent.futures as cf

from qphys.errors import ConfigError
from qphys.parallel.cluster import DaskExecutor
from qphys.parallel.executor import Executor, FuturesExecutor


def as_executor(executor) -> Executor | None:
    """``executor`` as a qphys :class:`Executor` (``None`` stays ``None``).

    Accepts a qphys executor, a ``distributed.Client`` or any :class:`concurrent.futures.Executor`.

    Raises:
        ConfigError: anything else.

    Examples:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> as_executor(ThreadPoolExecutor(max_workers=3)).workers
        3
    """
    if executor is None or isinstance(executor, Executor):
        return executor
    if type(executor).__module__.startswith("distributed") and hasattr(executor, "get_executor"):
        return DaskExecutor(executor)
    if isinstance(executor, cf.Executor):
        return FuturesExecutor(executor)
    raise ConfigError(
        f"executor must be a qphys.parallel executor (qphys.parallel.local(), qphys.parallel.dask()), a "
        f"distributed.Client or a concurrent.futures.Executor, got {type(executor).__name__}"
    )
