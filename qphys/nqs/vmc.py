"""Variational Monte Carlo: find ground states by minimising ``<ψ|H|ψ>`` over an ansatz.

Every iteration samples ``|ψ|²``, computes local energies, and updates the parameters with
stochastic reconfiguration (:class:`~qphys.nqs.optim.SR`, the default) or a plain torch optimizer
(Adam, SGD) on the log-derivative gradient estimator.

Examples:
    >>> from qphys.nqs import RBM, VMC, chain, transverse_field_ising
    >>> H = transverse_field_ising(chain(6))
    >>> vmc = VMC(H, RBM(6, seed=0), n_samples=256, seed=0)
    >>> history = vmc.run(60, progress=False)
    >>> abs(history.energy[-1] - H.ground_state_energy()) < 0.05
    True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from qphys.errors import ConfigError, ParameterError
from qphys.nqs.ansatz import Ansatz, Autoregressive
from qphys.nqs.estimators import local_values, log_derivatives
from qphys.nqs.operator import PauliOperator
from qphys.nqs.optim import SR
from qphys.nqs.sampler import DirectSampler, MetropolisSampler, Samples
from qphys.nqs.stats import Stats, statistics

logger = logging.getLogger(__name__)


@dataclass
class History:
    """Per-iteration record of a VMC run.

    Attributes:
        energy: energy estimates (means).
        error: their error bars.
        variance: local-energy variances.
        acceptance: Metropolis acceptance rates (``nan`` for direct samplers).
        step_norm: natural-metric step lengths (SR only).
        seconds: wall time of each iteration.
    """

    energy: list[float] = field(default_factory=list)
    error: list[float] = field(default_factory=list)
    variance: list[float] = field(default_factory=list)
    acceptance: list[float] = field(default_factory=list)
    step_norm: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.energy)

    def to_dict(self) -> dict:
        """Plain lists, for JSON."""
        return asdict(self)


def default_sampler(hamiltonian: PauliOperator, model: Ansatz, *, seed: int | None = None):
    """The sampler :class:`VMC` uses when none is given.

    Direct sampling for autoregressive ansätze; otherwise Metropolis with exchange moves over the
    Hamiltonian's own two-site flips (nearest-neighbour bonds for Heisenberg models) when it
    conserves the magnetisation — chains stay at zero magnetisation — else single-spin flips.
    (Exchanges between arbitrary pairs mix a 1D chain slightly faster, but on a 2D
    antiferromagnet their acceptance collapses to a few per cent as the state orders, and the
    stuck chains bias the energy below the ground state.)
    """
    if isinstance(model, Autoregressive):
        return DirectSampler(seed=seed)
    pairs = [b for b in hamiltonian.flip_bonds() if len(b) == 2]
    if hamiltonian.conserves_magnetization and pairs:
        return MetropolisSampler(model.n_sites, moves="exchange", bonds=pairs, seed=seed)
    return MetropolisSampler(model.n_sites, seed=seed)


class VMC:
    """Ground-state search by variational Monte Carlo.

    Args:
        hamiltonian: a :class:`~qphys.nqs.operator.PauliOperator`.
        model: the ansatz (its parameters are updated in place).
        sampler: a sampler (default: :func:`default_sampler`).
        optimizer: ``"sr"`` (default), an :class:`~qphys.nqs.optim.SR` instance, ``"adam"``,
            ``"sgd"``, or a ``torch.optim.Optimizer`` over ``model.parameters()``.
        lr: learning rate for ``"sr"`` / ``"adam"`` / ``"sgd"`` (defaults 0.05 / 0.01 / 0.05).
        n_samples: samples per iteration.
        chunk_size: per-sample Jacobians are computed this many samples at a time (memory).
        seed: seed of the default sampler.

    Raises:
        ParameterError: the Hamiltonian and the ansatz have different numbers of sites.
        ConfigError: an unknown optimizer name or a non-positive ``n_samples``.
    """

    def __init__(
        self,
        hamiltonian: PauliOperator,
        model: Ansatz,
        sampler=None,
        *,
        optimizer: str | SR | torch.optim.Optimizer = "sr",
        lr: float | None = None,
        n_samples: int = 1008,
        chunk_size: int | None = None,
        seed: int | None = None,
    ):
        if not isinstance(hamiltonian, PauliOperator):
            raise ParameterError(
                f"hamiltonian must be a qphys.nqs.PauliOperator (wrap an observable: PauliOperator(obs)), "
                f"got {type(hamiltonian).__name__}"
            )
        if hamiltonian.n_sites != model.n_sites:
            raise ParameterError(
                f"the Hamiltonian acts on {hamiltonian.n_sites} sites but the ansatz has {model.n_sites}"
            )
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
            raise ConfigError(f"n_samples must be an integer >= 2, got {n_samples!r}")
        self.hamiltonian = hamiltonian
        self.model = model
        self.sampler = sampler if sampler is not None else default_sampler(hamiltonian, model, seed=seed)
        self.n_samples = n_samples
        self.chunk_size = chunk_size
        self.sr: SR | None = None
        self.torch_optimizer: torch.optim.Optimizer | None = None
        if isinstance(optimizer, SR):
            self.sr = optimizer
            optimizer.reset()  # momentum from another model or run must not leak into this one
        elif isinstance(optimizer, torch.optim.Optimizer):
            self.torch_optimizer = optimizer
        elif optimizer == "sr":
            self.sr = SR(lr=0.05 if lr is None else lr)
        elif optimizer == "adam":
            self.torch_optimizer = torch.optim.Adam(model.parameters(), lr=0.01 if lr is None else lr)
        elif optimizer == "sgd":
            self.torch_optimizer = torch.optim.SGD(model.parameters(), lr=0.05 if lr is None else lr)
        else:
            raise ConfigError(
                f"optimizer must be 'sr', 'adam', 'sgd', an SR instance or a torch.optim.Optimizer, got {optimizer!r}"
            )
        self.step_count = 0
        self.history = History()
        self.last_samples: Samples | None = None

    def _params(self) -> list[torch.Tensor]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def step(self) -> Stats:
        """One iteration: sample, estimate the energy, update the parameters. Returns the energy."""
        t0 = time.perf_counter()
        samples = self.sampler.sample(self.model, self.n_samples)
        self.last_samples = samples
        sigma = samples.flat
        e_loc = local_values(self.hamiltonian, self.model, sigma)
        chains, per_chain = samples.sigma.shape[:2]
        stats = statistics(e_loc.reshape(chains, per_chain))
        if not torch.isfinite(e_loc).all():
            raise FloatingPointError(
                f"non-finite local energies at iteration {self.step_count}; lower the learning rate "
                "or raise SR's diag_shift"
            )
        info = {}
        if self.sr is not None:
            o = log_derivatives(self.model, sigma, chunk_size=self.chunk_size)
            update, info = self.sr.direction(o, e_loc, self.step_count)
            with torch.no_grad():
                offset = 0
                for p in self._params():
                    k = p.numel()
                    p.add_(update[offset : offset + k].view_as(p).to(p.dtype))
                    offset += k
        else:
            self._torch_step(sigma, e_loc)
        h = self.history
        h.energy.append(stats.mean)
        h.error.append(stats.error)
        h.variance.append(stats.variance)
        h.acceptance.append(float("nan") if samples.acceptance is None else samples.acceptance)
        h.step_norm.append(info.get("step_norm", float("nan")))
        h.seconds.append(time.perf_counter() - t0)
        self.step_count += 1
        return stats

    def _torch_step(self, sigma: torch.Tensor, e_loc: torch.Tensor) -> None:
        """Gradient ``2 Re <ΔO^* ΔE>`` through the surrogate ``2 Re mean(conj(log ψ) ΔE)``."""
        opt = self.torch_optimizer
        opt.zero_grad()
        log_psi = self.model(sigma)
        de = (e_loc - e_loc.mean()).detach()
        if log_psi.is_complex() or de.is_complex():
            surrogate = 2.0 * torch.real(torch.conj(log_psi.to(torch.complex128)) * de.to(torch.complex128)).mean()
        else:
            surrogate = 2.0 * (log_psi * de.to(log_psi.dtype)).mean()
        surrogate.backward()
        opt.step()

    def run(
        self,
        n_iter: int,
        *,
        progress: bool = True,
        callback: Callable[[int, Stats], bool | None] | None = None,
    ) -> History:
        """Run ``n_iter`` iterations; ``callback(step, energy)`` returning True stops early.

        With SR's default ``lr_schedule="auto"`` the learning rate decays 10x over the second half
        of these ``n_iter`` iterations (each call anneals over its own span; call it once with the
        whole budget rather than in pieces).

        Shows a tqdm bar with the current energy unless ``progress=False``.
        """
        from tqdm.auto import tqdm

        if self.sr is not None:
            self.sr.plan(self.step_count, n_iter)
        bar = tqdm(range(n_iter), desc="VMC", disable=not progress, leave=False)
        for _ in bar:
            stats = self.step()
            bar.set_postfix(E=f"{stats.mean:.5f}", err=f"{stats.error:.1e}")
            if self.step_count % 50 == 0:
                logger.info("VMC step %d: E = %s", self.step_count, stats)
            if callback is not None and callback(self.step_count, stats):
                break
        return self.history

    def energy(self, n_samples: int | None = None) -> Stats:
        """A fresh energy estimate (no parameter update) from ``n_samples`` samples."""
        n = n_samples or self.n_samples
        chains = getattr(self.sampler, "n_chains", None)
        if chains:
            n = -(-n // chains) * chains  # whole samples per chain
        samples = self.sampler.sample(self.model, n)
        e_loc = local_values(self.hamiltonian, self.model, samples.flat)
        return statistics(e_loc.reshape(samples.sigma.shape[:2]))
