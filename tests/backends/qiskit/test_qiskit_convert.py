"""Conversion qphys <-> Qiskit <-> OpenQASM 3, checked against Qiskit's Statevector and torch.qubit."""

import math

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator, Statevector
from qphys_qiskit import from_qasm3, from_qiskit, parameter_values, to_qasm3, to_qiskit, to_sparse_pauli_op
from qphys_qiskit.convert import reverse_bits_axis
from qphys_qiskit_testutil import random_circuit

import qphys
from qphys.errors import ParameterError, UnsupportedOperationError

TQ = qphys.device("torch.qubit", dtype="complex128")


def _state(c):
    c = c.copy()
    c.measurements = []
    c.state()
    return qphys.execute(c, TQ).state.numpy()


def _qiskit_state(qc):
    return reverse_bits_axis(Statevector(qc).data, qc.num_qubits)


@pytest.mark.parametrize("seed", range(6))
def test_to_qiskit_state_matches_torch_qubit(seed):
    rng = np.random.default_rng(seed)
    c = random_circuit(4, 30, rng)
    assert np.abs(_qiskit_state(to_qiskit(c, bind=True)) - _state(c)).max() < 1e-12


def test_unitary_and_state_prep_wire_order():
    rng = np.random.default_rng(3)
    m = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))[0]
    v = rng.normal(size=4) + 1j * rng.normal(size=4)
    v /= np.linalg.norm(v)
    c = qphys.Circuit(wires=3).state_prep(v, wires=[2, 0]).unitary(m, wires=[0, 1]).cx(2, 1)
    assert np.abs(_qiskit_state(to_qiskit(c, bind=True)) - _state(c)).max() < 1e-12


def test_parameters_bind_many_values():
    x = torch.tensor([0.1, 0.7, -1.2], dtype=torch.float64)
    c = qphys.Circuit(wires=2).ry(x, 0).cx(0, 1).rz(0.4, 1)
    qc = to_qiskit(c)
    vals = parameter_values(c)
    assert qc.num_parameters == 2 and vals.shape == (3, 2)
    for b in range(3):
        single = qphys.Circuit(wires=2).ry(float(x[b]), 0).cx(0, 1).rz(0.4, 1)
        assert np.abs(_qiskit_state(qc.assign_parameters(vals[b])) - _state(single)).max() < 1e-12
    with pytest.raises(ParameterError, match="cannot bind a batched circuit"):
        to_qiskit(c, bind=True)


def test_from_qiskit_roundtrip_and_wire_order():
    rng = np.random.default_rng(11)
    c = random_circuit(3, 25, rng)
    back = from_qiskit(to_qiskit(c, bind=True), measurements="drop")
    assert np.abs(_state(back) - _state(c)).max() < 1e-12
    qc = QuantumCircuit(2)
    qc.x(1)  # qubit 1 -> wire 1, the least significant bit in qphys: |01>
    assert np.argmax(np.abs(_state(from_qiskit(qc)))) == 1


def test_from_qiskit_decomposes_unknown_gates_and_keeps_global_phase():
    qc = QuantumCircuit(3, global_phase=0.7)
    qc.h(0)
    qc.ecr(0, 1)
    qc.rzx(0.3, 1, 2)
    qc.cu(0.2, 0.3, 0.4, 0.5, 2, 0)
    c = from_qiskit(qc)
    assert {op.name for op in c.operations} <= set(qphys.ops.registered_names("qubit"))
    assert np.abs(_state(c) - _qiskit_state(qc)).max() < 1e-12


def test_from_qiskit_tensor_parameters_and_expressions():
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    qc.ry(2 * a + 0.5, 0)
    qc.rx(b, 1)
    qc.cx(0, 1)
    x = torch.tensor([0.1, 0.4], dtype=torch.float64, requires_grad=True)
    c = from_qiskit(qc, params={"a": x, b: 0.3})
    assert c.batch_size == 2
    c.expval(qphys.Z(1))
    out = qphys.execute(c, TQ).expvals.sum()
    out.backward()
    assert x.grad is not None and x.grad.shape == (2,)
    for k in range(2):
        bound = qc.assign_parameters({a: float(x[k].detach()), b: 0.3})
        z1 = Statevector(bound).expectation_value(to_sparse_pauli_op(qphys.Z(1), 2)).real
        single = from_qiskit(qc, params=[float(x[k].detach()), 0.3]).expval(qphys.Z(1))
        assert abs(float(qphys.execute(single, TQ).expvals[0]) - z1) < 1e-12


def test_from_qiskit_errors():
    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(UnsupportedOperationError, match="mid-circuit"):
        from_qiskit(qc)
    qp = QuantumCircuit(1)
    qp.rx(Parameter("t"), 0)
    with pytest.raises(ParameterError, match="no value for Qiskit parameter"):
        from_qiskit(qp)


def test_terminal_measurements_become_counts():
    qc = QuantumCircuit(2, 2)
    qc.x(0)
    qc.measure([0, 1], [0, 1])
    c = from_qiskit(qc)
    assert c.measurements[-1].kind == "counts" and c.measurements[-1].wires == (0, 1)
    r = qphys.execute(c, "torch.qubit", shots=10, seed=1)
    assert r.counts == {"10": 10}


def test_sparse_pauli_op_matches_observable_matrix():
    rng = np.random.default_rng(5)
    h = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    h = h + h.conj().T
    obs = 0.5 * qphys.Z(0) @ qphys.X(2) - 1.5 * qphys.Y(1) + qphys.Hermitian(h, [2, 0])
    op = to_sparse_pauli_op(obs, 3)
    qiskit_matrix = Operator(op).data  # little-endian
    perm = reverse_bits_axis(np.arange(8), 3)
    assert np.abs(qiskit_matrix[np.ix_(perm, perm)] - obs.matrix([0, 1, 2])).max() < 1e-12


def test_qasm3_roundtrip():
    rng = np.random.default_rng(2)
    c = random_circuit(3, 20, rng)
    text = to_qasm3(c)
    assert text.startswith("OPENQASM 3.0;")
    back = from_qasm3(text, measurements="drop")
    assert np.abs(_state(back) - _state(c)).max() < 1e-9
    param_text = to_qasm3(qphys.Circuit(wires=1).rx(0.3, 0), bind=False)
    assert "input float[64]" in param_text
    back = from_qasm3(param_text, params={"_p_0_": math.pi})
    assert np.abs(_state(back) - _state(qphys.Circuit(wires=1).rx(math.pi, 0))).max() < 1e-12


def test_cv_circuit_is_rejected():
    with pytest.raises(UnsupportedOperationError, match="only qubit circuits"):
        to_qiskit(qphys.Circuit(modes=1))
