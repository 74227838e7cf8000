"""Gradients (backprop, exact CV parameter shift, finite differences) and bad-input errors."""

import numpy as np
import pytest
import torch

import qphys
from qphys import cv
from qphys.errors import (
    DeviceOptionError,
    DifferentiationError,
    MatrixError,
    ParameterError,
    UnsupportedOperationError,
    WireError,
)
from qphys.nn import PhotonicLayer
from qphys.ops.cv import clements, interferometer_matrix
from qphys.sim.fock import TruncationWarning

PARAMS = [0.3, 0.4, 0.2, 0.5, 0.7, 0.15, 0.25, 0.1, 0.3, 0.2]


def _circuit(p, *, non_gaussian=True):
    c = qphys.Circuit(modes=2)
    c.displacement(p[0], p[1], 0).squeezing(p[2], p[3], 1).beamsplitter(p[4], p[5], 0, 1)
    c.two_mode_squeezing(p[6], p[1], 1, 0).rotation(p[7], 0)
    if non_gaussian:
        c.kerr(p[8], 0).cross_kerr(p[9], 0, 1).cubic_phase(0.05 * p[8], 1)
    A = np.array([[0.5, 0.1, 0.0, 0.2], [0.1, 0.3, 0.0, 0.0], [0.0, 0.0, 0.4, 0.1], [0.2, 0.0, 0.1, 0.2]])
    return c.expval(cv.X(0)).expval(cv.P(1)).expval(cv.N(1)).expval(cv.PolyXP(A, [0.1, 0, 0, 0.2], modes=[0, 1]))


def _loss(dev, p, **kw):
    r = qphys.execute(_circuit(p, non_gaussian=dev.name != "torch.gaussian"), dev, **kw)
    return (r.expvals * torch.tensor([1.0, -0.5, 0.7, 0.3], dtype=torch.float64)).sum()


def _fd(dev, p, h=1e-6):
    out = []
    for i in range(len(p)):
        up, dn = list(p), list(p)
        up[i] += h
        dn[i] -= h
        out.append((float(_loss(dev, up)) - float(_loss(dev, dn))) / (2 * h))
    return np.array(out)


@pytest.mark.parametrize("name", ["torch.fock", "torch.gaussian"])
def test_backprop_matches_finite_differences(name):
    dev = qphys.device(name, cutoff=14) if name == "torch.fock" else qphys.device(name)
    p = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in PARAMS]
    _loss(dev, p).backward()
    grad = np.array([float(t.grad) if t.grad is not None else 0.0 for t in p])
    np.testing.assert_allclose(grad, _fd(dev, PARAMS), atol=1e-6)


def test_parameter_shift_is_exact_on_gaussian_circuits():
    dev = qphys.device("torch.gaussian")
    p = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in PARAMS]
    _loss(dev, p, diff_method="parameter-shift").backward()
    ps = np.array([float(t.grad) if t.grad is not None else 0.0 for t in p])
    q = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in PARAMS]
    _loss(dev, q, diff_method="backprop").backward()
    bp = np.array([float(t.grad) if t.grad is not None else 0.0 for t in q])
    np.testing.assert_allclose(ps, bp, atol=1e-9)


def test_shift_rule_refused_where_not_exact():
    r = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(modes=1).displacement(r, 0.0, 0).kerr(0.2, 0).expval(cv.X(0))
    with pytest.raises(DifferentiationError, match="no parameter-shift rule for displacement"):
        qphys.execute(c, qphys.device("torch.fock"), diff_method="parameter-shift")
    # "best" on a device without backprop falls back to finite differences, which is right here
    dev = qphys.device("sf.fock", cutoff=12) if _has_sf() else None
    if dev is not None:
        res = qphys.execute(c, dev)
        assert res.metadata["diff_method"] == "finite-diff"
        res.expvals.sum().backward()
        r2 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        c2 = qphys.Circuit(modes=1).displacement(r2, 0.0, 0).kerr(0.2, 0).expval(cv.X(0))
        qphys.execute(c2, qphys.device("torch.fock", cutoff=12)).expvals.sum().backward()
        assert abs(float(r.grad) - float(r2.grad)) < 1e-6


def _has_sf():
    try:
        import qphys_strawberryfields  # noqa: F401
    except ImportError:
        return False
    return True


def test_batched_gradients_flow_per_element():
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(modes=1).displacement(x, 0.0, 0).kerr(0.1, 0).expval(cv.N(0))
    r = qphys.execute(c, qphys.device("torch.fock", cutoff=12))
    r.expvals.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), atol=1e-9)  # <n> = |alpha|^2


