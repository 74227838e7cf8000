"""Device conformance suite for photonic (CV) devices: every gate, quadrature / photon-number /
quadratic observables, Fock probabilities, homodyne statistics, batching and gradients, each
checked against closed-form values (hbar = 2, Strawberry Fields' gate conventions).

Run it on an installed device::

    qphys check-device torch.fock
    pytest --pyargs qphys.testing --qphys-device sf.gaussian

or from a test module, on chosen devices::

    from qphys.testing.conformance_cv import *  # noqa: F401,F403
    from qphys.testing import DeviceSpec
    CONFORMANCE_DEVICES = [DeviceSpec("torch.fock", options={"cutoff": 15})]

Every test takes the ``device_spec`` fixture (parametrized by :func:`pytest_generate_tests` from
``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``). Whatever a device lacks (an
operation or measurement outside its capabilities, exact results, shots) becomes a skip that
names the reason.

Truncation: the checks hold for a device in its default configuration, so every state is small
enough that a Fock cutoff of 10 (the default of ``torch.fock`` and ``sf.fock``) represents it to
well within the default tolerance ``atol=1e-5``: the squeezed vacuum of :func:`test_squeezing` has
``r = 0.15`` (its moments at cutoff 10 are off by 2e-7; at ``r = 0.3`` they were off by 1e-4), and
:func:`test_gradient_displacement` squeezes by ``s = 0.1``: the exact four-term shift rule of a
squeezing magnitude evaluates the circuit at ``s +- 0.1`` and ``s +- 0.2``, and the displaced
state squeezed by ``s + 0.2 = 0.3`` is represented at cutoff 10 only to 3e-5, which leaves the
gradient on ``sf.fock`` off by 2e-5 (tolerance 1e-4; at ``s = 0.2`` it was off by 1.1e-4). A
Fock device configured with a smaller cutoff can fail a check by truncation alone;
``torch.fock`` reports the probability lost past its cutoff in ``Result.metadata``.

Examples:
    >>> from qphys.testing import conformance_cv
    >>> "test_displacement" in conformance_cv.__all__
    True
"""

from __future__ import annotations

import math

import numpy as np
import torch

import qphys
from qphys import cv
from qphys.errors import UnsupportedOperationError
from qphys.testing.harness import raises, skip
from qphys.testing.spec import DeviceSpec  # noqa: F401 - re-exported (__all__) for test modules
from qphys.testing.suite import device_fixture, parametrize_device_specs

SEED = 4321
#: Shots of the homodyne statistics test.
HOMODYNE_SHOTS = 2000


# ---- parametrization and fixtures -------------------------------------------------------------
def pytest_generate_tests(metafunc):
    """Parametrize ``device_spec`` from ``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``,
    then each check's own parameters."""
    parametrize_device_specs(metafunc)


#: The device ``device_spec`` describes (built once per spec), skipped unless it runs cv circuits.
cv_device = device_fixture("cv", "cv_device")


# ---- helpers ----------------------------------------------------------------------------------
def _require(dev, *, ops=(), measurements=(), exact=True):
    caps = dev.capabilities
    missing = sorted(set(ops) - set(caps.operations))
    if missing:
        skip(f"{dev.name} lacks operation(s) {', '.join(missing)}")
    missing = sorted(set(measurements) - set(caps.measurements))
    if missing:
        skip(f"{dev.name} lacks measurement(s) {', '.join(missing)}")
    if exact and (dev.default_config.shots is not None or not caps.exact):
        skip(f"{dev.name} is configured with shots; this check needs exact results")


def _execute(dev, circuits, **kwargs):
    kwargs.setdefault("seed", SEED)
    try:
        return qphys.execute(circuits, dev, **kwargs)
    except UnsupportedOperationError as exc:
        skip(f"{dev.name}: {exc}")


