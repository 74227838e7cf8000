"""``torch.qubit`` against Qiskit's ``Statevector`` on random circuits over the whole gate set.

The Qiskit circuit is built here from the same gate list, independently of qphys. Qiskit is
little-endian (qubit 0 is the least significant bit); qphys wire ``w`` is mapped to Qiskit
qubit ``n - 1 - w`` so that both state vectors use the same basis-index order, and multi-qubit
matrices / prepared states are given to Qiskit with their wire list reversed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("qiskit")
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit.library import StatePreparation, UnitaryGate  # noqa: E402
from qiskit.quantum_info import SparsePauliOp, Statevector  # noqa: E402

import qphys  # noqa: E402
from qphys import X, Y, Z  # noqa: E402
from qphys.testing.reference import GATES  # noqa: E402

ATOL = 1e-10
_QISKIT_NAME = {"i": "id"}


def to_qiskit(n, ops, b=None):
    """Qiskit circuit of ``ops`` (batch element ``b`` of batched parameters)."""
    qc = QuantumCircuit(n)
    q = lambda w: n - 1 - w  # noqa: E731
    for name, wires, params in ops:
        if name == "state_prep":
            v = params[0][b] if (b is not None and np.ndim(params[0]) == 2) else params[0]
            qc.append(StatePreparation(v), [q(w) for w in reversed(wires)])
        elif name == "unitary":
            qc.append(UnitaryGate(params[0]), [q(w) for w in reversed(wires)])
        else:
            vals = [float(p[b]) if np.ndim(p) else float(p) for p in params]
            getattr(qc, _QISKIT_NAME.get(name, name))(*vals, *[q(w) for w in wires])
    return qc


def qiskit_state(n, ops, b=None):
    return Statevector(to_qiskit(n, ops, b)).data


@pytest.mark.parametrize("seed", range(12))
def test_random_circuits_state(seed, random_circuit, dev128):
    n = 3 + seed % 3
    c, ops = random_circuit(seed, n, 30, state_prep=seed % 4 == 0)
    psi = qphys.execute(c.state(), dev128).state.numpy()
    np.testing.assert_allclose(psi, qiskit_state(n, ops), atol=ATOL, rtol=0)


@pytest.mark.parametrize("seed", range(4))
def test_random_batched_circuits_state(seed, random_circuit, dev128):
    n, batch = 4, 3
    c, ops = random_circuit(100 + seed, n, 25, batch=batch)
    assert c.batch_size == batch
    psi = qphys.execute(c.state(), dev128).state.numpy()
    assert psi.shape == (batch, 2**n)
    for b in range(batch):
        np.testing.assert_allclose(psi[b], qiskit_state(n, ops, b), atol=ATOL, rtol=0)


def _pauli_label(word: dict, n: int) -> str:
    """Qiskit label: the rightmost character is qubit 0 = qphys wire n-1."""
    return "".join(word.get(w, "I") for w in range(n))  # wire 0 leftmost == qiskit qubit n-1 leftmost


@pytest.mark.parametrize("seed", range(4))
def test_random_circuits_probs_and_expvals(seed, random_circuit, dev128):
    n = 4
    c, ops = random_circuit(200 + seed, n, 30)
    words = [{0: "Z"}, {1: "X", 3: "Y"}, {0: "Y", 2: "Z", 3: "X"}]
    obs_list = [Z(0), X(1) @ Y(3), Y(0) @ Z(2) @ X(3)]
    for o in obs_list:
        c.expval(o)
    subsets = [(1,), (3, 0), (2, 0, 1)]
    for s in subsets:
        c.probs(s)
    r = qphys.execute(c, dev128)
    sv = Statevector(to_qiskit(n, ops))
    for k, w in enumerate(words):
        expected = sv.expectation_value(SparsePauliOp(_pauli_label(w, n))).real
        assert abs(float(r.values[k]) - expected) < ATOL
    for k, s in enumerate(subsets):
        # qiskit's qargs[0] is the least significant: list the wires reversed
        expected = sv.probabilities([n - 1 - w for w in reversed(s)])
        np.testing.assert_allclose(r.values[len(words) + k].numpy(), expected, atol=ATOL, rtol=0)


def test_every_gate_individually(dev128):
    """Each named gate on non-trivial wire orders after a random product state."""
    rng = np.random.default_rng(7)
    n = 3
    for name, (k, m, _) in GATES.items():
        for wires in {1: [(0,), (2,)], 2: [(0, 2), (2, 1)], 3: [(2, 0, 1), (1, 2, 0)]}[k]:
            prep = [("u", (w,), tuple(rng.uniform(-3, 3, 3))) for w in range(n)]
            ops = prep + [(name, wires, tuple(rng.uniform(-3, 3, m)))]
            c = qphys.Circuit(wires=n)
            for g, ws, ps in ops:
                getattr(c, g)(*[float(p) for p in ps], *ws)
            psi = qphys.execute(c.state(), dev128).state.numpy()
            np.testing.assert_allclose(psi, qiskit_state(n, ops), atol=ATOL, rtol=0, err_msg=f"{name} on {wires}")


def test_complex64_close_to_qiskit(random_circuit):
    n = 4
    c, ops = random_circuit(300, n, 30)
    psi = qphys.execute(c.state(), qphys.device("torch.qubit")).state
    assert psi.dtype == torch.complex64
    np.testing.assert_allclose(psi.numpy(), qiskit_state(n, ops), atol=2e-6, rtol=0)
