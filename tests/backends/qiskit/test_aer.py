"""Aer devices: agreement with torch.qubit, shots, noise, one-job gradients, job packing."""

import numpy as np
import pytest
import torch
from qiskit_aer.noise import NoiseModel, depolarizing_error
from qphys_qiskit_testutil import random_circuit

import qphys
from qphys.errors import DeviceOptionError, UnsupportedOperationError
from qphys.nn import QuantumLayer
from qphys.templates import angle_embedding, hardware_efficient

TQ = qphys.device("torch.qubit", dtype="complex128")
AER = ["aer.statevector", "aer.density_matrix", "aer.matrix_product_state"]


def _measure(c, with_state):
    n = c.num_wires
    c.expval(qphys.Z(0) @ qphys.X(n - 1)).expval(0.3 * qphys.Y(1) - qphys.Z(2)).var(qphys.X(1))
    c.probs([2, 0]).probs()
    if with_state:
        c.state()
    return c


@pytest.mark.parametrize("name", AER)
def test_random_circuits_agree_with_torch_qubit(name):
    rng = np.random.default_rng(0)
    dev = qphys.device(name)
    circuits = [_measure(random_circuit(4, 30, rng), name != "aer.density_matrix") for _ in range(4)]
    # one batched circuit too
    x = torch.tensor([0.3, -0.8, 2.1], dtype=torch.float64)
    b = qphys.Circuit(wires=4).h(0).ry(x, 1).crz(x * 2, 1, 3).cx(0, 2).rzz(x, 2, 3).cp(0.7, 3, 0)
    circuits.append(_measure(b, name != "aer.density_matrix"))
    got = qphys.execute(circuits, dev)
    ref = qphys.execute(circuits, TQ)
    for g, r in zip(got, ref):
        for a, e in zip(g.values, r.values):
            a, e = a.numpy(), e.numpy()
            if np.iscomplexobj(e):  # states: equal up to a global phase
                k = np.argmax(np.abs(e), axis=-1)
                ph = np.take_along_axis(a, k[..., None], -1) / np.take_along_axis(e, k[..., None], -1)
                a = a / ph
            assert np.abs(a - e).max() < 1e-10
    assert dev.jobs_submitted == 1  # five circuits, five structures, one job


def test_shots_are_seeded_and_statistically_right():
    dev = qphys.device("aer.statevector", shots=20000, seed=3)
    c = qphys.Circuit(wires=2).ry(1.1, 0).cx(0, 1).expval(qphys.Z(0)).expval(qphys.X(1)).probs([1]).sample().counts()
    r1, r2 = qphys.execute(c, dev), qphys.execute(c, dev)
    assert torch.equal(r1.samples, r2.samples) and r1.counts == r2.counts
    z = float(np.cos(1.1))
    assert abs(float(r1.values[0]) - z) < 5 / np.sqrt(20000)
    assert abs(float(r1.values[1])) < 5 / np.sqrt(20000)
    assert r1.samples.shape == (20000, 2) and sum(r1.counts.values()) == 20000
    assert set(r1.counts) <= {"00", "11"}


def test_noise_model_exact_on_density_matrix_and_error_elsewhere():
    nm = NoiseModel()
    nm.add_all_qubit_quantum_error(depolarizing_error(0.2, 1), ["x"])
    c = qphys.Circuit(wires=1).x(0).expval(qphys.Z(0))
    val = float(qphys.execute(c, qphys.device("aer.density_matrix", noise_model=nm)).expvals[0])
    assert abs(val - (-(1 - 0.2))) < 1e-12  # Qiskit depolarizing_error(p): rho -> (1-p) rho + p I/2
    noisy_sv = qphys.device("aer.statevector", noise_model=nm)
    with pytest.raises(UnsupportedOperationError, match="aer.density_matrix for exact noisy values"):
        qphys.execute(c, noisy_sv)
    sampled = float(qphys.execute(c, noisy_sv, shots=20000, seed=1).expvals[0])
    assert abs(sampled - val) < 5 / np.sqrt(20000)
    with pytest.raises(DeviceOptionError, match="noise_model must be a qiskit_aer.noise.NoiseModel"):
        qphys.device("aer.statevector", noise_model="depolarizing")
    with pytest.raises(DeviceOptionError, match="unknown option"):
        qphys.device("aer.statevector", precision=0.1)


def _layer(device, n=4, layers=2):
    def circuit(x, w):
        c = angle_embedding(qphys.Circuit(wires=n), x)
        return hardware_efficient(c, w).expval(qphys.Z(0)).expval(qphys.Z(n - 1))

    torch.manual_seed(0)
    return QuantumLayer(circuit, {"w": (layers, n, 2)}, device=device, diff_method="parameter-shift")


@pytest.mark.parametrize("name", ["aer.statevector", "aer.matrix_product_state"])
def test_128_sample_parameter_shift_gradient_is_one_job(name):
    dev = qphys.device(name)
    layer = _layer(dev)
    x = torch.rand(128, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    before = dev.jobs_submitted
    out = layer(x.to(torch.get_default_dtype()))
    assert dev.jobs_submitted == before + 1
    out.pow(2).sum().backward()
    assert dev.jobs_submitted == before + 2  # forward: 1 job; the whole backward pass: 1 job
    stats = dev.job_stats()
    assert stats["transpilations"] == 1  # forward and all 32 shifted circuits share one structure
    # gradients equal torch.qubit's backprop
    ref = _layer(TQ)
    ref.w.data.copy_(layer.w.data)
    ref.diff_method = "backprop"
    ref(x.to(torch.get_default_dtype())).pow(2).sum().backward()
    assert torch.allclose(layer.w.grad, ref.w.grad, atol=1e-5)


def test_max_circuits_per_job_splits_rows():
    dev = qphys.device("aer.statevector", max_circuits_per_job=50)
    x = torch.linspace(0, 3, 128, dtype=torch.float64)
    c = qphys.Circuit(wires=2).ry(x, 0).cx(0, 1).expval(qphys.Z(1))
    r = qphys.execute(c, dev)
    assert dev.jobs_submitted == 3  # ceil(128 / 50)
    assert torch.allclose(r.expvals[:, 0], torch.cos(x), atol=1e-12)
    with pytest.raises(DeviceOptionError, match="max_circuits_per_job must be a positive integer"):
        qphys.device("aer.statevector", max_circuits_per_job=0)


def test_state_needs_exact_and_density_matrix_has_no_state():
    c = qphys.Circuit(wires=1).h(0).state()
    with pytest.raises(UnsupportedOperationError, match="not available with shots=10; run it with shots=None"):
        qphys.execute(c, "aer.statevector", shots=10)
    with pytest.raises(UnsupportedOperationError, match="does not support measurement 'state'"):
        qphys.execute(c, "aer.density_matrix")
