"""``qphys.nn.QuantumLayer``: shapes, training, composition with torch.nn, state_dict round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qphys
from qphys import X, Z
from qphys.errors import ParameterError
from qphys.nn import QuantumLayer
from qphys.templates import angle_embedding, hardware_efficient
from qphys.testing import reference as ref


def circuit_fn(x, weights):
    c = angle_embedding(qphys.Circuit(wires=3), x)
    hardware_efficient(c, weights)
    return c.expval(Z(0)).expval(Z(1) @ Z(2)).expval(X(2))


def make_layer(**kwargs):
    torch.manual_seed(0)
    return QuantumLayer(circuit_fn, {"weights": (2, 3, 2)}, **kwargs)


def test_output_shapes_batched_and_single():
    layer = make_layer()
    out = layer(torch.rand(5, 3))
    assert out.shape == (5, 3)
    assert out.dtype == torch.get_default_dtype()
    assert layer(torch.rand(3)).shape == (3,)
    assert [n for n, _ in layer.named_parameters()] == ["weights"]
    assert layer.weights.shape == (2, 3, 2)


def test_outputs_match_reference():
    layer = make_layer(device=qphys.device("torch.qubit", dtype="complex128"))
    x = torch.rand(4, 3, dtype=torch.float64)
    out = layer(x).detach().numpy()
    c = layer.circuit(x.detach())
    c = c.detached()
    expected = np.stack(ref.measure(c), axis=-1)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_gradients_reach_weights_and_inputs_for_each_method():
    grads = {}
    for method in ("backprop", "adjoint", "parameter-shift"):
        layer = make_layer(diff_method=method, device=qphys.device("torch.qubit", dtype="complex128"))
        x = torch.linspace(0.1, 0.9, 6, dtype=torch.float64).reshape(2, 3).requires_grad_(True)
        layer(x).pow(2).sum().backward()
        grads[method] = (layer.weights.grad.clone(), x.grad.clone())
    for method, (gw, gx) in grads.items():
        torch.testing.assert_close(gw.double(), grads["backprop"][0].double(), atol=1e-6, rtol=0)
        torch.testing.assert_close(gx, grads["backprop"][1], atol=1e-6, rtol=0)
    assert float(grads["backprop"][0].abs().max()) > 1e-3


def test_training_reduces_loss():
    torch.manual_seed(1)
    x = torch.rand(16, 3) * np.pi
    y = torch.where(x[:, 0] > np.pi / 2, 1.0, -1.0)
    layer = make_layer()
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x)[:, 0], y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_inside_sequential_with_classical_layers():
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), make_layer(), torch.nn.Linear(3, 2))
    x = torch.rand(7, 4)
    out = model(x)
    assert out.shape == (7, 2)
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert float(model[0].weight.grad.abs().max()) > 0, "gradient flows through the quantum layer"


def test_state_dict_round_trip():
    layer = make_layer()
    x = torch.rand(3, 3)
    before = layer(x).detach()
    state = layer.state_dict()
    assert set(state) == {"weights"}
    other = QuantumLayer(circuit_fn, {"weights": (2, 3, 2)}, init=torch.nn.init.zeros_)
    assert not torch.allclose(other(x), before)
    other.load_state_dict(state)
    torch.testing.assert_close(other(x).detach(), before)


def test_layer_with_shots_and_bad_circuit_fn():
    layer = make_layer(shots=4000, device=qphys.device("torch.qubit", seed=3))
    exact = make_layer()
    x = torch.rand(2, 3)
    assert (layer(x) - exact(x)).abs().max() < 5 * 1 / np.sqrt(4000)
    bad = QuantumLayer(lambda x, w: "not a circuit", {"w": 2})
    with pytest.raises(ParameterError, match=r"circuit_fn must return a qphys.Circuit, got str"):
        bad(torch.rand(2, 3))
