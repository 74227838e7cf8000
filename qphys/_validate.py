"""Input checks shared by the circuit builders and observables (wires, numbers, arrays).

Every check raises a :mod:`qphys.errors` exception whose message says what was wrong and what to
write instead, before anything is computed. Wires and modes are integers only: Python ``int``
or a numpy integer scalar (``bool``, floats, strings, tensors and ``None`` are refused, never
coerced: ``1.5`` is not wire 1 and ``"10"`` is not wires ``(1, 0)``).

Examples:
    >>> from qphys._validate import index_tuple
    >>> index_tuple([0, 2], what="cx", unit="wire")
    (0, 2)
    >>> index_tuple([0, 1.5], what="cx", unit="wire")
    Traceback (most recent call last):
    ...
    qphys.errors.WireError: cx: wire must be an integer (a Python int or numpy integer), got 1.5 (float); write wires as 0, 1, 2, ...
"""

from __future__ import annotations

import math
from numbers import Number

import numpy as np
import torch

from qphys.errors import WireError


def is_integer(x) -> bool:
    """A Python or numpy integer scalar (``bool`` is not one)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def describe(x) -> str:
    """``repr`` (shortened) and type of ``x``, for messages."""
    text = repr(x)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(x).__name__})"


def index_tuple(value, *, what: str, unit: str = "wire") -> tuple[int, ...]:
    """``value`` (an integer, or a list/tuple/range/1-D integer numpy array of them) as a tuple
    of Python ints. Ranges are not checked here.

    Raises:
        WireError: anything else (the message shows the value and how to write wires).
    """
    if is_integer(value):
        return (int(value),)
    if isinstance(value, (list, tuple, range)):
        items = list(value)
    elif isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        items = value.tolist()
    else:
        raise WireError(
            f"{what}: {unit}s must be an integer or a list/tuple of integers, got {describe(value)}; e.g. "
            f"{unit}s=[0, 1] (tensors, floats and strings are not {unit} indices)"
        )
    for w in items:
        if not is_integer(w):
            raise WireError(
                f"{what}: {unit} must be an integer (a Python int or numpy integer), got {describe(w)}; write "
                f"{unit}s as 0, 1, 2, ..."
            )
    return tuple(int(w) for w in items)


def real_number(x, *, what: str, error: type[Exception]) -> float:
    """``x`` as a finite Python float: an ``int``, ``float`` or numpy real scalar.

    Raises:
        error: a bool, complex, string, ``None``, tensor or non-finite value.
    """
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, Number) or isinstance(x, (complex, np.complexfloating)):
        raise error(f"{what} must be a real number, got {describe(x)}; pass a float such as 0.5")
    try:
        v = float(x)
    except (OverflowError, TypeError, ValueError):
        raise error(f"{what} must be a real number representable as a float, got {describe(x)}") from None
    if not math.isfinite(v):
        raise error(f"{what} is {v}; it must be finite (check for a division by zero or a diverging optimizer)")
    return v


def numeric_tensor(x, *, what: str, error: type[Exception]) -> torch.Tensor:
    """``x`` (a torch tensor, numpy array or nested list of numbers) as a torch tensor.

    Raises:
        error: strings, ``None``, object or boolean arrays, ragged lists — anything that is not
            an array of numbers.
    """
    if torch.is_tensor(x):
        t = x
    else:
        if isinstance(x, (str, bytes)) or x is None or isinstance(x, dict):
            raise error(f"{what} must be an array of numbers (a tensor, numpy array or list), got {describe(x)}")
        arr = x if isinstance(x, np.ndarray) else None
        if arr is None:
            try:
                arr = np.asarray(x)
            except (TypeError, ValueError) as exc:
                raise error(f"{what} must be an array of numbers, got {describe(x)} ({exc}); pass a tensor or a "
                            "list of numbers of one shape") from None
        if arr.dtype.kind not in "iufc":
            raise error(
                f"{what} must be an array of numbers, got an array of dtype {arr.dtype} from {describe(x)}; pass "
                "numbers (float or complex), e.g. torch.tensor([...])"
            )
        t = torch.as_tensor(arr)
    if t.dtype == torch.bool:
        raise error(f"{what} must be an array of numbers, got a boolean tensor; convert it with .to(torch.float64)")
    return t


__all__ = ["is_integer", "describe", "index_tuple", "real_number", "numeric_tensor"]
