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


def _array(values):
    """A NumPy array of a tensor (detached, on the CPU) or of anything array-like."""
    import numpy as np

    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def gram_matrices(panels, *, title: str | None = None, vmin: float = 0.0, vmax: float = 1.0):
    """Kernel (Gram) matrices side by side on one colour scale, with a colour bar.

    Args:
        panels: ``[(title, K), ...]``; each ``K`` a square or rectangular matrix (tensor or array).
        title: the figure's title.
        vmin, vmax: the colour scale shared by every panel (fidelity kernels lie in ``[0, 1]``).

    Returns:
        The :class:`matplotlib.figure.Figure` (save it with ``fig.savefig(path)``).

    Examples:
        >>> import torch
        >>> fig = gram_matrices([("exact", torch.eye(3)), ("shots", torch.eye(3))], title="Gram")
        >>> len(fig.axes)  # two panels and the colour bar
        3
    """
    fig = figure(figsize=(3.4 * len(panels) + 0.8, 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, (name, K) in zip(axes, panels):
        image = ax.imshow(_array(K), vmin=vmin, vmax=vmax, cmap="viridis")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes), shrink=0.85, label="k(x, x')")
    if title:
        fig.suptitle(title)
    return fig


def loss_and_decision_boundary(losses, predict, X, y, *, title: str | None = None, resolution: int = 120):
    """A classifier's training loss beside its decision boundary over 2-D inputs.

    Args:
        losses: loss per epoch.
        predict: ``predict(grid)`` maps an ``(M, 2)`` float tensor of inputs to ``(M,)`` scores
            or labels (class probabilities or argmax labels); its 0.5 level is drawn as the boundary.
        X: ``(N, 2)`` points to scatter on top (tensor or array).
        y: their labels (0/1).
        title: the title of the boundary panel.
        resolution: grid points per axis.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Examples:
        >>> import torch
        >>> X = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> fig = loss_and_decision_boundary([0.7, 0.3], lambda g: (g.sum(1) > 1).float(), X, [0, 1])
        >>> [ax.get_xlabel() for ax in fig.axes[:2]]
        ['epoch', 'x1']
    """
    import numpy as np
    import torch

    pts = _array(X).astype(float)
    labels = _array(y)
    pad = 0.1 * (pts.max(0) - pts.min(0)) + 0.1
    lo, hi = pts.min(0) - pad, pts.max(0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = torch.tensor(np.stack([g0.ravel(), g1.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        z = _array(predict(grid)).astype(float).reshape(g0.shape)

    fig = figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_db = fig.subplots(1, 2)
    ax_loss.plot(range(1, len(losses) + 1), list(losses), marker="o", ms=3)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="training loss")
    ax_db.contourf(g0, g1, z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax_db.contour(g0, g1, z, levels=[0.5], colors="k", linewidths=1.2)
    for label, marker in ((0, "o"), (1, "s")):
        sel = labels == label
        ax_db.scatter(pts[sel, 0], pts[sel, 1], s=12, marker=marker, edgecolors="k", linewidths=0.4,
                      color="C0" if label == 0 else "C3", label=f"class {label}")
    ax_db.set(xlabel="x1", ylabel="x2", title=title or "decision boundary")
    ax_db.legend(fontsize=7, loc="lower right")
    return fig


def distribution_bars(target, model, *, title: str | None = None, labels=("target", "model")):
    """A model's probability distribution over basis states against the target's.

    The model is drawn as filled bars and the target on top as unfilled outlines (higher z-order),
    so neither hides the other even where they coincide.

    Args:
        target: target probabilities ``(2**n,)``.
        model: model probabilities ``(2**n,)``.
        title: the axes' title.
        labels: legend entries of the target and the model.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Examples:
        >>> import torch
        >>> fig = distribution_bars(torch.tensor([0.5, 0.0, 0.0, 0.5]), torch.full((4,), 0.25))
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['target', 'model']
    """
    import numpy as np

    p_target, p_model = _array(target).astype(float), _array(model).astype(float)
    x = np.arange(len(p_target))
    width = 0.8 if len(x) <= 64 else 1.0
    fig = figure(figsize=(6, 3), layout="constrained")
    ax = fig.subplots()
    model_bars = ax.bar(x, p_model, width=width, color="C1", alpha=0.85, zorder=2)
    # with hundreds of states the outlines are widened so that they stay visible
    target_bars = ax.bar(x, p_target, width=width if len(x) <= 64 else 3.0, fill=False, edgecolor="k",
                         linewidth=0.9, zorder=3)
    ax.set(xlabel="basis state", ylabel="probability", title=title or "")
    ax.legend([target_bars, model_bars], list(labels), fontsize=8)
    return fig
