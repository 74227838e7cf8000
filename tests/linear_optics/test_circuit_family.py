"""The linear-optical circuit family: building, validation errors, measurements and the
``torch.linear_optics`` device against independent references (permanents from thewalrus,
``torch.fock`` through heralded two-mode squeezing, Perceval in tests/backends/perceval)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from thewalrus import perm

import qphys
from qphys import linear_optics as lo
from qphys.errors import (
    BatchSizeError,
    ConfigError,
    MatrixError,
    ObservableError,
    ParameterError,
    ResourceError,
    UnsupportedOperationError,
    WireError,
)


def random_unitary(m, seed):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def permanent_probs(U, s):
    m, n = len(s), sum(s)
    cols = [j for j in range(m) for _ in range(s[j])]
    out = []
    for t in lo.patterns(m, n).tolist():
        rows = [i for i in range(m) for _ in range(t[i])]
        norm = math.prod(math.factorial(v) for v in t) * math.prod(math.factorial(v) for v in s)
        out.append(abs(perm(U[np.ix_(rows, cols)], method="ryser")) ** 2 / norm)
    return np.array(out)


def mesh_circuit(photons, x, w):
    """A small trainable circuit: data phases, MZIs, beam splitters in three conventions."""
    m = len(photons)
    c = qphys.Circuit(modes=m, photons=photons)
    for k in range(m):
        c.ps(x[..., k], k)
    c.mzi(w[0], w[1], 0, 1).bs(w[2], 1, 2).mzi(w[3], w[4], 2, 3).bs_ry(w[5], 0, 1).bs_h(w[6], 2, 3)
    c.ps(w[7], 1).bs(w[8], 1, 2).bs(w[9], 3, 0)
    return c


# ---- building --------------------------------------------------------------------------------------
def test_circuit_holds_photons_and_ops():
    c = qphys.Circuit(photons=(1, 0, 1)).ps(0.1, 0).bs(0.2, 0, 1).bs_ry(0.3, 1, 2).bs_h(0.4, 2, 0).mzi(0.5, 0.6, 1, 2)
    assert (c.family, c.num_modes, c.photons, c.num_photons) == ("linear_optics", 3, (1, 0, 1), 2)
    assert [op.name for op in c.operations] == ["ps", "bs", "bs_ry", "bs_h", "mzi"]
    assert "photons=(1, 0, 1)" in repr(c)
    same = qphys.Circuit(modes=3, photons=(1, 0, 1)).ps(0.7, 0).bs(0.2, 0, 1).bs_ry(0.3, 1, 2).bs_h(0.4, 2, 0)
    assert same.mzi(0.5, 0.6, 1, 2).structure_hash() == c.structure_hash()
    other = qphys.Circuit(modes=3, photons=(0, 1, 1)).ps(0.1, 0).bs(0.2, 0, 1).bs_ry(0.3, 1, 2).bs_h(0.4, 2, 0)
    assert other.mzi(0.5, 0.6, 1, 2).structure_hash() != c.structure_hash()
    assert c.copy().probs(heralds={0: 1}).structure_hash() != c.copy().probs().structure_hash()


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: qphys.Circuit(wires=2, photons=(1, 0)), WireError, "has modes, not wires"),
        (lambda: qphys.Circuit(modes=3, photons=(1, 0)), WireError, "2 mode.*interferometer has 3"),
        (lambda: qphys.Circuit(photons=(0, 0)), ParameterError, "holds no photon"),
        (lambda: qphys.Circuit(photons=(1, -1)), ParameterError, "integers between 0 and 255"),
        (lambda: qphys.Circuit(photons=(1.0, 0)), ParameterError, "integers between 0 and 255"),
        (lambda: qphys.Circuit(photons=5), ParameterError, "sequence of photon counts"),
        (lambda: qphys.Circuit(photons=(1, 0)).bs(0.1, 0, 2), WireError, "out of range"),
        (lambda: qphys.Circuit(photons=(1, 0)).bs(0.1, 1, 1), WireError, "repeat"),
        (lambda: qphys.Circuit(photons=(1, 0)).ps(1.5, 0.0), WireError, "must be an integer"),
        (lambda: qphys.Circuit(photons=(1, 0)).ps(float("nan"), 0), ParameterError, "finite"),
        (lambda: qphys.Circuit(photons=(1, 0)).ps(1j, 0), ParameterError, "real"),
        (lambda: qphys.Circuit(photons=(1, 0)).ps("a", 0), ParameterError, "float or a torch tensor"),
        (lambda: qphys.Circuit(photons=(1, 0)).ps(torch.zeros(2), 0).bs(torch.zeros(3), 0, 1), BatchSizeError, "batch size"),
        (lambda: qphys.Circuit(photons=(1, 0)).rx(0.1, 0), UnsupportedOperationError, "qubit operation"),
        (lambda: qphys.Circuit(photons=(1, 0)).displacement(0.1, 0.0, 0), UnsupportedOperationError, "cv operation"),
        (lambda: qphys.Circuit(modes=2).ps(0.1, 0), UnsupportedOperationError, "linear_optics operation"),
        (lambda: qphys.Circuit(wires=2).bs(0.1, 0, 1), UnsupportedOperationError, "linear_optics operation"),
        (lambda: qphys.Circuit(photons=(1, 0)).interferometer(np.ones((2, 2))), MatrixError, "not unitary"),
        (lambda: qphys.Circuit(photons=(1, 0)).interferometer(np.eye(3)), MatrixError, "2x2"),
        (lambda: qphys.Circuit(photons=(1, 0)).interferometer("U"), MatrixError, "complex matrix"),
        (lambda: qphys.Circuit(photons=(1, 0)).interferometer(np.full((2, 2), np.nan)), MatrixError, "non-finite"),
        (lambda: qphys.Circuit(photons=(1, 0)).probs(wires=[0]), WireError, "drop the wires"),
        (lambda: qphys.Circuit(photons=(1, 0)).probs(heralds={0: 1, 1: 0}), WireError, "heralding all 2 modes"),
        (lambda: qphys.Circuit(photons=(1, 0, 0)).probs(heralds={0: 2}), ParameterError, "could never fire"),
        (lambda: qphys.Circuit(photons=(1, 0, 0)).probs(heralds={0: -1}), ParameterError, "photon count >= 0"),
        (lambda: qphys.Circuit(photons=(1, 0, 0)).probs(heralds={5: 0}), WireError, "out of range"),
        (lambda: qphys.Circuit(photons=(1, 0, 0)).probs(heralds=[0]), ParameterError, "mapping"),
        (lambda: qphys.Circuit(photons=(1, 0)).probs(detection="pnrx"), ParameterError, "detection must be one of"),
        (lambda: qphys.Circuit(photons=(1, 0, 0)).counts(heralds={0: 0}, detection="threshold"),
         UnsupportedOperationError, "photon-number-resolving"),
        (lambda: qphys.Circuit(photons=(1, 0, 0)).photon_numbers([0], heralds={0: 0}), WireError, "heralded"),
        (lambda: qphys.Circuit(wires=1).probs(heralds={0: 1}), ParameterError, "belong to linear-optical"),
        (lambda: qphys.Circuit(wires=1).photon_numbers(), UnsupportedOperationError, "belongs to linear-optical"),
        (lambda: qphys.Circuit(photons=(1, 0)).expval(qphys.Z(0)), ObservableError, "photon_numbers"),
    ],
)
def test_invalid_input_is_a_qphys_error(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_interferometer_may_be_batched_and_trainable():
    U = torch.tensor(np.stack([random_unitary(3, k) for k in range(4)]), requires_grad=True)
    c = qphys.Circuit(photons=(1, 1, 0)).interferometer(U).probs()
    assert c.batch_size == 4
    p = qphys.execute(c, "torch.linear_optics").values[0]
    assert p.shape == (4, 6)
    p[:, 0].sum().backward()
    assert U.grad is not None and U.grad.shape == (4, 3, 3)


def test_adjoint_inverts_every_operation():
    c = qphys.Circuit(photons=(1, 1, 0)).ps(0.3, 0).bs(0.4, 0, 1).bs_ry(0.5, 1, 2).bs_h(0.6, 0, 2).mzi(0.7, 0.8, 1, 0)
    c.interferometer(random_unitary(2, 1), modes=(2, 0))
    full = qphys.Circuit(photons=(1, 1, 0))
    full.operations = c.operations + c.adjoint().operations
    assert {op.name for op in c.operations} == set(qphys.ops.registered_names("linear_optics"))
    U = lo.circuit_unitary(full)[0]
    assert torch.allclose(U, torch.eye(3, dtype=U.dtype), atol=1e-12)


# ---- the torch device against independent references ------------------------------------------------
@pytest.mark.parametrize("s", [(1, 1, 0, 0), (1, 0, 1, 1), (2, 0, 1, 0)])
def test_probabilities_match_permanents(s):
    U = random_unitary(len(s), sum(s))
    c = qphys.Circuit(photons=s).interferometer(U).probs()
    p = qphys.execute(c, "torch.linear_optics").values[0].numpy()
    assert np.abs(p - permanent_probs(U, s)).max() < 1e-12


def test_circuit_matches_torch_fock_with_heralded_sources():
    """A linear-optical circuit with Fock input is a CV circuit: the CV version prepares each
    single photon by heralding two-mode squeezed vacuum on an idler mode."""
    x, w = torch.tensor([0.2, 0.5, -0.3]), torch.linspace(0.1, 1.9, 10)
    lo_c = qphys.Circuit(photons=(1, 1, 0))
    lo_c.ps(x[0], 0).mzi(w[0], w[1], 0, 1).bs(w[2], 1, 2).ps(w[3], 2).bs(w[4], 0, 1)
    U = lo.circuit_unitary(lo_c)[0]
    cv = qphys.Circuit(modes=5)
    cv.two_mode_squeezing(0.3, 0.0, 0, 3).two_mode_squeezing(0.3, 0.0, 1, 4)
    cv.interferometer(U, modes=(0, 1, 2)).fock_probs()
    joint = qphys.execute(cv, qphys.device("torch.fock", cutoff=3, trace_warning=0.5)).values[0].reshape((3,) * 5)
    heralded = joint[..., 1, 1]  # one photon on each idler
    pats = lo.patterns(3, 2).long()
    cond = heralded[tuple(pats.T)]
    p = qphys.execute(lo_c.probs(), "torch.linear_optics").values[0]
    assert (cond / cond.sum() - p).abs().max() < 1e-12


def test_measurements_are_consistent():
    U = random_unitary(4, 3)
    c = qphys.Circuit(photons=(1, 1, 0, 1)).interferometer(U)
    c.probs().probs(detection="threshold").probs(heralds={3: 0, 1: 1}).photon_numbers().photon_numbers([2], heralds={0: 1})
    c.state()
    r = qphys.execute(c, "torch.linear_optics")
    full, clicks, cond, means, cond_means, amps = r.values
    pats = lo.patterns(4, 3).double()
    assert torch.allclose(amps.abs() ** 2, full, atol=1e-14)
    assert torch.allclose(means, full @ pats, atol=1e-12)
    assert torch.allclose(means, torch.as_tensor(np.abs(U) ** 2 @ np.array([1.0, 1, 0, 1])), atol=1e-12)
    th = lo.threshold_patterns(4, 3)
    for k, click in enumerate(th.tolist()):
        assert abs(float(clicks[k]) - float(full[((pats > 0).long() == torch.tensor(click)).all(1)].sum())) < 1e-12
    keep = (pats[:, 3] == 0) & (pats[:, 1] == 1)
    assert torch.allclose(cond, full[keep] / full[keep].sum(), atol=1e-12)
    assert abs(float(r.metadata["herald_success"][2]) - float(full[keep].sum())) < 1e-12
    keep0 = pats[:, 0] == 1
    assert torch.allclose(cond_means, (full[keep0] @ pats[keep0][:, [2]]) / full[keep0].sum(), atol=1e-12)


def test_photon_numbers_alone_skip_slos(monkeypatch):
    from qphys.sim import linear_optics as S

    monkeypatch.setattr(S, "probabilities", lambda *a, **k: pytest.fail("SLOS ran"))
    c = qphys.Circuit(photons=(1, 1, 0)).interferometer(random_unitary(3, 0)).photon_numbers()
    assert qphys.execute(c, "torch.linear_optics").values[0].sum().item() == pytest.approx(2.0)


def test_shots_are_seeded_and_shared_by_measurements():
    c = qphys.Circuit(photons=(1, 1, 0)).bs(1.0, 0, 1).bs(0.7, 1, 2)
    c.sample().counts().probs().photon_numbers().probs(heralds={2: 0})
    dev = qphys.device("torch.linear_optics", shots=500, seed=11)
    a, b = qphys.execute(c, dev), qphys.execute(c, dev)
    assert torch.equal(a.values[0], b.values[0]) and a.values[1] == b.values[1]
    samples, counts, freq, means, cond = a.values
    assert samples.shape == (500, 3) and samples.dtype == torch.int64
    assert sum(counts.values()) == 500
    table = [tuple(t) for t in lo.patterns(3, 2).tolist()]
    assert freq.tolist() == [counts.get(t, 0) / 500 for t in table]
    assert torch.allclose(means, samples.double().mean(0))
    kept = samples[samples[:, 2] == 0]
    assert abs(float(a.metadata["herald_success"][4]) - len(kept) / 500) < 1e-12
    assert abs(float(cond[0]) - float((kept[:, 0] == 2).double().mean())) < 1e-12
    assert not torch.equal(qphys.execute(c, dev, seed=12).values[0], samples)


def test_state_needs_exact_and_sampling_needs_shots():
    c = qphys.Circuit(photons=(1, 0)).bs(0.5, 0, 1)
    with pytest.raises(UnsupportedOperationError, match=r"state\(\) is the exact state and is not available with shots"):
        qphys.execute(c.copy().state(), "torch.linear_optics", shots=10)
    with pytest.raises(UnsupportedOperationError, match="needs shots"):
        qphys.execute(c.copy().counts(), "torch.linear_optics")


def test_memory_estimate_raises_before_allocating():
    c = qphys.Circuit(photons=(1,) * 14 + (0,) * 14).interferometer(random_unitary(28, 0)).probs()
    with pytest.raises(ResourceError, match="14 photons in 28 modes.*use fewer photons or modes"):
        qphys.execute(c, qphys.device("torch.linear_optics", max_memory=2**30))
    small = qphys.Circuit(photons=(1, 1, 0)).bs(0.1, 0, 1).probs()
    with pytest.raises(ResourceError, match="shots=10000000"):
        qphys.execute(small, qphys.device("torch.linear_optics", max_memory=2**20), shots=10_000_000)


def test_device_options_are_validated():
    with pytest.raises(qphys.errors.DeviceOptionError, match="dtype"):
        qphys.device("torch.linear_optics", dtype="float32")
    with pytest.raises(qphys.errors.DeviceOptionError, match="cutoff"):
        qphys.device("torch.linear_optics", cutoff=3)
    with pytest.raises(ConfigError, match="shots"):
        qphys.execute(qphys.Circuit(photons=(1,)).probs(), "torch.linear_optics", shots=0)


def test_complex64_and_batching():
    x = torch.rand(5, 4, dtype=torch.float32)
    w = torch.rand(10)
    c = mesh_circuit((1, 1, 0, 1), x, w).probs()
    p64 = qphys.execute(c, qphys.device("torch.linear_optics", dtype="complex64")).values[0]
    p128 = qphys.execute(c, "torch.linear_optics").values[0]
    assert p64.dtype == torch.float32 and p128.dtype == torch.float64 and p64.shape == (5, 20)
    assert (p64.double() - p128).abs().max() < 2e-6


@pytest.mark.gpu
def test_cuda_device_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA: torch.cuda.is_available() is False on this machine")
    x = torch.rand(8, 4, dtype=torch.float64)
    w = torch.rand(10, dtype=torch.float64, requires_grad=True)
    c = mesh_circuit((1, 1, 0, 1), x, w).probs().probs(heralds={3: 1}).photon_numbers()
    cpu = qphys.execute(c, "torch.linear_optics")
    gpu = qphys.execute(mesh_circuit((1, 1, 0, 1), x.cuda(), w.cuda()).probs().probs(heralds={3: 1}).photon_numbers(),
                        qphys.device("torch.linear_optics", torch_device="cuda"))
    for a, b in zip(cpu.values, gpu.values):
        assert b.device.type == "cuda" and (a - b.cpu()).abs().max() < 1e-12
    sampled = qphys.execute(c, qphys.device("torch.linear_optics", torch_device="cuda", shots=100, seed=1))
    assert sampled.values[0].device.type == "cuda"
