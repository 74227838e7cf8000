"""The conformance suite turns what a device lacks into skips (with the reason), never failures,
and still checks what the device has. Exercised on a deliberately limited device."""

from __future__ import annotations

from dataclasses import replace

import pytest

import qphys
from qphys.devices import Device
from qphys.errors import UnsupportedOperationError
from qphys.testing import DeviceSpec
from qphys.testing import conformance_qubit as suite
from qphys.testing.harness import CheckSkipped


class LimitedDevice(Device):
    """torch.qubit behind a small gate set, no state/var measurements, no Hermitian, max 3 wires,
    and a preprocess that refuses batched circuits."""

    name = "limited"

    def __init__(self, *, shots=None, seed=None):
        super().__init__(shots=shots, seed=seed)
        self.inner = qphys.device("torch.qubit", dtype="complex128")
        self.capabilities = replace(
            self.inner.capabilities,
            operations=frozenset({"h", "x", "cx", "ry", "rz", "rx", "crz"}),
            measurements=frozenset({"expval", "probs", "sample", "counts"}),
            observables=frozenset({"Pauli", "Prod", "Sum"}),
            max_wires=3,
            native_diff=(),
        )

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        if any(c.batch_size is not None for c in circuits):
            raise UnsupportedOperationError("device 'limited' does not run batched circuits")
        return circuits

    def execute(self, circuits, config):
        return self.inner.execute(circuits, config)


SPEC = DeviceSpec("limited", atol=1e-9)


def _skip_reason(fn, *args):
    with pytest.raises(CheckSkipped) as exc:
        fn(SPEC, LimitedDevice(), *args)
    return str(exc.value)


def test_missing_features_become_skips_with_reasons():
    assert "lacks operation(s) iswap" in _skip_reason(suite.test_gate, "iswap")
    assert "lacks operation(s) unitary" in _skip_reason(suite.test_unitary)
    assert "lacks operation(s) iswap" in _skip_reason(suite.test_state_up_to_global_phase)
    assert "lacks observable kind(s) Hermitian" in _skip_reason(suite.test_expval_hermitian)
    assert "lacks measurement(s) var" in _skip_reason(suite.test_var)
    assert "has 3 wires; this test needs 4" in _skip_reason(suite.test_probs_wire_subsets)
    assert "has no native differentiation" in _skip_reason(suite.test_gradient_native)
    # refused in preprocess (UnsupportedOperationError), not by the capabilities
    assert "does not run batched circuits" in _skip_reason(suite.test_batched_samples)


def test_supported_features_are_still_checked():
    dev = LimitedDevice()
    for gate in ("h", "x", "cx", "ry", "rz", "rx", "crz"):
        suite.test_gate(SPEC, dev, gate)
    suite.test_expval_pauli_words(SPEC, dev)
    with pytest.raises(CheckSkipped):
        suite.test_expval_sums(SPEC, dev)
    suite.test_sample_statistics(SPEC, dev)
    suite.test_counts_statistics(SPEC, dev)
    suite.test_basis_state_order(SPEC, dev)
    suite.test_gradient_parameter_shift(SPEC, dev, "expval")


def test_a_wrong_device_fails():
    """A device that computes the wrong thing is caught (the suite can fail)."""

    class WrongDevice(LimitedDevice):
        def execute(self, circuits, config):
            flipped = []
            for c in circuits:
                c2 = c.copy()
                c2.operations = [replace(op, name="rz") if op.name == "rx" else op for op in c.operations]
                flipped.append(c2)
            return self.inner.execute(flipped, config)

    with pytest.raises(AssertionError, match="max deviation"):
        suite.test_gate(SPEC, WrongDevice(), "rx")
