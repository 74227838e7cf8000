"""``check_device``: run the device conformance suite in-process and return a :class:`Report`.

Like gymnasium's ``check_env``, this is a plain function: no pytest session is started, nothing
is collected from the file system and nothing is printed. It runs the same checks as
``pytest --pyargs qphys.testing --qphys-device NAME`` — every ``test_*`` function of the
``qphys.testing.conformance_<family>`` modules, expanded over their parameters — and records
each one as passed, failed (with the assertion's message) or skipped (with the reason: a
capability the device lacks, a family it does not run). The checks use pytest's ``skip`` and
``raises`` helpers as a library, so the ``pytest`` package must be importable; no pytest run is.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from qphys.errors import ConfigError
from qphys.testing.spec import DeviceSpec

OUTCOMES = ("passed", "failed", "skipped")


@dataclass(frozen=True)
class CheckResult:
    """One check of a :class:`Report`.

    Attributes:
        name: ``module::test[params]``, e.g. ``conformance_qubit::test_gate[cx]``.
        outcome: ``"passed"``, ``"failed"`` or ``"skipped"``.
        reason: why it failed (the assertion or exception) or was skipped; empty when passed.
        seconds: wall time of the check.
    """

    name: str
    outcome: str
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    """What :func:`check_device` found: every check with its outcome and reason.

    Attributes:
        device: the device's name.
        shots: the shots the checks ran with (``None``: exact).
        checks: one :class:`CheckResult` per check, in the suite's order.
        seconds: wall time of the whole run.
    """

    device: str
    shots: int | None
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    def _with(self, outcome: str) -> list[CheckResult]:
        return [c for c in self.checks if c.outcome == outcome]

    @property
    def passed(self) -> list[CheckResult]:
        return self._with("passed")

    @property
    def failed(self) -> list[CheckResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[CheckResult]:
        return self._with("skipped")

    @property
    def ok(self) -> bool:
        """No check failed and at least one passed."""
        return not self.failed and bool(self.passed)

    def summary(self) -> str:
        """One line: ``torch.qubit (exact): 120 passed, 0 failed, 2 skipped in 3.1 s``."""
        mode = "exact" if self.shots is None else f"shots={self.shots}"
        return (
            f"{self.device} ({mode}): {len(self.passed)} passed, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped in {self.seconds:.1f} s"
        )

    def format(self, *, verbose: bool = False) -> str:
        """Failures (with their messages) and skips (with reasons), then the summary line;
        ``verbose`` lists passed checks too."""
        lines = []
        for c in self.checks:
            if c.outcome == "passed" and not verbose:
                continue
            lines.append(f"{c.outcome.upper():8} {c.name}" + (f": {_first_line(c.reason)}" if c.reason else ""))
            if c.outcome == "failed" and "\n" in c.reason.strip():
                lines.extend("         " + ln for ln in c.reason.strip().splitlines()[1:12])
        lines.append(self.summary())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def check_device(
    device,
    *,
    shots: int | None = None,
    options: dict | None = None,
    select: str | None = None,
    families: tuple[str, ...] | None = None,
) -> Report:
    """Run the conformance checks on one device and report each check's outcome.

    Args:
        device: a device name (``"torch.qubit"``), a :class:`~qphys.devices.Device` instance, or
            a :class:`~qphys.testing.DeviceSpec`.
        shots: run with this many shots (tolerances become statistical); default: the device's.
        options: device options when ``device`` is a name (e.g. ``{"dtype": "complex128"}``).
        select: run only checks whose name contains this substring (e.g. ``"test_gate"``).
        families: op families to check (``"qubit"``, ``"cv"``, ``"linear_optics"``); default: every
            conformance module.

    Returns:
        A :class:`Report`; ``report.ok`` is true when nothing failed.

    Raises:
        DeviceNotFoundError: no installed device has that name (before any check runs).
        DeviceOptionError: an option the device does not have.
        ConfigError: ``options`` given with a device instance, or an unknown family.

    Examples:
        >>> from qphys.testing import check_device
        >>> report = check_device("torch.gaussian", select="test_displacement")
        >>> [(c.name, c.outcome) for c in report.checks]
        [('conformance_cv::test_displacement', 'passed')]
        >>> report.ok
        True
    """
    spec, instance = _resolve(device, shots=shots, options=options)
    modules = _modules(families)
    dev = instance if instance is not None else spec.make()  # unknown names fail here, once
    t0 = time.perf_counter()
    results = [r for module in modules for r in _run_module(module, spec, dev, select)]
    return Report(spec.name, spec.shots, tuple(results), time.perf_counter() - t0)


# ---- internals ------------------------------------------------------------------------------
def _resolve(device, *, shots, options) -> tuple[DeviceSpec, object | None]:
    from qphys.devices.base import Device

    if isinstance(device, DeviceSpec):
        if options:
            raise ConfigError("pass options inside the DeviceSpec, not beside it")
        return (device if shots is None else _spec(device.name, device.options, shots)), None
    if isinstance(device, Device):
        if options:
            raise ConfigError(
                f"options were given with a device instance ({device.name!r}); build the device with "
                "them, or pass its name and options=..."
            )
        return _spec(device.name, {}, shots if shots is not None else device.default_config.shots), device
    if not isinstance(device, str):
        raise ConfigError(f"device must be a name, a Device or a DeviceSpec, got {type(device).__name__}")
    return _spec(device, dict(options or {}), shots), None


def _spec(name: str, options: dict, shots: int | None) -> DeviceSpec:
    # as --qphys-shots does: with shots the tolerance is statistical only
    return DeviceSpec(name, options=options, shots=shots, atol=1e-5 if shots is None else 0.0)


def _modules(families) -> list:
    import qphys.testing

    names = sorted(m.name for m in pkgutil.iter_modules(qphys.testing.__path__) if m.name.startswith("conformance_"))
    known = [n.removeprefix("conformance_") for n in names]
    if families is not None:
        unknown = sorted(set(families) - set(known))
        if unknown:
            raise ConfigError(f"unknown op family {', '.join(unknown)}; the suite covers {', '.join(known)}")
        names = [n for n, fam in zip(names, known) if fam in families]
    return [importlib.import_module(f"qphys.testing.{n}") for n in names]


def _cases(func: Callable) -> Iterator[tuple[str, dict]]:
    """``(id, kwargs)`` for every combination of the function's ``parametrize`` marks."""
    axes = []
    for mark in reversed(getattr(func, "pytestmark", [])):
        if mark.name != "parametrize":
            continue
        argnames, values = mark.args[0], list(mark.args[1])
        names = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        rows = [dict(zip(names, v if len(names) > 1 else (v,))) for v in values]
        axes.append(rows)
    for combo in itertools.product(*axes):
        kwargs = {k: v for row in combo for k, v in row.items()}
        ident = "-".join(str(v) for row in combo for v in row.values())
        yield (f"[{ident}]" if ident else ""), kwargs


