"""Neural-network wave functions: ``torch.nn.Module``s from ±1 configurations to log-amplitudes.

Every ansatz maps a batch ``σ`` of shape ``(B, N)`` (entries ±1) to ``log ψ(σ)`` of shape ``(B,)``,
real for positive wave functions, complex otherwise. Besides ``forward``, an ansatz answers
``log ψ(σ') - log ψ(σ)`` for configurations ``σ'`` that differ from ``σ`` on a few sites
(:meth:`Ansatz.log_ratio`), from a per-configuration cache that Metropolis samplers keep up to date
(:meth:`Ansatz.propose`, :meth:`Ansatz.accept`). The RBMs cache ``θ = b + Wσ``, so a single-spin flip costs ``O(M)``
instead of a full ``O(NM)`` evaluation.

- :class:`RBM` — Carleo & Troyer's restricted Boltzmann machine, real or complex parameters;
- :class:`SymmetricRBM` — the same with weights shared over lattice translations (a one-layer
  convolutional network with periodic padding);
- :class:`Autoregressive` — a masked dense network (MADE) giving normalised conditionals, sampled
  exactly by :class:`~qphys.nqs.sampler.DirectSampler`; optional phase network;
- :class:`AmplitudePhase` — ``log ψ = ½ log p_λ(σ) + i φ_μ(σ)`` from two real networks (Torlai et al.'s
  complex wave function for tomography).

Sites to flip are given as ``(P, K)`` index tensors padded with ``-1``; the sites of one row are
distinct (a flip pattern, not a sequence of flips).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from qphys.errors import ParameterError

_LOG2 = math.log(2.0)


def log_cosh(x: torch.Tensor) -> torch.Tensor:
    """``log cosh x`` without overflow, for real and complex tensors.

    Examples:
        >>> float(log_cosh(torch.tensor(1000.0, dtype=torch.float64)))  # 1000 - log 2
        999.3068528194401
    """
    return _log_cosh_shifted(x) - _LOG2


def _log_cosh_parts(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``log cosh z + log 2`` from real arithmetic (vectorised, stable).

    ``|cosh z|² = (cosh 2x + cos 2y)/2`` gives the modulus; ``arg cosh z = atan2(tanh x sin y, cos y)``.
    """
    x, y = z.real, z.imag
    ax = x.abs()
    e2 = torch.exp(-2.0 * ax)
    re = ax + 0.5 * torch.log1p(e2 * e2 + 2.0 * e2 * torch.cos(2.0 * y))
    im = torch.atan2(torch.tanh(x) * torch.sin(y), torch.cos(y))
    return re, im


def _log_cosh_shifted(x: torch.Tensor) -> torch.Tensor:
    """``log cosh x + log 2`` (one fused ``logaddexp(x, -x)`` for real ``x``)."""
    if x.is_complex():
        return torch.complex(*_log_cosh_parts(x))
    return torch.logaddexp(x, -x)


def sum_log_cosh(x: torch.Tensor) -> torch.Tensor:
    """``Σ_j log cosh x_j`` over the last axis (modulo ``2πi`` for complex ``x``).

    Examples:
        >>> x = torch.tensor([[0.5, -2.0]], dtype=torch.float64)
        >>> torch.allclose(sum_log_cosh(x), torch.log(torch.cosh(x)).sum(-1))
        True
    """
    shift = x.shape[-1] * _LOG2
    if x.is_complex():
        re, im = _log_cosh_parts(x)
        return torch.complex(re.sum(-1) - shift, im.sum(-1))
    return torch.logaddexp(x, -x).sum(-1) - shift


def _check_sites(n: Any, name: str = "n_sites") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _check_alpha(alpha: Any) -> int:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, np.integer)) or alpha < 1:
        raise ParameterError(f"hidden-unit density alpha must be a positive integer, got {alpha!r}")
    return int(alpha)


def _generator(seed: int | None) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(torch.seed() % (2**62)) if seed is None else seed)
    return g