def _close(actual, expected, tol, what, *, result=None):
    a = np.asarray(actual.detach().cpu() if torch.is_tensor(actual) else actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    assert err <= tol, (f"{what}: max |actual - expected| = {err:.3g} > {tol:.3g}{_truncation_note(result)}"
                        f"\nactual={a}\nexpected={e}")


def _truncation_note(result) -> str:
    """Where a Fock device reports probability lost past its cutoff, say so: a failure then may be
    truncation (raise the cutoff), not a wrong gate."""
    lost = (getattr(result, "metadata", None) or {}).get("lost_probability")
    if lost is None or float(lost) <= 1e-12:
        return ""
    return f" (the device lost probability {float(lost):.2g} past its Fock cutoff: raise its cutoff if this is truncation)"


def _coherent_moments(alpha: complex):
    return 2 * alpha.real, 2 * alpha.imag, abs(alpha) ** 2


# ---- gates --------------------------------------------------------------------------------------
def test_displacement(device_spec, cv_device):
    _require(cv_device, ops=["displacement"])
    r, phi = 0.4, 0.7
    c = qphys.Circuit(modes=1).displacement(r, phi, 0)
    c.expval(cv.X(0)).expval(cv.P(0)).expval(cv.N(0)).var(cv.X(0))
    res = _execute(cv_device, c)
    x, p, n = _coherent_moments(r * complex(math.cos(phi), math.sin(phi)))
    _close(res.expvals, [x, p, n, 1.0], device_spec.atol, "coherent state moments", result=res)


def test_squeezing(device_spec, cv_device):
    _require(cv_device, ops=["squeezing"])
    r = 0.15  # represented by a cutoff of 10 to 2e-7 (see the module docstring)
    c = qphys.Circuit(modes=1).squeezing(r, 0.0, 0).var(cv.X(0)).var(cv.P(0)).expval(cv.N(0))
    res = _execute(cv_device, c)
    _close(res.expvals, [math.exp(-2 * r), math.exp(2 * r), math.sinh(r) ** 2], device_spec.atol,
           "squeezed vacuum", result=res)


def test_rotation(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "rotation"])
    c = qphys.Circuit(modes=1).displacement(0.5, 0.2, 0).rotation(0.9, 0).expval(cv.X(0)).expval(cv.P(0))
    res = _execute(cv_device, c)
    _close(res.expvals, [2 * 0.5 * math.cos(1.1), 2 * 0.5 * math.sin(1.1)], device_spec.atol, "rotated coherent state", result=res)


def test_beamsplitter(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "beamsplitter"])
    alpha = 0.5 * complex(math.cos(0.3), math.sin(0.3))
    theta, phi = 0.6, 0.4
    c = qphys.Circuit(modes=2).displacement(0.5, 0.3, 0).beamsplitter(theta, phi, 0, 1)
    c.expval(cv.X(0)).expval(cv.X(1)).expval(cv.P(1)).expval(cv.N(0)).expval(cv.N(1))
    res = _execute(cv_device, c)
    a0 = alpha * math.cos(theta)
    a1 = alpha * math.sin(theta) * complex(math.cos(phi), math.sin(phi))
    _close(res.expvals, [2 * a0.real, 2 * a1.real, 2 * a1.imag, abs(a0) ** 2, abs(a1) ** 2],
           device_spec.atol, "beamsplitter on a coherent state", result=res)


def test_two_mode_squeezing(device_spec, cv_device):
    _require(cv_device, ops=["two_mode_squeezing"])
    r = 0.3
    c = qphys.Circuit(modes=2).two_mode_squeezing(r, 0.5, 0, 1)
    c.expval(cv.N(0)).expval(cv.N(1)).var(cv.X(0))
    res = _execute(cv_device, c)
    _close(res.expvals, [math.sinh(r) ** 2, math.sinh(r) ** 2, math.cosh(2 * r)], device_spec.atol,
           "two-mode squeezed vacuum", result=res)


