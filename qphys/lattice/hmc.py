"""Hybrid Monte Carlo and local (checkerboard) Metropolis: the reference samplers.

Both run a batch of independent Markov chains in parallel (the leading dimension of the field);
every chain targets ``e^{-S}`` exactly. The action object must be callable on a batch of fields
and provide ``force(x) = ∂S/∂x`` (as :class:`~qphys.lattice.phi4.Phi4Action` and
:class:`~qphys.lattice.u1.U1Action` do).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from qphys._random import seeded_generator
from qphys.errors import ParameterError
from qphys.lattice.phi4 import Phi4Action
from qphys.lattice.u1 import U1Action, plaquettes

log = logging.getLogger(__name__)


@dataclass
class HMCResult:
    """What :func:`hmc` returns: the final fields, the measured observables per trajectory
    (``(n_traj, batch)`` tensors keyed by name), the acceptance rate and the step size used."""

    x: torch.Tensor
    observables: dict[str, torch.Tensor]
    acceptance: float
    step_size: float
    n_steps: int
    accepted: torch.Tensor = field(repr=False)


def leapfrog(action, x: torch.Tensor, p: torch.Tensor, step_size: float, n_steps: int):
    """Integrate Hamilton's equations for ``H = p²/2 + S(x)`` (time-reversible, volume-preserving)."""
    p = p - 0.5 * step_size * action.force(x)
    for i in range(n_steps):
        x = x + step_size * p
        if i < n_steps - 1:
            p = p - step_size * action.force(x)
    p = p - 0.5 * step_size * action.force(x)
    return x, p


def hmc_step(action, x: torch.Tensor, step_size: float, n_steps: int, generator: torch.Generator):
    """One HMC trajectory per chain; returns the new fields and a boolean tensor of acceptances."""
    p0 = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    h0 = 0.5 * (p0 * p0).flatten(1).sum(1) + action(x)
    x1, p1 = leapfrog(action, x, p0, step_size, n_steps)
    h1 = 0.5 * (p1 * p1).flatten(1).sum(1) + action(x1)
    u = torch.rand(x.shape[0], generator=generator, dtype=torch.float64).to(x.device)
    accept = torch.log(u) < (h0 - h1).double()
    mask = accept.view(-1, *([1] * (x.dim() - 1)))
    return torch.where(mask, x1, x), accept


