"""Reverse-KL training of lattice flows by self-sampling (no training data needed).

The loss is ``KL(q || p) + log Z = E_{x∼q}[log q(x) + S(x)]``, estimated on fresh flow samples every
step and differentiated through the samples (reparameterisation). Its minimum, ``−log Z``, is
reached when ``q ∝ e^{−S}``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from qphys._random import seeded_generator
from qphys.errors import ParameterError
from qphys.lattice.diagnostics import effective_sample_size

log = logging.getLogger(__name__)


@dataclass
class TrainingHistory:
    """Per-step training record: loss (``E[log q + S]``), ESS/N of the step's batch, learning rate,
    batch size; ``seconds`` of wall time and ``cpu_seconds`` of process CPU time spent in training."""

    loss: list[float] = field(default_factory=list)
    ess: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    batch_size: list[int] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict:
        return {"loss": self.loss, "ess": self.ess, "lr": self.lr, "batch_size": self.batch_size,
                "seconds": self.seconds, "cpu_seconds": self.cpu_seconds}

    @classmethod
    def from_dict(cls, d: dict) -> TrainingHistory:
        return cls(**d)


def _batch_at(batch_size: int | Callable[[float], int], progress: float) -> int:
    return int(batch_size(progress)) if callable(batch_size) else batch_size


def train_flow(
    flow: torch.nn.Module,
    action: Callable[[torch.Tensor], torch.Tensor],
    *,
    steps: int,
    batch_size: int | Callable[[float], int] = 256,
    lr: float = 1e-3,
    schedule: str = "cosine",
    final_lr_fraction: float = 0.02,
    grad_clip: float | None = 10.0,
    seed: int | None = 0,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    history: TrainingHistory | None = None,
    max_seconds: float | None = None,
    clock: str = "wall",
) -> TrainingHistory:
    """Train ``flow`` by minimising the reverse KL divergence to ``e^{−S}``.

    Args:
        flow: a :class:`~qphys.lattice.flows.LatticeFlow` (or anything with ``sample(n, generator=)``
            returning ``(x, log q)``).
        action: the target's action ``S`` (one value per field).
        steps: optimisation steps (Adam).
        batch_size: samples per step, or a function of the training progress ``t ∈ [0, 1)`` giving
            the batch size (a growing batch lowers the gradient noise late in training, when it
            limits progress).
        lr: peak learning rate.
        schedule: ``"cosine"`` (decay to ``final_lr_fraction * lr`` as ``t`` goes to 1) or ``"constant"``.
        final_lr_fraction: see ``schedule``.
        grad_clip: clip the gradient norm (``None``: no clipping).
        seed: seeds the flow's prior draws.
        progress: show a tqdm bar with the loss and ESS.
        checkpoint: a file to save the flow, optimiser and history to every ``checkpoint_every``
            steps and at the end; if it exists, training resumes from it.
        checkpoint_every: see ``checkpoint``.
        history: continue this history (for calling ``train_flow`` several times).
        max_seconds: a wall-time budget: training stops when it is spent, and the progress ``t``
            driving the schedules is ``max(step / steps, elapsed / max_seconds)``, so that the
            learning rate has decayed and the batch grown by the end of the budget whichever
            limit is reached first.
        clock: what ``max_seconds`` counts: ``"wall"`` time or this process's ``"cpu"`` time (the
            fair budget on a machine shared with other jobs).

    Returns:
        The :class:`TrainingHistory` (also stored in the checkpoint).

    Examples:
        >>> from qphys.lattice import Phi4Action, make_phi4_flow
        >>> flow = make_phi4_flow(4, n_layers=2, hidden=(8,))
        >>> hist = train_flow(flow, Phi4Action(-4.0, 8.0), steps=30, batch_size=64, progress=False)
        >>> hist.steps, hist.loss[-1] < hist.loss[0]
        (30, True)
    """
    if steps < 1:
        raise ParameterError(f"train_flow: steps must be >= 1, got {steps}")
    if schedule not in ("cosine", "constant"):
        raise ParameterError(f"train_flow: schedule must be 'cosine' or 'constant', got {schedule!r}")
    if not lr > 0:
        raise ParameterError(f"train_flow: lr must be > 0, got {lr}")
    if clock not in ("wall", "cpu"):
        raise ParameterError(f"train_flow: clock must be 'wall' or 'cpu', got {clock!r}")
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(flow.parameters(), lr=lr)

    def lr_at(t: float) -> float:
        if schedule == "constant":
            return lr
        return lr * (final_lr_fraction + (1 - final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))

    history = history or TrainingHistory()
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        flow.load_state_dict(state["flow"])
        opt.load_state_dict(state["optimizer"])
        history = TrainingHistory.from_dict(state["history"])
        start = state["step"]
        log.info("resuming training from %s at step %d", ckpt, start)
    g = seeded_generator(None if seed is None else seed + start)

    def save(step: int) -> None:
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"flow": flow.state_dict(), "optimizer": opt.state_dict(),
                        "history": history.as_dict(), "step": step}, ckpt)

    t0, c0 = time.perf_counter(), time.process_time()
    bar = tqdm(range(start, steps), disable=not progress, desc="flow training", leave=False)
    elapsed0 = history.seconds if clock == "wall" else history.cpu_seconds
    now = time.perf_counter if clock == "wall" else time.process_time
    n0 = now()
    for step in bar:
        t = step / steps
        if max_seconds is not None:
            t = max(t, (elapsed0 + now() - n0) / max_seconds)
        if t >= 1.0:
            log.info("train_flow: time budget max_seconds=%s spent after %d steps", max_seconds, step)
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(t)
        n = _batch_at(batch_size, t)
        x, logq = flow.sample(n, generator=g)
        s = action(x)
        loss = (logq + s).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(flow.parameters(), grad_clip)
        opt.step()
        history.loss.append(float(loss.detach()))
        history.ess.append(effective_sample_size(-(s + logq).detach()))
        history.lr.append(lr_at(t))
        history.batch_size.append(n)
        if progress and step % 20 == 0:
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", ess=f"{history.ess[-1]:.3f}")
        if ckpt is not None and (step + 1) % checkpoint_every == 0:
            save(step + 1)
        if not math.isfinite(history.loss[-1]):
            raise FloatingPointError(f"train_flow: the loss became {history.loss[-1]} at step {step}; lower lr")
    history.seconds += time.perf_counter() - t0
    history.cpu_seconds += time.process_time() - c0
    save(history.steps)
    log.info("trained %d steps in %.1f s: loss %.4f, batch ESS/N %.3f", history.steps - start, history.seconds,
             history.loss[-1], history.ess[-1])
    return history
