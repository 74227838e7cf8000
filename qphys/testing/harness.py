"""What the conformance checks are written against instead of pytest: ``skip``, ``raises`` and
``parametrize``.

The checks in ``qphys.testing.conformance_<family>`` run in two ways: in-process through
:func:`qphys.testing.check_device` (no pytest needed: the ``qphys check-device`` command works in an
environment without it) and as pytest tests (``pytest --pyargs qphys.testing --qphys-device
NAME``). This module serves both:

- :func:`skip` raises :data:`CheckSkipped`: where pytest is installed, that is pytest's own skip
  exception (``pytest.skip.Exception``), so pytest reports the check as skipped with the reason;
  without pytest it is a plain ``Exception`` of this module.
- :func:`raises` is a context manager asserting that the block raises an exception of a type,
  whose message matches a regular expression (as ``pytest.raises(..., match=...)`` does).
- :func:`parametrize` records a check's parameter values on the function
  (:data:`PARAMS_ATTRIBUTE`); :func:`qphys.testing.check_device` expands them itself, and the
  conformance modules' ``pytest_generate_tests`` hands them to pytest's ``metafunc.parametrize``.

A conformance module of a new op family (``qphys/testing/conformance_<family>.py``, ``<family>`` as
in ``Capabilities.families``) is picked up by :func:`qphys.testing.check_device` and ``qphys
check-device`` without registration: it lists its checks (``test_*``) in ``__all__``; each takes
``device_spec`` and the module's device fixture (:func:`qphys.testing.suite.device_fixture`) plus its
own parameters, and uses :func:`skip`, :func:`raises` and :func:`parametrize` from here, so that it
runs where pytest is not installed. (``pytest.mark.parametrize`` marks are still expanded where
pytest is installed.)

Examples:
    >>> from qphys.testing.harness import CheckSkipped, parametrize, raises, skip
    >>> with raises(ValueError, match="bad"):
    ...     raise ValueError("a bad value")
    >>> @parametrize("gate", ["h", "x"])
    ... def check_gate(gate):
    ...     if gate == "x":
    ...         skip("no x here")
    >>> try:
    ...     check_gate("x")
    ... except CheckSkipped as exc:
    ...     print(exc)
    no x here
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

#: Attribute of a check function holding its ``(argnames, values)`` pairs, outermost first.
PARAMS_ATTRIBUTE = "qphys_parametrize"

try:  # pytest is optional: where it is installed, a skipped check is pytest's own skip
    from pytest import skip as _pytest_skip
except ImportError:  # pragma: no cover - exercised in a subprocess that blocks pytest

    class CheckSkipped(Exception):
        """A check that does not apply to the device (a capability it lacks); the message says why."""

        def __init__(self, msg: str):
            super().__init__(msg)
            self.msg = msg

        def __str__(self) -> str:
            return self.msg

else:
    #: The exception a skipped check raises, its message the reason: pytest's skip exception
    #: (``pytest.skip.Exception``) where pytest is installed, so that pytest reports a skip with
    #: the reason and the check's location; without pytest a plain ``Exception`` of this module.
    CheckSkipped = _pytest_skip.Exception  # type: ignore[misc]


def skip(reason: str) -> NoReturn:
    """End the running check as skipped because the device lacks what it needs.

    Raises:
        CheckSkipped: always, with ``reason`` as its message.
    """
    __tracebackhide__ = True  # pytest reports the skip at the check's line
    raise CheckSkipped(reason)


@contextmanager
def raises(expected: type[BaseException] | tuple[type[BaseException], ...], *, match: str | None = None):
    """Assert that the ``with`` block raises ``expected`` (a type or a tuple of types) with a message
    in which the regular expression ``match`` is found.

    Raises:
        AssertionError: nothing was raised, or the message does not match. Other exception types
            propagate unchanged.
    """
    names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
    try:
        yield
    except expected as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(f"{type(exc).__name__} raised, but its message {str(exc)!r} does not match "
                                 f"{match!r}") from exc
    else:
        raise AssertionError(f"expected {names} to be raised, nothing was")


def parametrize(argnames: str | Sequence[str], values: Sequence[Any]) -> Callable:
    """Decorator: run the check once per value (``argnames`` may name several, comma-separated,
    with a tuple per value), like ``pytest.mark.parametrize``; stacked decorators combine."""
    names = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
    rows = list(values)

    def mark(func: Callable) -> Callable:
        setattr(func, PARAMS_ATTRIBUTE, [(names, rows), *getattr(func, PARAMS_ATTRIBUTE, [])])
        return func

    return mark


def parameters(func: Callable) -> list[tuple[list[str], list]]:
    """The ``(argnames, values)`` pairs :func:`parametrize` recorded on ``func``, outermost first."""
    return list(getattr(func, PARAMS_ATTRIBUTE, []))


def cases(func: Callable) -> Iterator[tuple[str, dict]]:
    """``(id, kwargs)`` for every combination of ``func``'s parameters, ids as pytest makes them
    (``"[cx]"``, ``"[expval]"``; ``""`` without parameters).

    Examples:
        >>> @parametrize("measure", ["expval", "probs"])
        ... def check(measure):
        ...     pass
        >>> list(cases(check))
        [('[expval]', {'measure': 'expval'}), ('[probs]', {'measure': 'probs'})]
    """
    combos: list[tuple[str, dict]] = [("", {})]
    # innermost decorator first, as pytest orders ids
    for names, rows in reversed([*parameters(func), *_pytest_marks(func)]):
        combos = [
            (f"{ident}-{_ident(names, row)}" if ident else _ident(names, row), {**kwargs, **_row(names, row)})
            for ident, kwargs in combos
            for row in rows
        ]
    for ident, kwargs in combos:
        yield (f"[{ident}]" if ident else ""), kwargs


def _pytest_marks(func: Callable) -> list[tuple[list[str], list]]:
    """``pytest.mark.parametrize`` marks of a check still written against pytest (only present where
    pytest is installed), outermost first: :func:`cases` expands them too, so such a module runs
    under :func:`qphys.testing.check_device` before it moves to :func:`parametrize`."""
    out = []
    for mark in reversed(getattr(func, "pytestmark", [])):  # pytest stores innermost first
        if getattr(mark, "name", None) == "parametrize":
            argnames, values = mark.args[0], mark.args[1]
            names = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
            rows = []
            for v in values:
                if hasattr(v, "values") and hasattr(v, "marks"):  # pytest.param(...)
                    v = tuple(v.values) if len(names) > 1 else v.values[0]
                rows.append(v)
            out.append((names, rows))
    return out


def _values(names: list[str], row) -> tuple:
    return tuple(row) if len(names) > 1 else (row,)


def _row(names: list[str], row) -> dict:
    return dict(zip(names, _values(names, row)))


def _ident(names: list[str], row) -> str:
    return "-".join(str(v) for v in _values(names, row))
