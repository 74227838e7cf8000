"""Device conformance suite for qubit devices: gates, observables, measurements, batching,
shots statistics and gradients, each checked against :mod:`qphys.testing.reference`.

Run it on an installed device::

    qphys check-device torch.qubit
    qphys check-device aer.statevector --shots 20000

or from a test module, on chosen devices::

    from qphys.testing.conformance_qubit import *  # noqa: F401,F403
    from qphys.testing import DeviceSpec
    CONFORMANCE_DEVICES = [DeviceSpec("torch.qubit"), DeviceSpec("torch.qubit", shots=20000)]

Every test takes the ``device_spec`` fixture (parametrized by :func:`pytest_generate_tests`
from ``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``). Whatever a device lacks
(an operation, measurement or observable outside its :class:`~qphys.devices.Capabilities`,
too few wires, shots, or an :class:`~qphys.errors.UnsupportedOperationError` from its
``preprocess``) becomes a skip that names the reason, never a failure. With shots, tolerances
come from :meth:`DeviceSpec.tol` (``sigmas`` standard errors of the estimate). Circuits use at
most 4 wires and every test sends its circuits in one ``execute`` call (plus one for the
backward pass of gradient tests), so slow shot-based backends stay affordable.

Examples:
    >>> from qphys.testing import conformance_qubit
    >>> "test_gate" in conformance_qubit.__all__
    True
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

import qphys
from qphys.errors import UnsupportedOperationError
from qphys.observables import Hermitian, I, X, Y, Z
from qphys.ops.qubit import QUBIT_GATES
from qphys.testing import reference as ref
from qphys.testing.harness import parametrize, skip
from qphys.testing.spec import DeviceSpec
from qphys.testing.suite import device_fixture, parametrize_device_specs

#: Seed passed to every execution (devices that honour seeds give reproducible runs).
SEED = 1234
#: Shots used for the sampling tests on devices that are exact by default but can sample.
SAMPLING_SHOTS = 4000
#: Finite-difference step for exact devices and for shot-based devices.
FD_STEP_EXACT = 1e-2
FD_STEP_SHOTS = 0.5
#: Floor of the tolerance on returned state vectors: a state is not sampled, so a shot-based spec
#: (whose ``atol`` may be 0) still needs room for floating-point rounding.
STATE_ATOL_FLOOR = 1e-5

#: Every named qubit gate, from the op registry (``unitary`` and ``state_prep`` have their own
#: tests): a newly registered gate is checked on every device without editing this suite.
GATE_NAMES = list(QUBIT_GATES)

#: Wire tuples each gate is checked on (3-wire circuits): controls below and above the target.
GATE_WIRES = {1: [(1,), (2,)], 2: [(0, 2), (2, 0), (1, 0)], 3: [(2, 0, 1), (0, 1, 2), (1, 2, 0)]}

_PREP_OPS = ("ry", "rz", "cx")


# ---- parametrization and fixtures -------------------------------------------------------------
def pytest_generate_tests(metafunc):
    """Parametrize ``device_spec`` from ``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``,
    then each check's own parameters."""
    parametrize_device_specs(metafunc)


#: The device ``device_spec`` describes (built once per spec), skipped unless it runs qubit circuits.
conformance_device = device_fixture("qubit", "conformance_device")


# ---- helpers ----------------------------------------------------------------------------------
def _shots(dev) -> int | None:
    return dev.default_config.shots


def _tol(spec: DeviceSpec, shots: int | None, spread: float = 1.0) -> float:
    """Tolerance of one estimate whose single-shot spread (std bound) is ``spread``."""
    if shots is None:
        return spec.atol
    eff = spec if spec.shots == shots else replace(spec, shots=shots)
    return eff.tol(spread)


def _state_atol(spec: DeviceSpec) -> float:
    return spec.atol if spec.shots is None else max(spec.atol, STATE_ATOL_FLOOR)


def _require(dev, *, ops=(), measurements=(), observables=(), wires=0, exact=False, shots=False):
    caps = dev.capabilities
    missing = sorted(set(ops) - set(caps.operations))
    if missing:
        skip(f"{dev.name} lacks operation(s) {', '.join(missing)}")
    missing = sorted(set(measurements) - set(caps.measurements))
    if missing:
        skip(f"{dev.name} lacks measurement(s) {', '.join(missing)}")
    missing = sorted(set(observables) - set(caps.observables))
    if missing:
        skip(f"{dev.name} lacks observable kind(s) {', '.join(missing)}")
    if caps.max_wires is not None and wires > caps.max_wires:
        skip(f"{dev.name} has {caps.max_wires} wires; this test needs {wires}")
    if exact and (_shots(dev) is not None or not caps.exact):
        skip(f"{dev.name} is configured with shots; this check needs exact results")
    if shots and not caps.shots:
        skip(f"{dev.name} cannot sample (no shots)")


