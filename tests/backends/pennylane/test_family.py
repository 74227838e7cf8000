"""``pennylane.<name>`` qphys devices: discovery, options, results, batching and gradients."""

import math

import numpy as np
import pennylane as qml
import pytest
import torch
from qphys_pennylane import PennyLaneFamily

import qphys
from qphys.errors import (
    DeviceNotFoundError,
    DeviceOptionError,
    MissingDependencyError,
    UnsupportedOperationError,
)


def test_family_lists_installed_qubit_devices():
    names = PennyLaneFamily.available_names()
    assert {"pennylane.default.qubit", "pennylane.lightning.qubit"} <= set(names)
    assert "pennylane.default.gaussian" not in names and "pennylane.qphys.torch" not in names
    assert "pennylane.lightning.qubit" in qphys.device_names()
    caps = PennyLaneFamily.capabilities_for("pennylane.lightning.qubit")
    assert caps.native_diff == ("adjoint",) and "cswap" in caps.operations
    assert "state" not in PennyLaneFamily.capabilities_for("pennylane.default.mixed").measurements


def test_metadata_catalog_names_the_same_devices():
    """`qphys devices` lists pennylane.* from entry-point metadata; the family serves the same names."""
    from qphys_pennylane.catalog import pennylane_device_names

    assert pennylane_device_names() == PennyLaneFamily.available_names()
    listed = {r["name"] for r in qphys.devices.device_listing() if r.get("family") == "pennylane.*"}
    assert listed == set(PennyLaneFamily.available_names())


def test_clifford_device_promises_only_clifford_gates():
    """check_device over every device found default.clifford claiming ry and then rejecting it."""
    caps = PennyLaneFamily.capabilities_for("pennylane.default.clifford")
    assert {"h", "s", "cx", "cz", "swap"} <= caps.operations and not {"ry", "rz", "t", "u"} & caps.operations
    c = qphys.Circuit(wires=2).h(0).cx(0, 1).s(1).expval(qphys.Z(0) @ qphys.Z(1)).expval(qphys.Y(1))
    values = qphys.execute(c, qphys.device("pennylane.default.clifford")).expvals
    assert values.tolist() == pytest.approx([1.0, 0.0])
    assert "pennylane.null.qubit" not in PennyLaneFamily.available_names()  # computes nothing


def test_missing_package_of_a_pennylane_device_is_a_qphys_error():
    if __import__("importlib").util.find_spec("quimb") is not None:
        pytest.skip("quimb is installed: default.tensor builds")
    with pytest.raises(MissingDependencyError, match="'default.tensor' needs a package that is not installed"):
        qphys.device("pennylane.default.tensor")


def test_errors_name_the_problem():
    with pytest.raises(DeviceNotFoundError, match=r"no PennyLane device named 'nope.qubit' is installed"):
        qphys.device("pennylane.nope.qubit")
    with pytest.raises(UnsupportedOperationError, match=r"'default.gaussian' does not simulate qubits"):
        qphys.device("pennylane.default.gaussian")
    with pytest.raises(DeviceOptionError, match=r"unknown option\(s\) wires; its options are: shots, seed"):
        qphys.device("pennylane.default.qubit", wires=3)
    with pytest.raises(DeviceOptionError, match=r"diff_method must be one of best, adjoint"):
        qphys.device("pennylane.default.qubit", diff_method="magic")
    with pytest.raises(DeviceOptionError, match=r"rejected device_kwargs \['bogus'\]"):
        qphys.device("pennylane.lightning.qubit", device_kwargs={"bogus": 1})


def _circuit(params, n=4):
    c = qphys.Circuit(wires=n)
    k = 0
    for layer in range(2):
        for w in range(n):
            c.ry(params[k], w).rz(params[k + 1], w)
            k += 2
        for w in range(n - 1):
            c.cx(w, w + 1)
        c.crx(params[k], n - 1, 0).rzz(params[k + 1], 0, 2)
        k += 2
    c.expval(qphys.Z(0) @ qphys.Z(1)).expval(0.5 * qphys.X(2) - 0.25 * qphys.Y(3) @ qphys.Z(0))
    # a Hamiltonian of many terms (lightning's torch-interface results follow torch's default dtype)
    c.expval(sum((0.3 * qphys.Z(i) @ qphys.Z(i + 1) for i in range(n - 1)), -0.7 * qphys.X(0)) + qphys.Y(2))
    return c


@pytest.mark.parametrize("name", ["pennylane.lightning.qubit", "pennylane.default.qubit"])
def test_gradients_agree_with_torch_qubit(name):
    """Adjoint through the PennyLane device vs torch.qubit backprop (complex128): 1e-8."""
    x0 = np.random.default_rng(5).uniform(-math.pi, math.pi, 20)
    grads, values = {}, {}
    for dev_name, method, dev in (
        ("torch", "backprop", qphys.device("torch.qubit", dtype="complex128")),
        ("pl", "adjoint", qphys.device(name)),
    ):
        x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        r = qphys.execute(_circuit(x), dev, diff_method=method)
        (r.expvals[0] + 2 * r.expvals[1] - r.expvals[2]).backward()
        grads[dev_name], values[dev_name] = x.grad.numpy(), r.expvals.detach().numpy()
    assert np.abs(values["pl"] - values["torch"]).max() < 1e-10
    assert np.abs(grads["pl"] - grads["torch"]).max() < 1e-8
    assert np.abs(grads["torch"]).max() > 0.05  # a non-trivial gradient


