"""torch.qubit rejects what it cannot estimate before it simulates anything."""

import pytest

import qphys
from qphys.devices import torch_qubit
from qphys.errors import UnsupportedOperationError


def test_var_of_a_sum_with_shots_is_rejected_before_simulation(monkeypatch):
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before validating")

    monkeypatch.setattr(torch_qubit, "run_circuit", no_simulation)
    c = qphys.Circuit(wires=1).h(0).var(qphys.Z(0) + qphys.X(0))
    with pytest.raises(UnsupportedOperationError, match=r"var of a sum of 2 terms .* shots=None"):
        qphys.execute(c, qphys.device("torch.qubit", shots=100))


def test_var_of_a_single_term_with_shots_is_estimated():
    c = qphys.Circuit(wires=1).h(0).var(qphys.Z(0))
    v = qphys.execute(c, qphys.device("torch.qubit", shots=4000, seed=1)).values[0]
    assert abs(float(v) - 1.0) < 0.01  # Z on |+>: outcomes ±1, variance 1
