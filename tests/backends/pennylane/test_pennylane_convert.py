"""Circuit conversion qphys <-> PennyLane, checked against PennyLane's own matrices and simulator."""

import math

import numpy as np
import pennylane as qml
import pytest
import torch
from qphys_pennylane import from_pennylane, to_pennylane
from qphys_pennylane.convert import observable_from_pennylane, observable_to_pennylane

import qphys
from qphys.errors import UnsupportedOperationError, WireError
from qphys.ops import get_spec
from qphys.ops.qubit import QUBIT_GATES

PARAMS = (0.37, -1.21, 2.05)


def _qphys_matrix(name, params):
    spec = get_spec(name)
    return spec.matrix(*[torch.tensor(p, dtype=torch.float64) for p in params], dtype=torch.complex128).numpy()


@pytest.mark.parametrize("name", [g for g in QUBIT_GATES if g not in ("unitary", "state_prep")])
def test_gate_matrices_agree(name):
    """Each converted gate has exactly PennyLane's matrix (both: wire 0 = most significant bit)."""
    spec = get_spec(name)
    params = PARAMS[: spec.num_params]
    c = qphys.Circuit(wires=spec.num_wires).append(name, tuple(range(spec.num_wires)), params)
    (op,) = to_pennylane(c).operations
    expected = qml.matrix(op, wire_order=range(spec.num_wires))
    np.testing.assert_allclose(_qphys_matrix(name, params), expected, atol=1e-12)
    back = from_pennylane(qml.tape.QuantumScript([op]))
    assert [o.name for o in back.operations] == [name]


def _random_circuit(rng, n=3, depth=12):
    c = qphys.Circuit(wires=n)
    names = ["h", "rx", "ry", "rz", "cx", "crz", "rzz", "u", "iswap", "sdg", "tdg", "cp", "ccx"]
    for _ in range(depth):
        name = names[rng.integers(len(names))]
        spec = get_spec(name)
        wires = tuple(int(w) for w in rng.permutation(n)[: spec.num_wires])
        c.append(name, wires, [float(x) for x in rng.uniform(-math.pi, math.pi, spec.num_params)])
    return c


def test_round_trip_states_match_pennylane():
    rng = np.random.default_rng(3)
    for _ in range(5):
        c = _random_circuit(rng).state()
        ours = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128")).state.numpy()
        tape = to_pennylane(c)
        theirs = qml.execute([tape], qml.device("default.qubit", wires=3))[0]
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
        back = from_pennylane(tape)
        again = qphys.execute(back, qphys.device("torch.qubit", dtype="complex128")).state.numpy()
        np.testing.assert_allclose(again, ours, atol=1e-12)


def test_from_pennylane_decomposes_foreign_ops_and_keeps_values():
    ops = [qml.Rot(0.1, 0.2, 0.3, wires=0), qml.MultiRZ(0.4, wires=[0, 1, 2]), qml.QFT(wires=[1, 2]),
           qml.ECR(wires=[2, 0])]
    meas = [qml.expval(qml.X(0) @ qml.Y(2)), qml.var(qml.Hadamard(1)), qml.probs(wires=[2, 0])]
    tape = qml.tape.QuantumScript(ops, meas)
    c = from_pennylane(tape)
    assert {o.name for o in c.operations} <= set(QUBIT_GATES)
    assert [m.kind for m in c.measurements] == ["expval", "var", "probs"]
    r = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128"))
    expected = qml.execute([tape], qml.device("default.qubit"))[0]
    for got, exp in zip(r.values, expected):
        np.testing.assert_allclose(got.numpy(), exp, atol=1e-12)


