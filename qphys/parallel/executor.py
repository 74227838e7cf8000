"""Executors that follow :class:`concurrent.futures.Executor`, and the helpers qphys ships work with.

Every qphys feature that takes ``executor=`` accepts one of these, a ``distributed.Client``, or
any :class:`concurrent.futures.Executor` (a ``ThreadPoolExecutor`` works too, for debugging).
Tasks are module-level functions of CPU tensors and plain data, so they run in any process.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from qphys.errors import ConfigError

log = logging.getLogger(__name__)


def cpu_cores() -> int:
    """Cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _positive_int(value, name: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


class Executor(cf.Executor):
    """Base of qphys' executors: a :class:`concurrent.futures.Executor` that knows its size.

    Attributes:
        shard_size: items (batch elements, syndromes...) per task when qphys splits work;
            ``None``: one task per worker slot. With shots, sampled values depend on how work is
            split (each task samples with its own spawned seed): fix ``shard_size`` to make them
            independent of the number of workers.

    Executors are shared resources: ``copy.copy``/``copy.deepcopy`` (scikit-learn's ``clone``)
    return the executor itself.
    """

    shard_size: int | None = None

    @property
    def workers(self) -> int:
        """Tasks that run at the same time (worker processes × threads)."""
        raise NotImplementedError  # pragma: no cover - subclasses

    def check_alive(self) -> None:
        """Raise :class:`~qphys.errors.ClusterError` when the executor's cluster went away."""

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``spawn`` start method, torch threads set).

    Use :func:`qphys.parallel.local` to build one.
    """

    def __init__(self, workers: int | None = None, *, torch_threads: int = 1, shard_size: int | None = None):
        torch_threads = _positive_int(torch_threads, "torch_threads", allow_none=False)
        workers = _positive_int(workers, "workers")
        self._workers = workers or max(1, cpu_cores() // torch_threads)
        self.torch_threads = torch_threads
        self.shard_size = _positive_int(shard_size, "shard_size")
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_set_torch_threads,
            initargs=(torch_threads,),
        )

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __repr__(self) -> str:
        return f"<LocalExecutor workers={self._workers} torch_threads={self.torch_threads}>"


class FuturesExecutor(Executor):
    """Any :class:`concurrent.futures.Executor` seen as a qphys :class:`Executor`.

    ``workers`` is the pool's ``max_workers`` when it has one, else ``cpu_cores()``.
    """

    def __init__(self, executor: cf.Executor, *, workers: int | None = None, shard_size: int | None = None):
        self.executor = executor
        self._workers = _positive_int(workers, "workers") or getattr(executor, "_max_workers", None) or cpu_cores()
        self.shard_size = _positive_int(shard_size, "shard_size")

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self.executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, **kwargs) -> None:
        self.executor.shutdown(wait=wait, **kwargs)

    def __repr__(self) -> str:
        return f"<FuturesExecutor {type(self.executor).__name__} workers={self._workers}>"


def local(workers: int | None = None, *, torch_threads: int = 1, shard_size: int | None = None) -> LocalExecutor:
    """A process pool on this machine: the zero-setup executor.

    Args:
        workers: worker processes (default: cores // ``torch_threads``).
        torch_threads: torch threads in each worker (set when the worker starts).
        shard_size: items per task (see :attr:`Executor.shard_size`).

    Returns:
        A :class:`LocalExecutor`; use it as a context manager, or call ``shutdown()``.

    Raises:
        ConfigError: a count that is not a positive integer.

    Examples:
        >>> import qphys
        >>> with qphys.parallel.local(workers=1) as ex:
        ...     ex.submit(pow, 2, 10).result()
        1024
    """
    return LocalExecutor(workers, torch_threads=torch_threads, shard_size=shard_size)


def payload(obj, what: str) -> bytes:
    """``obj`` pickled once for many tasks (``pickle``, else ``cloudpickle`` for closures and lambdas).

    Raises:
        ConfigError: neither can pickle it, so it cannot travel to workers.

    Examples:
        >>> import pickle
        >>> pickle.loads(payload({"a": 1}, "a dict"))
        {'a': 1}
    """
    try:
        return pickle.dumps(obj)
    except Exception as exc:
        first = exc
    try:
        import cloudpickle

        return cloudpickle.dumps(obj)
    except ImportError:
        pass
    except Exception as exc:  # pragma: no cover - cloudpickle fails where pickle did
        first = exc
    raise ConfigError(
        f"{what} cannot be sent to the executor's workers (pickling failed: {type(first).__name__}: {first}); "
        "define functions at module level, or run without an executor"
    )


def spawn_seeds(seed: int | None, count: int) -> list[int]:
    """``count`` independent seeds from ``numpy.random.SeedSequence(seed).spawn(count)``.

    Task ``k`` always gets seed ``k``, whatever the number of workers; ``seed=None`` draws fresh
    entropy.

    Examples:
        >>> spawn_seeds(7, 3) == spawn_seeds(7, 5)[:3]
        True
    """
    children = np.random.SeedSequence(seed).spawn(count)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]


def shard_ranges(total: int, *, shards: int | None = None, shard_size: int | None = None) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` ranges covering ``range(total)``.

    ``shard_size`` fixes the items per shard (the last may be shorter); otherwise ``shards``
    ranges of sizes differing by at most one.

    Examples:
        >>> shard_ranges(10, shards=3)
        [(0, 4), (4, 7), (7, 10)]
        >>> shard_ranges(10, shard_size=4)
        [(0, 4), (4, 8), (8, 10)]
    """
    if total <= 0:
        return []
    if shard_size is not None:
        return [(a, min(total, a + shard_size)) for a in range(0, total, shard_size)]
    k = max(1, min(total, shards or 1))
    base, extra = divmod(total, k)
    out, a = [], 0
    for i in range(k):
        b = a + base + (1 if i < extra else 0)
        out.append((a, b))
        a = b
    return out


def plan_shards(total: int, executor: Executor) -> list[tuple[int, int]]:
    """Shards of ``total`` items for ``executor``: by its ``shard_size``, else one per worker slot."""
    return shard_ranges(total, shards=executor.workers, shard_size=executor.shard_size)


def run_tasks(
    executor: Executor,
    fn: Callable,
    args: Iterable[Sequence[Any]],
    *,
    progress: bool = False,
    desc: str | None = None,
    on_result: Callable[[int, Any], None] | None = None,
) -> list:
    """Run ``fn(*a)`` for every ``a`` in ``args`` on ``executor``; results in the order of ``args``.

    Each result is stored once, at its task's index, when its future completes (a task that
    Dask re-ran after a worker died still fills one slot). ``on_result(i, value)`` is called
    as each finishes (e.g. to write it to disk). On the first failure the remaining tasks are
    cancelled and the error is raised.

    Raises:
        ClusterError: the executor's cluster went away (scheduler gone).

    Examples:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> run_tasks(FuturesExecutor(ThreadPoolExecutor(2)), pow, [(2, 3), (3, 2)])
        [8, 9]
    """
    args = list(args)
    futures = [executor.submit(fn, *a) for a in args]
    index = {f: i for i, f in enumerate(futures)}
    out: list = [None] * len(futures)
    from tqdm.auto import tqdm

    try:
        with tqdm(total=len(futures), desc=desc, disable=not progress) as bar:
            for f in cf.as_completed(futures):
                i = index[f]
                try:
                    out[i] = f.result()
                except cf.CancelledError:
                    executor.check_alive()
                    raise
                if on_result is not None:
                    on_result(i, out[i])
                bar.update()
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    return out
