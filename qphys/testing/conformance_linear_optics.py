"""Device conformance suite for linear-optical devices (single photons through passive optics):
every component in Perceval's conventions, interferometers, output-pattern probabilities with
photon-number-resolving and threshold detection, heralding, photon numbers, samples and counts,
batching and gradients, each checked against closed-form values (single-photon transition
probabilities ``|U_ij|^2``, two-photon permanents, the Hong-Ou-Mandel dip).

Run it on an installed device::

    qphys check-device perceval.slos
    pytest --pyargs qphys.testing --qphys-device torch.linear_optics

or from a test module, on chosen devices::

    from qphys.testing.conformance_linear_optics import *  # noqa: F401,F403
    from qphys.testing import DeviceSpec
    CONFORMANCE_DEVICES = [DeviceSpec("torch.linear_optics"), DeviceSpec("perceval.clifford", shots=4000)]

Whatever a device lacks (an operation or measurement outside its capabilities, exact results,
shots) becomes a skip that names the reason. With shots, probabilities are compared within
``sigmas`` binomial standard errors.

Examples:
    >>> from qphys.testing import conformance_linear_optics
    >>> "test_hong_ou_mandel" in conformance_linear_optics.__all__
    True
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

import qphys
from qphys.errors import UnsupportedOperationError
from qphys.testing.harness import parametrize, skip
from qphys.testing.spec import DeviceSpec
from qphys.testing.suite import device_fixture, parametrize_device_specs

SEED = 2718
#: Shots of the sampling checks when the device spec gives none.
SAMPLING_SHOTS = 4000


# ---- parametrization and fixtures -------------------------------------------------------------
def pytest_generate_tests(metafunc):
    """Parametrize ``device_spec`` from ``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``."""
    parametrize_device_specs(metafunc)


#: The device ``device_spec`` describes (built once per spec), skipped unless it runs
#: linear-optical circuits.
lo_device = device_fixture("linear_optics", "lo_device")


# ---- helpers ----------------------------------------------------------------------------------
def _require(dev, *, ops=(), measurements=()):
    caps = dev.capabilities
    missing = sorted(set(ops) - set(caps.operations))
    if missing:
        skip(f"{dev.name} lacks operation(s) {', '.join(missing)}")
    missing = sorted(set(measurements) - set(caps.measurements))
    if missing:
        skip(f"{dev.name} lacks measurement(s) {', '.join(missing)}")


def _exact_only(dev):
    if dev.default_config.shots is not None or not dev.capabilities.exact:
        skip(f"{dev.name} samples; this check needs exact results")


def _execute(dev, circuits, **kwargs):
    kwargs.setdefault("seed", SEED)
    try:
        return qphys.execute(circuits, dev, **kwargs)
    except UnsupportedOperationError as exc:
        skip(f"{dev.name}: {exc}")


def _tol(spec: DeviceSpec, dev, p=None, *, fraction: float = 1.0, spread: float | None = None) -> float:
    """``atol`` exact; with shots ``sigmas`` standard errors of a frequency ``p`` (binomial) or of a
    mean with standard deviation ``spread``, estimated from the ``fraction`` of the shots kept."""
    shots = dev.default_config.shots
    if shots is None:
        return spec.atol
    if spread is None:
        spread = 0.5 if p is None else math.sqrt(max(float(np.max(p * (1 - p))), 1.0 / shots))
    return spec.atol + spec.sigmas * spread / math.sqrt(shots * fraction)


def _close(actual, expected, tol, what):
    a = np.asarray(actual.detach().cpu() if torch.is_tensor(actual) else actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    assert err <= tol, f"{what}: max |actual - expected| = {err:.3g} > {tol:.3g}\nactual={a}\nexpected={e}"


def _random_unitary(m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _two_photon_probs(U: np.ndarray, inputs: tuple[int, int]) -> np.ndarray:
    """Probabilities of the 2-photon patterns of ``len(U)`` modes (Perceval's order) for photons
    entering modes ``inputs`` (distinct): ``|perm(U[t, s])|^2 / t!``."""
    m = len(U)
    out = []
    pats = sorted((p for p in itertools.product(range(3), repeat=m) if sum(p) == 2), reverse=True)
    for t in pats:
        rows = [i for i in range(m) for _ in range(t[i])]
        a, b = inputs
        perm = U[rows[0], a] * U[rows[1], b] + U[rows[1], a] * U[rows[0], b]
        out.append(abs(perm) ** 2 / math.prod(math.factorial(v) for v in t))
    return np.array(out)


# ---- components ---------------------------------------------------------------------------------
def test_hong_ou_mandel(device_spec, lo_device):
    _require(lo_device, ops=["bs"], measurements=["probs"])
    c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).probs().probs(detection="threshold")
    res = _execute(lo_device, c)
    expected = np.array([0.5, 0.0, 0.5])
    _close(res.values[0], expected, _tol(device_spec, lo_device, expected), "HOM: |2,0>, |1,1>, |0,2>")
    _close(res.values[1], [0.0, 0.5, 0.5], _tol(device_spec, lo_device, expected), "HOM clicks (1,1), (1,0), (0,1)")


@parametrize("name", ["bs", "bs_ry", "bs_h"])
def test_beam_splitter_reflectivity(device_spec, lo_device, name):
    _require(lo_device, ops=[name], measurements=["probs"])
    theta = 1.1
    c = getattr(qphys.Circuit(modes=2, photons=(1, 0)), name)(theta, 0, 1).probs()
    expected = np.array([math.cos(theta / 2) ** 2, math.sin(theta / 2) ** 2])
    _close(_execute(lo_device, c).values[0], expected, _tol(device_spec, lo_device, expected),
           f"{name}({theta}): reflectivity cos^2(theta/2)")


def test_phases_interfere_in_an_mzi(device_spec, lo_device):
    _require(lo_device, ops=["mzi", "ps", "bs"], measurements=["probs"])
    # BS, PS(phi) on the top arm, BS: P(photon stays on top) = sin^2(phi/2) (Rx convention)
    phi = 0.8
    c = qphys.Circuit(modes=2, photons=(1, 0)).bs(math.pi / 2, 0, 1).ps(phi, 0).bs(math.pi / 2, 0, 1).probs()
    expected = np.array([math.sin(phi / 2) ** 2, math.cos(phi / 2) ** 2])
    _close(_execute(lo_device, c).values[0], expected, _tol(device_spec, lo_device, expected), "BS-PS-BS fringe")
    c = qphys.Circuit(modes=2, photons=(1, 0)).mzi(0.3, phi, 0, 1).probs()
    _close(_execute(lo_device, c).values[0], expected, _tol(device_spec, lo_device, expected), "mzi(phi_a, phi_b)")


def test_interferometer_single_and_two_photons(device_spec, lo_device):
    _require(lo_device, ops=["interferometer"], measurements=["probs"])
    U = _random_unitary(3, 11)
    c1 = qphys.Circuit(modes=3, photons=(0, 1, 0)).interferometer(U).probs()
    c2 = qphys.Circuit(modes=3, photons=(1, 0, 1)).interferometer(U).probs()
    r1, r2 = _execute(lo_device, [c1, c2])
    e1 = np.abs(U[:, 1]) ** 2
    e2 = _two_photon_probs(U, (0, 2))
    _close(r1.values[0], e1, _tol(device_spec, lo_device, e1), "single photon: |U_i1|^2")
    _close(r2.values[0], e2, _tol(device_spec, lo_device, e2), "two photons: |perm|^2 / t!")


def test_photon_numbers(device_spec, lo_device):
    _require(lo_device, ops=["interferometer"], measurements=["photon_numbers"])
    U = _random_unitary(4, 5)
    s = np.array([1, 1, 0, 1])
    c = qphys.Circuit(modes=4, photons=tuple(s)).interferometer(U).photon_numbers().photon_numbers([3, 1])
    res = _execute(lo_device, c)
    expected = np.abs(U) ** 2 @ s
    tol = _tol(device_spec, lo_device, spread=1.0)
    _close(res.values[0], expected, tol, "<n_i> = sum_j |U_ij|^2 s_j")
    _close(res.values[1], expected[[3, 1]], tol, "photon numbers of modes (3, 1)")


def test_heralding(device_spec, lo_device):
    _require(lo_device, ops=["interferometer"], measurements=["probs", "photon_numbers"])
    U = _random_unitary(3, 3)
    c = qphys.Circuit(modes=3, photons=(1, 1, 0)).interferometer(U)
    c.probs(heralds={2: 0}).photon_numbers(heralds={2: 0})
    res = _execute(lo_device, c)
    joint = _two_photon_probs(U, (0, 1))  # patterns of 3 modes
    pats = sorted((p for p in itertools.product(range(3), repeat=3) if sum(p) == 2), reverse=True)
    kept = np.array([q for q, t in zip(joint, pats) if t[2] == 0])  # (2,0,0), (1,1,0), (0,2,0)
    cond = kept / kept.sum()
    _close(res.values[0], cond, _tol(device_spec, lo_device, cond, fraction=kept.sum()),
           "probabilities conditional on no photon in mode 2")
    means = cond @ np.array([[2, 0], [1, 1], [0, 2]])
    _close(res.values[1], means, _tol(device_spec, lo_device, fraction=kept.sum(), spread=1.0),
           "conditional photon numbers")
    success = res.metadata.get("herald_success", {})
    assert 0 in success, f"{lo_device.name}: metadata['herald_success'] lacks the heralded measurement"
    _close(success[0], kept.sum(), _tol(device_spec, lo_device, np.array([kept.sum()])), "herald success probability")


def test_batching_matches_loop(device_spec, lo_device):
    _require(lo_device, ops=["bs", "ps", "mzi"], measurements=["probs"])
    _exact_only(lo_device)
    thetas = torch.tensor([0.2, 0.9, 1.7], dtype=torch.float64)

    def build(t):
        c = qphys.Circuit(modes=3, photons=(1, 1, 0)).bs(t, 0, 1).ps(0.4, 1).mzi(0.3, t, 1, 2)
        return c.probs().photon_numbers() if "photon_numbers" in lo_device.capabilities.measurements else c.probs()

    batched = _execute(lo_device, build(thetas))
    singles = _execute(lo_device, [build(float(t)) for t in thetas])
    for k in range(len(batched.values)):
        assert tuple(batched.values[k].shape)[0] == 3
        _close(batched.values[k], np.stack([np.asarray(s.values[k].detach()) for s in singles]), device_spec.atol,
               "batch vs loop")


# ---- sampling -----------------------------------------------------------------------------------
def test_samples_and_counts(device_spec, lo_device):
    _require(lo_device, ops=["bs"], measurements=["sample", "counts", "probs"])
    if not lo_device.capabilities.shots:
        skip(f"{lo_device.name} cannot sample")
    shots = lo_device.default_config.shots or SAMPLING_SHOTS
    c = qphys.Circuit(modes=3, photons=(1, 1, 0)).bs(math.pi / 2, 0, 1).bs(1.0, 1, 2)
    c.sample().counts().counts(detection="threshold").probs()
    res = _execute(lo_device, c, shots=shots)
    samples = np.asarray(res.values[0])
    assert samples.shape == (shots, 3) and samples.dtype.kind == "i", f"sample() shape {samples.shape}"
    assert (samples.sum(1) == 2).all(), "every sample holds both photons"
    counts, clicks = res.values[1], res.values[2]
    assert sum(counts.values()) == shots and all(sum(k) == 2 for k in counts), "counts over 2-photon patterns"
    assert sum(clicks.values()) == shots and all(set(k) <= {0, 1} for k in clicks), "click patterns"
    assert (1, 1, 0) not in counts, "HOM: photons never leave modes (0, 1) one in each"
    freq = np.asarray(res.values[3].detach().cpu())
    from_samples = np.zeros_like(freq)
    table = sorted((p for p in itertools.product(range(3), repeat=3) if sum(p) == 2), reverse=True)
    for pattern, n in counts.items():
        from_samples[table.index(pattern)] = n / shots
    _close(freq, from_samples, 1e-12, "probs with shots are the frequencies of the same samples")
    bs = np.array([[1, 1j], [1j, 1]]) / math.sqrt(2)
    U = np.eye(3, dtype=complex)
    U[:2, :2] = bs
    c2, s2 = math.cos(0.5), math.sin(0.5)
    U = np.array([[1, 0, 0], [0, c2, 1j * s2], [0, 1j * s2, c2]]) @ U
    expected = _two_photon_probs(U, (0, 1))
    _close(freq, expected, device_spec.sigmas * 0.5 / math.sqrt(shots) + device_spec.atol, "sampled frequencies")


# ---- gradients ----------------------------------------------------------------------------------
def test_gradients(device_spec, lo_device):
    _require(lo_device, ops=["bs", "ps"], measurements=["probs"])
    _exact_only(lo_device)
    theta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    phi = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(modes=2, photons=(1, 0)).bs(math.pi / 2, 0, 1).ps(phi, 0).bs(theta, 0, 1).probs()
    p = _execute(lo_device, c).values[0]
    p[0].backward()
    # amplitude on mode 0: (e^{i phi} cos(theta/2) - sin(theta/2)) / sqrt(2) (Rx convention)
    t, f = 0.7, 0.4
    d_theta = -0.5 * math.cos(f) * math.cos(t)
    d_phi = -math.sin(f) * math.cos(t / 2) * (-math.sin(t / 2))
    expected_p0 = (1 - math.cos(f) * math.sin(t)) / 2
    _close(p[0], expected_p0, device_spec.atol, "P(|1,0>)")
    _close([float(theta.grad), float(phi.grad)], [d_theta, d_phi], max(device_spec.atol, 1e-6) * 10,
           "d P(|1,0>) / d(theta, phi)")


def test_state(device_spec, lo_device):
    _require(lo_device, ops=["bs"], measurements=["state"])
    _exact_only(lo_device)
    c = qphys.Circuit(modes=2, photons=(1, 0)).bs(math.pi / 2, 0, 1).state()
    amp = np.asarray(_execute(lo_device, c).values[0].detach().cpu())
    _close(np.stack([amp.real, amp.imag]), [[1 / math.sqrt(2), 0], [0, 1 / math.sqrt(2)]], device_spec.atol,
           "amplitudes of BS()|1,0>: (|1,0> + i|0,1>)/sqrt(2)")


__all__ = sorted(
    [name for name in dict(globals()) if name.startswith("test_")]
    + ["pytest_generate_tests", "lo_device", "DeviceSpec"]
)