def flip_sites(sigma: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
    """``sigma`` (``(P, N)``) with the spins at ``sites`` (``(P, K)``, padded with ``-1``) flipped.

    Examples:
        >>> flip_sites(torch.ones(1, 3), torch.tensor([[2, -1]])).tolist()
        [[1.0, 1.0, -1.0]]
    """
    n = sigma.shape[-1]
    sign = torch.ones(sigma.shape[0], n + 1, dtype=sigma.dtype, device=sigma.device)
    sign.scatter_(1, sites % (n + 1), -1.0)
    return sigma * sign[:, :n]


class Ansatz(nn.Module):
    """Base class of the wave functions: subclasses implement :meth:`forward`.

    The default cache is ``log ψ`` itself, so :meth:`log_ratio` costs one forward pass of the flipped
    configurations; subclasses with cheaper updates (the RBMs) override the three cache methods.

    Attributes:
        n_sites: number of spins.
        is_complex: whether ``log ψ`` is complex (a sign or phase structure).
    """

    n_sites: int
    is_complex: bool = False

    @property
    def dtype(self) -> torch.dtype:
        """The real dtype of the parameters."""
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return next(self.parameters()).device

    def _check_input(self, sigma: torch.Tensor) -> torch.Tensor:
        if sigma.ndim != 2 or sigma.shape[1] != self.n_sites:
            raise ParameterError(
                f"{type(self).__name__} takes configurations of shape (batch, {self.n_sites}), "
                f"got {tuple(sigma.shape)}"
            )
        return sigma.to(self.dtype)

    def cache(self, sigma: torch.Tensor) -> Any:
        """Per-configuration data that makes :meth:`log_ratio` cheap (default: ``log ψ(σ)``)."""
        with torch.no_grad():
            return self(sigma)

    @property
    def ratio_width(self) -> int:
        """Values computed per flip ratio (for chunking local energies): the sites by default."""
        return self.n_sites

    def cache_rows(self, cache: Any, rows: slice | torch.Tensor) -> Any:
        """The cache of the configurations ``sigma[rows]``."""
        return cache[rows]

    def log_ratio(
        self, sigma: torch.Tensor, sites: torch.Tensor, cache: Any = None, row: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log ψ(σ') - log ψ(σ)`` with ``σ' = σ[row]`` flipped at ``sites``.

        Args:
            sigma: configurations ``(B, N)``.
            sites: sites to flip per row, ``(P, K)`` padded with ``-1``.
            cache: :meth:`cache` of ``sigma`` (computed when omitted).
            row: which configuration each row of ``sites`` flips (default ``arange(B)``).
        """
        cache = self.cache(sigma) if cache is None else cache
        base = sigma if row is None else sigma[row]
        ref = cache if row is None else cache[row]
        return self(flip_sites(base, sites)) - ref

    def log_ratio_all(self, sigma: torch.Tensor, sites: torch.Tensor, cache: Any = None) -> torch.Tensor:
        """``log ψ(σ') - log ψ(σ)`` for every row of ``sigma`` and every flip pattern: ``(B, F)``.

        Args:
            sigma: configurations ``(B, N)``.
            sites: ``F`` flip patterns ``(F, K)`` padded with ``-1``.
            cache: :meth:`cache` of ``sigma``.
        """
        b, f = sigma.shape[0], sites.shape[0]
        row = torch.arange(b, device=sigma.device).repeat_interleave(f)
        return self.log_ratio(sigma, sites.repeat(b, 1), cache, row).reshape(b, f)

    def propose(self, sigma: torch.Tensor, sites: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        """A Metropolis proposal: flip ``sites`` (``(B, K)``, no padding) of every row of ``sigma``.

        Returns:
            ``(log_ratio, proposal)``: ``log ψ(σ') - log ψ(σ)`` per row and what :meth:`accept` needs.
        """
        lr = self.log_ratio(sigma, sites, cache)
        return lr, cache + lr

    def accept(self, cache: Any, proposal: Any, accept: torch.Tensor) -> Any:
        """The cache after the rows ``accept`` took their proposal."""
        return torch.where(accept, proposal, cache)


class RBM(Ansatz):
    """Restricted Boltzmann machine ``log ψ(σ) = Σ_i a_i σ_i + Σ_j log cosh(b_j + Σ_i W_ji σ_i)``.

    Args:
        n_sites: number of visible spins ``N``.
        alpha: hidden-unit density (``M = alpha * N`` hidden units).
        complex: complex parameters (stored as real and imaginary parts, so every trainable
            tensor is real), giving a complex ``log ψ`` that can carry signs and phases.
        visible_bias: include the ``a_i σ_i`` term.
        init_std: standard deviation of the normal initialisation (NetKet's default 0.01).
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        seed: seed of the initialisation.

    Raises:
        ParameterError: ``n_sites`` or ``alpha`` is not a positive integer.

    Examples:
        >>> rbm = RBM(4, alpha=2, seed=0)
        >>> rbm(torch.ones(3, 4)).shape
        torch.Size([3])
        >>> sum(p.numel() for p in rbm.parameters())  # a (4) + b (8) + W (8x4)
        44
    """

    def __init__(
        self,
        n_sites: int,
        alpha: int = 1,
        *,
        complex: bool = False,
        visible_bias: bool = True,
        init_std: float = 0.01,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ):
        super().__init__()
        self.n_sites = _check_sites(n_sites)
        self.alpha = _check_alpha(alpha)
        self.is_complex = bool(complex)
        self.visible_bias = visible_bias
        self._init(init_std, dtype, _generator(seed))

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        n, m = self.n_sites, self.alpha * self.n_sites
        shapes = {"b": (m,), "W": (m, n)}
        if self.visible_bias:
            shapes = {"a": (n,), **shapes}
        return shapes

    def _init(self, std: float, dtype: torch.dtype, gen: torch.Generator) -> None:
        extra = (2,) if self.is_complex else ()
        for name, shape in self._shapes().items():
            value = std * torch.randn(*shape, *extra, generator=gen, dtype=torch.float64)
            self.register_parameter(name, nn.Parameter(value.to(dtype)))

    def _param(self, name: str) -> torch.Tensor:
        p = getattr(self, name)
        return torch.complex(p[..., 0], p[..., 1]) if self.is_complex else p

    def weights(self) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """``(a, b, W)`` as used in the forward pass (complex when ``complex=True``; ``a`` may be None)."""
        a = self._param("a") if self.visible_bias else None
        return a, self._param("b"), self._param("W")

    def _theta(self, s: torch.Tensor, b: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        return torch.addmm(b, s, W.T) if s.ndim == 2 else b + s @ W.T

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        a, b, W = self.weights()
        s = sigma.to(b.dtype)
        out = sum_log_cosh(self._theta(s, b, W))
        if a is not None:
            out = out + s @ a
        return out

    # ---- cached single/multi-flip ratios --------------------------------------------------------

    def cache(self, sigma: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            a, b, W = self.weights()
            s = sigma.to(b.dtype)
            theta = self._theta(s, b, W)
            # -2 W^T and -2 a with a zero row/entry at index N, which padded sites (-1) select
            wt2 = torch.zeros(self.n_sites + 1, W.shape[0], dtype=W.dtype, device=W.device)
            wt2[: self.n_sites] = -2.0 * W.T
            a2 = torch.zeros(self.n_sites + 1, dtype=b.dtype, device=b.device)
            if a is not None:
                a2[: self.n_sites] = -2.0 * a
            return {"theta": theta, "lc": sum_log_cosh(theta), "wt2": wt2, "a2": a2}

    @property
    def ratio_width(self) -> int:
        return self.alpha * self.n_sites  # hidden units (also for the symmetric RBM: one per translation)

    def cache_rows(self, cache, rows):
        return {**cache, "theta": cache["theta"][rows], "lc": cache["lc"][rows]}

    @staticmethod
    def _padded(sigma: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return torch.cat([sigma, torch.zeros_like(sigma[:, :1])], dim=1).to(dtype)

    def log_ratio(self, sigma, sites, cache=None, row=None):
        # θ' = θ - 2 Σ_k σ_k W[:, k];  log ψ' - log ψ = -2 Σ_k a_k σ_k + Σ log cosh θ' - Σ log cosh θ
        with torch.no_grad():
            cache = self.cache(sigma) if cache is None else cache
            idx = sites % (self.n_sites + 1)
            pad = self._padded(sigma, cache["wt2"].dtype)
            theta, lc = cache["theta"], cache["lc"]
            if row is not None:
                theta, lc = theta[row], lc[row]
                s_k = pad[row[:, None], idx]  # (P, K) spins being flipped (0 for padding)
            else:
                s_k = torch.gather(pad, 1, idx)
            wt2 = cache["wt2"][idx]  # (P, K, M)
            new = theta + (s_k[:, :, None] * wt2).sum(1) if idx.shape[1] > 1 else torch.addcmul(
                theta, s_k, wt2[:, 0]
            )
            return sum_log_cosh(new) - lc + (s_k * cache["a2"][idx]).sum(-1)

    def log_ratio_all(self, sigma, sites, cache=None):
        with torch.no_grad():
            cache = self.cache(sigma) if cache is None else cache
            idx = sites % (self.n_sites + 1)  # (F, K)
            pad = self._padded(sigma, cache["wt2"].dtype)
            s_k = pad[:, idx]  # (B, F, K)
            wt2 = cache["wt2"][idx]  # (F, K, M)
            theta = cache["theta"][:, None, :]
            if idx.shape[1] == 1:
                new = torch.addcmul(theta, s_k, wt2[None, :, 0, :])
            else:
                new = theta + torch.einsum("bfk,fkm->bfm", s_k, wt2)
            vis = (s_k * cache["a2"][idx]).sum(-1)
            return sum_log_cosh(new) - cache["lc"][:, None] + vis

    def propose(self, sigma, sites, cache):
        with torch.no_grad():
            s_k = torch.gather(sigma, 1, sites).to(cache["wt2"].dtype)  # (B, K), no padding
            wt2 = cache["wt2"][sites]  # (B, K, M)
            if sites.shape[1] == 1:
                theta = torch.addcmul(cache["theta"], s_k, wt2[:, 0])
            else:
                theta = cache["theta"] + (s_k[:, :, None] * wt2).sum(1)
            lc = sum_log_cosh(theta)
            return lc - cache["lc"] + (s_k * cache["a2"][sites]).sum(-1), (theta, lc)

    def accept(self, cache, proposal, accept):
        theta, lc = proposal
        return {
            **cache,
            "theta": torch.where(accept[:, None], theta, cache["theta"]),
            "lc": torch.where(accept, lc, cache["lc"]),
        }


class SymmetricRBM(RBM):
    """An RBM whose hidden units come in translated copies: ``θ_{f,t} = b_f + Σ_i w_{f,i} σ_{T_t(i)}``.

    The wave function is invariant under the lattice translations, with ``alpha (N + 1) + 1``
    parameters instead of ``alpha N (N + 1) + N``. It is an RBM with tied weights, so it shares the
    RBM's cached flip ratios.

    Args:
        lattice: a periodic :class:`~qphys.nqs.lattice.Lattice` (its translations are used).
        alpha: number of feature filters (hidden units per site).
        complex, init_std, dtype, seed: as for :class:`RBM`.

    Examples:
        >>> from qphys.nqs.lattice import chain
        >>> rbm = SymmetricRBM(chain(6), alpha=2, seed=0)
        >>> s = torch.tensor([[1.0, 1, -1, 1, -1, -1]])
        >>> torch.allclose(rbm(s), rbm(torch.roll(s, 1, dims=1)))
        True
    """

    def __init__(
        self,
        lattice,
        alpha: int = 1,
        *,
        complex: bool = False,
        init_std: float = 0.01,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ):
        perms = torch.as_tensor(lattice.translations())
        self._n_trans = perms.shape[0]
        nn.Module.__init__(self)
        self.n_sites = lattice.n_sites
        self.alpha = _check_alpha(alpha)
        self.is_complex = bool(complex)
        self.visible_bias = True
        # W[(f, t), j] = w[f, T_t^{-1}(j)]
        self.register_buffer("inverse", torch.argsort(perms, dim=1), persistent=False)
        self._init(init_std, dtype, _generator(seed))

    def _shapes(self):
        return {"a": (1,), "b": (self.alpha,), "W": (self.alpha, self.n_sites)}

    def weights(self):
        a, b, w = self._param("a"), self._param("b"), self._param("W")
        big_w = w[:, self.inverse].reshape(self.alpha * self._n_trans, self.n_sites)
        return a.expand(self.n_sites), b.repeat_interleave(self._n_trans), big_w


class _MaskedLinear(nn.Linear):
    def __init__(self, mask: torch.Tensor, dtype: torch.dtype):
        super().__init__(mask.shape[1], mask.shape[0], dtype=dtype)
        self.register_buffer("mask", mask.to(dtype), persistent=False)

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class Autoregressive(Ansatz):
    """An autoregressive wave function ``ψ(σ) = Π_i p(σ_i | σ_<i)^{1/2} e^{i φ(σ)}`` (MADE network).

    A masked dense network (Germain et al. 2015) outputs the logits of every conditional in one
    pass; the distribution ``|ψ|²`` is normalised by construction, so
    :class:`~qphys.nqs.sampler.DirectSampler` draws independent exact samples.

    Args:
        n_sites: number of spins.
        hidden: width of the hidden layers.
        layers: number of hidden layers.
        phase: add a phase network ``φ(σ)`` (a small dense network), making ``log ψ`` complex.
        dtype: parameter dtype.
        seed: seed of the initialisation.

    Examples:
        >>> net = Autoregressive(3, hidden=8, seed=0)
        >>> from qphys.nqs.exact import all_configurations
        >>> p = torch.exp(2 * net(all_configurations(3)))
        >>> round(float(p.sum()), 10)
        1.0
    """

    def __init__(
        self,
        n_sites: int,
        *,
        hidden: int = 32,
        layers: int = 2,
        phase: bool = False,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ):
        super().__init__()
        n = self.n_sites = _check_sites(n_sites)
        hidden = _check_sites(hidden, "hidden")
        layers = _check_sites(layers, "layers")
        self.is_complex = bool(phase)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.seed() % (2**62)) if seed is None else seed)
            # degrees: input i has degree i (0-based); hidden degrees cycle over 0..n-2
            deg_in = torch.arange(n)
            blocks = []
            prev = deg_in
            for _ in range(layers):
                deg = torch.arange(hidden) % max(n - 1, 1)
                blocks.append(_MaskedLinear((deg[:, None] >= prev[None, :]), dtype))
                prev = deg
            self.hidden_layers = nn.ModuleList(blocks)
            # output i may see hidden units of degree < i
            self.out = _MaskedLinear((deg_in[:, None] > prev[None, :]), dtype)
            self.phase_net = (
                nn.Sequential(
                    nn.Linear(n, hidden, dtype=dtype), nn.Tanh(), nn.Linear(hidden, 1, dtype=dtype)
                )
                if phase
                else None
            )

    def logits(self, sigma: torch.Tensor) -> torch.Tensor:
        """Logits of ``p(σ_i = +1 | σ_<i)`` for every site, ``(B, N)``."""
        x = sigma.to(self.out.weight.dtype)
        for layer in self.hidden_layers:
            x = torch.tanh(layer(x))
        return self.out(x)

    def conditional_log_probs(self, sigma: torch.Tensor) -> torch.Tensor:
        """``log p(σ_i | σ_<i)`` per site, ``(B, N)``."""
        s = sigma.to(self.out.weight.dtype)
        return nn.functional.logsigmoid(s * self.logits(s))

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        log_amp = 0.5 * self.conditional_log_probs(sigma).sum(-1)
        if self.phase_net is None:
            return log_amp
        phi = self.phase_net(sigma.to(self.out.weight.dtype)).squeeze(-1)
        return torch.complex(log_amp, phi)


class AmplitudePhase(Ansatz):
    """``log ψ(σ) = ½ log p_λ(σ) + i φ_μ(σ)`` from two real networks (Torlai et al. 2018).

    Args:
        amplitude: a real ansatz whose output is ``½ log p_λ`` (e.g. a real :class:`RBM`).
        phase: a real ansatz whose output is the phase ``φ_μ`` (e.g. a real :class:`RBM`).

    Raises:
        ParameterError: the two networks disagree on the number of sites or one is complex.

    Examples:
        >>> psi = AmplitudePhase(RBM(3, seed=0), RBM(3, seed=1))
        >>> psi(torch.ones(2, 3)).dtype
        torch.complex128
    """

    is_complex = True

    def __init__(self, amplitude: Ansatz, phase: Ansatz):
        super().__init__()
        if amplitude.n_sites != phase.n_sites:
            raise ParameterError(
                f"amplitude ({amplitude.n_sites} sites) and phase ({phase.n_sites} sites) networks differ"
            )
        if amplitude.is_complex or phase.is_complex:
            raise ParameterError("AmplitudePhase takes two real networks (complex=False)")
        self.n_sites = amplitude.n_sites
        self.amplitude = amplitude
        self.phase = phase

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        return torch.complex(self.amplitude(sigma), self.phase(sigma))
