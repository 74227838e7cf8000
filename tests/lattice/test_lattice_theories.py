"""φ⁴ and U(1) actions, forces and observables against explicit loops, autograd and exact results."""

import math

import numpy as np
import pytest
import torch

from qphys.errors import ParameterError
from qphys.lattice import (
    Phi4Action,
    U1Action,
    exact_charge_variance,
    exact_plaquette,
    gauge_transform,
    magnetization,
    plaquettes,
    susceptibility,
    topological_charge,
    two_point_function,
    wrap,
)


def _phi4_loop(phi, m2, lam):
    """The tutorial's action written site by site, both neighbours of each direction."""
    L = phi.shape[0]
    s = 0.0
    for x in range(L):
        for y in range(L):
            v = phi[x, y]
            s += m2 * v**2 + lam * v**4
            for dx, dy in ((1, 0), (0, 1)):
                s += 2 * v**2 - v * phi[(x + dx) % L, (y + dy) % L] - v * phi[(x - dx) % L, (y - dy) % L]
    return s


def test_phi4_action_matches_site_loop():
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(3, 5, 5, generator=g, dtype=torch.float64)
    S = Phi4Action(-4.0, 8.0)
    expected = torch.stack([_phi4_loop(p, -4.0, 8.0) for p in phi])
    torch.testing.assert_close(S(phi), expected)


def test_phi4_force_is_the_gradient():
    phi = torch.randn(2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    S = Phi4Action(-3.0, 2.5)
    (grad,) = torch.autograd.grad(S(phi).sum(), phi)
    torch.testing.assert_close(S.force(phi.detach()), grad)


def test_phi4_local_action_gives_single_site_differences():
    S = Phi4Action(-4.0, 8.0)
    phi = torch.randn(1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    new = phi.clone()
    new[0, 1, 2] += 0.7
    nb = phi[0, 0, 2] + phi[0, 2, 2] + phi[0, 1, 1] + phi[0, 1, 3]
    d_local = S.local_action(new[0, 1, 2], nb) - S.local_action(phi[0, 1, 2], nb)
    torch.testing.assert_close(d_local, (S(new) - S(phi))[0])


def test_two_point_function_sums_to_susceptibility():
    phi = torch.randn(50, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) + 0.3
    torch.testing.assert_close(two_point_function(phi).sum(), susceptibility(magnetization(phi), 16))


def test_field_shape_and_coupling_errors():
    with pytest.raises(ParameterError, match=r"shape \(batch, L, L\).*phi\[None\]"):
        Phi4Action(-4.0, 8.0)(torch.zeros(4, 4))
    with pytest.raises(ParameterError, match="lam must be > 0"):
        Phi4Action(-4.0, 0.0)
    with pytest.raises(ParameterError, match=r"\(batch, 2, L, L\)"):
        U1Action(1.0)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ParameterError, match="beta must be >= 0"):
        U1Action(-1.0)


def _u1_loop(theta, beta):
    L = theta.shape[-1]
    s = 0.0
    for x in range(L):
        for y in range(L):
            p = theta[0, x, y] + theta[1, (x + 1) % L, y] - theta[0, x, (y + 1) % L] - theta[1, x, y]
            s += -beta * math.cos(float(p))
    return s


def test_u1_action_matches_plaquette_loop_and_force_is_gradient():
    g = torch.Generator().manual_seed(4)
    theta = (torch.rand(2, 2, 4, 4, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    S = U1Action(1.7)
    torch.testing.assert_close(S(theta), torch.tensor([_u1_loop(t, 1.7) for t in theta], dtype=torch.float64))
    t = theta.clone().requires_grad_()
    (grad,) = torch.autograd.grad(S(t).sum(), t)
    torch.testing.assert_close(S.force(theta), grad)


def test_u1_gauge_invariance_and_integer_charge():
    g = torch.Generator().manual_seed(5)
    theta = (torch.rand(8, 2, 4, 4, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    alpha = torch.rand(8, 4, 4, generator=g, dtype=torch.float64) * 10
    theta_g = gauge_transform(theta, alpha)
    S = U1Action(2.0)
    torch.testing.assert_close(S(theta_g), S(theta))
    q = topological_charge(theta)
    torch.testing.assert_close(topological_charge(theta_g), q)
    exact = wrap(plaquettes(theta)).sum(dim=(-1, -2)) / (2 * math.pi)
    torch.testing.assert_close(exact, q, atol=1e-9, rtol=0)  # Σ wrapped plaquettes is 2π × integer


def test_topological_charge_of_a_unit_flux_configuration():
    # uniform field strength 2π/V in the Landau-like gauge: θ_1(x) = 2π x0 / L², plus a twist on the
    # last column so that the plaquettes close periodically; total flux 2π means Q = 1
    L = 4
    theta = torch.zeros(1, 2, L, L, dtype=torch.float64)
    x0 = torch.arange(L, dtype=torch.float64)
    theta[0, 1] = (2 * math.pi * x0 / L**2)[:, None].expand(L, L)
    theta[0, 0, L - 1, :] = -2 * math.pi * torch.arange(L, dtype=torch.float64) / L
    p = wrap(plaquettes(theta))
    torch.testing.assert_close(p, torch.full_like(p, 2 * math.pi / L**2))
    assert topological_charge(theta).item() == 1.0
    assert topological_charge(-theta).item() == -1.0


def test_exact_plaquette_against_numerical_integration():
    beta = 2.5
    t = torch.linspace(-math.pi, math.pi, 20001, dtype=torch.float64)
    w = torch.exp(beta * torch.cos(t))
    ratio = float(torch.trapezoid(torch.cos(t) * w, t) / torch.trapezoid(w, t))
    assert exact_plaquette(beta) == pytest.approx(ratio, abs=1e-10)
    # large volume converges to the infinite-volume value; a single plaquette is I1/I0 only up to flux sums
    assert exact_plaquette(beta, volume=400) == pytest.approx(exact_plaquette(beta), abs=1e-12)
    assert abs(exact_plaquette(beta, volume=4) - exact_plaquette(beta)) > 1e-3


def _charge_variance_by_convolution(beta, V, n=4001):
    """⟨Q²⟩ from the density of Σ_P φ_P (V independent von Mises angles, numerically convolved) at 2πk."""
    phi = np.linspace(-math.pi, math.pi, n)
    h = phi[1] - phi[0]
    f = np.exp(beta * (np.cos(phi) - 1))
    f /= f.sum() * h
    d = f.copy()
    for _ in range(V - 1):
        d = np.convolve(d, f) * h
    s = -V * math.pi + h * np.arange(len(d))
    ks = np.arange(-(V // 2) - 1, V // 2 + 2)
    w = np.array([np.interp(2 * math.pi * k, s, d) for k in ks])
    return float((w * ks**2).sum() / w.sum())


@pytest.mark.parametrize("beta", [0.5, 2.0])
@pytest.mark.parametrize("V", [3, 4, 6])
def test_exact_charge_variance_matches_convolution_of_plaquette_densities(beta, V):
    ref = _charge_variance_by_convolution(beta, V)
    assert exact_charge_variance(beta, V) == pytest.approx(ref, rel=5e-3)


def test_exact_charge_variance_errors():
    with pytest.raises(ParameterError, match="need beta >= 0 and volume >= 1"):
        exact_charge_variance(1.0, 0)
