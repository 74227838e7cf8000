"""Compact U(1) gauge theory on a periodic 2D lattice: Wilson action, plaquettes, topological charge.

Link angles are batched tensors ``θ`` of shape ``(batch, 2, L, L)``: ``θ[:, μ, x0, x1]`` is the
angle of the link from site ``x`` in direction ``μ`` (``U_μ(x) = e^{iθ_μ(x)}``). The plaquette at
``x`` is ``θ_P(x) = θ_0(x) + θ_1(x+0̂) − θ_0(x+1̂) − θ_1(x)`` and the Wilson action is
``S = −β Σ_x cos θ_P(x)``. A gauge transformation ``θ_μ(x) → θ_μ(x) + α(x) − α(x+μ̂)`` leaves
every plaquette unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from qphys.errors import ParameterError


def _check_links(theta: torch.Tensor, where: str) -> None:
    if theta.dim() != 4 or theta.shape[1] != 2 or theta.shape[-1] != theta.shape[-2]:
        raise ParameterError(
            f"{where}: expected a batch of 2D U(1) link angles of shape (batch, 2, L, L), got "
            f"{tuple(theta.shape)}"
        )


def wrap(angle: torch.Tensor) -> torch.Tensor:
    """Angles mapped into ``[−π, π)``.

    Examples:
        >>> [round(v, 4) for v in wrap(torch.tensor([4.0, -4.0], dtype=torch.float64)).tolist()]
        [-2.2832, 2.2832]
    """
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def plaquettes(theta: torch.Tensor) -> torch.Tensor:
    """Plaquette angles ``θ_P(x)`` (not wrapped), shape ``(batch, L, L)``.

    Examples:
        >>> theta = torch.zeros(1, 2, 4, 4)
        >>> theta[0, 0, 1, 2] = 0.3  # one link enters two plaquettes, with opposite signs
        >>> p = plaquettes(theta)
        >>> round(float(p[0, 1, 2]), 6), round(float(p[0, 1, 1]), 6), round(float(p.abs().sum()), 6)
        (0.3, -0.3, 0.6)
    """
    _check_links(theta, "plaquettes")
    t0, t1 = theta[:, 0], theta[:, 1]
    return t0 + torch.roll(t1, -1, -2) - torch.roll(t0, -1, -1) - t1


def topological_charge(theta: torch.Tensor) -> torch.Tensor:
    """Integer topological charge ``Q = (1/2π) Σ_x wrap(θ_P(x))``, one value per configuration.

    Examples:
        >>> float(topological_charge(torch.zeros(2, 2, 4, 4))[0])
        0.0
    """
    return torch.round(wrap(plaquettes(theta)).sum(dim=(-1, -2)) / (2 * math.pi))


def gauge_transform(theta: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Apply ``θ_μ(x) → θ_μ(x) + α(x) − α(x+μ̂)`` for site angles ``alpha`` of shape ``(batch, L, L)``.

    Examples:
        >>> g = torch.Generator().manual_seed(1)
        >>> theta = torch.rand(2, 2, 4, 4, generator=g, dtype=torch.float64)
        >>> alpha = torch.rand(2, 4, 4, generator=g, dtype=torch.float64)
        >>> bool(torch.allclose(plaquettes(gauge_transform(theta, alpha)), plaquettes(theta)))
        True
    """
    _check_links(theta, "gauge_transform")
    shifted = torch.stack((torch.roll(alpha, -1, -2), torch.roll(alpha, -1, -1)), dim=1)
    return theta + alpha[:, None] - shifted


def bessel_i(n: int, beta: float) -> float:
    """Modified Bessel function ``I_n(β) e^{−β}`` (scaled), by the trapezoid rule on
    ``(1/π) ∫_0^π e^{β (cos t − 1)} cos(n t) dt`` (spectrally accurate: the integrand is periodic).

    Examples:
        >>> b = torch.tensor(3.0, dtype=torch.float64)
        >>> abs(bessel_i(1, 3.0) - float(torch.special.i1e(b))) < 1e-14
        True
    """
    t = torch.linspace(0, math.pi, 2049, dtype=torch.float64)
    f = torch.exp(beta * (torch.cos(t) - 1)) * torch.cos(n * t)
    return float(torch.trapezoid(f, t) / math.pi)


def exact_plaquette(beta: float, volume: int | None = None) -> float:
    """Exact ``⟨cos θ_P⟩`` of 2D U(1) gauge theory.

    Infinite volume (``volume=None``): ``I₁(β)/I₀(β)``. On a periodic lattice of ``volume``
    plaquettes the character expansion gives ``Z = Σ_n I_n(β)^V`` and
    ``⟨cos θ_P⟩ = Σ_n I_n^{V−1} (I_{n−1} + I_{n+1})/2 / Σ_n I_n^V``.

    Examples:
        >>> round(exact_plaquette(1.0), 5)
        0.44639
        >>> round(exact_plaquette(6.0), 4), round(exact_plaquette(6.0, volume=64), 4)
        (0.9124, 0.9125)
    """
    if volume is None:
        b = torch.tensor(float(beta), dtype=torch.float64)
        return float(torch.special.i1e(b) / torch.special.i0e(b))
    n_max = 40
    i = {n: bessel_i(abs(n), beta) for n in range(-n_max - 1, n_max + 2)}
    i0 = i[0]
    # ratios to I_0 keep the powers finite
    num = sum((i[n] / i0) ** (volume - 1) * (i[n - 1] + i[n + 1]) / 2 / i0 for n in range(-n_max, n_max + 1))
    den = sum((i[n] / i0) ** volume for n in range(-n_max, n_max + 1))
    return num / den