def _execute(dev, circuits, **kwargs):
    """``qphys.execute`` that turns an unsupported feature into a skip."""
    kwargs.setdefault("seed", SEED)
    try:
        return qphys.execute(circuits, dev, **kwargs)
    except UnsupportedOperationError as exc:
        skip(f"{dev.name}: {exc}")


def _np(value) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu()
        if value.is_complex():
            value = value.to(torch.complex128)
        elif value.is_floating_point():
            value = value.double()
        return value.numpy()
    return np.asarray(value)


def _assert_close(actual, expected, tol: float, what: str) -> None:
    a, e = _np(actual), np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    err = float(np.abs(a - e).max()) if a.size else 0.0
    assert err <= tol, f"{what}: max deviation {err:.3g} > tolerance {tol:.3g}\n got {a}\n expected {e}"


def _random_unitary(d: int, rng: np.random.Generator) -> np.ndarray:
    z = (rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))) / math.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _random_hermitian(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    h = (a + a.conj().T) / 2
    return h / np.abs(np.linalg.eigvalsh(h)).max()


def _random_state(d: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=d) + 1j * rng.normal(size=d)
    return v / np.linalg.norm(v)


def _layer(c, rng, wires=None, entangle=False):
    """RY RZ with random angles on every wire (optionally followed by a CNOT chain)."""
    wires = range(c.num_wires) if wires is None else wires
    for w in wires:
        c.ry(float(rng.uniform(-math.pi, math.pi)), w).rz(float(rng.uniform(-math.pi, math.pi)), w)
    if entangle:
        for w in range(c.num_wires - 1):
            c.cx(w, w + 1)
    return c


def _norm(obs) -> float:
    """Bound on ``|O|``: sum over terms of ``|coefficient| * prod ||factor||``."""
    total = 0.0
    for coeff, factors in obs.terms():
        size = 1.0
        for f in factors:
            size *= float(np.abs(np.linalg.eigvalsh(f.numpy_matrix)).max())
        total += abs(coeff) * size
    return total


def _check_values(spec, dev, circuit, result, shots):
    """Compare every measurement of ``result`` with the reference."""
    expected = ref.measure(circuit)
    for k, (m, value, exp) in enumerate(zip(circuit.measurements, result.values, expected)):
        what = f"measurement {k} ({m.kind} {m.obs if m.obs is not None else m.wires})"
        if m.kind == "state":
            exp_b = np.atleast_2d(exp)
            val_b = np.atleast_2d(_np(value))
            assert val_b.shape == exp_b.shape, f"{what}: shape {val_b.shape}, expected {exp_b.shape}"
            for b in range(exp_b.shape[0]):
                dist = ref.phase_distance(val_b[b], exp_b[b])
                assert dist <= _state_atol(spec), f"{what}: state differs (up to global phase) by {dist:.3g}"
        elif m.kind == "expval":
            _assert_close(value, exp, _tol(spec, shots, _norm(m.obs)), what)
        elif m.kind == "var":
            _assert_close(value, exp, _tol(spec, shots, 3 * _norm(m.obs) ** 2), what)
        elif m.kind == "probs":
            _assert_close(value, exp, _tol(spec, shots, 0.5), what)
        else:  # pragma: no cover - the suite only builds the kinds above here
            raise AssertionError(m.kind)


def _measure_all(c, dev, *, wires=None):
    """probs (and the state where the device returns one: exact runs only) of the circuit."""
    c.probs(wires)
    if "state" in dev.capabilities.measurements and _shots(dev) is None:
        c.state()
    return c


def _needs_for(circuits):
    ops = {op.name for c in circuits for op in c.operations}
    meas = {m.kind for c in circuits for m in c.measurements}
    obs = {
        type(f).__name__
        for c in circuits
        for m in c.measurements
        if m.obs is not None
        for _, fs in m.obs.terms()
        for f in fs
    }
    return ops, meas, obs


def _run_and_check(spec, dev, circuits, **kwargs):
    ops, meas, obs = _needs_for(circuits)
    _require(dev, ops=ops, measurements=meas, observables=obs, wires=max(c.num_wires for c in circuits))
    results = _execute(dev, circuits, **kwargs)
    shots = kwargs.get("shots", _shots(dev))
    for c, r in zip(circuits, results):
        _check_values(spec, dev, c, r, shots)
    return results


# ---- gates ------------------------------------------------------------------------------------
@parametrize("gate", GATE_NAMES)
def test_gate(device_spec, conformance_device, gate):
    """Every named gate, on several wire orders, sandwiched between random rotation layers."""
    dev = conformance_device
    _require(dev, ops=(gate, *_PREP_OPS))
    num_wires, num_params, _ = ref.GATES[gate]
    rng = np.random.default_rng(sum(map(ord, gate)))
    circuits = []
    for wires in GATE_WIRES[num_wires]:
        params = [float(rng.uniform(-math.pi, math.pi)) for _ in range(num_params)]
        c = _layer(qphys.Circuit(wires=3), rng)
        getattr(c, gate)(*params, *wires)
        _measure_all(_layer(c, rng), dev)
        circuits.append(c)
    _run_and_check(device_spec, dev, circuits)


def test_unitary(device_spec, conformance_device):
    """Arbitrary unitaries on 1, 2 and 3 wires in non-sorted wire orders."""
    dev = conformance_device
    rng = np.random.default_rng(11)
    circuits = []
    for wires in [(1,), (2, 0), (1, 2, 0), (0, 1)]:
        c = _layer(qphys.Circuit(wires=3), rng)
        c.unitary(torch.tensor(_random_unitary(2 ** len(wires), rng)), wires)
        circuits.append(_measure_all(_layer(c, rng), dev))
    _run_and_check(device_spec, dev, circuits)


def test_state_prep(device_spec, conformance_device):
    """State preparation on all wires and on a subset in non-sorted order."""
    dev = conformance_device
    rng = np.random.default_rng(12)
    circuits = []
    for wires in [None, (2, 0), (1,)]:
        k = 3 if wires is None else len(wires)
        c = qphys.Circuit(wires=3).state_prep(torch.tensor(_random_state(2**k, rng)), wires)
        circuits.append(_measure_all(_layer(c, rng), dev))
    c = qphys.Circuit(wires=3).state_prep(torch.tensor(_random_state(8, rng)))
    circuits.append(_measure_all(c, dev))  # the prepared state itself, no gates after
    _run_and_check(device_spec, dev, circuits)


# ---- observables ------------------------------------------------------------------------------
def _entangled(n, seed):
    rng = np.random.default_rng(seed)
    return _layer(_layer(qphys.Circuit(wires=n), rng, entangle=True), rng)


def test_expval_pauli_words(device_spec, conformance_device):
    c = _entangled(3, 21)
    for obs in [Z(0), X(1), Y(2), I(1), X(0) @ Z(2), Y(2) @ X(0), Z(0) @ Z(1) @ Z(2), X(0) @ Y(1) @ Z(2),
                Y(1) @ Y(0)]:
        c.expval(obs)
    _run_and_check(device_spec, conformance_device, [c])


def test_expval_hermitian(device_spec, conformance_device):
    rng = np.random.default_rng(22)
    h1, h2 = _random_hermitian(2, rng), _random_hermitian(4, rng)
    c = _entangled(3, 23)
    c.expval(Hermitian(h1, 1)).expval(Hermitian(h2, [2, 0])).expval(Hermitian(h2, [0, 1]))
    c.expval(Hermitian(h1, 2) @ X(0))
    _run_and_check(device_spec, conformance_device, [c])


def test_expval_sums(device_spec, conformance_device):
    rng = np.random.default_rng(24)
    h1 = _random_hermitian(2, rng)
    c = _entangled(3, 25)
    c.expval(0.5 * Z(0) @ Z(1) + X(2))
    c.expval(0.3 * X(0) - 1.2 * Y(1) @ Z(2) + 0.25 * Y(0))
    c.expval(0.7 * Hermitian(h1, 0) - 0.4 * Z(1) @ X(2))
    _run_and_check(device_spec, conformance_device, [c])


def test_var(device_spec, conformance_device):
    rng = np.random.default_rng(26)
    h2 = _random_hermitian(4, rng)
    c = _entangled(3, 27)
    c.var(Z(0)).var(X(1) @ Y(2)).var(Hermitian(h2, [2, 1])).var(1.5 * Y(0))
    _run_and_check(device_spec, conformance_device, [c])


def test_var_of_sum(device_spec, conformance_device):
    c = _entangled(3, 28)
    c.var(0.5 * Z(0) @ Z(1) + X(2))
    _run_and_check(device_spec, conformance_device, [c])


def test_mixed_measurements(device_spec, conformance_device):
    """Several measurement kinds on one circuit keep their order."""
    c = _entangled(3, 29)
    c.probs([2]).expval(X(0) @ Z(1)).var(Y(2)).probs([1, 0])
    _run_and_check(device_spec, conformance_device, [c])


# ---- probabilities, states, samples -----------------------------------------------------------
def test_probs_wire_subsets(device_spec, conformance_device):
    """Marginals of wire subsets in the requested order (wire 0 = most significant bit)."""
    c = _entangled(4, 31)
    for wires in [None, (1,), (2, 0), (3, 1), (1, 2, 0), (0, 2), (3, 2, 1, 0)]:
        c.probs(wires)
    _run_and_check(device_spec, conformance_device, [c])


def test_basis_state_order(device_spec, conformance_device):
    """X on wire 0 of 3 gives basis index 4: wire 0 is the most significant bit."""
    dev = conformance_device
    _require(dev, ops=("x",), measurements=("probs",), wires=3)
    c = qphys.Circuit(wires=3).x(0).probs().probs([2, 0])
    r = _execute(dev, [c])[0]
    _assert_close(r.values[0], np.eye(8)[4], _tol(device_spec, _shots(dev), 0.5), "probs after X(0)")
    _assert_close(r.values[1], np.eye(4)[1], _tol(device_spec, _shots(dev), 0.5), "probs([2, 0]) after X(0)")


def test_state_up_to_global_phase(device_spec, conformance_device):
    dev = conformance_device
    _require(dev, measurements=("state",), ops=_PREP_OPS + ("h", "crz", "iswap"))
    c = _entangled(4, 32).h(3).crz(0.7, 3, 1).iswap(2, 0).state()
    r = _execute(dev, [c])[0]
    psi = _np(r.state)
    assert psi.shape == (16,), f"state shape {psi.shape}, expected (16,)"
    assert abs(np.linalg.norm(psi) - 1) <= 10 * _state_atol(device_spec), "state is not normalized"
    dist = ref.phase_distance(psi, ref.final_state(c))
    assert dist <= _state_atol(device_spec), f"state differs (up to global phase) by {dist:.3g}"


def _sampling_shots(dev) -> int:
    shots = _shots(dev)
    if shots is None:
        if not dev.capabilities.shots:
            skip(f"{dev.name} cannot sample (exact only)")
        shots = SAMPLING_SHOTS
    return shots


def _frequencies(bits: np.ndarray) -> np.ndarray:
    k = bits.shape[-1]
    idx = (bits * (1 << np.arange(k - 1, -1, -1))).sum(-1)
    return np.bincount(idx, minlength=2**k) / len(idx)


def test_sample_statistics(device_spec, conformance_device):
    """``sample`` returns ``(shots, k)`` bits (wire order as requested) following the probabilities."""
    dev = conformance_device
    shots = _sampling_shots(dev)
    c = _entangled(3, 41).sample().sample([2, 0])
    ops, meas, _ = _needs_for([c])
    _require(dev, ops=ops, measurements=meas, wires=3)
    r = _execute(dev, [c], shots=shots)[0]
    expected = ref.measure(c)
    tol = _tol(device_spec, shots, 0.5)
    for value, exp, k in zip(r.values, expected, (3, 2)):
        bits = _np(value)
        assert bits.shape == (shots, k), f"sample shape {bits.shape}, expected {(shots, k)}"
        assert np.issubdtype(bits.dtype, np.integer), f"samples must be integers, got {bits.dtype}"
        assert set(np.unique(bits)) <= {0, 1}, "samples must be bits 0/1"
        _assert_close(_frequencies(bits), exp, tol, f"sample frequencies of {k} wires")


def test_counts_statistics(device_spec, conformance_device):
    """``counts`` is a dict of bitstrings (wire order as requested) summing to shots."""
    dev = conformance_device
    shots = _sampling_shots(dev)
    c = _entangled(3, 42).counts([0, 2]).counts()
    ops, meas, _ = _needs_for([c])
    _require(dev, ops=ops, measurements=meas, wires=3)
    r = _execute(dev, [c], shots=shots)[0]
    expected = ref.measure(c)
    tol = _tol(device_spec, shots, 0.5)
    for counts, exp, k in zip(r.values, expected, (2, 3)):
        assert isinstance(counts, dict), f"counts must be a dict, got {type(counts).__name__}"
        assert sum(counts.values()) == shots, f"counts sum to {sum(counts.values())}, expected {shots}"
        freq = np.zeros(2**k)
        for key, v in counts.items():
            assert isinstance(key, str) and len(key) == k and set(key) <= {"0", "1"}, f"bad key {key!r}"
            freq[int(key, 2)] = v / shots
        _assert_close(freq, exp, tol, f"counts frequencies of {k} wires")


def test_shots_statistics(device_spec, conformance_device):
    """Sampled expectation values, variances and probabilities agree within ``sigmas`` standard errors."""
    dev = conformance_device
    shots = _sampling_shots(dev)
    rng = np.random.default_rng(43)
    c = _entangled(3, 44)
    c.expval(Z(0)).expval(X(1) @ Y(2)).expval(Hermitian(_random_hermitian(2, rng), 2)).expval(
        0.5 * Z(0) @ Z(1) - 0.8 * X(2)
    )
    c.var(Y(1)).probs([1, 2])
    _run_and_check(device_spec, dev, [c], shots=shots)


# ---- batching ---------------------------------------------------------------------------------
_B = 3


def _batched_circuit(thetas, phis, n=3):
    """Circuit with batched (tensor) or scalar (float) ``thetas``/``phis`` in several gates."""
    c = qphys.Circuit(wires=n)
    c.h(0).rx(thetas, 0).ry(0.4, 1).ry(phis, 2).cx(0, 1).crz(thetas * 1.3 + 0.1, 2, 0).rzz(phis, 1, 2)
    c.u(0.3, phis, 0.2, 1).ry(0.5, 0)
    c.expval(Z(0) @ X(1)).expval(Y(2)).probs([2, 0])
    return c


def test_batching_matches_loop(device_spec, conformance_device):
    """A batched circuit gives, element by element, what a loop over unbatched circuits gives."""
    dev = conformance_device
    thetas = torch.tensor([0.3, -1.1, 2.0], dtype=torch.float64)
    phis = torch.tensor([0.9, 0.2, -0.7], dtype=torch.float64)
    batched = _batched_circuit(thetas, phis)
    assert batched.batch_size == _B
    singles = [_batched_circuit(float(t), float(p)) for t, p in zip(thetas, phis)]
    results = _run_and_check(device_spec, dev, [batched, *singles])
    rb, loop = results[0], results[1:]
    shots = _shots(dev)
    assert tuple(_np(rb.values[0]).shape) == (_B,), "batched expval must have shape (B,)"
    assert tuple(_np(rb.values[2]).shape) == (_B, 4), "batched probs must have shape (B, 2**k)"
    assert tuple(_np(rb.expvals).shape) == (_B, 2), "Result.expvals must have shape (B, n_obs)"
    for k, spread in ((0, 1.0), (1, 1.0), (2, 0.5)):
        looped = np.stack([_np(r.values[k]) for r in loop])
        # both sides carry their own error: twice the single-estimate tolerance
        _assert_close(rb.values[k], looped, 2 * _tol(device_spec, shots, spread), f"batched vs loop, measurement {k}")


def test_batched_matrices(device_spec, conformance_device):
    """Batched ``unitary`` (B, d, d) and ``state_prep`` (B, d) inputs."""
    dev = conformance_device
    rng = np.random.default_rng(51)
    us = torch.tensor(np.stack([_random_unitary(4, rng) for _ in range(_B)]))
    vs = torch.tensor(np.stack([_random_state(8, rng) for _ in range(_B)]))
    c1 = _layer(qphys.Circuit(wires=3), rng).unitary(us, (2, 0))
    c1.expval(X(0) @ Z(2)).probs()
    c2 = qphys.Circuit(wires=3).state_prep(vs).ry(0.3, 1).cx(1, 2)
    c2.expval(Z(1)).probs([2, 1])
    _run_and_check(device_spec, dev, [c1, c2])


def test_batched_samples(device_spec, conformance_device):
    """Batched sampling gives ``(B, shots, k)`` whose rows follow each element's distribution."""
    dev = conformance_device
    shots = _sampling_shots(dev)
    thetas = torch.tensor([0.0, math.pi, math.pi / 2], dtype=torch.float64)
    c = qphys.Circuit(wires=2).ry(thetas, 1).sample([1, 0])
    _require(dev, ops=("ry",), measurements=("sample",), wires=2)
    r = _execute(dev, [c], shots=shots)[0]
    bits = _np(r.samples)
    assert bits.shape == (_B, shots, 2), f"batched samples shape {bits.shape}, expected {(_B, shots, 2)}"
    exp = ref.measure(c)[0]
    tol = _tol(device_spec, shots, 0.5)
    for b in range(_B):
        _assert_close(_frequencies(bits[b]), exp[b], tol, f"batched sample frequencies, element {b}")


# ---- gradients --------------------------------------------------------------------------------
#: (gate, wires) of the gradient circuit; parameters are drawn per gate.
_GRAD_GATES = [
    ("rx", (0,)), ("ry", (1,)), ("rz", (2,)), ("cx", (0, 1)), ("p", (0,)), ("u", (1,)),
    ("crx", (0, 2)), ("cry", (2, 1)), ("crz", (1, 0)), ("cp", (2, 0)), ("rxx", (0, 2)),
    ("ryy", (1, 2)), ("rzz", (2, 0)), ("cx", (2, 0)),
]
_GRAD_OBS = 0.8 * Z(0) @ X(1) + 0.5 * Y(2)


def _grad_gates(dev):
    gates = [(g, w) for g, w in _GRAD_GATES if g in dev.capabilities.operations]
    if not any(ref.GATES[g][1] for g, _ in gates):
        skip(f"{dev.name} has none of the parametrized gates")
    return gates


def _grad_circuit(gates, params, measure="expval"):
    """Fixed random prefix, then ``gates`` consuming ``params`` in order, then one measurement."""
    c = _layer(qphys.Circuit(wires=3), np.random.default_rng(61))
    k = 0
    for g, wires in gates:
        m = ref.GATES[g][1]
        getattr(c, g)(*[params[k + i] for i in range(m)], *wires)
        k += m
    if measure == "expval":
        c.expval(_GRAD_OBS)
    elif measure == "var":
        c.var(X(1) @ Z(2))
    else:
        c.probs([2, 0])
    return c


def _num_params(gates):
    return sum(ref.GATES[g][1] for g, _ in gates)


_PROBS_WEIGHTS = np.array([0.7, -0.3, 1.0, -0.9])


def _scalar(values, measure):
    v = np.asarray(values)
    return float((v @ _PROBS_WEIGHTS).sum()) if measure == "probs" else float(v.sum())


def _ref_loss(gates, x, measure):
    c = _grad_circuit(gates, [float(v) for v in x], measure)
    return _scalar(ref.measure(c)[0], measure)


def _ref_fd(gates, x, measure, h):
    """Central differences of the reference loss with step ``h``."""
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (_ref_loss(gates, x + e, measure) - _ref_loss(gates, x - e, measure)) / (2 * h)
    return out


def _device_grad(dev, gates, x, measure, method, **kwargs):
    params = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    c = _grad_circuit(gates, list(params.unbind()), measure)
    ops, meas, obs = _needs_for([c])
    _require(dev, ops=ops, measurements=meas, observables=obs, wires=3)
    r = _execute(dev, [c], diff_method=method, **kwargs)[0]
    v = r.values[0]
    w = torch.as_tensor(_PROBS_WEIGHTS, dtype=v.dtype)
    loss = (v * w).sum() if measure == "probs" else v.sum()
    loss.backward()
    assert params.grad is not None, f"{method}: no gradient reached the parameters"
    return params.grad.detach().numpy()


def _grad_spread(measure):
    # one parameter-shift derivative is sum_k c_k f(θ + s_k) with sum |c_k| = 1 for every rule here
    return {"expval": _norm(_GRAD_OBS), "var": 3.0, "probs": float(np.abs(_PROBS_WEIGHTS).max())}[measure]


@parametrize("measure", ["expval", "var", "probs"])
def test_gradient_parameter_shift(device_spec, conformance_device, measure):
    """Parameter-shift gradients (every parametrized gate, incl. four-term rules) vs the reference."""
    dev = conformance_device
    gates = _grad_gates(dev)
    x = np.random.default_rng(62).uniform(-math.pi, math.pi, _num_params(gates))
    got = _device_grad(dev, gates, x, measure, "parameter-shift")
    exact = _ref_fd(gates, x, measure, 1e-6)
    tol = _tol(device_spec, _shots(dev), _grad_spread(measure)) * (3 if measure == "var" else 1) + 1e-6
    _assert_close(got, exact, tol, f"parameter-shift gradient of {measure}")


def test_gradient_finite_diff_matches_parameter_shift(device_spec, conformance_device):
    """Finite differences on the device agree with the reference differences and with parameter shift."""
    dev = conformance_device
    gates = _grad_gates(dev)
    shots = _shots(dev)
    h = FD_STEP_EXACT if shots is None else FD_STEP_SHOTS
    x = np.random.default_rng(63).uniform(-math.pi, math.pi, _num_params(gates))
    config = replace(dev.default_config, fd_step=h, seed=SEED)
    fd = _device_grad(dev, gates, x, "expval", "finite-diff", config=config)
    # each of the two evaluations is off by at most tol: the difference quotient by tol / h
    tol_fd = _tol(device_spec, shots, _norm(_GRAD_OBS)) / h
    _assert_close(fd, _ref_fd(gates, x, "expval", h), tol_fd, f"finite-diff gradient (step {h})")
    ps = _device_grad(dev, gates, x, "expval", "parameter-shift")
    truncation = _ref_fd(gates, x, "expval", h) - _ref_fd(gates, x, "expval", 1e-6)
    tol_ps = _tol(device_spec, shots, _norm(_GRAD_OBS))
    _assert_close(fd - truncation, ps, tol_fd + tol_ps + 1e-6, "finite-diff vs parameter-shift")


def test_gradient_batched(device_spec, conformance_device):
    """Gradients of a batched circuit equal the per-element gradients (parameter shift)."""
    dev = conformance_device
    _require(dev, ops=("h", "rx", "ry", "cx", "crz", "rzz", "u"), measurements=("expval", "probs"), wires=3)
    thetas = torch.tensor([0.3, -1.1, 2.0], dtype=torch.float64, requires_grad=True)
    phis = torch.tensor([0.9, 0.2, -0.7], dtype=torch.float64, requires_grad=True)
    r = _execute(dev, [_batched_circuit(thetas, phis)], diff_method="parameter-shift")[0]
    (r.values[0].sum() + 0.5 * r.values[1].sum()).backward()

    def loss(t, p):
        vals = ref.measure(_batched_circuit(t, p))
        return float(vals[0] + 0.5 * vals[1])

    h = 1e-6
    exp_t = [(loss(t + h, p) - loss(t - h, p)) / (2 * h) for t, p in zip(thetas.tolist(), phis.tolist())]
    exp_p = [(loss(t, p + h) - loss(t, p - h)) / (2 * h) for t, p in zip(thetas.tolist(), phis.tolist())]
    # thetas appear in two gates (rx and crz: 2 + 4 shift terms), phis in three
    tol = 3 * _tol(device_spec, _shots(dev), 1.5) + 1e-6
    _assert_close(thetas.grad, exp_t, tol, "batched gradient wrt thetas")
    _assert_close(phis.grad, exp_p, tol, "batched gradient wrt phis")


def test_gradient_native(device_spec, conformance_device):
    """The device's native differentiation (backprop / adjoint) agrees with parameter shift."""
    dev = conformance_device
    native = [m for m in dev.capabilities.native_diff if m in ("backprop", "adjoint")]
    if not native:
        skip(f"{dev.name} has no native differentiation")
    _require(dev, exact=True)
    gates = _grad_gates(dev)
    x = np.random.default_rng(64).uniform(-math.pi, math.pi, _num_params(gates))
    ps = _device_grad(dev, gates, x, "expval", "parameter-shift")
    for method in native:
        got = _device_grad(dev, gates, x, "expval", method)
        _assert_close(got, ps, 2 * device_spec.atol * _norm(_GRAD_OBS) + 1e-6, f"{method} vs parameter-shift")


__all__ = sorted(
    [name for name in dict(globals()) if name.startswith("test_")]
    + ["pytest_generate_tests", "conformance_device", "DeviceSpec", "GATE_NAMES"]
)
