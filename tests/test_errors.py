"""Every bad-input case of the core raises a ``qphys.errors`` exception (type AND message),
before any simulation runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qphys
from qphys import Hermitian, X, Z
from qphys.devices import RunConfig
from qphys.devices.torch_qubit import TorchQubitDevice
from qphys.errors import (
    BatchSizeError,
    ConfigError,
    DeviceNotFoundError,
    DeviceOptionError,
    DifferentiationError,
    MatrixError,
    ObservableError,
    ParameterError,
    QphysError,
    ResourceError,
    UnsupportedOperationError,
    WireError,
)


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail loudly if torch.qubit starts simulating (errors must come first)."""
    from qphys.devices import torch_qubit as tq

    def boom(*args, **kwargs):
        raise AssertionError("simulation started before the input was validated")

    monkeypatch.setattr(tq, "run_circuit", boom)


# ---- wires ----------------------------------------------------------------------------------
def test_wire_out_of_range():
    with pytest.raises(WireError, match=r"rx: wire 3 is out of range for a circuit with 2 wires \(valid: 0\.\.1\)"):
        qphys.Circuit(wires=2).rx(0.1, 3)
    with pytest.raises(WireError, match=r"cx: wire -1 is negative; wires are numbered 0\.\.1 .*the last wire is 1"):
        qphys.Circuit(wires=2).cx(0, -1)
    with pytest.raises(WireError) as info:  # the fix must not be the impossible Circuit(wires=0)
        qphys.Circuit(wires=2).h(-1)
    assert "Circuit(wires=" not in str(info.value)
    with pytest.raises(WireError, match=r"build Circuit\(wires=5\)"):
        qphys.Circuit(wires=2).h(4)


def test_observable_wire_out_of_range():
    with pytest.raises(WireError, match=r"acts on wire 2, but the circuit has wires 0\.\.1"):
        qphys.Circuit(wires=2).expval(Z(0) @ X(2))
    with pytest.raises(WireError, match=r"probs: wire 5 is out of range"):
        qphys.Circuit(wires=2).probs([0, 5])


def test_repeated_wire_in_one_gate():
    with pytest.raises(WireError, match=r"cx: wires \(1, 1\) repeat a wire; each must be distinct"):
        qphys.Circuit(wires=2).cx(1, 1)
    with pytest.raises(WireError, match=r"ccx: wires \(0, 2, 0\) repeat a wire"):
        qphys.Circuit(wires=3).ccx(0, 2, 0)
    with pytest.raises(WireError, match=r"unitary: wires \(0, 0\) repeat a wire"):
        qphys.Circuit(wires=2).unitary(np.eye(4), [0, 0])
    with pytest.raises(WireError, match=r"uses wire\(s\) \[1\] twice"):
        Z(1) @ X(1)


def test_wrong_number_of_wires_or_params():
    with pytest.raises(WireError, match=r"cx acts on 2 wire\(s\), got 1"):
        qphys.Circuit(wires=2).append("cx", (0,))
    with pytest.raises(ParameterError, match=r"rx takes 1 parameter\(s\) \(theta\), got 2; pass exactly those"):
        qphys.Circuit(wires=2).append("rx", (0,), (0.1, 0.2))


