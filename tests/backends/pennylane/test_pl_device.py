"""The ``qphys.torch`` PennyLane device: qnodes, torch backprop, autograd, broadcasting, shots."""

import math

import numpy as np
import pennylane as qml
import pytest
import torch
from pennylane import numpy as pnp
from pennylane.exceptions import DeviceError
from qphys_pennylane import QphysTorchDevice


def _ansatz(x, w):
    qml.AngleEmbedding(x, wires=range(3))
    qml.StronglyEntanglingLayers(w, wires=range(3))


def _pair(interface="torch", diff_method="backprop"):
    """The same qnode on qphys.torch and on PennyLane's default.qubit (the reference)."""
    out = []
    for name in ("qphys.torch", "default.qubit"):
        dev = qml.device(name, wires=3)

        @qml.qnode(dev, interface=interface, diff_method=diff_method)
        def f(x, w):
            _ansatz(x, w)
            return (qml.expval(qml.Z(0) @ qml.X(2)), qml.expval(qml.Hamiltonian([0.3, -1.1], [qml.Y(1), qml.Z(0)])),
                    qml.probs(wires=[1]))

        out.append(f)
    return out


def test_device_is_registered_with_pennylane():
    dev = qml.device("qphys.torch", wires=2)
    assert isinstance(dev, QphysTorchDevice) and dev.name == "qphys.torch"
    dev64 = qml.device("qphys.torch", wires=2, dtype="complex64")
    assert dev64._qdev.dtype == torch.complex64


def test_torch_backprop_matches_default_qubit():
    ours, ref = _pair()
    rng = np.random.default_rng(0)
    x0, w0 = rng.uniform(-1, 1, 3), rng.uniform(-math.pi, math.pi, (2, 3, 3))
    grads = []
    for f in (ours, ref):
        x = torch.tensor(x0, requires_grad=True)
        w = torch.tensor(w0, requires_grad=True)
        a, b, p = f(x, w)
        (a + 2 * b + p[0]).backward()
        grads.append((float(a), float(b), x.grad.numpy(), w.grad.numpy()))
    for got, exp in zip(grads[0], grads[1]):
        np.testing.assert_allclose(got, exp, atol=1e-10)
    assert np.abs(grads[0][3]).max() > 1e-2


def test_autograd_gradient_and_hessian():
    dev = qml.device("qphys.torch", wires=1)

    @qml.qnode(dev, diff_method="backprop")
    def f(x):
        qml.RY(x[0], wires=0)
        qml.RX(x[1], wires=0)
        return qml.expval(qml.Z(0))

    x = pnp.array([1.0, 2.0], requires_grad=True)
    a, b = 1.0, 2.0
    np.testing.assert_allclose(qml.grad(f)(x), [-math.sin(a) * math.cos(b), -math.cos(a) * math.sin(b)], atol=1e-12)
    hess = qml.jacobian(qml.grad(f))(x)
    expected = [[-math.cos(a) * math.cos(b), math.sin(a) * math.sin(b)],
                [math.sin(a) * math.sin(b), -math.cos(a) * math.cos(b)]]
    np.testing.assert_allclose(hess, expected, atol=1e-10)


def test_autograd_through_state():
    dev = qml.device("qphys.torch", wires=2)

    @qml.qnode(dev, diff_method="backprop")
    def f(x, y):
        qml.RX(x, 0)
        qml.RY(y, 1)
        qml.CNOT([0, 1])
        return qml.state()

    def cost(x, y):
        probs = pnp.abs(f(x, y)) ** 2
        return probs[0] + probs[2]

    x, y = pnp.array(0.543), pnp.array(-0.654)
    got = qml.grad(cost)(x, y)
    np.testing.assert_allclose(got, [-math.sin(0.543) * math.cos(-0.654) / 2, -math.cos(0.543) * math.sin(-0.654) / 2],
                               atol=1e-12)


