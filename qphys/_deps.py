"""Optional dependencies: import a package of an extra, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from qphys.errors import MissingDependencyError


def require(module: str, *, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install "qphys[extra]"``.

    Args:
        module: the importable module name (``"gymnasium"``, ``"matplotlib.figure"``).
        extra: the qphys extra that installs it (``"rl"``, ``"plots"``...).
        feature: what needs it, for the message (default: the extra's name).

    Examples:
        >>> require("math", extra="core").sqrt(4.0)
        2.0
        >>> require("no_such_module_xyz", extra="rl")
        Traceback (most recent call last):
        ...
        qphys.errors.MissingDependencyError: qphys's rl features need the package 'no_such_module_xyz', which is not installed; install it with: pip install "qphys[rl]"
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        root = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != root:
            raise  # the package is there but one of its own imports broke: show that error
        raise MissingDependencyError(
            f"qphys's {feature or extra} features need the package {root!r}, which is not "
            f'installed; install it with: pip install "qphys[{extra}]"'
        ) from exc
