"""Sampler diagnostics: effective sample size, autocorrelation times, error bars.

Time series are 1D tensors ``(n,)`` for one chain or 2D ``(n, chains)`` for several independent
chains of equal length (HMC runs a batch of chains); autocorrelations are pooled over chains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from qphys.errors import ParameterError


def effective_sample_size(log_weights: torch.Tensor) -> float:
    """ESS/N of importance weights ``w = p/q`` given ``log w`` (up to a constant): ``(Σw)² / (N Σw²)``.

    Examples:
        >>> round(effective_sample_size(torch.zeros(100)), 12)
        1.0
        >>> round(effective_sample_size(torch.tensor([0.0, -1e9])), 6)  # one sample carries all weight
        0.5
    """
    lw = log_weights.detach().double().flatten()
    if lw.numel() == 0:
        raise ParameterError("effective_sample_size: got no weights")
    return float(torch.exp(2 * torch.logsumexp(lw, 0) - torch.logsumexp(2 * lw, 0)) / lw.numel())


def _as_chains(series: torch.Tensor, where: str) -> torch.Tensor:
    x = series.detach().double()
    if x.dim() == 1:
        x = x[:, None]
    if x.dim() != 2 or x.shape[0] < 4:
        raise ParameterError(
            f"{where}: expected a time series of shape (n,) or (n, chains) with n >= 4, got {tuple(series.shape)}"
        )
    return x


def autocorrelation(series: torch.Tensor, max_lag: int | None = None) -> torch.Tensor:
    """Normalised autocorrelation function ``ρ(t)``, ``t = 0..max_lag``, pooled over chains (FFT).

    Examples:
        >>> rho = autocorrelation(torch.randn(1000, generator=torch.Generator().manual_seed(0)), 3)
        >>> float(rho[0]), bool(rho[1:].abs().max() < 0.1)
        (1.0, True)
    """
    x = _as_chains(series, "autocorrelation")
    n = x.shape[0]
    max_lag = n - 1 if max_lag is None else min(max_lag, n - 1)
    x = x - x.mean()
    f = torch.fft.rfft(x, n=2 * n, dim=0)
    acov = torch.fft.irfft(f * f.conj(), n=2 * n, dim=0)[: max_lag + 1].sum(1)
    acov = acov / torch.arange(n, n - max_lag - 1, -1, dtype=acov.dtype)
    if acov[0] <= 0:
        return torch.cat([torch.ones(1, dtype=acov.dtype), torch.zeros(max_lag, dtype=acov.dtype)])
    return acov / acov[0]


@dataclass(frozen=True)
class AutocorrelationTime:
    """Integrated autocorrelation time ``tau`` (in Markov steps, 0.5 for independent samples), its
    statistical error ``error`` (Madras–Sokal), and the summation ``window``."""

    tau: float
    error: float
    window: int

    def __str__(self) -> str:
        return f"{self.tau:.3g} ± {self.error:.2g}"


def integrated_autocorrelation_time(series: torch.Tensor, *, c: float = 5.0) -> AutocorrelationTime:
    """``τ_int = 1/2 + Σ_{t=1}^{W} ρ(t)`` with Sokal's automatic window (smallest ``W ≥ c τ_int(W)``).

    The error is Madras & Sokal's ``τ √(2(2W+1)/N)`` with ``N`` the total number of samples.
    A window that never closes (chain too short for its correlations) uses the largest lag and
    the estimate is then a lower bound.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> white = torch.randn(20000, generator=g, dtype=torch.float64)
        >>> abs(integrated_autocorrelation_time(white).tau - 0.5) < 0.05
        True
        >>> ar = torch.zeros(20000, dtype=torch.float64)  # AR(1), ρ(t) = 0.9^t: τ = 1/2 + 0.9/0.1 = 9.5
        >>> for i in range(1, 20000): ar[i] = 0.9 * ar[i - 1] + white[i]
        >>> abs(integrated_autocorrelation_time(ar).tau - 9.5) < 1.5
        True
    """
    x = _as_chains(series, "integrated_autocorrelation_time")
    n, chains = x.shape
    rho = autocorrelation(x)
    taus = 0.5 + torch.cumsum(rho[1:], 0)
    window = len(taus)
    for w in range(1, len(taus) + 1):
        if w >= c * float(taus[w - 1]):
            window = w
            break
    tau = max(float(taus[window - 1]), 0.5) if len(taus) else 0.5
    error = tau * math.sqrt(2 * (2 * window + 1) / (n * chains))
    return AutocorrelationTime(tau=tau, error=error, window=window)


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate ``value ± error`` (one standard error)."""

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.5g} ± {self.error:.2g}"

    def agrees_with(self, other: Estimate | float, *, sigmas: float = 2.0) -> bool:
        """Whether the two agree within ``sigmas`` combined standard errors."""
        if isinstance(other, Estimate):
            return abs(self.value - other.value) <= sigmas * math.hypot(self.error, other.error)
        return abs(self.value - float(other)) <= sigmas * self.error


def mean_with_error(series: torch.Tensor) -> Estimate:
    """Mean of a correlated series with the error ``σ √(2 τ_int / N)``.

    Examples:
        >>> est = mean_with_error(torch.randn(10000, generator=torch.Generator().manual_seed(1)))
        >>> abs(est.value) < 3 * est.error and abs(est.error - 0.01) < 0.002
        True
    """
    x = _as_chains(series, "mean_with_error")
    tau = integrated_autocorrelation_time(x).tau
    return Estimate(float(x.mean()), float(x.std() * math.sqrt(2 * tau / x.numel())))


def jackknife(
    fn: Callable[..., torch.Tensor | float], series: Sequence[torch.Tensor], *, n_blocks: int = 20
) -> Estimate:
    """Blocked jackknife estimate of ``fn(*series)`` (for non-linear functions of means).

    Every series is split along its first (time) axis into ``n_blocks`` contiguous blocks, which
    must be longer than the autocorrelation time for the error to be right.

    Examples:
        >>> x = torch.randn(4000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        >>> est = jackknife(lambda a: (a * a).mean() - a.mean() ** 2, [x])
        >>> abs(est.value - 1) < 3 * est.error
        True
    """
    n = series[0].shape[0]
    if any(s.shape[0] != n for s in series):
        raise ParameterError("jackknife: every series must have the same length")
    if not 2 <= n_blocks <= n:
        raise ParameterError(f"jackknife: n_blocks must be in [2, {n}], got {n_blocks}")
    size = n // n_blocks
    series = [s[: size * n_blocks].double() for s in series]
    full = float(fn(*series))
    reps = []
    for b in range(n_blocks):
        keep = torch.cat([torch.arange(0, b * size), torch.arange((b + 1) * size, size * n_blocks)])
        reps.append(float(fn(*[s[keep] for s in series])))
    r = torch.tensor(reps, dtype=torch.float64)
    err = math.sqrt((n_blocks - 1) * float(((r - r.mean()) ** 2).mean()))
    return Estimate(n_blocks * full - (n_blocks - 1) * float(r.mean()), err)
