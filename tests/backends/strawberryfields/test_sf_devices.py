"""The Strawberry Fields plugin: registration, gradients through parameter shift / finite
differences, batching, the shim, and errors."""

import numpy as np
import pytest
import scipy.integrate
import torch

import qphys
from qphys import cv
from qphys.errors import DeviceOptionError, UnsupportedOperationError

sfp = pytest.importorskip("qphys_strawberryfields")


def test_registered_and_shim_applied():
    names = qphys.device_names()
    assert {"sf.fock", "sf.gaussian", "sf.bosonic"} <= set(names)
    sf = sfp.import_strawberryfields()
    assert scipy.integrate.simps is scipy.integrate.simpson
    # what the shim is for: Strawberry Fields' own quadrature marginals call scipy.integrate.simps
    prog = sf.Program(1)
    state = sf.Engine("gaussian").run(prog).state
    x = np.linspace(-4, 4, 81)
    marginal = state.x_quad_values(0, x, np.linspace(-6, 6, 241))
    np.testing.assert_allclose(marginal, np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi), atol=1e-4)  # vacuum, hbar = 2


def _gaussian_circuit(p):
    c = qphys.Circuit(modes=2).squeezing(p[0], p[1], 0).displacement(p[2], p[3], 1)
    c.beamsplitter(p[4], p[5], 0, 1).two_mode_squeezing(p[6], p[7], 0, 1).rotation(p[8], 1)
    return c.expval(cv.X(0)).expval(cv.N(1)).expval(cv.quad(1, 0.4))


def test_parameter_shift_on_sf_gaussian_matches_backprop():
    vals = [0.2, 0.3, 0.4, -0.5, 0.7, 0.1, 0.15, 0.6, -0.3]
    p = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals]
    r = qphys.execute(_gaussian_circuit(p), qphys.device("sf.gaussian"))
    assert r.metadata["diff_method"] == "parameter-shift"
    r.expvals.sum().backward()
    q = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals]
    qphys.execute(_gaussian_circuit(q), "torch.gaussian").expvals.sum().backward()
    np.testing.assert_allclose([float(t.grad) for t in p], [float(t.grad) for t in q], atol=1e-8)


def test_finite_differences_on_sf_fock_with_kerr():
    k = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)

    def build(k, a):
        return qphys.Circuit(modes=1).displacement(a, 0.0, 0).kerr(k, 0).expval(cv.X(0))

    r = qphys.execute(build(k, a), qphys.device("sf.fock", cutoff=15))
    assert r.metadata["diff_method"] == "finite-diff"
    r.expvals.sum().backward()
    k2 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    a2 = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    qphys.execute(build(k2, a2), qphys.device("torch.fock", cutoff=15)).expvals.sum().backward()
    assert abs(float(k.grad) - float(k2.grad)) < 1e-6
    assert abs(float(a.grad) - float(a2.grad)) < 1e-6


def test_batched_circuit_runs_per_element():
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    c = qphys.Circuit(modes=1).displacement(x, 0.0, 0).expval(cv.X(0)).expval(cv.N(0))
    r = qphys.execute(c, qphys.device("sf.gaussian"))
    np.testing.assert_allclose(r.expvals.numpy(), np.stack([2 * x.numpy(), x.numpy() ** 2], -1), atol=1e-12)


def test_errors():
    with pytest.raises(DeviceOptionError, match="cutoff must be an integer >= 2"):
        qphys.device("sf.fock", cutoff=1)
    c = qphys.Circuit(modes=1).cubic_phase(0.1, 0).expval(cv.X(0))
    with pytest.raises(UnsupportedOperationError, match="Gaussian gates only; the circuit has cubic_phase"):
        qphys.execute(c, qphys.device("sf.gaussian"))
    with pytest.raises(UnsupportedOperationError, match="runs cv circuits, got a qubit circuit"):
        qphys.execute(qphys.Circuit(wires=1).h(0).expval(qphys.Z(0)), qphys.device("sf.fock"))
    poly = cv.PolyXP(np.eye(2), modes=[0])
    with pytest.raises(UnsupportedOperationError, match="no poly_quad_expectation"):
        qphys.execute(qphys.Circuit(modes=1).squeezing(0.1, 0.0, 0).expval(poly), qphys.device("sf.bosonic"))