def _run_module(module, spec: DeviceSpec, dev, select: str | None) -> list[CheckResult]:
    import pytest

    short = module.__name__.rsplit(".", 1)[-1]
    family = short.removeprefix("conformance_")
    tests = [(n, getattr(module, n)) for n in module.__all__ if n.startswith("test_")]
    cases = [(f"{short}::{n}{ident}", func, kwargs) for n, func in tests for ident, kwargs in _cases(func)]
    if select:
        cases = [c for c in cases if select in c[0]]
    if not cases:
        return []
    if family not in dev.capabilities.families:
        kind = {"cv": "photonic (cv)", "linear_optics": "linear-optical"}.get(family, family)
        return [CheckResult(short, "skipped", f"{dev.name} runs {sorted(dev.capabilities.families)} circuits, "
                                              f"not {kind} ones ({len(cases)} checks)")]
    out = []
    for name, func, kwargs in cases:
        t0 = time.perf_counter()
        args = {}
        for p in inspect.signature(func).parameters:
            if p == "device_spec":
                args[p] = spec
            elif p in kwargs:
                args[p] = kwargs[p]
            else:  # the module's device fixture
                args[p] = dev
        try:
            func(**args)
        except pytest.skip.Exception as exc:
            out.append(CheckResult(name, "skipped", str(exc.msg), time.perf_counter() - t0))
        except AssertionError as exc:
            out.append(CheckResult(name, "failed", str(exc) or "assertion failed", time.perf_counter() - t0))
        except Exception as exc:  # a crash inside the device is a failed check, reported with its type
            where = traceback.extract_tb(exc.__traceback__)[-1]
            reason = f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
            out.append(CheckResult(name, "failed", reason, time.perf_counter() - t0))
        else:
            out.append(CheckResult(name, "passed", "", time.perf_counter() - t0))
    return out


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""
