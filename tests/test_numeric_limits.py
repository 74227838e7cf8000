"""Inputs at the edge of what the numbers can hold: huge angles are reduced in float64 (never a silent
``nan``), amplitudes a simulation cannot represent are refused before compute, the norm drift of
long complex64 runs is reported and warned, sampling memory is bounded (chunks) and ``sample()``'s
own memory is estimated, seeds and shots are validated before any submission."""

from __future__ import annotations

import math
import warnings
from unittest import mock

import numpy as np
import pytest
import torch

import qphys
import qphys.devices.torch_qubit as torch_qubit
from qphys import cv
from qphys.errors import ConfigError, ParameterError, ResourceError
from qphys.sim.statevector import NormDriftWarning


def _refuse_compute(*args, **kwargs):
    raise AssertionError("the device started computing")


@pytest.mark.parametrize("theta", [1e10, 1e39, 1e300, -1e300])
def test_huge_qubit_angles_give_the_float64_gate_in_complex64(theta):
    """float32 cannot hold 1e39 (it overflowed to nan) and keeps no phase at 1e10."""
    c = qphys.Circuit(wires=2).rx(theta, 0).ry(0.2, 1).crz(theta, 0, 1).expval(qphys.Z(0)).expval(qphys.X(1))
    r64 = qphys.execute(c, qphys.device("torch.qubit", dtype="complex64")).expvals
    assert torch.isfinite(r64).all()
    assert abs(float(r64[0]) - math.cos(theta)) < 1e-5  # <Z> after rx(theta) on |0>
    r128 = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128")).expvals
    torch.testing.assert_close(r64.double(), r128, atol=2e-5, rtol=0)


def test_huge_batched_angles_in_float64_tensors():
    theta = torch.tensor([1e39, 3e200, 0.4], dtype=torch.float64)
    c = qphys.Circuit(wires=1).rx(theta, 0).expval(qphys.Z(0))
    r = qphys.execute(c, qphys.device("torch.qubit", dtype="complex64")).expvals
    expected = torch.tensor([math.cos(t) for t in theta.tolist()], dtype=torch.float64)
    torch.testing.assert_close(r.double().reshape(-1), expected, atol=1e-5, rtol=0)


def test_huge_photonic_phases_are_reduced():
    """A phase of 1e300 is the phase 1e300 mod 2π (float64 sin/cos reduce it exactly)."""
    phi = 1e300
    reduced = math.atan2(math.sin(phi), math.cos(phi))
    for name, kw in (("torch.fock", {"cutoff": 12, "dtype": "complex64"}), ("torch.gaussian", {"dtype": "float32"})):
        dev = qphys.device(name, **kw)
        huge = qphys.Circuit(modes=1).displacement(0.4, phi, 0).rotation(phi, 0).expval(cv.X(0)).expval(cv.P(0))
        small = qphys.Circuit(modes=1).displacement(0.4, reduced, 0).rotation(reduced, 0).expval(cv.X(0)).expval(cv.P(0))
        a, b = qphys.execute(huge, dev).expvals, qphys.execute(small, dev).expvals
        assert torch.isfinite(a).all(), name
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("device", "build", "match"), [
    ("torch.fock", lambda c: c.displacement(1e300, 0.0, 0), r"displacement r=1e\+300 .* use torch\.gaussian"),
    ("torch.gaussian", lambda c: c.squeezing(1e300, 0.0, 0), r"squeezing r=1e\+300 .* use a smaller r"),
    ("torch.gaussian", lambda c: c.displacement(1e300, 0.0, 0), r"displacement r=1e\+300 .* use a smaller r"),
])
def test_amplitudes_beyond_the_simulation_are_refused_before_compute(device, build, match):
    dev = qphys.device(device)
    circuit = build(qphys.Circuit(modes=1)).expval(cv.X(0))
    with mock.patch.object(type(dev), "execute", _refuse_compute), pytest.raises(ParameterError, match=match):
        qphys.execute(circuit, dev)