def test_interferometer(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "interferometer"])
    rng = np.random.default_rng(7)
    U, _ = np.linalg.qr(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))
    alphas = np.array([0.3, 0.2j, -0.25])
    c = qphys.Circuit(modes=3)
    for k, a in enumerate(alphas):
        c.displacement(abs(a), float(np.angle(a)), k)
    c.interferometer(U)
    for k in range(3):
        c.expval(cv.X(k)).expval(cv.P(k))
    res = _execute(cv_device, c)
    out = U @ alphas
    _close(res.expvals, np.ravel([[2 * o.real, 2 * o.imag] for o in out]), device_spec.atol, "interferometer", result=res)


def test_kerr(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "kerr"])
    r, kappa = 0.4, 0.3
    c = qphys.Circuit(modes=1).displacement(r, 0.0, 0).kerr(kappa, 0)
    c.expval(cv.X(0)).expval(cv.P(0)).expval(cv.N(0))
    res = _execute(cv_device, c)
    a = r * np.exp(1j * kappa) * np.exp(r**2 * (np.exp(2j * kappa) - 1))  # <a> after exp(i k n^2)
    _close(res.expvals, [2 * a.real, 2 * a.imag, r**2], device_spec.atol, "Kerr on a coherent state", result=res)


def test_cross_kerr(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "cross_kerr"])
    r0, r1, kappa = 0.4, 0.3, 0.5
    c = qphys.Circuit(modes=2).displacement(r0, 0.0, 0).displacement(r1, 0.0, 1).cross_kerr(kappa, 0, 1)
    c.expval(cv.X(0)).expval(cv.N(0)).expval(cv.N(1))
    res = _execute(cv_device, c)
    # <a_0> = alpha_0 <exp(i kappa n_1)>_coherent(alpha_1) = alpha_0 exp(|alpha_1|^2 (e^{i kappa} - 1))
    a0 = r0 * np.exp(r1**2 * (np.exp(1j * kappa) - 1))
    _close(res.expvals, [2 * a0.real, r0**2, r1**2], device_spec.atol, "cross-Kerr", result=res)


def test_cubic_phase(device_spec, cv_device):
    _require(cv_device, ops=["cubic_phase"])
    gamma = 0.05
    c = qphys.Circuit(modes=1).cubic_phase(gamma, 0).expval(cv.X(0)).expval(cv.P(0))
    res = _execute(cv_device, c)
    # V^dag p V = p + gamma x^2, vacuum <x^2> = 1 (hbar = 2)
    _close(res.expvals, [0.0, gamma], max(device_spec.atol, 1e-6), "cubic phase on vacuum", result=res)


def test_non_gaussian_rejected_by_gaussian_devices(device_spec, cv_device):
    missing = sorted({"kerr", "cross_kerr", "cubic_phase"} - set(cv_device.capabilities.operations))
    if not missing:
        skip(f"{cv_device.name} supports every non-Gaussian gate")
    c = qphys.Circuit(modes=2).displacement(0.1, 0.0, 0).kerr(0.1, 0).expval(cv.X(0))
    with raises(UnsupportedOperationError, match="kerr"):
        qphys.execute(c, cv_device)


# ---- observables and measurements ---------------------------------------------------------------------
def test_quadratic_form(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "squeezing"])
    # O = x0^2 + 0.5 (x0 p1 + p1 x0) + 0.3 p0 + 1, on a displaced squeezed product state
    A = np.zeros((4, 4))
    A[0, 0] = 1.0
    A[0, 3] = A[3, 0] = 0.5
    d = np.array([0.0, 0.0, 0.3, 0.0])
    obs = cv.PolyXP(A, d, 1.0, modes=[0, 1])
    r, a0, a1 = 0.2, 0.3, 0.25
    c = qphys.Circuit(modes=2).squeezing(r, 0.0, 0).displacement(a0, 0.0, 0).displacement(a1, math.pi / 2, 1)
    c.expval(obs)
    res = _execute(cv_device, c)
    x0, p1 = 2 * a0, 2 * a1
    expected = (math.exp(-2 * r) + x0**2) + x0 * p1 + 0.3 * 0.0 + 1.0
    _close(res.expvals, [expected], device_spec.atol, "quadratic form", result=res)


