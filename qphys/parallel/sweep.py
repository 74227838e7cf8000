"""Parameter sweeps: a function over a grid × seeds, resumable from a JSON-lines store."""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qphys.errors import ConfigError
from qphys.parallel.adapt import as_executor
from qphys.parallel.executor import _positive_int, run_tasks, spawn_seeds

log = logging.getLogger(__name__)


def grid_points(grid) -> list[dict]:
    """The points of ``grid``: a mapping of name -> values (Cartesian product, in order) or a
    sequence of dicts (taken as they are).

    Raises:
        ConfigError: anything else, or an empty list of values.

    Examples:
        >>> grid_points({"lr": [0.1, 0.01], "depth": [2]})
        [{'lr': 0.1, 'depth': 2}, {'lr': 0.01, 'depth': 2}]
    """
    if isinstance(grid, Mapping):
        names = list(grid)
        values = []
        for n in names:
            v = grid[n]
            if isinstance(v, (str, bytes)) or not isinstance(v, (Sequence, np.ndarray, range)):
                raise ConfigError(f"grid[{n!r}] must be a list of values, got {type(v).__name__}")
            if len(v) == 0:
                raise ConfigError(f"grid[{n!r}] is empty")
            values.append(list(v))
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]
    if isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)) and all(isinstance(p, Mapping) for p in grid):
        return [dict(p) for p in grid]
    raise ConfigError(f"grid must be a dict of name -> values or a list of dicts, got {type(grid).__name__}")


def _plain(value):
    """JSON-compatible form of numbers, arrays, tensors, tuples and dicts of them."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if type(value).__module__.startswith("torch") and hasattr(value, "tolist"):
        return value.detach().cpu().tolist()
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return _plain(value.as_dict())
    return value


def _key(params: dict, replicate: int, seed: int) -> str:
    return json.dumps({"params": _plain(params), "replicate": replicate, "seed": seed}, sort_keys=True)


def _run_point(fn: Callable, params: dict, seed: int, pass_seed: bool) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(**params, seed=seed) if pass_seed else fn(**params)
    return out, time.perf_counter() - t0


def load_store(path) -> list[dict]:
    """The records of a sweep store (a JSON-lines file); a torn last line (a kill mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                log.warning("sweep store %s: ignoring a torn last line (a run was killed while writing)", path)
                continue
            raise ConfigError(f"sweep store {path} line {i + 1} is not JSON; is it a qphys sweep store?") from None
    return records


def sweep(
    fn: Callable,
    grid,
    *,
    seeds: int = 1,
    seed: int | None = 0,
    executor=None,
    store=None,
    progress: bool = True,
    pass_seed: bool = True,
) -> list[dict]:
    """Run ``fn(**point, seed=s)`` for every grid point and every one of ``seeds`` replicates.

    Replicate ``r`` of every point gets seed ``r`` of
    ``numpy.random.SeedSequence(seed).spawn(seeds)`` (the same seeds for every point, whatever
    the number of workers: points are compared on equal random numbers). Each finished record
    is appended to ``store`` at once (one JSON line, flushed and synced), so a sweep killed half
    way and run again computes only the records the store lacks.

    Args:
        fn: a picklable function (module-level for :func:`qphys.parallel.local`; Dask also ships
            closures) returning JSON-compatible values (numbers, lists, dicts; numpy/torch values
            and objects with ``as_dict()`` are converted).
        grid: ``{"name": [values...]}`` (Cartesian product) or a list of parameter dicts.
        seeds: replicates per point. seed: the root seed (``None``: fresh entropy, no resuming).
        executor: where to run (``None``: in this process, one point after another).
        store: path of a JSON-lines file that keeps finished records (``None``: keep nothing).
        progress: a tqdm bar over finished records.
        pass_seed: call ``fn(**point, seed=s)``; ``False`` calls ``fn(**point)``.

    Returns:
        One record per point and replicate, in grid order: ``{"params", "replicate", "seed",
        "result", "seconds"}`` (records read back from ``store`` included).

    Raises:
        ConfigError: a bad grid or ``seeds``, or ``store`` given with ``seed=None``.

    Examples:
        >>> def square(x, seed):
        ...     return x * x
        >>> [r["result"] for r in sweep(square, {"x": [1, 2, 3]}, progress=False)]
        [1, 4, 9]
    """
    points = grid_points(grid)
    seeds = _positive_int(seeds, "seeds", allow_none=False)
    if store is not None and seed is None:
        raise ConfigError("a sweep store needs a fixed seed (seed=None draws new seeds each run, so nothing resumes)")
    replicate_seeds = spawn_seeds(seed, seeds)
    todo = [(params, r, replicate_seeds[r]) for params in points for r in range(seeds)]
    keys = [_key(p, r, s) for p, r, s in todo]
    done: dict[str, dict] = {}
    if store is not None:
        for rec in load_store(store):
            done[_key(rec["params"], rec["replicate"], rec["seed"])] = rec
    missing = [i for i, k in enumerate(keys) if k not in done]
    if store is not None:
        log.info("sweep: %d of %d records in %s, %d to compute", len(todo) - len(missing), len(todo), store,
                 len(missing))
    records: dict[int, dict] = {}
    handle = None if store is None else open(store, "a", encoding="utf-8")

    def finish(j: int, out) -> None:
        i = missing[j]
        params, r, s = todo[i]
        value, seconds = out
        rec = {"params": _plain(params), "replicate": r, "seed": s, "result": _plain(value), "seconds": seconds}
        records[i] = rec
        if handle is not None:
            handle.write(json.dumps(rec) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    try:
        args = [(fn, todo[i][0], todo[i][2], pass_seed) for i in missing]
        ex = as_executor(executor)
        if ex is None:
            from tqdm.auto import tqdm

            for j, a in enumerate(tqdm(args, desc="sweep", disable=not progress)):
                finish(j, _run_point(*a))
        else:
            run_tasks(ex, _run_point, args, progress=progress, desc="sweep", on_result=finish)
    finally:
        if handle is not None:
            handle.close()
    return [records[i] if i in records else done[keys[i]] for i in range(len(todo))]
