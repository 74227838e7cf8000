"""Plotting lives in :mod:`qphys.plots`: matplotlib's OO API, imported lazily, no backend switch."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from qphys import plots

PACKAGE = Path(__file__).resolve().parents[1] / "qphys"


def _matplotlib_uses(path: Path) -> list[str]:
    """``matplotlib`` imports and ``matplotlib.use`` / ``pyplot`` calls in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "matplotlib"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "matplotlib":
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr == "use" and getattr(node.value, "id", "") == "matplotlib":
            found.append("matplotlib.use(...)")
    return found


def test_no_library_module_imports_matplotlib_or_switches_its_backend():
    offenders = {
        str(p.relative_to(PACKAGE.parent)): uses
        for p in sorted(PACKAGE.rglob("*.py"))
        if (uses := _matplotlib_uses(p))
    }
    assert offenders == {}, "plot through qphys.plots.figure() instead"


def test_the_scan_finds_a_backend_switch(tmp_path):
    """The scanner itself catches what the test above forbids."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import matplotlib\n    matplotlib.use('Agg')\n")
    assert _matplotlib_uses(bad) == ["import matplotlib", "matplotlib.use(...)"]


def test_plots_leave_pyplot_alone():
    """Figures come from the OO API: pyplot's figure manager never sees them."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.gram_matrices([("K", torch.eye(4))])
    assert plt.get_fignums() == before


def test_gram_matrices_have_a_colour_bar_on_the_shared_scale():
    K1 = torch.rand(5, 5, dtype=torch.float64)
    fig = plots.gram_matrices([("exact", K1), ("shots", K1.T)], title="Gram")
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 2
    assert all(im.get_clim() == (0.0, 1.0) for im in images)
    bar = images[-1].colorbar
    assert bar is not None and bar.ax in fig.axes
    assert bar.ax.get_ylabel() == "k(x, x')"


def test_loss_and_decision_boundary_draws_both_panels():
    X = torch.tensor([[0.0, 0.0], [0.2, 0.1], [1.0, 1.0], [0.9, 1.2]])
    y = torch.tensor([0, 0, 1, 1])
    fig = plots.loss_and_decision_boundary([0.9, 0.5, 0.2], lambda g: (g.sum(1) > 1.0).float(), X, y)
    ax_loss, ax_db = fig.axes[:2]
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), [0.9, 0.5, 0.2])
    # the 0.5 level of the prediction is drawn as a line; the points on top
    levels = [list(c.levels) for c in ax_db.collections if hasattr(c, "levels")]
    assert [0.5] in levels
    offsets = np.concatenate([c.get_offsets() for c in ax_db.collections if not hasattr(c, "levels")])
    assert len(offsets) == 4


def test_distribution_bars_draw_the_target_over_the_model():
    target = torch.zeros(512, dtype=torch.float64)
    target[[0, 7, 56, 511]] = 0.25
    model = torch.full((512,), 1 / 512, dtype=torch.float64)
    fig = plots.distribution_bars(target, model, labels=("target", "Born machine"))
    (ax,) = fig.axes
    model_bars, target_bars = ax.containers
    np.testing.assert_allclose([b.get_height() for b in target_bars], target.numpy())
    # outlines above filled bars: the target stays visible where the model covers it
    assert not any(b.get_fill() for b in target_bars)
    assert min(b.get_zorder() for b in target_bars) > max(b.get_zorder() for b in model_bars)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["target", "Born machine"]


@pytest.mark.parametrize("size", [4, 512])
def test_distribution_bars_widths(size):
    fig = plots.distribution_bars(torch.ones(size) / size, torch.ones(size) / size)
    model_bars, target_bars = fig.axes[0].containers
    assert target_bars[0].get_width() >= model_bars[0].get_width()