def test_best_picks_adjoint_and_shots_use_parameter_shift():
    dev = qphys.device("pennylane.lightning.qubit")
    x = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(wires=2).rx(x[0], 0).cx(0, 1).ry(x[1], 1).expval(qphys.Z(1))
    r = qphys.execute(c, dev)
    assert r.metadata["diff_method"] == "adjoint"
    r = qphys.execute(c, qphys.device("pennylane.lightning.qubit", shots=100, seed=1))
    assert r.metadata["diff_method"] == "parameter-shift"
    # probs are not expval: parameter shift (all shifted circuits in one execute) vs torch.qubit
    xp = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    cp = qphys.Circuit(wires=2).rx(xp[0], 0).cx(0, 1).ry(xp[1], 1).probs()
    r = qphys.execute(cp, dev)
    assert r.metadata["diff_method"] == "parameter-shift"
    (r.probs * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    xt = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    ct = qphys.Circuit(wires=2).rx(xt[0], 0).cx(0, 1).ry(xt[1], 1).probs()
    rt = qphys.execute(ct, qphys.device("torch.qubit", dtype="complex128"))
    (rt.probs * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(xp.grad.numpy(), xt.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("name", ["pennylane.lightning.qubit", "pennylane.default.qubit"])
def test_batched_circuit_and_gradient(name):
    thetas = torch.tensor([0.2, 1.1, -0.7], dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(wires=2).ry(thetas, 0).cx(0, 1).expval(qphys.Z(1)).probs([0])
    r = qphys.execute(c, qphys.device(name))
    assert r.values[0].shape == (3,) and r.values[1].shape == (3, 2)
    np.testing.assert_allclose(r.values[0].detach().numpy(), np.cos(thetas.detach().numpy()), atol=1e-12)
    thetas2 = thetas.detach().clone().requires_grad_(True)
    c2 = qphys.Circuit(wires=2).ry(thetas2, 0).cx(0, 1).expval(qphys.Z(1))
    qphys.execute(c2, qphys.device(name), diff_method="adjoint").expvals.sum().backward()
    np.testing.assert_allclose(thetas2.grad.numpy(), -np.sin(thetas2.detach().numpy()), atol=1e-12)


def test_samples_counts_state_and_seed():
    dev = qphys.device("pennylane.default.qubit", shots=500, seed=11)
    c = qphys.Circuit(wires=3).h(0).cx(0, 1).x(2).sample([0, 1, 2]).counts()
    r1, r2 = qphys.execute(c, dev), qphys.execute(c, dev)
    assert r1.samples.shape == (500, 3) and r1.samples.dtype == torch.int64
    assert torch.equal(r1.samples, r2.samples)  # same seed, same samples
    assert set(r1.counts) <= {"001", "111"} and sum(r1.counts.values()) == 500
    assert (r1.samples[:, 0] == r1.samples[:, 1]).all() and (r1.samples[:, 2] == 1).all()
    expected = np.zeros(8, dtype=complex)
    expected[[1, 7]] = 1 / math.sqrt(2)
    # state() is the exact state on every device: refused with shots, exact with shots=None
    exact = qphys.Circuit(wires=3).h(0).cx(0, 1).x(2).state()
    with pytest.raises(UnsupportedOperationError, match=r"state\(\) is the exact state .* run it with shots=None"):
        qphys.execute(exact, dev)
    np.testing.assert_allclose(qphys.execute(exact, dev, shots=None).state.numpy(), expected, atol=1e-12)
    with pytest.raises(UnsupportedOperationError, match=r"var\(.*\) with shots needs all terms measurable in one basis"):
        qphys.execute(qphys.Circuit(wires=1).var(qphys.Z(0) + qphys.X(0)), dev)


def test_single_wire_sample_shape_and_batched_counts():
    dev = qphys.device("pennylane.lightning.qubit", shots=50, seed=3)
    c = qphys.Circuit(wires=2).x(1).sample([1])
    assert qphys.execute(c, dev).samples.shape == (50, 1)
    b = qphys.Circuit(wires=1).rx(torch.tensor([0.0, math.pi]), 0).counts()
    counts = qphys.execute(b, dev).counts
    assert counts == [{"0": 50}, {"1": 50}]


def test_pennylane_device_kwargs_reach_the_device():
    dev = qphys.device("pennylane.lightning.qubit", device_kwargs={"c_dtype": np.complex64})
    pl = dev._pl_device(2, None)
    assert pl.c_dtype == np.complex64
    r = qphys.execute(qphys.Circuit(wires=2).h(0).expval(qphys.X(0)), dev)
    assert abs(float(r.expvals[0]) - 1) < 1e-6
    assert isinstance(pl, qml.devices.Device)