def test_from_pennylane_wire_labels():
    tape = qml.tape.QuantumScript([qml.X("b")], [qml.probs(wires=["a", "b"])])
    c = from_pennylane(tape, wire_order=["a", "b"])
    assert c.operations[0].wires == (1,)
    assert c.measurements[0].wires == (0, 1)
    # integer labels keep their index, idle lower wires included
    c = from_pennylane(qml.tape.QuantumScript([qml.X(2)], [qml.expval(qml.Z(2))]))
    assert c.num_wires == 3 and c.operations[0].wires == (2,)
    with pytest.raises(WireError, match=r"tape wires \['b'\] are not in wire_order"):
        from_pennylane(tape, wire_order=["a"])


def test_from_pennylane_state_prep_and_basis_state():
    state = np.array([1, 1j, -1, 0.5], dtype=complex)
    state /= np.linalg.norm(state)
    tape = qml.tape.QuantumScript([qml.StatePrep(state, wires=[0, 1]), qml.CNOT([0, 1])], [qml.state()])
    c = from_pennylane(tape)
    assert [o.name for o in c.operations] == ["state_prep", "cx"]
    got = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128")).state.numpy()
    np.testing.assert_allclose(got, qml.execute([tape], qml.device("default.qubit"))[0], atol=1e-12)
    c = from_pennylane(qml.tape.QuantumScript([qml.BasisState(np.array([1, 0, 1]), wires=[0, 1, 2])],
                                              [qml.probs()]))
    assert [(o.name, o.wires) for o in c.operations] == [("x", (0,)), ("x", (2,))]


def test_batched_circuit_becomes_broadcast_tape():
    thetas = torch.tensor([0.1, 0.5, 0.9])
    c = qphys.Circuit(wires=1).rx(thetas, 0).expval(qphys.Z(0))
    tape = to_pennylane(c)
    assert tape.batch_size == 3
    back = from_pennylane(tape)
    assert back.batch_size == 3
    r = qphys.execute(back, qphys.device("torch.qubit", dtype="complex128"))
    np.testing.assert_allclose(r.expvals[:, 0].numpy(), np.cos(thetas.numpy()), atol=1e-6)


def test_torch_parameters_keep_gradients_through_conversion():
    theta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    tape = to_pennylane(qphys.Circuit(wires=1).ry(theta, 0).expval(qphys.Z(0)))
    (val,) = qml.execute([tape], qml.device("default.qubit"), diff_method="backprop", interface="torch")
    val.backward()
    assert theta.grad is not None
    assert abs(float(theta.grad) + math.sin(0.7)) < 1e-12


def test_observables_both_ways():
    H = 0.5 * qphys.Z(0) @ qphys.Z(1) - 1.5 * qphys.X(2) + qphys.Hermitian(np.diag([1.0, 3.0]), 1)
    pl = observable_to_pennylane(H)
    np.testing.assert_allclose(qml.matrix(pl, wire_order=[0, 1, 2]), H.matrix([0, 1, 2]), atol=1e-12)
    back = observable_from_pennylane(pl, {0: 0, 1: 1, 2: 2})
    np.testing.assert_allclose(back.matrix([0, 1, 2]), H.matrix([0, 1, 2]), atol=1e-12)
    proj = observable_from_pennylane(qml.Projector([1, 0], wires=[0, 1]), {0: 0, 1: 1})
    np.testing.assert_allclose(proj.matrix([0, 1]), np.diag([0, 0, 1, 0]), atol=1e-12)
    # trainable coefficients cannot become constant qphys observables
    coeff = torch.tensor(0.3, requires_grad=True)
    assert observable_from_pennylane(qml.s_prod(coeff, qml.Z(0)), {0: 0}) is None


def test_unsupported_measurements_and_circuits_raise():
    tape = qml.tape.QuantumScript([qml.H(0)], [qml.vn_entropy(wires=[0])])
    with pytest.raises(UnsupportedOperationError, match=r"has no qphys equivalent"):
        from_pennylane(tape)
    with pytest.raises(UnsupportedOperationError, match=r"converts qubit circuits only"):
        to_pennylane(qphys.Circuit(modes=1))