# ---- batches and parameters -------------------------------------------------------------------
def test_mismatched_batch_sizes():
    c = qphys.Circuit(wires=2).rx(torch.rand(3), 0)
    with pytest.raises(BatchSizeError, match=r"ry: batch size 4 differs from batch size 3 set by rx"):
        c.ry(torch.rand(4), 1)
    with pytest.raises(BatchSizeError, match=r"unitary: batch size 2 differs from batch size 3"):
        c.unitary(torch.eye(2, dtype=torch.complex128).expand(2, 2, 2), 1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_parameter(bad):
    with pytest.raises(ParameterError, match=r"rx: parameter is (nan|inf|-inf); gate parameters must be finite"):
        qphys.Circuit(wires=1).rx(bad, 0)
    with pytest.raises(ParameterError, match=r"ry: parameter contains nan or inf"):
        qphys.Circuit(wires=1).ry(torch.tensor([0.1, bad]), 0)


def test_parameter_types():
    with pytest.raises(ParameterError, match=r"rz: parameter must be real, got complex"):
        qphys.Circuit(wires=1).rz(1j, 0)
    with pytest.raises(ParameterError, match=r"parameter has shape \(2, 2\); use a scalar or a 1-D tensor"):
        qphys.Circuit(wires=1).rz(torch.zeros(2, 2), 0)
    with pytest.raises(ParameterError, match=r"parameter must be a float or a torch tensor, got '0\.1' \(str\); pass a float"):
        qphys.Circuit(wires=1).rz("0.1", 0)


# ---- matrices ---------------------------------------------------------------------------------
def test_unitary_wrong_shape():
    with pytest.raises(MatrixError, match=r"unitary on 1 wire\(s\) needs a 2x2 matrix \(or \(B, 2, 2\)\), got shape \(3, 3\)"):
        qphys.Circuit(wires=2).unitary(np.eye(3), 0)
    with pytest.raises(MatrixError, match=r"unitary on 2 wire\(s\) needs a 4x4 matrix"):
        qphys.Circuit(wires=2).unitary(np.eye(2), [0, 1])


def test_non_unitary_matrix():
    with pytest.raises(MatrixError, match=r"unitary matrix is not unitary \(max \|U U\^dagger - I\| = .*\); orthonormalize it"):
        qphys.Circuit(wires=1).unitary(np.array([[1.0, 1.0], [0.0, 1.0]]), 0)
    with pytest.raises(MatrixError, match=r"non-finite entries"):
        qphys.Circuit(wires=1).unitary(np.array([[np.nan, 0], [0, 1.0]]), 0)


def test_non_hermitian_observable():
    with pytest.raises(MatrixError, match=r"Hermitian matrix is not Hermitian \(max \|M - M\^dagger\| = .*\); symmetrize it"):
        Hermitian(np.array([[0.0, 1.0], [0.0, 0.0]]), 0)
    with pytest.raises(MatrixError, match=r"Hermitian on 2 wire\(s\) needs a 4x4 matrix, got shape \(2, 2\)"):
        Hermitian(np.eye(2), [0, 1])


def test_state_prep_errors():
    with pytest.raises(ParameterError, match=r"not normalized .*divide by the norm"):
        qphys.Circuit(wires=1).state_prep(torch.tensor([1.0, 1.0]))
    with pytest.raises(MatrixError, match=r"state_prep on 2 wire\(s\) needs 4 amplitudes"):
        qphys.Circuit(wires=2).state_prep(torch.tensor([1.0, 0.0]))
    with pytest.raises(UnsupportedOperationError, match=r"state_prep must be the first operation"):
        qphys.Circuit(wires=1).h(0).state_prep(torch.tensor([1.0, 0.0]))


def test_not_an_observable():
    with pytest.raises(ObservableError, match=r"expval needs an observable such as qphys.Z\(0\), got 'Z0' \(str\)"):
        qphys.Circuit(wires=1).expval("Z0")


# ---- devices ----------------------------------------------------------------------------------
def test_unknown_device_lists_installed():
    with pytest.raises(DeviceNotFoundError, match=r"no device named 'nosuch\.qubit'\. Installed: .*torch\.qubit"):
        qphys.device("nosuch.qubit")
    with pytest.raises(DeviceNotFoundError, match=r"no device named 'bogus'"):
        qphys.execute(qphys.Circuit(wires=1).expval(Z(0)), "bogus")


def test_unknown_device_option():
    with pytest.raises(
        DeviceOptionError,
        match=r"device 'torch\.qubit' got unknown option\(s\) precision; its options are: .*dtype.*torch_device",
    ):
        qphys.device("torch.qubit", precision="double")
    with pytest.raises(DeviceOptionError, match=r"dtype must be 'complex64' or 'complex128', got 'float32'"):
        qphys.device("torch.qubit", dtype="float32")


@pytest.mark.parametrize("shots", [0, -5])
def test_non_positive_shots(shots, no_simulation):
    msg = rf"shots must be a positive integer or None \(exact\), got {shots}"
    with pytest.raises(ConfigError, match=msg):
        qphys.device("torch.qubit", shots=shots)
    with pytest.raises(ConfigError, match=msg):
        RunConfig(shots=shots)
    with pytest.raises(ConfigError, match=msg):
        qphys.execute(qphys.Circuit(wires=1).h(0).expval(Z(0)), "torch.qubit", shots=shots)
    with pytest.raises(ConfigError, match=r"shots must be a positive integer or None \(exact\), got 2\.5"):
        RunConfig(shots=2.5)


def test_too_many_qubits_for_memory(no_simulation):
    # max_memory: nothing near the estimate is ever allocated
    dev = qphys.device("torch.qubit", max_memory=1024)
    c = qphys.Circuit(wires=10).h(0).expval(Z(0))
    need = 2**10 * 8 * TorchQubitDevice.WORKSPACE_FACTOR
    with pytest.raises(ResourceError, match=rf"simulating 10 qubits .*needs about 32\.0 KiB \({need} bytes\) but only 1\.0 KiB"):
        qphys.execute(c, dev)
    # a qubit count no machine holds, on the default memory limit
    big = qphys.Circuit(wires=64).h(63).expval(Z(0))
    with pytest.raises(ResourceError, match=r"simulating 64 qubits .* bytes\) but only .* is available; use fewer qubits"
                       r", dtype='complex64' \(half the memory\) or a matrix-product-state device"):
        qphys.execute(big, qphys.device("torch.qubit", dtype="complex128"))
    # complex64 is already in use: the message must not suggest it (nor a batch that is not there)
    with pytest.raises(ResourceError) as info:
        qphys.execute(big, qphys.device("torch.qubit"))
    assert "complex64" in str(info.value) and "dtype='complex64'" not in str(info.value)
    assert "batch" not in str(info.value).split("available;")[1]
    batched = qphys.Circuit(wires=40).ry(torch.zeros(3), 0).expval(Z(0))
    with pytest.raises(ResourceError, match=r"use fewer qubits, a smaller batch or a matrix-product-state"):
        qphys.execute(batched, qphys.device("torch.qubit"))


def test_sample_needs_shots(no_simulation):
    with pytest.raises(UnsupportedOperationError, match=r"measurement 'sample' needs shots; pass shots=N"):
        qphys.execute(qphys.Circuit(wires=1).h(0).sample(), "torch.qubit")


def test_no_measurement(no_simulation):
    with pytest.raises(UnsupportedOperationError, match=r"circuit has no measurements; add one"):
        qphys.execute(qphys.Circuit(wires=1).h(0), "torch.qubit")


def test_unknown_diff_method_and_backprop_with_shots(no_simulation):
    c = qphys.Circuit(wires=1).rx(torch.tensor(0.1, requires_grad=True), 0).expval(Z(0))
    with pytest.raises(DifferentiationError, match=r"unknown diff_method 'magic'; choose one of best, backprop"):
        qphys.execute(c, "torch.qubit", diff_method="magic")
    with pytest.raises(DifferentiationError, match=r"cannot backpropagate: it samples \(shots set\)"):
        qphys.execute(c, qphys.device("torch.qubit", shots=10), diff_method="backprop")


def test_unknown_operation():
    with pytest.raises(UnsupportedOperationError, match=r"unknown operation 'foo'; known operations: .*cx"):
        qphys.Circuit(wires=1).append("foo", 0)


def test_all_errors_share_the_root():
    for cls in (WireError, BatchSizeError, ParameterError, MatrixError, DeviceNotFoundError, ResourceError):
        assert issubclass(cls, QphysError)
