"""Coupling layers: log-det against autograd's Jacobian, invertibility, Z₂ and gauge equivariance."""

import math

import pytest
import torch
from torch import nn

from qphys.errors import ParameterError
from qphys.lattice import (
    AffineCoupling,
    FourierScaling,
    GaugeEquivariantCoupling,
    SplineCoupling,
    gauge_transform,
    make_phi4_flow,
    make_u1_flow,
)


def _randomize(module, std=0.4, seed=0):
    """Non-trivial weights (fresh couplings are the identity, which would test nothing)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return module


def _jacobian_logdet(fn, x):
    """log|det| of the Jacobian of fn at one configuration x (no batch dim), by autograd."""
    flat = x.reshape(-1)
    jac = torch.autograd.functional.jacobian(lambda v: fn(v.reshape(1, *x.shape))[0].reshape(-1), flat)
    return torch.linalg.slogdet(jac)[1]


SCALAR_LAYERS = [
    pytest.param(lambda: AffineCoupling(4, 0, hidden=(6, 6)), id="affine"),
    pytest.param(lambda: AffineCoupling(4, 1, hidden=(6,), z2_equivariant=False), id="affine-plain"),
    pytest.param(lambda: SplineCoupling(4, 1, bins=5, bound=3.0, hidden=(6, 6)), id="spline"),
    pytest.param(lambda: SplineCoupling(4, 0, bins=4, bound=3.0, hidden=(6,), z2_equivariant=False),
                 id="spline-plain"),
]


@pytest.mark.parametrize("make", SCALAR_LAYERS)
def test_scalar_coupling_logdet_matches_autograd_and_inverts(make):
    layer = _randomize(make()).double()
    x = torch.randn(3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1.5
    y, ladj = layer(x)
    assert not torch.allclose(y, x)  # the layer does something
    for i in range(3):
        torch.testing.assert_close(ladj[i], _jacobian_logdet(lambda v: layer(v)[0], x[i]))
    x_back, ladj_inv = layer.inverse(y)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ladj_inv, -ladj)
    # frozen sites pass through unchanged
    torch.testing.assert_close(y[:, ~layer.active], x[:, ~layer.active])


@pytest.mark.parametrize("make", [SCALAR_LAYERS[0], SCALAR_LAYERS[2]])
def test_scalar_couplings_are_z2_equivariant(make):
    layer = _randomize(make(), seed=3).double()
    x = torch.randn(4, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y, ladj = layer(x)
    y_m, ladj_m = layer(-x)
    torch.testing.assert_close(y_m, -y)
    torch.testing.assert_close(ladj_m, ladj)


def test_non_equivariant_coupling_is_not_z2_equivariant():
    # the check above can fail: a plain coupling breaks the symmetry
    layer = _randomize(AffineCoupling(4, 0, hidden=(6,), z2_equivariant=False), seed=3).double()
    x = torch.randn(4, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(layer(-x)[0], -layer(x)[0])


@pytest.mark.parametrize("coupling", ["affine", "spline", "mixed"])
def test_phi4_flow_sample_log_prob_and_inverse(coupling):
    flow = _randomize(make_phi4_flow(4, n_layers=4, coupling=coupling, hidden=(6,), bound=4.0), std=0.2)
    flow = flow.double()
    x, logq = flow.sample(16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(x), logq)
    # whole-flow log-density by autograd: log q(x) = log N(z) - log|det dx/dz|
    z = torch.randn(1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x1, logq1 = flow(z)
    logdet = _jacobian_logdet(lambda v: flow(v)[0], z[0])
    prior = -0.5 * (z**2).sum() - 8 * math.log(2 * math.pi)
    torch.testing.assert_close(logq1[0], prior - logdet)


def _random_links(n, L, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, L, L, generator=g, dtype=torch.float64) * 2 - 1) * math.pi


@pytest.mark.parametrize("mu,off", [(0, 0), (1, 2), (0, 3)])
def test_gauge_coupling_logdet_matches_autograd_and_inverts(mu, off):
    layer = _randomize(GaugeEquivariantCoupling(4, mu, off, bins=4, hidden=(6,)), std=0.5).double()
    theta = _random_links(3, 4, 1)
    y, ladj = layer(theta)
    assert not torch.allclose(y, theta)
    for i in range(3):
        torch.testing.assert_close(ladj[i], _jacobian_logdet(lambda v: layer(v)[0], theta[i]))
    back, ladj_inv = layer.inverse(y)
    torch.testing.assert_close(back, theta)
    torch.testing.assert_close(ladj_inv, -ladj)
    # only links of direction mu move
    torch.testing.assert_close(y[:, 1 - mu], theta[:, 1 - mu])


def test_gauge_layers_commute_with_gauge_transformations():
    # moderate weights: random std-0.5 weights make maps so steep (slopes ~1e4 per layer) that
    # inverting four layers loses float64 precision
    flow = _randomize(make_u1_flow(4, n_layers=4, bins=4, hidden=(6,)), std=0.25).double()
    theta = _random_links(4, 4, 2)
    alpha = torch.rand(4, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 7
    for layer in flow.layers:
        y, ladj = layer(theta)
        y_g, ladj_g = layer(gauge_transform(theta, alpha))
        # equal as angles (mod 2π), equal log-det
        torch.testing.assert_close(torch.remainder(y_g - gauge_transform(y, alpha) + math.pi, 2 * math.pi),
                                   torch.full_like(y, math.pi))
        torch.testing.assert_close(ladj_g, ladj)
        theta = y
    # the flow density is gauge invariant
    x, logq = flow.sample(4, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(flow.log_prob(gauge_transform(x, alpha)), logq)


def test_u1_flow_log_prob_inverts_sample():
    flow = _randomize(make_u1_flow(4, n_layers=8, bins=4, hidden=(6,)), std=0.3).double()
    x, logq = flow.sample(8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(x), logq)
    assert logq.std() > 0.1  # a non-trivial density


def test_layer_argument_errors():
    with pytest.raises(ParameterError, match="multiple of 4"):
        GaugeEquivariantCoupling(6, 0, 0)
    with pytest.raises(ParameterError, match="mu must be 0 or 1"):
        GaugeEquivariantCoupling(4, 2, 0)
    with pytest.raises(ParameterError, match="kernel_size must be odd"):
        AffineCoupling(4, 0, kernel_size=2)
    with pytest.raises(ParameterError, match="n_layers must be even"):
        make_phi4_flow(4, n_layers=3)
    with pytest.raises(ParameterError, match="coupling must be"):
        make_phi4_flow(4, coupling="nvp")
    with pytest.raises(ParameterError, match="bins must be >= 2"):
        SplineCoupling(4, 0, bins=1)


def test_fresh_couplings_are_the_identity():
    x = torch.randn(2, 4, 4)
    for layer in (AffineCoupling(4, 0), SplineCoupling(4, 1)):
        y, ladj = layer(x)
        torch.testing.assert_close(y, x)
        torch.testing.assert_close(ladj, torch.zeros(2))
    assert isinstance(AffineCoupling(4, 0).net.odd, nn.Conv2d)


def _random_fourier_layer(L, seed=0):
    layer = FourierScaling(L).double()
    with torch.no_grad():
        layer.log_scale.copy_(torch.randn(L, L, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return layer


@pytest.mark.parametrize("L", [4, 5])
def test_fourier_scaling_logdet_matches_autograd_and_inverts(L):
    layer = _random_fourier_layer(L)
    x = torch.randn(3, L, L, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y, ladj = layer(x)
    assert y.dtype == torch.float64 and not y.is_complex()
    assert not torch.allclose(y, x)
    for i in range(3):
        torch.testing.assert_close(ladj[i], _jacobian_logdet(lambda v: layer(v)[0], x[i]))
    x_back, ladj_inv = layer.inverse(y)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ladj_inv, -ladj)


def test_fourier_scaling_is_real_translation_invariant_and_z2_odd():
    layer = _random_fourier_layer(4, seed=2)
    x = torch.randn(2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    # the multiplier is even in k, so the complex result has no imaginary part
    a = layer.symmetric_log_scale()
    torch.testing.assert_close(a, torch.roll(torch.flip(a, (0, 1)), (1, 1), (0, 1)))
    full = torch.fft.ifft2(torch.exp(a) * torch.fft.fft2(x))
    assert full.imag.abs().max() < 1e-12
    y, ladj = layer(x)
    torch.testing.assert_close(layer(-x)[0], -y)
    torch.testing.assert_close(layer(-x)[1], ladj)
    shifted = torch.roll(x, (1, 3), (-2, -1))
    torch.testing.assert_close(layer(shifted)[0], torch.roll(y, (1, 3), (-2, -1)))
    # an asymmetric table is symmetrised: a(k) and a(-k) only enter through their mean
    torch.testing.assert_close(ladj, a.sum().expand(2))


def test_fresh_fourier_scaling_is_the_identity_and_learns_a_constant_scale():
    layer = FourierScaling(4)
    x = torch.randn(2, 4, 4)
    y, ladj = layer(x)
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(ladj, torch.zeros(2))
    with torch.no_grad():
        layer.log_scale.fill_(math.log(0.5))
    y, ladj = layer(x)
    torch.testing.assert_close(y, 0.5 * x)
    torch.testing.assert_close(ladj, torch.full((2,), 16 * math.log(0.5)))
    with pytest.raises(ParameterError, match="L must be >= 1"):
        FourierScaling(0)


def test_phi4_flow_with_fourier_prior_log_prob_matches_autograd():
    flow = _randomize(make_phi4_flow(4, n_layers=2, coupling="spline", hidden=(6,), bound=4.0, fourier_prior=True),
                      std=0.2).double()
    assert isinstance(flow.layers[0], FourierScaling)
    x, logq = flow.sample(8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(x), logq)
    z = torch.randn(1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    _, logq1 = flow(z)
    logdet = _jacobian_logdet(lambda v: flow(v)[0], z[0])
    torch.testing.assert_close(logq1[0], -0.5 * (z**2).sum() - 8 * math.log(2 * math.pi) - logdet)
