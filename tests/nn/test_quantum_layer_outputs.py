"""``QuantumLayer``: probability heads, measurements a layer cannot return, precision that follows
the model, and ``set_device``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qphys
from qphys import Z
from qphys.errors import DeviceOptionError, UnsupportedOperationError
from qphys.nn import QuantumLayer
from qphys.testing import reference as ref


def probs_head(x, w):
    c = qphys.Circuit(wires=2)
    c.ry(x[..., 0], 0).ry(x[..., 1], 1).cx(0, 1).ry(w[0], 0).ry(w[1], 1)
    return c.probs().expval(Z(0))


def test_probs_measurement_is_a_layer_output():
    torch.manual_seed(0)
    layer = QuantumLayer(probs_head, {"w": 2}, device=qphys.device("torch.qubit", dtype="complex128"))
    x = torch.rand(5, 2, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (5, 4 + 1)  # 2**2 probabilities, then <Z0>
    expected = np.concatenate([ref.measure(layer.circuit(x).detached())[0],
                               ref.measure(layer.circuit(x).detached())[1][:, None]], axis=1)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(out[:, :4].sum(-1).detach().numpy(), 1.0, atol=1e-12)
    # a probability head trains: gradients reach the weights through probs
    torch.nn.functional.nll_loss(out[:, :4].log(), torch.tensor([0, 1, 2, 3, 0])).backward()
    assert layer.w.grad is not None and float(layer.w.grad.abs().max()) > 1e-3
    assert layer(x[0]).shape == (5,)


def test_probs_head_with_parameter_shift_matches_backprop():
    grads = []
    for method in ("backprop", "parameter-shift"):
        torch.manual_seed(1)
        layer = QuantumLayer(probs_head, {"w": 2}, diff_method=method,
                             device=qphys.device("torch.qubit", dtype="complex128"))
        layer(torch.rand(3, 2, dtype=torch.float64))[:, :4].pow(2).sum().backward()
        grads.append(layer.w.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-8, rtol=0)


@pytest.mark.parametrize("kind", ["sample", "counts", "state"])
def test_measurements_a_layer_cannot_return_raise_a_qphys_error(kind):
    def fn(x, w):
        c = qphys.Circuit(wires=1).ry(x[..., 0] + w, 0)
        return getattr(c, kind)()

    layer = QuantumLayer(fn, {"w": ()}, shots=10)
    with pytest.raises(UnsupportedOperationError, match=rf"returns expval, var, probs .*measures {kind}"):
        layer(torch.rand(2, 1))


def _precision_layer(device="torch.qubit"):
    return QuantumLayer(lambda x, w: qphys.Circuit(wires=1).ry(x[..., 0] + w, 0).expval(Z(0)),
                        {"w": ()}, device=device, init=torch.nn.init.zeros_)


def test_precision_follows_the_model_parameters_and_inputs():
    theta = torch.tensor([[1e-4]], dtype=torch.float64)
    exact = math.cos(1e-4) - 1  # 1 - cos in float32 is lost below ~1e-7
    layer = _precision_layer()
    out32 = layer(theta.float())
    assert out32.dtype == torch.float32
    layer64 = _precision_layer().to(torch.float64)
    out64 = layer64(theta).detach()
    assert out64.dtype == torch.float64
    assert abs(float(out64[0, 0]) - 1 - exact) < 1e-15, "complex128 simulation"
    # float64 inputs alone also widen the simulation of a float32 layer
    assert _precision_layer()(theta).dtype == torch.float64
    assert abs(float(_precision_layer()(theta).detach()[0, 0]) - 1 - exact) < 1e-15
    # the layer's own device stays as configured; the wide twin is separate
    assert layer64.device.dtype == torch.complex64


def test_set_device_switches_device_and_shots():
    layer = _precision_layer()
    x = torch.full((4, 1), 0.7)
    exact = layer(x).detach()
    layer.set_device("torch.qubit", shots=200, seed=3)
    sampled = layer(x).detach()
    assert layer.device.shots == 200
    assert not torch.allclose(sampled, exact)
    assert float((sampled - exact).abs().max()) < 6 / math.sqrt(200)
    layer.set_device(qphys.device("torch.qubit", dtype="complex128"))
    torch.testing.assert_close(layer(x).detach(), exact, atol=1e-6, rtol=0)
    with pytest.raises(DeviceOptionError, match="device instance and options"):
        layer.set_device(qphys.device("torch.qubit"), shots=10)
