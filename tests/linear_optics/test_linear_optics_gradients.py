"""Gradients of linear-optical circuits: the photonic parameter-shift rule (Facelli et al.) agrees
with backprop exactly, with every shifted circuit of a backward pass in ONE execute call; with
shots it agrees with the exact gradient and with finite differences within shot noise."""

from __future__ import annotations

import math

import pytest
import torch

import qphys
from qphys import linear_optics as lo
from qphys.devices.torch_linear_optics import TorchLinearOpticsDevice
from qphys.ops.linear_optics import beam_splitter_rule, photonic_shift_rule


class CountingDevice(TorchLinearOpticsDevice):
    """``torch.linear_optics`` that records the circuits of every execute call."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = []

    def execute(self, circuits, config):
        self.calls.append(len(circuits))
        return super().execute(circuits, config)


def build(x, w, photons=(1, 1, 0, 1)):
    c = qphys.Circuit(photons=photons)
    for k in range(4):
        c.ps(x[..., k], k)
    c.mzi(w[0], w[1], 0, 1).bs(w[2], 1, 2).mzi(w[3], w[4], 2, 3).bs_ry(w[5], 0, 1).bs_h(w[6], 2, 3)
    c.ps(w[7], 1).bs(w[8], 1, 2).bs(w[9], 3, 0)
    c.probs().probs(detection="threshold").probs(heralds={3: 0}).photon_numbers().photon_numbers([1], heralds={0: 1})
    return c


def loss_and_grads(device, method, x, w0, weights):
    w = w0.clone().requires_grad_(True)
    r = qphys.execute(build(x, w), device, diff_method=method)
    loss = sum((v * u).sum() for v, u in zip(r.values, weights))
    loss.backward()
    return loss.detach(), w.grad


@pytest.fixture(scope="module")
def setup():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 4, generator=g, dtype=torch.float64) * 2
    w = torch.rand(10, generator=g, dtype=torch.float64) * 2 * math.pi
    shapes = [v.shape for v in qphys.execute(build(x, w), "torch.linear_optics").values]
    weights = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    return x, w, weights


def test_shift_rule_is_exact_for_trigonometric_polynomials():
    for R in (1, 2, 3, 5):
        coeffs = torch.randn(2 * R + 1, dtype=torch.float64)

        def f(t, R=R, coeffs=coeffs):
            return coeffs[0] + sum(coeffs[2 * k - 1] * math.cos(k * t) + coeffs[2 * k] * math.sin(k * t)
                                   for k in range(1, R + 1))

        exact = sum(k * (-coeffs[2 * k - 1] * math.sin(k * 0.3) + coeffs[2 * k] * math.cos(k * 0.3))
                    for k in range(1, R + 1))
        assert abs(sum(c * f(0.3 + s) for c, s in photonic_shift_rule(R)) - exact) < 1e-10
        # half-integer frequencies k/2, k <= 2R: the beam-splitter variant
        g = lambda t, R=R, coeffs=coeffs: f(t / 2, R=2 * R, coeffs=torch.cat([coeffs, coeffs[1:]]))  # noqa: E731
        h = 1e-6
        numeric = (g(0.3 + h) - g(0.3 - h)) / (2 * h)
        assert abs(sum(c * g(0.3 + s) for c, s in beam_splitter_rule(R, True)) - numeric) < 1e-6


def test_parameter_shift_equals_backprop_on_every_measurement(setup):
    x, w, weights = setup
    dev = CountingDevice()
    l_bp, g_bp = loss_and_grads(dev, "backprop", x, w, weights)
    dev.calls.clear()
    l_ps, g_ps = loss_and_grads(dev, "parameter-shift", x, w, weights)
    assert torch.allclose(l_bp, l_ps, atol=1e-12)
    assert (g_bp - g_ps).abs().max() < 1e-9, (g_bp, g_ps)
    # forward + ONE execute for every shifted circuit of the batch (plus the unshifted base for heralds)
    c = build(x, w.clone().requires_grad_(True))
    terms = sum(lo.shift_terms(c, i, j) for i, j in c.trainable_params())
    assert dev.calls == [1, terms + 1]
    fd_loss, g_fd = loss_and_grads(CountingDevice(), "finite-diff", x, w, weights)
    assert (g_bp - g_fd).abs().max() < 1e-6


def test_shift_terms_follow_the_photons_that_reach_a_parameter():
    w = [0.3] * 4
    c = qphys.Circuit(photons=(1, 0, 0, 0)).ps(w[0], 0).bs(w[1], 0, 1).ps(w[2], 2).bs(w[3], 1, 2)
    assert [lo.shift_terms(c, i, 0) for i in range(4)] == [2, 2, 0, 2]
    c = qphys.Circuit(photons=(1, 1, 1, 0)).bs(w[0], 0, 1).bs(w[1], 1, 2).bs(w[2], 2, 3).ps(w[3], 3)
    # 2R terms for R photons; 4R where a pair of indefinite photon number mixes with other modes
    # afterwards (half-integer frequencies): bs(1, 2) is followed by bs(2, 3), bs(2, 3) by nothing
    assert [lo.shift_terms(c, i, 0) for i in range(4)] == [4, 12, 6, 6]
    c.bs(0.1, 3, 0)  # now the pair (2, 3) mixes with mode 0 afterwards
    assert lo.shift_terms(c, 2, 0) == 12


def test_unreachable_parameter_has_zero_gradient():
    w = torch.tensor([0.4, 0.7], dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(photons=(1, 0, 0)).ps(w[0], 2).bs(w[1], 0, 1).probs()
    qphys.execute(c, "torch.linear_optics", diff_method="parameter-shift").values[0][0].backward()
    assert w.grad[0] == 0 and w.grad[1] != 0


@pytest.mark.slow
def test_sampled_gradients_agree_with_exact_and_finite_differences_within_shot_noise():
    x = torch.tensor([0.3, 1.1, 0.2, 0.9], dtype=torch.float64)
    w0 = torch.tensor([0.5, 1.3, 0.8, 2.0, 0.4, 1.0, 0.6, 0.2, 1.4, 0.9], dtype=torch.float64)

    def grad(method, shots, seed):
        w = w0.clone().requires_grad_(True)
        c = qphys.Circuit(photons=(1, 1, 0, 0))
        for k in range(4):
            c.ps(x[k], k)
        c.mzi(w[0], w[1], 0, 1).bs(w[2], 1, 2).mzi(w[3], w[4], 2, 3).bs(w[5], 0, 1).probs()
        r = qphys.execute(c, "torch.linear_optics", diff_method=method, shots=shots, seed=seed)
        r.values[0][[0, 4, 7]].sum().backward()
        return w.grad[:6]

    exact = grad("backprop", None, None)
    runs = 24
    ps = torch.stack([grad("parameter-shift", 2000, s) for s in range(runs)])
    fd = torch.stack([grad("finite-diff", 2000, 100 + s) for s in range(runs)])
    for name, est in (("parameter-shift", ps), ("finite-diff", fd)):
        err = (est.mean(0) - exact).abs()
        sem = est.std(0) / math.sqrt(runs)
        # finite differences with shots carry a step bias as well; allow it on top of the noise
        bias = 0.0 if name == "parameter-shift" else 0.05
        assert (err <= 5 * sem + bias + 1e-3).all(), f"{name}: |mean - exact| = {err} > 5 SEM {5 * sem}"
    assert (ps.mean(0) - fd.mean(0)).abs().max() < 5 * math.sqrt(ps.var(0).max() + fd.var(0).max()) / math.sqrt(runs) + 0.05
