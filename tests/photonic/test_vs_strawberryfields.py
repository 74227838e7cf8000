"""torch.fock and torch.gaussian against Strawberry Fields' fock and gaussian backends (complex128)
on random circuits of every gate; torch.fock against torch.gaussian on Gaussian circuits."""

import numpy as np
import pytest
import torch

import qphys
from qphys import cv

sf_plugin = pytest.importorskip("qphys_strawberryfields")
sf = sf_plugin.import_strawberryfields()

GAUSSIAN = ["displacement", "squeezing", "rotation", "beamsplitter", "two_mode_squeezing", "interferometer"]
NON_GAUSSIAN = ["kerr", "cross_kerr", "cubic_phase"]


def random_circuit(rng, modes, names, reps=2):
    c = qphys.Circuit(modes=modes)
    for _ in range(reps):
        for name in rng.permutation(names):
            w = [int(v) for v in rng.choice(modes, size=2, replace=False)]
            if name == "displacement":
                c.displacement(abs(rng.normal(0, 0.3)), rng.uniform(-np.pi, np.pi), w[0])
            elif name == "squeezing":
                c.squeezing(abs(rng.normal(0, 0.15)), rng.uniform(-np.pi, np.pi), w[0])
            elif name == "rotation":
                c.rotation(rng.uniform(-np.pi, np.pi), w[0])
            elif name == "beamsplitter":
                c.beamsplitter(rng.uniform(-np.pi, np.pi), rng.uniform(-np.pi, np.pi), *w)
            elif name == "two_mode_squeezing":
                c.two_mode_squeezing(abs(rng.normal(0, 0.1)), rng.uniform(-np.pi, np.pi), *w)
            elif name == "interferometer":
                q, _ = np.linalg.qr(rng.normal(size=(modes, modes)) + 1j * rng.normal(size=(modes, modes)))
                c.interferometer(q)
            elif name == "kerr":
                c.kerr(rng.normal(0, 0.5), w[0])
            elif name == "cross_kerr":
                c.cross_kerr(rng.normal(0, 0.5), *w)
            elif name == "cubic_phase":
                c.cubic_phase(rng.normal(0, 0.1), w[0])
    return c


def _measure(c, modes, *, poly=True):
    for k in range(modes):
        c.expval(cv.X(k)).expval(cv.P(k)).expval(cv.N(k)).var(cv.X(k)).var(cv.N(k))
    if not poly:
        return c
    A = np.array([[0.7, 0.2, 0.1, 0.0], [0.2, 0.4, 0.0, -0.3], [0.1, 0.0, 0.5, 0.05], [0.0, -0.3, 0.05, 0.9]])
    poly = cv.PolyXP(A, [0.1, -0.2, 0.3, 0.05], 0.4, modes=[1, 0])
    return c.expval(poly).var(poly)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fock_state_and_observables_match_sf_fock(seed):
    rng = np.random.default_rng(seed)
    cutoff = 9
    c = random_circuit(rng, 2, GAUSSIAN + NON_GAUSSIAN)
    c.state()
    _measure(c, 2, poly=False).fock_probs([1, 0])
    ours = qphys.execute(c, qphys.device("torch.fock", cutoff=cutoff))
    ket = sf.Engine("fock", backend_options={"cutoff_dim": cutoff}).run(sf_plugin.to_program(c)).state.ket()
    assert np.abs(ours.values[0].numpy() - ket.reshape(-1)).max() < 1e-8
    ref = qphys.execute(c, qphys.device("sf.fock", cutoff=cutoff))
    # quadratic forms are compared in test_quadratic_forms_inside_cutoff: on states with mass at
    # the cutoff edge SF's poly_quad_expectation (cutoff + 1 workspace) and ours (exact operator
    # matrix elements) differ by design
    for m, a, b in zip(c.measurements[1:], ours.values[1:], ref.values[1:]):
        assert np.abs(a.numpy() - np.asarray(b)).max() < 1e-8, m
    assert abs(float(ours.metadata["trace"]) - np.sum(np.abs(ket) ** 2)) < 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_matches_sf_gaussian(seed):
    rng = np.random.default_rng(10 + seed)
    c = random_circuit(rng, 3, GAUSSIAN)
    c.state()
    _measure(c, 3)
    ours = qphys.execute(c, "torch.gaussian")
    ref = qphys.execute(c, qphys.device("sf.gaussian"))
    mu, V = ours.values[0]
    smu, sV = ref.values[0]
    assert np.abs(mu.numpy() - smu.numpy()).max() < 1e-8
    assert np.abs(V.numpy() - sV.numpy()).max() < 1e-8
    assert (ours.expvals - ref.expvals).abs().max() < 1e-8


def test_fock_matches_gaussian_inside_cutoff():
    rng = np.random.default_rng(5)
    c = random_circuit(rng, 2, GAUSSIAN, reps=1)
    _measure(c, 2)
    f = qphys.execute(c, qphys.device("torch.fock", cutoff=25)).expvals
    g = qphys.execute(c, "torch.gaussian").expvals
    assert (f - g).abs().max() < 1e-8


def test_quadratic_forms_inside_cutoff():
    rng = np.random.default_rng(8)
    c = random_circuit(rng, 2, ["displacement", "squeezing", "beamsplitter", "kerr", "cross_kerr"], reps=1)
    _measure(c, 2)
    ours = qphys.execute(c, qphys.device("torch.fock", cutoff=18)).expvals
    ref = qphys.execute(c, qphys.device("sf.fock", cutoff=18)).expvals
    assert (ours - ref).abs().max() < 1e-8


def test_batched_fock_matches_sf_per_element():
    rs = torch.tensor([0.1, 0.25, 0.4], dtype=torch.float64)
    c = (qphys.Circuit(modes=2).displacement(rs, 0.3, 0).squeezing(0.2, rs, 1).beamsplitter(0.7, rs, 0, 1)
         .kerr(rs, 1).expval(cv.X(0)).expval(cv.N(1)).fock_probs([0]))
    ours = qphys.execute(c, qphys.device("torch.fock", cutoff=10))
    ref = qphys.execute(c, qphys.device("sf.fock", cutoff=10))
    assert ours.expvals.shape == (3, 2)
    assert (ours.expvals - ref.expvals).abs().max() < 1e-8
    assert np.abs(ours.values[2].numpy() - ref.values[2].numpy()).max() < 1e-8