def test_fock_probs(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "squeezing"], measurements=["fock_probs"])
    cutoff = device_spec.options.get("cutoff", getattr(cv_device, "cutoff", 10))
    r, s = 0.5, 0.3
    c = qphys.Circuit(modes=2).displacement(r, 0.4, 0).squeezing(s, 0.0, 1).fock_probs([0]).fock_probs([1])
    c.fock_probs()
    res = _execute(cv_device, c)
    n = np.arange(cutoff)
    poisson = np.exp(-r * r) * np.array([r ** (2 * k) / math.factorial(k) for k in n])
    sq = np.zeros(cutoff)
    for k in range(0, cutoff, 2):
        m = k // 2
        sq[k] = math.factorial(k) / (2**k * math.factorial(m) ** 2) * math.tanh(s) ** k / math.cosh(s)
    _close(res.values[0], poisson, device_spec.atol, "coherent-state photon statistics", result=res)
    _close(res.values[1], sq, device_spec.atol, "squeezed-vacuum photon statistics", result=res)
    _close(res.values[2], np.outer(poisson, sq).reshape(-1), device_spec.atol, "joint probabilities (mode 0 major)", result=res)


def test_homodyne_statistics(device_spec, cv_device):
    _require(cv_device, ops=["displacement"], measurements=["homodyne"], exact=False)
    if not cv_device.capabilities.shots:
        skip(f"{cv_device.name} cannot sample")
    shots = device_spec.shots or HOMODYNE_SHOTS
    r, phi, theta = 0.5, 0.3, 0.8
    c = qphys.Circuit(modes=1).displacement(r, phi, 0).homodyne(0, theta)
    res = _execute(cv_device, c, shots=shots)
    s = np.asarray(res.values[0].detach().cpu() if torch.is_tensor(res.values[0]) else res.values[0], dtype=float)
    assert s.shape == (shots,)
    mean = 2 * r * math.cos(phi - theta)
    _close(s.mean(), mean, 5.0 / math.sqrt(shots), "homodyne mean")
    _close(s.var(), 1.0, 5.0 * math.sqrt(2.0 / shots), "homodyne variance (vacuum noise 1)")


def test_batching_matches_loop(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "squeezing", "rotation"])
    rs = torch.tensor([0.1, 0.3, 0.5], dtype=torch.float64)

    def build(r):
        return (qphys.Circuit(modes=1).squeezing(0.2, 0.1, 0).displacement(r, 0.3, 0).rotation(0.4, 0)
                .expval(cv.X(0)).expval(cv.N(0)))

    batched = _execute(cv_device, build(rs)).expvals
    assert tuple(batched.shape) == (3, 2)
    singles = _execute(cv_device, [build(float(r)) for r in rs])
    _close(batched, np.stack([np.asarray(s.expvals.detach()) for s in singles]), device_spec.atol, "batch vs loop")


# ---- gradients ---------------------------------------------------------------------------------
def test_gradient_displacement(device_spec, cv_device):
    _require(cv_device, ops=["displacement", "squeezing"])
    r = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    phi = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)  # small: see the module docstring
    c = qphys.Circuit(modes=1).squeezing(s, 0.0, 0).displacement(r, phi, 0).expval(cv.X(0)).expval(cv.N(0))
    res = _execute(cv_device, c)
    (res.expvals[0] + res.expvals[1]).backward()
    # <x> = 2 r cos(phi); <n> = sinh(s)^2 + r^2
    expected = [2 * math.cos(0.3) + 2 * 0.4, -2 * 0.4 * math.sin(0.3), 2 * math.sinh(0.1) * math.cosh(0.1)]
    tol = max(device_spec.atol, 1e-5) * 10
    _close([float(r.grad), float(phi.grad), float(s.grad)], expected, tol, "gradients of <x> + <n>", result=res)


__all__ = sorted(
    [name for name in dict(globals()) if name.startswith("test_")]
    + ["pytest_generate_tests", "cv_device", "DeviceSpec"]
)
