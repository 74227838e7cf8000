"""Saving and loading trained lattice flows, the training recipes, and the shipped φ⁴ model.

A saved flow is one ``torch.save`` file holding the constructor arguments, the weights (float32),
the theory's couplings and a (down-sampled) training history, so that it can be rebuilt without
knowing how it was made. ``qphys/lattice/data/phi4_L8.pt`` is the φ⁴ flow for ``L=8, M²=−4, λ=8``
trained by :func:`train_recipe` with :data:`PHI4_L8_RECIPE` (a learnable momentum-space Gaussian
prior, :class:`~qphys.lattice.flows.FourierScaling`, then 4 Z₂-equivariant spline couplings) for 900 s
of wall time on two threads (``benchmarks/lattice.py --part phi4 --threads 2 --clock wall --budget 900
--save-weights`` reproduces it, up to where the time budget cuts the schedule).
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path

import torch

from qphys.errors import ParameterError
from qphys.lattice.flows import LatticeFlow, make_phi4_flow
from qphys.lattice.gauge_flows import make_u1_flow
from qphys.lattice.phi4 import Phi4Action
from qphys.lattice.plaquette_flow import PlaquetteFlow
from qphys.lattice.train import TrainingHistory, train_flow
from qphys.lattice.u1 import U1Action

log = logging.getLogger(__name__)

#: The φ⁴ L=8 recipe (Albergo et al.'s tutorial point): flow architecture and training schedule.
PHI4_L8_RECIPE: dict = {
    "theory": "phi4",
    "L": 8,
    "couplings": {"m2": -4.0, "lam": 8.0},
    "flow": {"n_layers": 4, "coupling": "spline", "hidden": [16, 16], "bins": 8, "bound": 4.0, "fourier_prior": True},
    "train": {"steps": 30000, "batch_sizes": [[0, 64], [0.6, 128], [0.9, 256]], "lr": 3e-3},
}

#: The U(1) recipe at L=8, β=6 (where HMC's topological charge freezes).
U1_L8_RECIPE: dict = {
    "theory": "u1",
    "L": 8,
    "couplings": {"beta": 6.0},
    "flow": {"n_layers": 16, "bins": 8, "hidden": [8, 8]},
    "train": {"steps": 3000, "batch_sizes": [[0, 128]], "lr": 3e-3},
}


#: The U(1) recipe on a 4x4 lattice at β=6, where HMC's topological charge freezes (τ_int(Q) ≈ 170
#: trajectories); ``benchmarks/lattice.py --part u1 --budget 240`` trains it for 240 CPU-s.
U1_L4_RECIPE: dict = {
    "theory": "u1",
    "L": 4,
    "couplings": {"beta": 6.0},
    "flow": {"n_layers": 16, "bins": 8, "hidden": [8, 8]},
    "train": {"steps": 100000, "batch_sizes": [[0, 256]], "lr": 5e-3},
}


#: The U(1) recipe for the autoregressive plaquette flow (:class:`~qphys.lattice.PlaquetteFlow`) at
#: L=8, β=5, where HMC's τ_int(Q) is ≈ 260 trajectories; ``benchmarks/lattice.py --part u1 --flow plaquette
#: --L 8 --beta 5 --budget 300`` trains it for 300 CPU-s.
U1_PLAQUETTE_RECIPE: dict = {
    "theory": "u1",
    "L": 8,
    "couplings": {"beta": 5.0},
    "flow": {"kind": "plaquette", "hidden": [64, 64], "bins": 8, "embed": 8},
    "train": {"steps": 100000, "batch_sizes": [[0, 1024]], "lr": 5e-3},
}


def make_flow(recipe: dict) -> LatticeFlow | PlaquetteFlow:
    """The (untrained) flow a recipe describes; for U(1), ``recipe["flow"]["kind"]`` is ``"gauge"``
    (gauge-equivariant couplings, the default) or ``"plaquette"``.

    Examples:
        >>> type(make_flow(PHI4_L8_RECIPE)).__name__, type(make_flow(U1_PLAQUETTE_RECIPE)).__name__
        ('LatticeFlow', 'PlaquetteFlow')
    """
    kw = dict(recipe["flow"])
    if "hidden" in kw:
        kw["hidden"] = tuple(kw["hidden"])
    if recipe["theory"] == "phi4":
        return make_phi4_flow(recipe["L"], **kw)
    if recipe["theory"] == "u1":
        kind = kw.pop("kind", "gauge")
        if kind not in ("gauge", "plaquette"):
            raise ParameterError(f"unknown U(1) flow kind {kind!r} in recipe; expected 'gauge' or 'plaquette'")
        return make_u1_flow(recipe["L"], **kw) if kind == "gauge" else PlaquetteFlow(recipe["L"], **kw)
    raise ParameterError(f"unknown theory {recipe['theory']!r} in recipe; expected 'phi4' or 'u1'")


def make_action(recipe: dict):
    """The action a recipe targets (:class:`Phi4Action` or :class:`U1Action`)."""
    return Phi4Action(**recipe["couplings"]) if recipe["theory"] == "phi4" else U1Action(**recipe["couplings"])


def batch_schedule(pairs) -> callable:
    """``[[start, batch], ...]`` (``start``: fraction of training) → a function ``t -> batch size``.

    Examples:
        >>> f = batch_schedule([[0, 64], [0.5, 256]])
        >>> f(0.0), f(0.49), f(0.5)
        (64, 64, 256)
    """
    pairs = sorted((float(s), int(b)) for s, b in pairs)

    def at(t: float) -> int:
        size = pairs[0][1]
        for start, b in pairs:
            if t >= start:
                size = b
        return size

    return at


def merge_histories(first: TrainingHistory, second: TrainingHistory) -> TrainingHistory:
    """One history of two consecutive training stages (lists concatenated, times added).

    Examples:
        >>> a = TrainingHistory([1.0], [0.1], [1e-3], [64], 2.0, 1.0)
        >>> merge_histories(a, TrainingHistory([0.5], [0.3], [1e-4], [256], 3.0, 2.0)).loss
        [1.0, 0.5]
    """
    return TrainingHistory(first.loss + second.loss, first.ess + second.ess, first.lr + second.lr,
                           first.batch_size + second.batch_size, first.seconds + second.seconds,
                           first.cpu_seconds + second.cpu_seconds)


def train_recipe(recipe: dict, *, seed: int = 0, progress: bool = True, checkpoint=None,
                 steps: int | None = None, max_seconds: float | None = None,
                 clock: str = "wall") -> tuple[LatticeFlow, TrainingHistory]:
    """Build and train the flow of ``recipe``.

    Stage 1 follows ``recipe["train"]`` (``steps`` overrides its step count; ``max_seconds`` is a
    budget of ``clock`` time, see :func:`~qphys.lattice.train.train_flow`). If the recipe has
    ``recipe["train"]["finetune"]`` (keys ``gradient``, ``lr``, ``batch``, ``steps``, ``budget_s``),
    stage 2 continues from stage 1's weights with a fresh Adam and cosine schedule, that gradient
    estimator (e.g. ``"path"``), and at most ``budget_s`` seconds of process CPU time (``steps``, if
    given, overrides its step count too). The returned history covers both stages.
    """
    torch.manual_seed(seed)
    flow = make_flow(recipe)
    t = recipe["train"]
    action = make_action(recipe)
    hist = train_flow(flow, action, steps=steps or t["steps"], batch_size=batch_schedule(t["batch_sizes"]),
                      lr=t["lr"], seed=seed, progress=progress, checkpoint=checkpoint, max_seconds=max_seconds,
                      clock=clock, gradient=t.get("gradient", "total"))
    ft = t.get("finetune")
    if ft is not None:
        more = train_flow(flow, action, steps=steps or ft["steps"], batch_size=ft["batch"], lr=ft["lr"],
                          seed=seed + 1, progress=progress, max_seconds=ft["budget_s"], clock="cpu",
                          gradient=ft["gradient"])
        hist = merge_histories(hist, more)
    return flow, hist


def save_flow(path: str | Path, flow: LatticeFlow, recipe: dict, history: TrainingHistory | None = None,
              *, max_history: int = 500) -> None:
    """Save weights (float32), recipe and a history down-sampled to ``max_history`` points."""
    hist = None
    if history is not None:
        stride = max(1, -(-history.steps // max_history))  # ceil: at most max_history points
        hist = {"steps": history.steps, "step": list(range(0, history.steps, stride)), "loss": history.loss[::stride],
                "ess": history.ess[::stride], "seconds": history.seconds, "cpu_seconds": history.cpu_seconds}
    state = {k: v.float() if v.is_floating_point() else v for k, v in flow.state_dict().items()}
    torch.save({"recipe": recipe, "state_dict": state, "history": hist}, Path(path))


def load_flow(path: str | Path) -> tuple[LatticeFlow, dict, dict | None]:
    """``(flow, recipe, history)`` from a file written by :func:`save_flow`."""
    saved = torch.load(Path(path), weights_only=False)
    flow = make_flow(saved["recipe"])
    flow.load_state_dict(saved["state_dict"])
    return flow, saved["recipe"], saved["history"]


def load_pretrained_phi4() -> tuple[LatticeFlow, dict, dict | None]:
    """The shipped φ⁴ flow for ``L=8, M²=−4, λ=8``: ``(flow, recipe, history)``.

    Examples:
        >>> flow, recipe, history = load_pretrained_phi4()
        >>> recipe["L"], recipe["couplings"]
        (8, {'m2': -4.0, 'lam': 8.0})
    """
    resource = files("qphys.lattice").joinpath("data/phi4_L8.pt")
    if not resource.is_file():
        raise FileNotFoundError(
            "qphys/lattice/data/phi4_L8.pt is missing from this installation; retrain it with "
            "`python benchmarks/lattice.py --part phi4 --save-weights`"
        )
    with resource.open("rb") as fh:
        saved = torch.load(fh, weights_only=False)
    flow = make_flow(saved["recipe"])
    flow.load_state_dict(saved["state_dict"])
    return flow, saved["recipe"], saved["history"]