def test_photonic_layer_shapes_and_grads():
    layer = PhotonicLayer(2, num_layers=2, cutoff=6, output="fock_probs", seed=1)
    out = layer(torch.rand(4, 2))
    assert out.shape == (4, 36)
    out[:, 1].sum().backward()
    assert all(w.grad is not None for w in layer.weights.values())
    q = PhotonicLayer(2, cutoff=6, output="quadratures", encoding="squeezing", seed=1)(torch.rand(3, 2))
    assert q.shape == (3, 4)
    g = PhotonicLayer(3, kerr=False, device="torch.gaussian", output="n", encoding=None, seed=2)()
    assert g.shape == (3,)


def test_clements_reconstructs_random_unitaries():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 6):
        U, _ = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        mesh, phases = clements(U)
        assert len(mesh) == n * (n - 1) // 2
        np.testing.assert_allclose(interferometer_matrix(mesh, phases, n), U, atol=1e-12)


# ---- bad input --------------------------------------------------------------------------------
def test_qubit_gate_on_cv_circuit_and_vice_versa():
    with pytest.raises(UnsupportedOperationError, match="h is a qubit operation and cannot be added to a photonic"):
        qphys.Circuit(modes=1).h(0)
    with pytest.raises(UnsupportedOperationError, match="displacement is a cv operation and cannot be added to a qubit"):
        qphys.Circuit(wires=1).displacement(0.1, 0.0, 0)
    with pytest.raises(UnsupportedOperationError, match="interferometer is a photonic"):
        qphys.Circuit(wires=2).interferometer(np.eye(2))
    with pytest.raises(qphys.errors.ObservableError, match="cv observable but the circuit is a qubit"):
        qphys.Circuit(wires=1).expval(cv.X(0))
    with pytest.raises(UnsupportedOperationError, match="runs cv circuits, got a qubit circuit"):
        qphys.execute(qphys.Circuit(wires=1).h(0).expval(qphys.Z(0)), qphys.device("torch.fock"))


def test_mode_out_of_range():
    with pytest.raises(WireError, match="mode 2 is out of range for a circuit with 2 modes"):
        qphys.Circuit(modes=2).beamsplitter(0.1, 0.0, 0, 2)
    with pytest.raises(WireError, match="acts on mode 3, but the circuit has modes 0..1"):
        qphys.Circuit(modes=2).expval(cv.N(3))


@pytest.mark.parametrize("cutoff", [1, 0, 2.5, True])
def test_bad_cutoff(cutoff):
    with pytest.raises(DeviceOptionError, match="cutoff must be an integer >= 2"):
        qphys.device("torch.fock", cutoff=cutoff)


def test_non_unitary_interferometer():
    with pytest.raises(MatrixError, match="not unitary"):
        qphys.Circuit(modes=2).interferometer(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(MatrixError, match="needs a 3x3 unitary"):
        qphys.Circuit(modes=3).interferometer(np.eye(2), modes=[0, 1, 2])
    with pytest.raises(ParameterError, match="requires grad"):
        qphys.Circuit(modes=2).interferometer(torch.eye(2, dtype=torch.complex128, requires_grad=True))


def test_non_gaussian_gate_on_gaussian_device():
    c = qphys.Circuit(modes=2).squeezing(0.1, 0.0, 0).cubic_phase(0.1, 1).cross_kerr(0.1, 0, 1).expval(cv.X(0))
    with pytest.raises(UnsupportedOperationError, match="non-Gaussian gate\\(s\\) cross_kerr, cubic_phase"):
        qphys.execute(c, qphys.device("torch.gaussian"))


def test_truncation_is_reported_and_warned():
    c = qphys.Circuit(modes=1).displacement(1.5, 0.0, 0).expval(cv.N(0))
    with pytest.warns(TruncationWarning, match="leaked past cutoff 5"):
        r = qphys.execute(c, qphys.device("torch.fock", cutoff=5))
    lost = 1 - float(r.metadata["trace"])
    assert lost == pytest.approx(r.metadata["lost_probability"])
    assert lost > 0.05


def test_products_of_cv_observables_rejected():
    with pytest.raises(qphys.errors.ObservableError, match="products \\(@\\) of CV observables"):
        cv.X(0) @ cv.X(1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.tensor([0.1, 0.2], dtype=torch.float64)
    c = qphys.Circuit(modes=2).displacement(x, 0.1, 0).squeezing(0.2, 0.0, 1).beamsplitter(0.3, 0.1, 0, 1)
    c.kerr(0.2, 0).expval(cv.X(0)).expval(cv.N(1))
    cpu = qphys.execute(c, qphys.device("torch.fock", cutoff=8)).expvals
    gpu = qphys.execute(c, qphys.device("torch.fock", cutoff=8, torch_device="cuda")).expvals
    assert (gpu.cpu() - cpu).abs().max() < 1e-10
    g = qphys.Circuit(modes=2).displacement(x, 0.1, 0).beamsplitter(0.3, 0.1, 0, 1).expval(cv.X(1))
    a = qphys.execute(g, qphys.device("torch.gaussian")).expvals
    b = qphys.execute(g, qphys.device("torch.gaussian", torch_device="cuda")).expvals
    assert (b.cpu() - a).abs().max() < 1e-12
