"""Plots for neural quantum states: VMC energy convergence and tomography fidelity.

Built on :func:`qphys.plots.figure` (matplotlib's object-oriented API, imported lazily).

Examples:
    >>> from qphys.nqs.vmc import History
    >>> h = History(energy=[-1.0, -1.9, -1.99], error=[0.1, 0.05, 0.01])
    >>> fig = energy_convergence(h, exact=-2.0)
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qphys.plots import figure


def energy_convergence(history, *, exact: float | None = None, label: str = "qphys.nqs", title: str = ""):
    """Energy per iteration (with error bars) and, given ``exact``, the relative error on a log scale.

    Args:
        history: a :class:`~qphys.nqs.vmc.History` (or a mapping of labels to histories).
        exact: the exact ground-state energy.
        label: legend label for a single history.
        title: figure title.

    Returns:
        A :class:`matplotlib.figure.Figure`.
    """
    histories = history if isinstance(history, Mapping) else {label: history}
    fig = figure(figsize=(8, 3.2) if exact is not None else (4.5, 3.2))
    axes = fig.subplots(1, 2 if exact is not None else 1)
    axes = np.atleast_1d(axes)
    for name, h in histories.items():
        energy = np.asarray(h.energy)
        steps = np.arange(len(energy))
        axes[0].plot(steps, energy, lw=1, label=name)
        if len(h.error) == len(energy):
            err = np.asarray(h.error)
            axes[0].fill_between(steps, energy - err, energy + err, alpha=0.3)
        if exact is not None:
            axes[1].semilogy(steps, np.abs((energy - exact) / exact), lw=1, label=name)
    axes[0].set(xlabel="iteration", ylabel="energy")
    if exact is not None:
        axes[0].axhline(exact, color="k", ls="--", lw=0.8, label="exact")
        axes[1].set(xlabel="iteration", ylabel="relative error")
        axes[1].legend(fontsize=7)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def observable_comparison(words: Sequence[str], exact, model, shadow, shadow_error=None, *, title: str = ""):
    """Bar chart of Pauli-word expectations: exact, tomographic model, classical shadows (with errors)."""
    fig = figure(figsize=(max(4.0, 0.6 * len(words) + 1.5), 3.2))
    ax = fig.subplots()
    x = np.arange(len(words))
    ax.bar(x - 0.27, exact, width=0.27, label="exact", color="0.6")
    ax.bar(x, model, width=0.27, label="NQS tomography", color="C0")
    ax.bar(x + 0.27, shadow, width=0.27, yerr=shadow_error, label="classical shadows", color="C1", capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels(words, rotation=45, fontsize=7)
    ax.set(ylabel="expectation")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
