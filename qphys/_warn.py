"""Warnings that point at the user's line, not at qphys internals.

Python 3.12's ``skip_file_prefixes`` does this; qphys supports 3.10, so the stack is walked by
hand: the reported frame is the first one outside the qphys and torch packages.
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

_SKIP = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the stack level of the first caller outside qphys and torch.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     warn("careful")
        >>> w[0].filename.endswith("_warn.py")
        False
    """
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_SKIP):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)