def test_broadcasting_runs_as_one_batched_circuit():
    dev = qml.device("qphys.torch", wires=2)

    @qml.qnode(dev, interface="torch")
    def f(x):
        qml.RX(x, 0)
        qml.CNOT([0, 1])
        return qml.expval(qml.Z(1)), qml.density_matrix(wires=[0])

    x = torch.tensor([0.1, 0.7, 2.0], dtype=torch.float64, requires_grad=True)
    with qml.Tracker(dev) as tracker:
        ez, rho = f(x)
    assert tracker.totals["simulations"] == 1  # one batched simulation, not three tapes
    np.testing.assert_allclose(ez.detach().numpy(), np.cos(x.detach().numpy()), atol=1e-12)
    assert rho.shape == (3, 2, 2)
    ez.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -np.sin(x.detach().numpy()), atol=1e-12)


def test_trainable_hamiltonian_coefficients_flow_through_pennylane_measure():
    dev = qml.device("qphys.torch", wires=2)
    coeffs = torch.tensor([0.5, -0.25], dtype=torch.float64, requires_grad=True)

    @qml.qnode(dev, interface="torch")
    def f(c):
        qml.Hadamard(0)
        qml.RY(0.4, 1)
        return qml.expval(qml.Hamiltonian(c, [qml.X(0), qml.Z(1)]))

    f(coeffs).backward()
    np.testing.assert_allclose(coeffs.grad.numpy(), [1.0, math.cos(0.4)], atol=1e-12)


def test_shots_seed_reproducible_and_shot_vectors():
    def make(seed):
        dev = qml.device("qphys.torch", wires=2, seed=seed)

        @qml.set_shots(shots=[100, 200])
        @qml.qnode(dev)
        def f():
            qml.Hadamard(0)
            qml.CNOT([0, 1])
            return qml.sample(wires=[0, 1]), qml.expval(qml.X(0) @ qml.X(1))

        return f

    r1, r2 = make(7)(), make(7)()
    assert len(r1) == 2 and r1[0][0].shape == (100, 2) and r1[1][0].shape == (200, 2)
    np.testing.assert_array_equal(r1[1][0], r2[1][0])
    for samples, xx in r1:
        assert (samples[:, 0] == samples[:, 1]).all()  # Bell correlations
        assert xx == 1.0  # <XX> = 1 exactly: every shot agrees


def test_parameter_shift_with_shots_under_torch():
    dev = qml.device("qphys.torch", wires=1, seed=3)

    @qml.set_shots(shots=20000)
    @qml.qnode(dev, interface="torch", diff_method="parameter-shift")
    def f(x):
        qml.RX(x, 0)
        return qml.expval(qml.Z(0))

    x = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    f(x).backward()
    assert abs(float(x.grad) + math.sin(0.9)) < 0.05


def test_mid_circuit_measurement_is_deferred():
    dev = qml.device("qphys.torch", wires=3)

    @qml.qnode(dev)
    def f(x):
        qml.RY(x, 0)
        m = qml.measure(0)
        qml.cond(m, qml.X)(1)
        return qml.probs(wires=[1])

    np.testing.assert_allclose(f(0.8), [math.cos(0.4) ** 2, math.sin(0.4) ** 2], atol=1e-12)


def test_backprop_with_shots_is_rejected_and_options_are_checked():
    dev = qml.device("qphys.torch", wires=1)

    @qml.set_shots(shots=10)
    @qml.qnode(dev, diff_method="backprop", interface="torch")
    def f(x):
        qml.RX(x, 0)
        return qml.expval(qml.Z(0))

    with pytest.raises(Exception, match=r"does not support backprop|backprop"):
        f(torch.tensor(0.1, requires_grad=True))
    cfg = qml.devices.ExecutionConfig(device_options={"max_workers": 2})
    with pytest.raises(DeviceError, match=r"device option max_workers not present on qphys.torch"):
        dev.setup_execution_config(cfg)
