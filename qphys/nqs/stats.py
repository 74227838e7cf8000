"""Monte Carlo statistics: means with error bars, blocking, split-R̂, integrated autocorrelation time.

Samples come as ``(n_chains, samples_per_chain)`` arrays. The error of the mean is the larger of
the naive error and the blocking estimate (Flyvbjerg & Petersen 1989) along each chain, so
autocorrelated chains get honest error bars; with one sample per chain (independent chains) the
two coincide.

Examples:
    >>> import torch
    >>> s = statistics(torch.arange(8.0).reshape(2, 4))
    >>> round(s.mean, 3), round(s.variance, 3)
    (3.5, 5.25)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Stats:
    """Mean, error of the mean, variance and chain diagnostics of a sampled quantity.

    Attributes:
        mean: the sample mean (real part for complex data; ``imag`` keeps the imaginary part).
        error: standard error of the mean (blocking, see :func:`blocking_error`).
        variance: sample variance.
        tau: integrated autocorrelation time along the chains (``nan`` with one sample per chain).
        rhat: split-R̂ (Gelman-Rubin; ``nan`` with fewer than 4 samples per chain).
        imag: imaginary part of the mean.
    """

    mean: float
    error: float
    variance: float
    tau: float = float("nan")
    rhat: float = float("nan")
    imag: float = 0.0

    def __str__(self):
        return f"{self.mean:.6f} ± {self.error:.1e} [σ²={self.variance:.2e}, R̂={self.rhat:.3f}]"


def _as_chains(x) -> np.ndarray:
    a = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    if a.ndim == 1:
        a = a[:, None]
    return a.reshape(a.shape[0], -1)


def blocking_error(x) -> float:
    """Standard error of the mean of a correlated series by binning (largest plateau estimate).

    ``x`` is ``(n_chains, T)``: blocks are formed along each chain; the estimate is the maximum over
    block sizes with at least 16 blocks in total.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(1, 4096))
        >>> 0.8 < blocking_error(x) / (1 / 64) < 1.2
        True
    """
    a = _as_chains(x).real.astype(np.float64)
    chains, t = a.shape
    best = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else float("nan")
    size = 2
    while t // size >= 1 and chains * (t // size) >= 16:
        nb = t // size
        blocks = a[:, : nb * size].reshape(chains, nb, size).mean(axis=2).ravel()
        best = max(best, float(blocks.std(ddof=1) / math.sqrt(blocks.size)))
        size *= 2
    return best


def integrated_autocorrelation_time(x) -> float:
    """Integrated autocorrelation time ``τ = 1 + 2 Σ_t ρ(t)`` averaged over chains (Sokal's window).

    Returns ``nan`` for chains shorter than 4.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> round(integrated_autocorrelation_time(rng.normal(size=(4, 2000))), 1)
        1.0
    """
    a = _as_chains(x).real.astype(np.float64)
    chains, t = a.shape
    if t < 4:
        return float("nan")
    a = a - a.mean(axis=1, keepdims=True)
    var = (a**2).mean()
    if var == 0:
        return 1.0
    n = 1 << (2 * t - 1).bit_length()
    f = np.fft.rfft(a, n=n, axis=1)
    acf = np.fft.irfft(f * np.conj(f), n=n, axis=1)[:, :t].mean(axis=0) / (t * var)
    tau = 1.0
    for lag in range(1, t):
        tau += 2.0 * acf[lag]
        if lag >= 5 * tau:  # Sokal's automatic window
            break
    return float(max(tau, 1.0))


def split_rhat(x) -> float:
    """Split-R̂ (Gelman et al., BDA3): near 1 when the chains agree; ``nan`` below 4 samples per chain.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> round(split_rhat(rng.normal(size=(8, 500))), 2)
        1.0
    """
    a = _as_chains(x).real.astype(np.float64)
    chains, t = a.shape
    if t < 4:
        return float("nan")
    half = t // 2
    split = np.concatenate([a[:, :half], a[:, half : 2 * half]], axis=0)
    n = split.shape[1]
    w = split.var(axis=1, ddof=1).mean()
    b = n * split.mean(axis=1).var(ddof=1)
    if w == 0:
        return 1.0 if b == 0 else float("inf")
    var_plus = (n - 1) / n * w + b / n
    return float(math.sqrt(var_plus / w))


def statistics(x) -> Stats:
    """:class:`Stats` of a sampled quantity shaped ``(n_chains, samples_per_chain)`` (or flat).

    Examples:
        >>> s = statistics(np.ones((4, 8)))
        >>> s.mean, s.error, s.variance
        (1.0, 0.0, 0.0)
    """
    a = _as_chains(x)
    mean = a.mean()
    return Stats(
        mean=float(np.real(mean)),
        error=blocking_error(a),
        variance=float(np.var(a.real, ddof=0) + (np.var(a.imag, ddof=0) if np.iscomplexobj(a) else 0.0)),
        tau=integrated_autocorrelation_time(a),
        rhat=split_rhat(a),
        imag=float(np.imag(mean)),
    )