def hmc(
    action,
    x0: torch.Tensor,
    *,
    n_traj: int,
    trajectory_length: float = 1.0,
    step_size: float | None = None,
    target_acceptance: float = 0.8,
    n_tune: int = 100,
    n_therm: int = 0,
    measure: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> HMCResult:
    """Run HMC chains (one per field in ``x0``), measuring observables after every trajectory.

    Args:
        action: the action (callable, with ``force``).
        x0: starting fields, a batch (every entry is one independent chain).
        n_traj: trajectories to measure.
        trajectory_length: molecular-dynamics time per trajectory (kept fixed while tuning).
        step_size: leapfrog step; ``None`` tunes it during ``n_tune`` trajectories towards
            ``target_acceptance`` (Robbins–Monro on the log step size), then freezes it.
        target_acceptance: acceptance aimed at when tuning.
        n_tune: tuning trajectories (discarded, like ``n_therm`` more thermalisation ones).
        n_therm: thermalisation trajectories after tuning (discarded).
        measure: ``name -> f(x)`` returning one value per chain, recorded every trajectory.
        seed: seeds the momenta and accept/reject draws.
        progress: show a tqdm bar.

    Returns:
        An :class:`HMCResult`.

    Examples:
        >>> from qphys.lattice.phi4 import Phi4Action, magnetization
        >>> r = hmc(Phi4Action(-4.0, 8.0), torch.zeros(8, 4, 4, dtype=torch.float64), n_traj=20,
        ...         n_tune=20, measure={"M": magnetization}, seed=0)
        >>> r.observables["M"].shape
        torch.Size([20, 8])
        >>> 0.5 < r.acceptance <= 1.0
        True
    """
    if n_traj < 1:
        raise ParameterError(f"hmc: n_traj must be >= 1, got {n_traj}")
    if not 0 < target_acceptance < 1:
        raise ParameterError(f"hmc: target_acceptance must be in (0, 1), got {target_acceptance}")
    if step_size is not None and not step_size > 0:
        raise ParameterError(f"hmc: step_size must be > 0 (or None to tune it), got {step_size}")
    from tqdm.auto import tqdm

    g = seeded_generator(seed)
    x = x0.clone()
    measure = measure or {}
    if step_size is None:
        log_eps = math.log(0.1 * trajectory_length)
        for t in range(n_tune):
            eps = math.exp(log_eps)
            n_steps = max(1, round(trajectory_length / eps))
            x, acc = hmc_step(action, x, trajectory_length / n_steps, n_steps, g)
            log_eps += (float(acc.double().mean()) - target_acceptance) * 2.0 / math.sqrt(t + 1)
            log_eps = min(log_eps, math.log(trajectory_length))
        step_size = math.exp(log_eps)
    n_steps = max(1, round(trajectory_length / step_size))
    step_size = trajectory_length / n_steps
    for _ in range(n_therm):
        x, _ = hmc_step(action, x, step_size, n_steps, g)
    records = {name: [] for name in measure}
    accepted = []
    for _ in tqdm(range(n_traj), disable=not progress, desc="HMC", leave=False):
        x, acc = hmc_step(action, x, step_size, n_steps, g)
        accepted.append(acc)
        for name, f in measure.items():
            records[name].append(f(x).detach())
    acc_all = torch.stack(accepted)
    result = HMCResult(
        x=x,
        observables={k: torch.stack(v) for k, v in records.items()},
        acceptance=float(acc_all.double().mean()),
        step_size=step_size,
        n_steps=n_steps,
        accepted=acc_all,
    )
    log.info("HMC: %d trajectories x %d chains, %d leapfrog steps of %.4g, acceptance %.3f",
             n_traj, x.shape[0], n_steps, step_size, result.acceptance)
    return result


def _parity(L: int, device) -> torch.Tensor:
    i = torch.arange(L, device=device)
    return ((i[:, None] + i[None, :]) % 2).bool()


def local_metropolis_sweep(action, x: torch.Tensor, generator: torch.Generator, *, width: float = 1.0):
    """One checkerboard Metropolis sweep over every site (φ⁴) or link (U(1)), all chains at once.

    Sites (links) updated together never share a term of the action, so each sub-sweep is a
    product of exact single-site Metropolis updates. Returns the new fields and the acceptance.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, acc = local_metropolis_sweep(Phi4Action(-4.0, 8.0), torch.zeros(4, 4, 4), g)
        >>> 0.0 < acc < 1.0
        True
    """
    if isinstance(action, Phi4Action):
        return _phi4_sweep(action, x, generator, width)
    if isinstance(action, U1Action):
        return _u1_sweep(action, x, generator, width)
    raise ParameterError(
        f"local_metropolis_sweep: no local update for {type(action).__name__}; use Phi4Action or U1Action"
    )


def _phi4_sweep(action: Phi4Action, x: torch.Tensor, g: torch.Generator, width: float):
    odd = _parity(x.shape[-1], x.device)
    n_acc = 0
    for colour in (~odd, odd):
        nb = torch.roll(x, 1, -1) + torch.roll(x, -1, -1) + torch.roll(x, 1, -2) + torch.roll(x, -1, -2)
        prop = x + width * (2 * torch.rand(x.shape, generator=g, dtype=x.dtype) - 1).to(x.device)
        dS = action.local_action(prop, nb) - action.local_action(x, nb)
        u = torch.rand(x.shape, generator=g, dtype=x.dtype).to(x.device)
        acc = (torch.log(u) < -dS) & colour
        x = torch.where(acc, prop, x)
        n_acc += int(acc.sum())
    return x, n_acc / x.numel()


def _u1_sweep(action: U1Action, x: torch.Tensor, g: torch.Generator, width: float):
    L = x.shape[-1]
    i = torch.arange(L, device=x.device)
    n_acc = 0
    for mu in (0, 1):
        # θ_μ(x) shares plaquettes with θ_μ(x ± ν̂) (ν ≠ μ) only: update by parity of x_ν
        nu_coord = i[None, :].expand(L, L) if mu == 0 else i[:, None].expand(L, L)
        for par in (0, 1):
            sel = (nu_coord % 2) == par
            prop = x.clone()
            step = width * (2 * torch.rand((x.shape[0], L, L), generator=g, dtype=x.dtype) - 1).to(x.device)
            step = step * sel  # only this parity moves: every plaquette holds one moved link at most
            prop[:, mu] = x[:, mu] + step
            dS_plaq = torch.cos(plaquettes(x)) - torch.cos(plaquettes(prop))
            # change of the action attributable to each link: its two plaquettes
            if mu == 0:
                dS = dS_plaq + torch.roll(dS_plaq, 1, -1)
            else:
                dS = dS_plaq + torch.roll(dS_plaq, 1, -2)
            dS = action.beta * dS
            u = torch.rand((x.shape[0], L, L), generator=g, dtype=x.dtype).to(x.device)
            acc = (torch.log(u) < -dS) & sel
            x = x.clone()
            x[:, mu] = torch.where(acc, prop[:, mu], x[:, mu])
            n_acc += int(acc.sum())
    return x, n_acc / x.numel()
