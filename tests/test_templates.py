"""Templates against independent implementations: Qiskit's ZZ feature map, PennyLane's
StronglyEntanglingLayers, analytic product states for angle embedding, amplitudes for
amplitude embedding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qphys
from qphys.errors import ParameterError, WireError
from qphys.templates import (
    amplitude_embedding,
    angle_embedding,
    hardware_efficient,
    strongly_entangling_layers,
    zz_feature_map,
)
from qphys.testing import reference as ref


def _state(c):
    return qphys.execute(c.state(), qphys.device("torch.qubit", dtype="complex128")).state.numpy()


@pytest.mark.parametrize("n,reps,entanglement", [(2, 2, "full"), (3, 2, "full"), (4, 1, "linear"), (3, 3, "circular")])
def test_zz_feature_map_equals_qiskit(n, reps, entanglement):
    pytest.importorskip("qiskit")
    from qiskit.circuit.library import zz_feature_map as qiskit_zz
    from qiskit.quantum_info import Statevector

    x = np.random.default_rng(n + reps).uniform(0, 2 * math.pi, n)
    qc = qiskit_zz(n, reps=reps, entanglement=entanglement)
    qc = qc.assign_parameters(dict(zip(qc.parameters, x)))  # parameters sort as x[0], x[1], ...
    # feature i sits on qiskit qubit i and on qphys wire i: reverse qiskit's (little-endian) order
    expected = Statevector(qc).reverse_qargs().data
    got = _state(zz_feature_map(qphys.Circuit(wires=n), torch.tensor(x), reps=reps, entanglement=entanglement))
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_zz_feature_map_batched_equals_unbatched():
    x = torch.rand(4, 3, dtype=torch.float64) * 2
    batched = _state(zz_feature_map(qphys.Circuit(wires=3), x))
    for b in range(4):
        np.testing.assert_allclose(batched[b], _state(zz_feature_map(qphys.Circuit(wires=3), x[b])), atol=1e-12)


@pytest.mark.parametrize("n,layers", [(2, 2), (3, 3), (4, 2)])
def test_strongly_entangling_equals_pennylane(n, layers):
    qml = pytest.importorskip("pennylane")
    w = np.random.default_rng(10 * n + layers).uniform(-math.pi, math.pi, (layers, n, 3))
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev)
    def circuit():
        qml.StronglyEntanglingLayers(w, wires=range(n))
        return qml.state()

    expected = np.asarray(circuit())
    got = _state(strongly_entangling_layers(qphys.Circuit(wires=n), torch.tensor(w)))
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("rotation", ["x", "y", "z"])
def test_angle_embedding_is_a_product_state(rotation):
    x = np.array([0.3, -1.2, 2.5])
    c = qphys.Circuit(wires=3)
    if rotation == "z":
        c.h(0).h(1).h(2)
    got = _state(angle_embedding(c, torch.tensor(x), rotation=rotation))
    single = {
        "x": lambda a: np.array([math.cos(a / 2), -1j * math.sin(a / 2)]),
        "y": lambda a: np.array([math.cos(a / 2), math.sin(a / 2)]),
        "z": lambda a: np.array([np.exp(-1j * a / 2), np.exp(1j * a / 2)]) / math.sqrt(2),
    }[rotation]
    expected = np.kron(np.kron(single(x[0]), single(x[1])), single(x[2]))
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_angle_embedding_batched_and_fewer_features():
    x = torch.rand(5, 2, dtype=torch.float64)
    c = angle_embedding(qphys.Circuit(wires=3), x, wires=[2, 0])
    assert c.batch_size == 5
    assert [(op.name, op.wires) for op in c.operations] == [("ry", (2,)), ("ry", (0,))]
    with pytest.raises(WireError, match=r"3 features need 3 wires but only 2 were given"):
        angle_embedding(qphys.Circuit(wires=2), torch.rand(3))


def test_amplitude_embedding():
    v = np.array([1.0, 2.0, 0.0, -2.0, 1.0, 0.5, 0.0, 3.0])
    got = _state(amplitude_embedding(qphys.Circuit(wires=3), torch.tensor(v), normalize=True))
    np.testing.assert_allclose(got, v / np.linalg.norm(v), atol=1e-12)
    # padding, a wire subset in non-sorted order, and a batch
    x = torch.tensor([[1.0, 1.0, 1.0], [0.0, 3.0, 4.0]], dtype=torch.float64)
    got = _state(amplitude_embedding(qphys.Circuit(wires=3), x, wires=[2, 0], normalize=True, pad_with=0.0))
    for b in range(2):
        amp = np.append(x[b].numpy(), 0.0)
        amp /= np.linalg.norm(amp)
        np.testing.assert_allclose(got[b], ref.embed_state(amp, [2, 0], 3), atol=1e-12)
    with pytest.raises(ParameterError, match=r"needs 4 features, got 3; pass pad_with=0.0"):
        amplitude_embedding(qphys.Circuit(wires=2), torch.rand(3))
    with pytest.raises(ParameterError, match=r"all zeros and cannot be normalized"):
        amplitude_embedding(qphys.Circuit(wires=1), torch.zeros(2), normalize=True)


def test_hardware_efficient_matches_reference_construction():
    w = np.random.default_rng(5).uniform(-3, 3, (2, 3, 2))
    got = _state(hardware_efficient(qphys.Circuit(wires=3), torch.tensor(w)))
    psi = np.zeros(8, dtype=complex)
    psi[0] = 1
    for layer in w:
        for q in range(3):
            psi = ref.embed(ref.gate_matrix("ry", [layer[q, 0]]), [q], 3) @ psi
            psi = ref.embed(ref.gate_matrix("rz", [layer[q, 1]]), [q], 3) @ psi
        for a, b in [(0, 1), (1, 2), (2, 0)]:
            psi = ref.embed(ref.gate_matrix("cx"), [a, b], 3) @ psi
    np.testing.assert_allclose(got, psi, atol=1e-12)
    with pytest.raises(ParameterError, match=r"weights must have shape \(layers, 3, 2\), got \(2, 3\)"):
        hardware_efficient(qphys.Circuit(wires=3), torch.rand(2, 3))
