"""Plotting, in one place: matplotlib is imported lazily and no backend is ever switched.

Figures are built with matplotlib's object-oriented API (:class:`matplotlib.figure.Figure`),
which needs no GUI backend and leaves pyplot's global state alone, then saved to files.
"""

from __future__ import annotations

from qphys._deps import require


def figure(**kwargs):
    """A new :class:`matplotlib.figure.Figure` (needs the ``plots`` extra).

    Examples:
        >>> fig = figure(figsize=(3, 2))
        >>> ax = fig.subplots()
        >>> _ = ax.plot([0, 1], [0, 1])
    """
    return require("matplotlib.figure", extra="plots", feature="plotting").Figure(**kwargs)