def _long_circuit(pairs):
    c = qphys.Circuit(wires=2)
    for i in range(pairs):
        c.rx(0.1 * (i % 7 + 1), i % 2).cx(0, 1)
    return c.expval(qphys.Z(0))


def test_norm_drift_is_reported_and_warned_in_complex64_only():
    c = _long_circuit(1000)
    with pytest.warns(NormDriftWarning, match=r"norm drifted by .* use dtype='complex128'"):
        r = qphys.execute(c, qphys.device("torch.qubit", dtype="complex64"))
    assert 1e-5 < r.metadata["norm_drift"] < 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", NormDriftWarning)
        r = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128"))
    assert r.metadata["norm_drift"] < 1e-12
    quiet = qphys.device("torch.qubit", dtype="complex64", norm_tolerance=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NormDriftWarning)
        assert qphys.execute(c, quiet).metadata["norm_drift"] > 1e-5


def test_sample_memory_is_estimated_and_counts_need_none_per_shot():
    """shots=10**9 of sample() would hold 24 GB of bits: refused with the fix; counts() are estimated in
    chunks, so their memory does not grow with the shots."""
    dev = qphys.device("torch.qubit", max_memory=2**30)
    sampled = qphys.Circuit(wires=3).h(0).cx(0, 1).sample()
    with mock.patch.object(type(dev), "execute", _refuse_compute), \
            pytest.raises(ResourceError, match=r"with 1000000000 shots .* use fewer shots, or measure counts\(\)"):
        qphys.execute(sampled, dev, shots=10**9)
    counted = qphys.Circuit(wires=3).h(0).cx(0, 1).counts()
    assert dev.memory_estimate(counted, 10**9) == dev.memory_estimate(counted, 10**7) < 2**28


def test_chunked_sampling_matches_one_chunk(monkeypatch):
    """Counts and expectation values drawn in many small chunks are exact tallies of the same
    distribution: every shot lands, and the estimates agree with the exact values."""
    c = qphys.Circuit(wires=3).h(0).cx(0, 1).ry(0.7, 2).counts().expval(qphys.Z(2)).probs([0, 1])
    dev = qphys.device("torch.qubit", dtype="complex128")
    from qphys.sim.statevector.measure import sample_bytes_per_shot

    # 4000 shots per chunk: 10 chunks
    monkeypatch.setattr(torch_qubit, "SAMPLE_CHUNK_BYTES", 4000 * sample_bytes_per_shot(3))
    calls = []
    accumulate = torch_qubit._accumulate
    monkeypatch.setattr(torch_qubit, "_accumulate", lambda *a: calls.append(1) or accumulate(*a))
    shots = 40_000
    r = qphys.execute(c, dev, shots=shots, seed=5)
    assert len(calls) >= 10  # drawn in chunks
    counts, z2, probs = r.values
    assert sum(counts.values()) == shots and set(counts) <= {"000", "001", "110", "111"}
    assert abs(float(z2) - math.cos(0.7)) < 4 / math.sqrt(shots)
    np.testing.assert_allclose(probs.numpy(), [0.5, 0, 0, 0.5], atol=4 / math.sqrt(shots))


@pytest.mark.parametrize("seed", [2**63, 2**70, -1])
def test_seeds_are_validated_before_any_submission(seed):
    with pytest.raises(ConfigError, match=r"seed must be in \[0, 2\*\*63\)"):
        qphys.execute(qphys.Circuit(wires=1).h(0).counts(), "torch.qubit", shots=10, seed=seed)
    pytest.importorskip("qiskit_aer")
    dev = qphys.device("aer.statevector", shots=10, ledger=False)
    with mock.patch.object(type(dev), "execute", _refuse_compute), pytest.raises(ConfigError, match="seed must be"):
        qphys.execute(qphys.Circuit(wires=1).h(0).counts(), dev, seed=seed)
    with pytest.raises(ConfigError, match="seed must be"):
        qphys.device("aer.statevector", seed=seed)
