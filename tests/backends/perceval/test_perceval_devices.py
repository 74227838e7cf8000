"""qphys-perceval's local devices: circuit conversion (every operation, routed modes, parameters),
``perceval.slos``/``perceval.naive`` against ``torch.linear_optics`` (complex128, <= 1e-10),
parameter-shift gradients through Perceval equal to backprop, and ``perceval.clifford``'s samples
against the exact distribution (chi-square)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

import qphys
from qphys import linear_optics as lo
from qphys.errors import UnsupportedOperationError

qp = pytest.importorskip("qphys_perceval")
pcvl = pytest.importorskip("perceval")


def random_circuit(photons, seed, batch=None):
    g = torch.Generator().manual_seed(seed)
    m = len(photons)

    def angle():
        return torch.rand(batch, generator=g, dtype=torch.float64) * 6 if batch else float(torch.rand(1, generator=g) * 6)

    c = qphys.Circuit(photons=photons)
    rng = np.random.default_rng(seed)
    for _ in range(3 * m):
        kind = rng.choice(["ps", "bs", "bs_ry", "bs_h", "mzi"])
        a, b = rng.choice(m, size=2, replace=False).tolist()
        if kind == "ps":
            c.ps(angle(), a)
        elif kind == "mzi":
            c.mzi(angle(), angle(), a, b)
        else:
            getattr(c, kind)(angle(), a, b)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))
    c.interferometer(q, modes=tuple(rng.choice(m, size=3, replace=False).tolist()))
    return c


@pytest.mark.parametrize("seed", range(4))
def test_conversion_keeps_the_unitary(seed):
    c = random_circuit((1, 0, 1, 1, 0), seed, batch=2)
    U = lo.circuit_unitary(c)
    for b in range(2):
        assert np.abs(np.array(qp.perceval_circuit(c, batch_index=b).compute_unitary()) - U[b].numpy()).max() < 1e-12
    pc, names = qp.parametrized_circuit(c)
    rows = qp.parameter_rows(c)
    params = {p.name: p for p in pc.get_parameters()}
    assert sorted(params) == sorted(names) and rows.shape == (2, len(names))
    for b in range(2):
        for name, value in zip(names, rows[b]):
            params[name].set_value(float(value))
        assert np.abs(np.array(pc.compute_unitary()) - U[b].numpy()).max() < 1e-12


def test_every_operation_is_mapped():
    c = qphys.Circuit(photons=(1, 0, 1)).ps(0.1, 0).bs(0.2, 0, 1).bs_ry(0.3, 1, 2).bs_h(0.4, 2, 0).mzi(0.5, 0.6, 1, 0)
    c.interferometer(np.eye(3))
    assert {op.name for op in c.operations} == set(qphys.ops.registered_names("linear_optics"))
    assert np.abs(np.array(qp.perceval_circuit(c).compute_unitary()) - lo.circuit_unitary(c)[0].numpy()).max() < 1e-12
    with pytest.raises(UnsupportedOperationError, match="batched interferometer"):
        qp.parametrized_circuit(qphys.Circuit(photons=(1, 0)).interferometer(torch.eye(2, dtype=torch.complex128).expand(2, 2, 2)))


@pytest.mark.parametrize("name", ["perceval.slos", "perceval.naive"])
@pytest.mark.parametrize("photons", [(1, 1, 0, 1), (2, 0, 1, 0)])
def test_strong_devices_match_torch(name, photons):
    c = random_circuit(photons, 7, batch=3)
    c.probs().probs(detection="threshold").probs(heralds={3: 0}).photon_numbers().photon_numbers([0], heralds={2: 1})
    c.state()
    ref = qphys.execute(c, "torch.linear_optics")
    got = qphys.execute(c, name)
    for k, (a, b) in enumerate(zip(ref.values, got.values)):
        assert (a - b).abs().max() < 1e-10, f"measurement {k}"
    for k, s in ref.metadata["herald_success"].items():
        assert (s - got.metadata["herald_success"][k]).abs().max() < 1e-10


def test_parameter_shift_through_perceval_equals_backprop():
    w0 = torch.tensor([0.3, 1.2, 0.7, 2.1, 0.4, 1.6], dtype=torch.float64)

    def grad(device, method):
        w = w0.clone().requires_grad_(True)
        c = qphys.Circuit(photons=(1, 1, 0)).bs(w[0], 0, 1).ps(w[1], 1).mzi(w[2], w[3], 1, 2).bs_ry(w[4], 0, 1)
        c.ps(w[5], 0).probs(heralds={2: 0}).photon_numbers()
        r = qphys.execute(c, device, diff_method=method)
        (r.values[0] @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + r.values[1][1]).backward()
        return w.grad

    assert (grad("torch.linear_optics", "backprop") - grad("perceval.slos", "parameter-shift")).abs().max() < 1e-9


def test_clifford_samples_follow_the_exact_distribution():
    c = random_circuit((1, 1, 0, 1), 3)
    exact = qphys.execute(c.copy().probs(), "torch.linear_optics").values[0].numpy()
    dev = qphys.device("perceval.clifford", shots=6000, seed=9)
    r = qphys.execute(c.copy().counts().sample(), dev)
    counts, samples = r.values
    assert samples.shape == (6000, 4) and sum(counts.values()) == 6000
    observed = np.zeros(len(exact))
    for row in samples.tolist():
        observed[lo.pattern_index(tuple(row))] += 1
    big = exact * 6000 >= 5
    obs, exp = observed[big], exact[big] * 6000
    if exact[~big].sum() * 6000 > 0:  # pool the rare patterns into one bin
        obs, exp = np.append(obs, observed[~big].sum()), np.append(exp, exact[~big].sum() * 6000)
    exp = exp * obs.sum() / exp.sum()
    assert scipy.stats.chisquare(obs, exp).pvalue > 1e-3
    assert (samples.sum(1) == 3).all()
    table = lo.patterns(4, 3)
    assert counts == {tuple(t): int(n) for t, n in zip(table.tolist(), observed) if n}


def test_clifford_is_sampling_only():
    with pytest.raises(UnsupportedOperationError, match="cannot compute exact results"):
        qphys.execute(qphys.Circuit(photons=(1, 0)).bs(0.1, 0, 1).probs(), "perceval.clifford", shots=None)
