"""Neural tomography: basis conventions against the device, reconstructions, classical shadows."""

import math

import numpy as np
import pytest
import torch

import qphys
from qphys.errors import ConfigError, ParameterError
from qphys.nqs import RBM, AmplitudePhase, fidelity
from qphys.nqs.tomography import (
    ROTATION_ANGLES,
    Tomography,
    classical_shadow,
    exact_state,
    fidelity_to,
    measure,
    model_expectation,
    pauli_expectation,
    rotate,
    shadow_expectation,
)


def _random_circuit():
    return qphys.Circuit(wires=3).ry(0.3, 0).rx(0.7, 1).h(2).cx(0, 2).rz(0.4, 1).cy(1, 0).t(2)


@pytest.mark.parametrize("basis", ["XYZ", "YYX", "ZXY", "XXX"])
def test_rotations_match_the_device_probabilities(basis):
    c = _random_circuit()
    rotated = c.copy()
    for w, letter in enumerate(basis):
        theta, phi = ROTATION_ANGLES[letter]
        rotated.ry(theta, w).rx(phi, w)
    probs = qphys.execute(rotated.probs(), qphys.device("torch.qubit", dtype="complex128")).probs
    torch.testing.assert_close(rotate(exact_state(c), basis).abs().pow(2), probs.to(torch.float64))


def test_pauli_expectations_match_the_device():
    c = _random_circuit()
    state = exact_state(c)
    dev = qphys.device("torch.qubit", dtype="complex128")
    for word, obs in [("XIZ", qphys.X(0) @ qphys.Z(2)), ("YYX", qphys.Y(0) @ qphys.Y(1) @ qphys.X(2))]:
        expected = float(qphys.execute(c.copy().expval(obs), dev).expvals[0])
        assert pauli_expectation(state, word) == pytest.approx(expected, abs=1e-12)


def test_positive_rbm_reconstructs_a_ghz_state():
    ghz = qphys.Circuit(wires=4).h(0).cx(0, 1).cx(1, 2).cx(2, 3)
    record = measure(ghz, ["ZZZZ"], shots=4000, seed=0)
    assert record.shots == [4000] and record.histograms().sum() == 4000
    tomo = Tomography(RBM(4, alpha=2, seed=0), record, lr=0.05, target=exact_state(ghz), log_every=100)
    history = tomo.fit(400, progress=False)
    assert history.nll[-1] < history.nll[0]
    assert fidelity_to(tomo.model, ghz) > 0.99
    assert history.fidelity[-1] == pytest.approx(fidelity_to(tomo.model, ghz), abs=1e-12)


def test_amplitude_phase_model_learns_relative_phases():
    # (|00> + e^{iπ/3}|11>)/sqrt(2) ⊗ |+>: the phase is visible only in rotated bases
    c = qphys.Circuit(wires=3).h(0).cx(0, 1).p(math.pi / 3, 1).h(2)
    record = measure(c, ["ZZZ", "XXX", "XYX", "YXX"], shots=4000, seed=1)
    model = AmplitudePhase(RBM(3, alpha=2, seed=0), RBM(3, alpha=2, seed=1))
    Tomography(model, record, lr=0.05).fit(400, progress=False)
    assert fidelity_to(model, c) > 0.98
    positive = RBM(3, alpha=2, seed=0)  # a positive model cannot carry the phase
    Tomography(positive, record, lr=0.05).fit(400, progress=False)
    assert fidelity_to(positive, c) < 0.95


def test_classical_shadows_estimate_pauli_words():
    ghz = qphys.Circuit(wires=3).h(0).cx(0, 1).cx(1, 2)
    shadow = classical_shadow(ghz, 6000, seed=3)
    assert shadow.bases.shape == (6000, 3) and set(np.unique(shadow.bases)) == {"X", "Y", "Z"}
    state = exact_state(ghz)
    for word in ["ZZI", "IZZ", "XXX", "XYY", "ZII"]:
        mean, err = shadow_expectation(shadow, word)
        assert abs(mean - pauli_expectation(state, word)) < 5 * err + 1e-9


def test_measurements_from_the_aer_plugin():
    pytest.importorskip("qphys_qiskit")
    bell = qphys.Circuit(wires=2).h(0).cx(0, 1)
    record = measure(bell, ["ZZ", "XX"], shots=500, device="aer.statevector", seed=0)
    for outcomes in record.outcomes:  # Bell: equal outcomes in both bases
        assert bool((outcomes[:, 0] == outcomes[:, 1]).all())
    model = RBM(2, alpha=2, seed=0)
    Tomography(model, record, lr=0.05).fit(300, progress=False)
    assert fidelity_to(model, bell) > 0.98
    assert model_expectation(model, "XX") == pytest.approx(1.0, abs=0.05)


def test_errors():
    c = qphys.Circuit(wires=2).h(0)
    with pytest.raises(ConfigError, match="2 letters from X, Y, Z"):
        measure(c, ["ZZZ"], shots=10)
    with pytest.raises(ConfigError, match="positive integer"):
        measure(c, ["ZZ"], shots=0)
    with pytest.raises(ParameterError, match="without them"):
        measure(c.copy().probs(), ["ZZ"], shots=10)
    record = measure(c, ["XX"], shots=10, seed=0)
    with pytest.raises(ParameterError, match="3 sites but the record 2"):
        Tomography(RBM(3), record)
    with pytest.raises(ConfigError, match="warmup=0"):
        Tomography(RBM(2), record).fit(2, warmup=1, progress=False)
    assert fidelity(np.array([1, 0]), np.array([0, 1])) == 0.0


def test_plots_build_figures():
    from qphys.nqs.plots import energy_convergence, observable_comparison
    from qphys.nqs.vmc import History

    fig = observable_comparison(["ZZ", "XX"], [1.0, 0.5], [0.9, 0.4], [1.1, 0.6], [0.1, 0.1], title="t")
    assert len(fig.axes) == 1
    runs = {"a": History(energy=[-1.0, -2.0], error=[0.1, 0.1]), "b": History(energy=[-1.5, -1.9])}
    assert len(energy_convergence(runs).axes) == 1
