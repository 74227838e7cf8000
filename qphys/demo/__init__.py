"""``qphys demo``: the main job on the embedded default device, one section per capability.

Each module in this package that defines ``SECTION = Section(...)`` contributes a section;
sections run in ``order``. A section's ``run(ctx)`` returns a dict of headline metrics, and
prints its own short report.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class DemoContext:
    """What every section gets: ``quick`` (smaller, faster), ``progress`` bars, ``out_dir``, ``seed``."""

    out_dir: Path
    quick: bool = False
    progress: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Section:
    """A demo section; ``threads`` pins torch's thread count while it runs (tiny tensors run
    several times faster on one thread than on threads that compete for two cores)."""

    order: int
    name: str
    title: str
    run: Callable[[DemoContext], dict]
    threads: int | None = None


def sections() -> list[Section]:
    """All demo sections found in this package, in order."""
    found = []
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        sec = getattr(module, "SECTION", None)
        if isinstance(sec, Section):
            found.append(sec)
    return sorted(found, key=lambda s: s.order)


def run_demo(*, out_dir="out/demo", quick=False, progress=True, only=None, seed=0) -> dict:
    """Run the demo sections (``only``: a list of section names) and return their metrics.

    Raises:
        ConfigError: a name in ``only`` is not a section (the message lists the sections);
            raised before anything runs or is written.
    """
    from qphys.errors import ConfigError

    found = sections()
    if only:
        unknown = set(only) - {s.name for s in found}
        if unknown:
            names = ", ".join(s.name for s in found)
            raise ConfigError(f"unknown demo section(s) {sorted(unknown)}; available: {names}")
    chosen = [s for s in found if not only or s.name in only]
    ctx = DemoContext(Path(out_dir), quick=quick, progress=progress, seed=seed)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for sec in chosen:
        print(f"\n== {sec.title} ==", flush=True)
        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        if sec.threads:
            torch.set_num_threads(sec.threads)
        try:
            metrics = sec.run(ctx)
        finally:
            torch.set_num_threads(threads)
        metrics["seconds"] = round(time.perf_counter() - t0, 1)
        results[sec.name] = metrics
        print(f"   ({metrics['seconds']} s)", flush=True)
    return results
