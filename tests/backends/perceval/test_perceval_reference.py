"""qphys-perceval (phase 1): conversion of qphys linear-optical descriptions to Perceval, and qphys's
torch SLOS against Perceval's SLOS and Naive backends (complex128, <= 1e-10), including bunched
inputs, component circuits, Clements meshes, heralding and threshold detection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qphys.errors import BatchSizeError, UnsupportedOperationError, WireError
from qphys.sim import linear_optics as lo

qp = pytest.importorskip("qphys_perceval")
pcvl = pytest.importorskip("perceval")

TOL = 1e-10


def random_unitary(m, rng):
    z = (rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m))) / math.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def test_perceval_version_pinned():
    assert pcvl.__version__.startswith("1.3.")


CASES = [
    (1, 1, 0),
    (2, 0, 1),  # bunched
    (1, 0, 1, 0, 1, 0),
    (0, 3, 0, 1, 0),  # bunched
    (1, 1, 1, 1, 0, 0, 0, 0),
    (2, 1, 0, 0, 1, 0, 0),  # bunched
]


@pytest.mark.parametrize("backend", ["SLOS", "Naive"])
@pytest.mark.parametrize("s", CASES)
def test_probabilities_and_amplitudes_match_perceval(backend, s, rng):
    U = random_unitary(len(s), rng)
    circuit = qp.unitary_circuit(U)
    ours_p = lo.probabilities(torch.tensor(U), s).numpy()
    assert np.abs(ours_p - qp.perceval_probabilities(circuit, s, backend=backend)).max() < TOL
    ours_a = lo.amplitudes(torch.tensor(U), s).numpy()
    assert np.abs(ours_a - qp.perceval_amplitudes(circuit, s, backend=backend)).max() < TOL


def test_batch_against_perceval_one_by_one(rng):
    s = (1, 0, 1, 1, 0)
    Us = np.stack([random_unitary(5, rng) for _ in range(4)])
    ours = lo.probabilities(torch.tensor(Us), s).numpy()
    for b in range(4):
        ref = qp.perceval_probabilities(qp.unitary_circuit(Us[b]), s)
        assert np.abs(ours[b] - ref).max() < TOL


def _component_list(rng, batch=None):
    def angle():
        if batch is not None and rng.random() < 0.5:
            return torch.tensor(rng.uniform(0, 2 * np.pi, size=batch))
        return float(rng.uniform(0, 2 * np.pi))

    comps = [
        lo.ps(angle(), 0),
        lo.bs(0, angle(), angle(), angle(), angle(), angle()),
        lo.bs(1, angle(), convention="Ry"),
        lo.bs(2, angle(), 0.0, angle(), convention="H"),
        lo.mzi(1, angle(), angle()),
        lo.unitary(random_unitary(2, rng), (2, 3)),
        lo.unitary(random_unitary(2, rng), (0, 3)),  # non-adjacent modes: embedded
        lo.ps(angle(), 3),
        lo.bs(0),
    ]
    if batch is not None:
        comps.append(lo.ps(torch.tensor(rng.uniform(0, 2 * np.pi, size=batch)), 2))
    return comps


def test_components_convert_to_the_same_unitary(rng):
    comps = _component_list(rng, batch=3)
    ours = lo.circuit_unitary(comps, 4)
    assert ours.shape == (3, 4, 4)
    for b in range(3):
        ref = np.array(qp.to_perceval_circuit(comps, 4, batch_index=b).compute_unitary())
        assert np.abs(ours[b].numpy() - ref).max() < 1e-13
    s = (1, 1, 0, 1)
    probs = lo.probabilities(ours, s).numpy()
    ref = qp.perceval_probabilities(qp.to_perceval_circuit(comps, 4, batch_index=2), s, backend="Naive")
    assert np.abs(probs[2] - ref).max() < TOL
    with pytest.raises(BatchSizeError, match="batch_index 3 is outside the batch of 3"):
        qp.to_perceval_circuit(comps, 4, batch_index=3)


def test_clements_mesh_is_perceval_mzi_mesh(rng):
    U = random_unitary(6, rng)
    mesh = lo.clements_decomposition(U)
    circuit = qp.to_perceval_circuit(mesh.components(), 6)
    assert np.abs(np.array(circuit.compute_unitary()) - U).max() < 1e-12
    # every MZI is Perceval's catalog "mzi phase first": PS, BS.Rx, PS, BS.Rx
    names = [type(c).__name__ for _, c in circuit]
    assert names.count("BS") == 2 * lo.num_mzis(6) and names.count("PS") == 2 * lo.num_mzis(6) + 6
    s = (1, 0, 1, 0, 1, 0)
    assert np.abs(lo.probabilities(torch.tensor(U), s).numpy() - qp.perceval_probabilities(circuit, s)).max() < TOL


def test_heralding_matches_perceval_processor(rng):
    m, s = 5, (1, 1, 0, 1, 0)
    heralds = {2: 0, 3: 1}
    U = random_unitary(m, rng)
    dist, perf = qp.processor_distribution(qp.unitary_circuit(U), s, heralds=heralds)
    p = lo.probabilities(torch.tensor(U), s)
    cond, success = lo.herald(p, m, sum(s), heralds)
    assert abs(float(success) - perf) < TOL
    rest = lo.patterns(*lo.herald_rest(m, sum(s), heralds))
    ours = {tuple(t): float(q) for t, q in zip(rest.tolist(), cond) if q > 1e-15}
    assert set(ours) == {k for k, v in dist.items() if v > 1e-15}
    assert max(abs(ours[k] - dist[k]) for k in ours) < TOL


def test_threshold_matches_perceval_threshold_detectors(rng):
    m, s = 4, (2, 1, 0, 0)
    U = random_unitary(m, rng)
    dist, perf = qp.processor_distribution(qp.unitary_circuit(U), s, threshold=True)
    tp = lo.threshold_probabilities(lo.probabilities(torch.tensor(U), s), m, 3)
    ours = {tuple(c): float(q) for c, q in zip(lo.threshold_patterns(m, 3).tolist(), tp)}
    assert perf == pytest.approx(1.0)
    assert set(ours) == set(dist)
    assert max(abs(ours[k] - dist[k]) for k in ours) < TOL


def test_conversion_errors():
    with pytest.raises(WireError, match="adjacent modes"):
        qp.to_perceval_circuit([lo.Component("bs", (0, 2), (1.0, 0.0, 0.0, 0.0, 0.0))], 3)
    with pytest.raises(WireError, match="mode 3 is not an integer"):
        qp.to_perceval_circuit([lo.ps(0.1, 3)], 3)
    with pytest.raises(UnsupportedOperationError, match="same photon count at the input and at the output"):
        qp.to_processor(qp.unitary_circuit(np.eye(3)), (1, 1, 0), heralds={2: 1})
    with pytest.raises(WireError, match="the input state has 2 modes but the circuit has 3"):
        qp.to_processor(qp.unitary_circuit(np.eye(3)), (1, 1))
    with pytest.raises(UnsupportedOperationError, match="not one of the strong-simulation backends"):
        qp.perceval_probabilities(qp.unitary_circuit(np.eye(2)), (1, 0), backend="MPS")
    assert str(qp.to_basic_state([0, 2, 1])) == "|0,2,1>"
