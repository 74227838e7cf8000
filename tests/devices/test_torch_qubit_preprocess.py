"""torch.qubit rejects what it cannot estimate before it simulates anything."""

import math

import pytest

import qphys
from qphys.devices import torch_qubit
from qphys.errors import UnsupportedOperationError


def test_var_of_a_non_commuting_sum_with_shots_is_rejected_before_simulation(monkeypatch):
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before validating")

    monkeypatch.setattr(torch_qubit, "run_circuit", no_simulation)
    c = qphys.Circuit(wires=1).h(0).var(qphys.Z(0) + qphys.X(0))
    with pytest.raises(UnsupportedOperationError, match=r"var\(.*\) with shots needs all terms measurable in one "
                       r"basis \(qubit-wise commuting\); use shots=None"):
        qphys.execute(c, qphys.device("torch.qubit", shots=100))


def test_var_of_a_qubit_wise_commuting_sum_with_shots_is_estimated():
    """Z0 + Z0 Z1 fits one setting; with wire 1 in |0> it acts as 2 Z0, variance 4 sin²θ."""
    theta = 1.1
    c = qphys.Circuit(wires=2).ry(theta, 0).var(qphys.Z(0) + qphys.Z(0) @ qphys.Z(1))
    v = float(qphys.execute(c, qphys.device("torch.qubit", shots=20000, seed=2)).values[0])
    exact = 4 * math.sin(theta) ** 2
    assert abs(v - exact) < 0.05, (v, exact)


def test_var_of_a_single_term_with_shots_is_estimated():
    c = qphys.Circuit(wires=1).h(0).var(qphys.Z(0))
    v = qphys.execute(c, qphys.device("torch.qubit", shots=4000, seed=1)).values[0]
    assert abs(float(v) - 1.0) < 0.01  # Z on |+>: outcomes ±1, variance 1
