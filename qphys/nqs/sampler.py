"""Samplers of ``|ψ(σ)|²``: Metropolis over many parallel chains, exact direct sampling, enumeration.

:class:`MetropolisSampler` advances thousands of chains at once (one tensor operation per step for
all chains), with single-spin flips (``moves="local"``) or exchanges of antiparallel neighbours
(``moves="exchange"``, conserving the magnetisation). Chains persist between calls, so a training
loop pays the burn-in once; each call returns ``n_samples / n_chains`` samples per chain separated
by a sweep of ``sweep_size`` proposals. The ansatz's cache (``θ = b + Wσ`` for an RBM) is updated
on acceptance, so a proposal costs ``O(M)``.

:class:`DirectSampler` draws independent exact samples from an autoregressive ansatz;
:class:`ExactSampler` draws from the enumerated ``|ψ|²`` (small systems, tests).

Examples:
    >>> import torch
    >>> from qphys.nqs.ansatz import RBM
    >>> sampler = MetropolisSampler(6, n_chains=64, seed=1)
    >>> s = sampler.sample(RBM(6, seed=0), 256)
    >>> s.sigma.shape, 0.0 < s.acceptance <= 1.0
    (torch.Size([64, 4, 6]), True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from qphys.errors import ConfigError, ParameterError
from qphys.nqs.ansatz import Ansatz, Autoregressive
from qphys.nqs.exact import log_amplitudes
from qphys.nqs.operator import index_to_spins

logger = logging.getLogger(__name__)


@dataclass
class Samples:
    """Configurations drawn by a sampler.

    Attributes:
        sigma: ``(n_chains, samples_per_chain, N)``; independent samplers use one chain per sample.
        acceptance: fraction of accepted Metropolis proposals during this call (``None`` otherwise).
    """

    sigma: torch.Tensor
    acceptance: float | None = None

    @property
    def flat(self) -> torch.Tensor:
        """All samples as ``(n_samples, N)``, chain-major."""
        return self.sigma.reshape(-1, self.sigma.shape[-1])

    def __len__(self) -> int:
        return self.sigma.shape[0] * self.sigma.shape[1]


def _positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


class MetropolisSampler:
    """Metropolis-Hastings over ``n_chains`` parallel, persistent chains.

    Args:
        n_sites: number of spins.
        moves: ``"local"`` (flip one random spin) or ``"exchange"`` (swap the spins of a random bond;
            conserves the magnetisation).
        n_chains: number of chains (default: as many as samples requested by the first call, i.e.
            one sample per chain per call).
        sweep_size: proposals between two samples of a chain (default ``n_sites``).
        burn_in: sweeps run when the chains start (first call, or after :meth:`reset`).
        discard: sweeps discarded at the start of every later call.
        bonds: ``(i, j)`` pairs exchange moves pick from (default: every pair of sites; pass a
            lattice's ``edges`` for nearest-neighbour exchanges).
        magnetization: ``Σ_i σ_i`` of the initial configurations (default: random for local moves,
            0 — or 1 for odd ``n_sites`` — for exchange moves).
        seed: seed of the chains' random numbers.
        device: where the chains live (default: the ansatz's device).

    Raises:
        ConfigError: an unknown move, a non-positive count, or an impossible magnetisation.

    Examples:
        >>> from qphys.nqs.ansatz import RBM
        >>> sampler = MetropolisSampler(4, moves="exchange", n_chains=8, seed=0)
        >>> s = sampler.sample(RBM(4, seed=0), 16)
        >>> s.flat.sum(-1).abs().max().item()  # zero magnetisation is conserved
        0.0
    """

    def __init__(
        self,
        n_sites: int,
        *,
        moves: str = "local",
        n_chains: int | None = None,
        sweep_size: int | None = None,
        burn_in: int = 20,
        discard: int = 0,
        bonds=None,
        magnetization: int | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ):
        self.n_sites = _positive_int("n_sites", n_sites)
        if moves not in ("local", "exchange"):
            raise ConfigError(f"moves must be 'local' or 'exchange', got {moves!r}")
        self.moves = moves
        self.n_chains = None if n_chains is None else _positive_int("n_chains", n_chains)
        self.sweep_size = self.n_sites if sweep_size is None else _positive_int("sweep_size", sweep_size)
        self.burn_in = _positive_int("burn_in", burn_in, allow_zero=True)
        self.discard = _positive_int("discard", discard, allow_zero=True)
        if bonds is None:
            bonds = [(i, j) for i in range(self.n_sites) for j in range(i + 1, self.n_sites)]
        bonds = torch.as_tensor(np.asarray(bonds, dtype=np.int64).reshape(-1, 2))
        if moves == "exchange" and (bonds.numel() == 0 or bonds.min() < 0 or bonds.max() >= self.n_sites):
            raise ConfigError(f"exchange bonds must be pairs of sites in 0..{self.n_sites - 1}, got {bonds.tolist()}")
        self.bonds = bonds
        if magnetization is None and moves == "exchange":
            magnetization = self.n_sites % 2
        if magnetization is not None and (
            abs(magnetization) > self.n_sites or (self.n_sites - magnetization) % 2
        ):
            raise ConfigError(
                f"magnetization {magnetization} is impossible for {self.n_sites} spins ±1; it must have the "
                f"parity of n_sites and |m| <= {self.n_sites}"
            )
        self.magnetization = magnetization
        self.seed = seed
        self.device = None if device is None else torch.device(device)
        self._sigma: torch.Tensor | None = None
        self._gen: torch.Generator | None = None

    def __repr__(self):
        return (
            f"MetropolisSampler(n_sites={self.n_sites}, moves={self.moves!r}, n_chains={self.n_chains}, "
            f"sweep_size={self.sweep_size})"
        )

    def reset(self) -> None:
        """Forget the chains: the next call starts fresh ones and runs the burn-in again."""
        self._sigma = None

    @property
    def chains(self) -> torch.Tensor | None:
        """The current configuration of every chain, ``(n_chains, N)`` (``None`` before the first call)."""
        return self._sigma

    def _init_chains(self, n_chains: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        g = self._gen
        n = self.n_sites
        if self.magnetization is None:
            bits = torch.randint(0, 2, (n_chains, n), generator=g, device=device)
            return (1 - 2 * bits).to(dtype)
        n_down = (n - self.magnetization) // 2
        keys = torch.rand(n_chains, n, generator=g, device=device)
        down = torch.argsort(keys, dim=1)[:, :n_down]
        sigma = torch.ones(n_chains, n, dtype=dtype, device=device)
        return sigma.scatter_(1, down, -1.0)

    def _propose_sites(self, steps: int, n_chains: int, device: torch.device) -> torch.Tensor:
        if self.moves == "local":
            return torch.randint(0, self.n_sites, (steps, n_chains, 1), generator=self._gen, device=device)
        pick = torch.randint(0, self.bonds.shape[0], (steps, n_chains), generator=self._gen, device=device)
        return self.bonds.to(device)[pick]

    @torch.no_grad()
    def _run(self, model: Ansatz, sigma: torch.Tensor, cache, steps: int, record_every: int = 0):
        """``steps`` proposals on every chain; returns the final state and recorded configurations."""
        n_chains = sigma.shape[0]
        sites_all = self._propose_sites(steps, n_chains, sigma.device)
        log_u = torch.log(torch.rand(steps, n_chains, generator=self._gen, device=sigma.device, dtype=torch.float64))
        accepted = torch.zeros((), dtype=torch.float64, device=sigma.device)
        records = []
        for t in range(steps):
            sites = sites_all[t]
            log_ratio, proposal = model.propose(sigma, sites, cache)
            acc = log_u[t] < 2.0 * log_ratio.real.to(torch.float64)
            if self.moves == "exchange":
                spins = torch.gather(sigma, 1, sites)
                acc = acc & (spins[:, 0] != spins[:, 1])
            cache = model.accept(cache, proposal, acc)
            flipped = torch.gather(sigma, 1, sites) * torch.where(acc, -1.0, 1.0).to(sigma.dtype)[:, None]
            sigma = sigma.scatter(1, sites, flipped)
            accepted += acc.sum()
            if record_every and (t + 1) % record_every == 0:
                records.append(sigma)
        return sigma, cache, float(accepted) / max(steps * n_chains, 1), records

    def sample(self, model: Ansatz, n_samples: int) -> Samples:
        """Draw ``n_samples`` configurations from ``|model|²``.

        Raises:
            ConfigError: ``n_samples`` is not a multiple of ``n_chains``.
            ParameterError: the ansatz has a different number of sites.
        """
        n_samples = _positive_int("n_samples", n_samples)
        if model.n_sites != self.n_sites:
            raise ParameterError(f"the sampler has {self.n_sites} sites but the ansatz {model.n_sites}")
        n_chains = self.n_chains or n_samples
        if n_samples % n_chains:
            raise ConfigError(
                f"n_samples={n_samples} is not a multiple of n_chains={n_chains}; ask for "
                f"{(n_samples // n_chains + 1) * n_chains} samples or change n_chains"
            )
        self.n_chains = n_chains
        device = self.device or model.device
        if self._gen is None or self._gen.device != device:
            self._gen = torch.Generator(device=device)
            self._gen.manual_seed(int(torch.seed() % (2**62)) if self.seed is None else self.seed)
        dtype = model.dtype
        fresh = self._sigma is None or self._sigma.shape[0] != n_chains
        sigma = self._init_chains(n_chains, device, dtype) if fresh else self._sigma.to(device, dtype)
        cache = model.cache(sigma)
        warm = (self.burn_in if fresh else self.discard) * self.sweep_size
        per_chain = n_samples // n_chains
        sigma, cache, _, _ = self._run(model, sigma, cache, warm)
        sigma, cache, acceptance, records = self._run(
            model, sigma, cache, per_chain * self.sweep_size, record_every=self.sweep_size
        )
        self._sigma = sigma
        return Samples(torch.stack(records, dim=1), acceptance)


class DirectSampler:
    """Independent exact samples from an :class:`~qphys.nqs.ansatz.Autoregressive` ansatz.

    Examples:
        >>> from qphys.nqs.ansatz import Autoregressive
        >>> s = DirectSampler(seed=0).sample(Autoregressive(5, seed=0), 100)
        >>> s.flat.shape
        torch.Size([100, 5])
    """

    def __init__(self, *, seed: int | None = None):
        self.seed = seed
        self._gen: torch.Generator | None = None

    @torch.no_grad()
    def sample(self, model: Autoregressive, n_samples: int) -> Samples:
        """Draw ``n_samples`` configurations site by site from the model's conditionals.

        Raises:
            ConfigError: the ansatz is not autoregressive.
        """
        if not isinstance(model, Autoregressive):
            raise ConfigError(
                f"DirectSampler needs an Autoregressive ansatz, got {type(model).__name__}; "
                "use MetropolisSampler for other ansätze"
            )
        n_samples = _positive_int("n_samples", n_samples)
        device = model.device
        if self._gen is None or self._gen.device != device:
            self._gen = torch.Generator(device=device)
            self._gen.manual_seed(int(torch.seed() % (2**62)) if self.seed is None else self.seed)
        sigma = torch.zeros(n_samples, model.n_sites, dtype=model.dtype, device=device)
        for i in range(model.n_sites):
            p_up = torch.sigmoid(model.logits(sigma)[:, i])
            u = torch.rand(n_samples, generator=self._gen, device=device, dtype=p_up.dtype)
            sigma[:, i] = torch.where(u < p_up, 1.0, -1.0).to(sigma.dtype)
        return Samples(sigma[:, None, :])


class ExactSampler:
    """Independent samples from the enumerated ``|ψ|²`` (up to ~20 spins; tests and references).

    Examples:
        >>> from qphys.nqs.ansatz import RBM
        >>> ExactSampler(seed=0).sample(RBM(3, seed=0), 10).flat.shape
        torch.Size([10, 3])
    """

    def __init__(self, *, seed: int | None = None):
        self.seed = seed
        self._gen: torch.Generator | None = None

    @torch.no_grad()
    def sample(self, model: Ansatz, n_samples: int) -> Samples:
        n_samples = _positive_int("n_samples", n_samples)
        if self._gen is None:
            self._gen = torch.Generator()
            self._gen.manual_seed(int(torch.seed() % (2**62)) if self.seed is None else self.seed)
        logp = 2.0 * log_amplitudes(model).real
        p = torch.exp(logp - logp.max())
        idx = torch.multinomial(p, n_samples, replacement=True, generator=self._gen)
        sigma = torch.from_numpy(index_to_spins(idx.numpy(), model.n_sites)).to(model.device, model.dtype)
        return Samples(sigma[:, None, :])
