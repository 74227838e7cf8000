"""Exact sampling with a trained flow: independence Metropolis, and flow proposals mixed with HMC.

Flow samples alone are biased (``q ≠ p``); the Metropolis accept/reject step with the weights
``w = e^{−S(x)} / q(x)`` makes the Markov chain's stationary distribution exactly ``p ∝ e^{−S}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from qphys._random import seeded_generator
from qphys.errors import ParameterError
from qphys.lattice.diagnostics import effective_sample_size
from qphys.lattice.hmc import hmc_step

log = logging.getLogger(__name__)


@dataclass
class FlowMCMCResult:
    """A flow-based Markov chain: observables per step (``(n,)`` tensors, or ``(n, chains)`` for
    :func:`flow_hmc`), acceptance, ESS/N of the proposals, the final configuration(s) (and every
    configuration if asked), and wall / CPU seconds spent."""

    observables: dict[str, torch.Tensor]
    accepted: torch.Tensor
    acceptance: float
    ess: float
    x: torch.Tensor
    configs: torch.Tensor | None = field(default=None, repr=False)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def metropolis_indices(log_weights: np.ndarray, uniforms: np.ndarray, start_log_weight: float | None = None):
    """Independence-Metropolis chain over proposals with log-weights ``log w_i``.

    Proposal ``i`` replaces the current state with probability ``min(1, w_i / w_current)``.
    Returns ``(index, accepted)``: the proposal index the chain sits at after each step, and the
    acceptance flags. The first proposal is accepted unless ``start_log_weight`` (the weight of a
    starting state, index ``-1``) is given.

    Examples:
        >>> idx, acc = metropolis_indices(np.array([0.0, -50.0, 1.0]), np.array([0.5, 0.5, 0.5]))
        >>> idx.tolist(), acc.tolist()
        ([0, 0, 2], [True, False, True])
    """
    n = len(log_weights)
    idx = np.empty(n, dtype=np.int64)
    acc = np.empty(n, dtype=bool)
    cur, cur_lw = -1, start_log_weight
    log_u = np.log(uniforms)
    for i in range(n):
        if cur_lw is None or log_u[i] < log_weights[i] - cur_lw:
            cur, cur_lw = i, log_weights[i]
            acc[i] = True
        else:
            acc[i] = False
        idx[i] = cur
    return idx, acc


@torch.no_grad()
def flow_metropolis(
    flow,
    action: Callable[[torch.Tensor], torch.Tensor],
    *,
    n_steps: int,
    batch_size: int = 1024,
    measure: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    keep_configs: bool = False,
    seed: int | None = None,
    progress: bool = False,
) -> FlowMCMCResult:
    """One independence-Metropolis chain of ``n_steps`` flow proposals (drawn ``batch_size`` at a time).

    Args:
        flow: a trained flow (``sample(n, generator=)`` → ``(x, log q)``).
        action: the target action ``S``.
        n_steps: Markov-chain length (= number of proposals).
        batch_size: proposals drawn per flow call.
        measure: ``name -> f(x)`` (one value per configuration), recorded along the chain.
        keep_configs: also return every configuration of the chain (memory: ``n_steps`` fields).
        seed: seeds proposals and accept/reject draws.
        progress: show a tqdm bar.

    Examples:
        >>> from qphys.lattice import Phi4Action, make_phi4_flow, magnetization
        >>> flow = make_phi4_flow(4, n_layers=2, hidden=(8,))
        >>> r = flow_metropolis(flow, Phi4Action(-4.0, 8.0), n_steps=500, measure={"M": magnetization}, seed=0)
        >>> r.observables["M"].shape, 0 < r.acceptance < 1
        (torch.Size([500]), True)
    """
    if n_steps < 1 or batch_size < 1:
        raise ParameterError(f"flow_metropolis: n_steps and batch_size must be >= 1, got {n_steps}, {batch_size}")
    from tqdm.auto import tqdm

    measure = measure or {}
    g = seeded_generator(seed)
    rng = np.random.default_rng(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    records: dict[str, list[torch.Tensor]] = {k: [] for k in measure}
    configs = []
    all_lw, all_acc = [], []
    cur_lw, cur_x, cur_obs = None, None, None
    done = 0
    with tqdm(total=n_steps, disable=not progress, desc="flow MCMC", leave=False) as bar:
        while done < n_steps:
            n = min(batch_size, n_steps - done)
            x, logq = flow.sample(n, generator=g)
            lw = (-action(x) - logq).double()
            lw_np = lw.cpu().numpy()
            idx, acc = metropolis_indices(lw_np, rng.random(n), cur_lw)
            obs = {k: f(x).detach() for k, f in measure.items()}
            take = torch.as_tensor(idx)
            stay = take < 0
            for k in measure:
                vals = obs[k][take.clamp(min=0)]
                if stay.any():
                    vals[stay] = cur_obs[k]
                records[k].append(vals.cpu())
            if keep_configs:
                cfg = x[take.clamp(min=0)]
                if stay.any():
                    cfg[stay] = cur_x
                configs.append(cfg.cpu())
            last = int(idx[-1])
            if last >= 0:
                cur_lw, cur_x = float(lw_np[last]), x[last].clone()
                cur_obs = {k: v[last].clone() for k, v in obs.items()}
            all_lw.append(lw.cpu())
            all_acc.append(torch.as_tensor(acc))
            done += n
            bar.update(n)
    accepted = torch.cat(all_acc)
    result = FlowMCMCResult(
        observables={k: torch.cat(v) for k, v in records.items()},
        accepted=accepted,
        acceptance=float(accepted[1:].double().mean()) if n_steps > 1 else 1.0,
        ess=effective_sample_size(torch.cat(all_lw)),
        x=cur_x,
        configs=torch.cat(configs) if keep_configs else None,
        seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
    )
    log.info("flow MCMC: %d steps, acceptance %.3f, ESS/N %.3f", n_steps, result.acceptance, result.ess)
    return result


@torch.no_grad()
def flow_hmc(
    flow,
    action,
    x0: torch.Tensor,
    *,
    n_steps: int,
    hmc_per_flow: int = 1,
    step_size: float,
    n_leapfrog: int,
    measure: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> FlowMCMCResult:
    """Chains (one per field of ``x0``) alternating one flow independence-Metropolis proposal with
    ``hmc_per_flow`` HMC trajectories; each move leaves ``e^{−S}`` invariant, so the mixture does.

    The flow proposal's acceptance needs ``q`` of the current state, which HMC has moved: it is
    recomputed with ``flow.log_prob`` (one inverse pass). Observables are recorded after every
    full step (flow move + HMC trajectories), shape ``(n_steps, chains)``.

    Examples:
        >>> from qphys.lattice import Phi4Action, make_phi4_flow, magnetization
        >>> S, flow = Phi4Action(-4.0, 8.0), make_phi4_flow(4, n_layers=2, hidden=(8,))
        >>> r = flow_hmc(flow, S, torch.zeros(6, 4, 4), n_steps=10, step_size=0.1, n_leapfrog=5,
        ...              measure={"M": magnetization}, seed=0)
        >>> r.observables["M"].shape
        torch.Size([10, 6])
    """
    if n_steps < 1 or hmc_per_flow < 0:
        raise ParameterError(f"flow_hmc: need n_steps >= 1 and hmc_per_flow >= 0, got {n_steps}, {hmc_per_flow}")
    from tqdm.auto import tqdm

    measure = measure or {}
    g = seeded_generator(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    x = x0.to(flow.dtype).clone()
    lw_cur = -action(x) - flow.log_prob(x)
    records: dict[str, list[torch.Tensor]] = {k: [] for k in measure}
    accepted, lws = [], []
    for _ in tqdm(range(n_steps), disable=not progress, desc="flow+HMC", leave=False):
        prop, logq = flow.sample(x.shape[0], generator=g)
        lw_prop = -action(prop) - logq
        u = torch.rand(x.shape[0], generator=g, dtype=torch.float64).to(x.device)
        acc = torch.log(u) < (lw_prop - lw_cur).double()
        x = torch.where(acc.view(-1, *([1] * (x.dim() - 1))), prop, x)
        accepted.append(acc.cpu())
        lws.append(lw_prop.cpu())
        for _ in range(hmc_per_flow):
            x, _ = hmc_step(action, x, step_size, n_leapfrog, g)
        lw_cur = -action(x) - flow.log_prob(x) if hmc_per_flow else torch.where(acc, lw_prop, lw_cur)
        for k, f in measure.items():
            records[k].append(f(x).detach().cpu())
    acc_all = torch.stack(accepted)
    return FlowMCMCResult(
        observables={k: torch.stack(v) for k, v in records.items()},
        accepted=acc_all,
        acceptance=float(acc_all.double().mean()),
        ess=effective_sample_size(torch.cat(lws)),
        x=x,
        seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
    )
