"""Real scalar φ⁴ theory on a periodic 2D lattice (the action of Albergo, Kanwar & Shanahan).

.. math::

    S[φ] = \\sum_n \\Big[ M^2 φ_n^2 + λ φ_n^4
           + \\sum_{μ} \\big(2 φ_n^2 - φ_n φ_{n+\\hat μ} - φ_n φ_{n-\\hat μ}\\big) \\Big]

Fields are batched tensors of shape ``(batch, L, L)`` (any float dtype, any device).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qphys.errors import ParameterError


def _check_field(phi: torch.Tensor, where: str) -> None:
    if phi.dim() != 3 or phi.shape[-1] != phi.shape[-2]:
        raise ParameterError(
            f"{where}: expected a batch of square lattice fields of shape (batch, L, L), got "
            f"{tuple(phi.shape)}; add a batch dimension with phi[None] for a single field"
        )


@dataclass(frozen=True)
class Phi4Action:
    """The φ⁴ lattice action ``S[φ]`` with bare mass ``m2`` (M²) and coupling ``lam`` (λ).

    Calling it returns one action value per field of the batch; :meth:`force` returns ``∂S/∂φ``
    (analytic, used by HMC).

    Examples:
        >>> S = Phi4Action(m2=-4.0, lam=8.0)
        >>> phi = torch.ones(2, 4, 4)
        >>> S(phi).tolist()  # 16 sites x (M² + λ), the kinetic term vanishes for a constant field
        [64.0, 64.0]
        >>> bool(torch.allclose(S.force(phi), torch.full((2, 4, 4), 2 * -4.0 + 4 * 8.0)))
        True
    """

    m2: float
    lam: float

    def __post_init__(self):
        if not self.lam > 0:
            raise ParameterError(
                f"Phi4Action: the quartic coupling lam must be > 0 for e^-S to be normalisable, "
                f"got {self.lam}"
            )

    def __call__(self, phi: torch.Tensor) -> torch.Tensor:
        _check_field(phi, "Phi4Action")
        phi2 = phi * phi
        hop = phi * (torch.roll(phi, 1, -1) + torch.roll(phi, 1, -2))
        # Σ_μ (2φ² − φ(n)φ(n+μ) − φ(n)φ(n−μ)) summed over n = Σ_n (4φ² − 2 Σ_μ φ(n)φ(n+μ))
        density = (self.m2 + 4.0) * phi2 + self.lam * phi2 * phi2 - 2.0 * hop
        return density.sum(dim=(-1, -2))

    def force(self, phi: torch.Tensor) -> torch.Tensor:
        """``∂S/∂φ`` for every site (the HMC force is minus this)."""
        _check_field(phi, "Phi4Action.force")
        neighbours = (
            torch.roll(phi, 1, -1) + torch.roll(phi, -1, -1) + torch.roll(phi, 1, -2) + torch.roll(phi, -1, -2)
        )
        return 2.0 * (self.m2 + 4.0) * phi + 4.0 * self.lam * phi**3 - 2.0 * neighbours

    def local_action(self, value: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """The part of ``S`` that depends on one site's value, given the sum of its 4 neighbours."""
        v2 = value * value
        return (self.m2 + 4.0) * v2 + self.lam * v2 * v2 - 2.0 * value * neighbours


def magnetization(phi: torch.Tensor) -> torch.Tensor:
    """Mean field per site, ``M = (1/V) Σ_n φ_n``, one value per configuration.

    Examples:
        >>> magnetization(torch.ones(3, 4, 4)).tolist()
        [1.0, 1.0, 1.0]
    """
    _check_field(phi, "magnetization")
    return phi.mean(dim=(-1, -2))


def susceptibility_samples(phi: torch.Tensor) -> torch.Tensor:
    """Per-configuration estimator ``V M²`` of the two-point susceptibility.

    The two-point susceptibility is ``χ₂ = Σ_x G_c(x) = V (⟨M²⟩ − ⟨M⟩²)``; :func:`susceptibility`
    forms it from samples. ``V M²`` is the series whose autocorrelation time is reported.

    Examples:
        >>> susceptibility_samples(torch.ones(2, 4, 4)).tolist()
        [16.0, 16.0]
    """
    m = magnetization(phi)
    return phi.shape[-1] * phi.shape[-2] * m * m


def susceptibility(m: torch.Tensor, volume: int) -> torch.Tensor:
    """``χ₂ = V (⟨M²⟩ − ⟨M⟩²)`` from a sample of magnetizations ``m`` (shape ``(n,)``).

    Examples:
        >>> round(float(susceptibility(torch.tensor([1.0, -1.0]), 16)), 6)
        16.0
    """
    m = m.double()
    return volume * ((m * m).mean() - m.mean() ** 2)


def two_point_function(phi: torch.Tensor) -> torch.Tensor:
    """Connected two-point function ``G_c(x)`` averaged over a batch, shape ``(L, L)``.

    Computed by FFT: ``G(x) = (1/V) Σ_y ⟨φ(y) φ(y+x)⟩ − ⟨φ⟩²``; ``G_c.sum()`` equals
    :func:`susceptibility` of the same batch.

    Examples:
        >>> phi = torch.randn(64, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> g = two_point_function(phi)
        >>> bool(torch.isclose(g.sum(), susceptibility(magnetization(phi), 16)))
        True
    """
    _check_field(phi, "two_point_function")
    phi = phi.double()
    f = torch.fft.fft2(phi)
    corr = torch.fft.ifft2(f.conj() * f).real / (phi.shape[-1] * phi.shape[-2])
    return corr.mean(0) - phi.mean() ** 2