def _character_integrals(beta: float, nus: torch.Tensor, nodes: int = 256) -> tuple[torch.Tensor, ...]:
    """``J(ν) = (1/2π) ∫_{−π}^{π} e^{β(cos φ − 1)} cos(νφ) dφ`` and its first two ν-derivatives.

    Gauss–Legendre on ``[−π, π]``: the integrands are entire, so the quadrature converges
    exponentially (the trapezoid rule would not: ``φ sin(νφ)`` is not periodic for non-integer ``ν``).
    """
    import numpy as np

    x, w = np.polynomial.legendre.leggauss(nodes)
    phi = torch.tensor(x * math.pi, dtype=torch.float64)
    w = torch.tensor(w * math.pi / (2 * math.pi), dtype=torch.float64)
    base = torch.exp(beta * (torch.cos(phi) - 1))[None, :] * w[None, :]
    arg = nus[:, None] * phi[None, :]
    j0 = (base * torch.cos(arg)).sum(1)
    j1 = -(base * phi * torch.sin(arg)).sum(1)
    j2 = -(base * phi**2 * torch.cos(arg)).sum(1)
    return j0, j1, j2


def exact_charge_variance(beta: float, volume: int) -> float:
    """Exact ``⟨Q²⟩`` of 2D U(1) (Wilson action) on a periodic lattice of ``volume`` plaquettes.

    With a θ-term, ``Z(θ) ∝ Σ_n J(n + θ/2π)^V`` where ``J(ν) = (1/2π)∫_{−π}^{π} e^{β cos φ} cos(νφ) dφ``
    (the character expansion with the wrapped plaquette angles' charge ``Q = Σ_P φ_P / 2π``;
    ``J(n) = I_n(β)``), so ``⟨Q²⟩ = −(1/4π²) ∂_s² log Σ_n J(n+s)^V`` at ``s = 0``. At large ``β``
    and volume it approaches ``V/(4π²β)``; on small lattices the charge is nearly frozen at 0.

    Examples:
        >>> round(exact_charge_variance(6.0, 16), 5)  # 4x4 at β = 6: |Q| = 1 in about 0.13% of configurations
        0.00265
        >>> beta, V = 200.0, 4096  # nearly Gaussian plaquettes, many of them
        >>> abs(exact_charge_variance(beta, V) / (V / (4 * math.pi**2 * beta)) - 1) < 0.01
        True
    """
    if not beta >= 0 or volume < 1:
        raise ParameterError(f"exact_charge_variance: need beta >= 0 and volume >= 1, got {beta}, {volume}")
    n_max = 40
    nus = torch.arange(-n_max, n_max + 1, dtype=torch.float64)
    j0, j1, j2 = _character_integrals(float(beta), nus)
    r = j0 / j0[n_max]  # ratios to J(0) keep the powers finite
    d1, d2 = j1 / j0[n_max], j2 / j0[n_max]
    V = volume
    z = (r**V).sum()
    z2 = (V * (V - 1) * r ** (V - 2) * d1**2 + V * r ** (V - 1) * d2).sum()
    return float(max(-z2 / z / (4 * math.pi**2), 0.0))


@dataclass(frozen=True)
class U1Action:
    """The Wilson gauge action ``S = −β Σ_x cos θ_P(x)`` of 2D U(1).

    Examples:
        >>> S = U1Action(beta=2.0)
        >>> S(torch.zeros(3, 2, 4, 4)).tolist()  # 16 plaquettes at cos = 1
        [-32.0, -32.0, -32.0]
    """

    beta: float

    def __post_init__(self):
        if not self.beta >= 0:
            raise ParameterError(f"U1Action: beta must be >= 0, got {self.beta}")

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return -self.beta * torch.cos(plaquettes(theta)).sum(dim=(-1, -2))

    def force(self, theta: torch.Tensor) -> torch.Tensor:
        """``∂S/∂θ_μ(x)`` for every link (analytic, used by HMC)."""
        s = torch.sin(plaquettes(theta))
        # θ_0(x) enters P(x) with + and P(x−1̂) with −; θ_1(x) enters P(x) with − and P(x−0̂) with +
        d0 = s - torch.roll(s, 1, -1)
        d1 = torch.roll(s, 1, -2) - s
        return self.beta * torch.stack((d0, d1), dim=1)


def plaquette_mean(theta: torch.Tensor) -> torch.Tensor:
    """Mean ``cos θ_P`` per configuration.

    Examples:
        >>> plaquette_mean(torch.zeros(2, 2, 4, 4)).tolist()
        [1.0, 1.0]
    """
    return torch.cos(plaquettes(theta)).mean(dim=(-1, -2))
