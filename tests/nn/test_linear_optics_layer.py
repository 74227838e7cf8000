"""``LinearOpticsLayer``: shapes, outputs, training by backprop, parameter shift equal to backprop,
one execute per backward pass on a sampling device, and errors."""

from __future__ import annotations

import pytest
import torch

from qphys.devices.torch_linear_optics import TorchLinearOpticsDevice
from qphys.errors import ConfigError, ParameterError
from qphys.nn import LinearOpticsLayer


class Counting(TorchLinearOpticsDevice):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = []

    def execute(self, circuits, config):
        self.calls.append(sum(c.batch_size or 1 for c in circuits))
        return super().execute(circuits, config)


@pytest.mark.parametrize("output, heralds, size", [
    ("probs", None, 10), ("threshold", None, 10), ("photon_numbers", None, 4), ("probs", {3: 0}, 6),
    ("photon_numbers", {0: 1}, 3),
])
def test_outputs(output, heralds, size):
    layer = LinearOpticsLayer((1, 1, 0, 0), output=output, heralds=heralds, seed=1)
    out = layer(torch.rand(7, 4, dtype=torch.float64))
    assert out.shape == (7, size) == (7, layer.output_size)
    if output in ("probs", "threshold"):
        assert torch.allclose(out.sum(1), torch.ones(7, dtype=torch.float64))
    if heralds:
        assert "herald_success" in layer.last_metadata


def test_backprop_training_fits_a_target():
    torch.manual_seed(0)
    layer = LinearOpticsLayer((1, 0, 1, 0), num_features=2, output="photon_numbers", seed=2)
    x = torch.rand(16, 2, dtype=torch.float64) * 3
    y = torch.stack([torch.sin(x[:, 0]) * 0.5 + 0.5, torch.cos(x[:, 1]) * 0.5 + 0.5], 1)
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = (layer(x)[:, :2] - y).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_parameter_shift_matches_backprop_and_uses_one_execute():
    x = torch.rand(5, 3, dtype=torch.float64)
    grads = {}
    for method in ("backprop", "parameter-shift"):
        dev = Counting()
        layer = LinearOpticsLayer((1, 1, 0), output="probs", heralds={2: 0}, seed=3, device=dev, diff_method=method)
        (layer(x) * torch.arange(3, dtype=torch.float64)).sum().backward()
        grads[method] = torch.cat([p.grad.flatten() for p in layer.parameters()])
        if method == "parameter-shift":
            assert len(dev.calls) == 2, "forward + ONE execute for all shifted circuits of the batch"
    assert (grads["backprop"] - grads["parameter-shift"]).abs().max() < 1e-9


def test_sampled_layer_trains_by_parameter_shift():
    layer = LinearOpticsLayer((1, 0, 1), output="threshold", seed=4)
    layer.set_device(Counting(shots=400, seed=5))
    out = layer(torch.rand(4, 3, dtype=torch.float64))
    out[:, 0].sum().backward()
    assert all(p.grad is not None for p in layer.parameters())
    assert layer.device.calls[1] > layer.device.calls[0]  # one call holding every shifted circuit


def test_errors():
    with pytest.raises(ConfigError, match="output must be one of"):
        LinearOpticsLayer((1, 0), output="x")
    with pytest.raises(ConfigError, match="num_features"):
        LinearOpticsLayer((1, 0), num_features=3)
    with pytest.raises(ConfigError, match="at least 2 modes"):
        LinearOpticsLayer((1,))
    with pytest.raises(ConfigError, match="heralds need photon-number"):
        LinearOpticsLayer((1, 0, 0), output="threshold", heralds={2: 0})
    layer = LinearOpticsLayer((1, 0, 1))
    with pytest.raises(ParameterError, match="3 feature"):
        layer(torch.rand(4, 2))
    with pytest.raises(ParameterError, match="empty batch"):
        layer(torch.rand(0, 3))
