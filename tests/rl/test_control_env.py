"""QubitControl-v0 / SpinChainControl-v0: physics against an independent Qiskit + SciPy reference,
rewards, observations, and bad input."""

import math

import gymnasium as gym
import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import SparsePauliOp, Statevector

import qphys
import qphys.rl
from qphys.errors import ConfigError
from qphys.rl.control_env import QubitControlEnv, SpinChainControlEnv, chain_hamiltonian


def qiskit_chain(L, h, J=1.0, g=1.0, periodic=True):
    """Bukov et al.'s chain built with Qiskit (little-endian), returned big-endian (wire 0 MSB)."""
    terms = []
    if L > 1:
        bonds = [(j, (j + 1) % L) for j in range(L if periodic and L > 2 else L - 1)]
        terms += [("ZZ", [a, b], -J / 4) for a, b in bonds]
    terms += [("Z", [j], -g / 2) for j in range(L)] + [("X", [j], -h / 2) for j in range(L)]
    # qiskit qubit q is our wire L-1-q
    op = SparsePauliOp.from_sparse_list([(p, [L - 1 - w for w in ws], c) for p, ws, c in terms], L)
    return op.to_matrix()


def reference_fidelity(L, fields, dt, J=1.0, g=1.0):
    def gs(H):
        return np.linalg.eigh(H)[1][:, 0]

    psi = Statevector(gs(qiskit_chain(L, -2.0, J, g)))
    for h in fields:
        psi = psi.evolve(scipy.linalg.expm(-1j * dt * qiskit_chain(L, h, J, g)))
    return abs(np.vdot(gs(qiskit_chain(L, 2.0, J, g)), psi.data)) ** 2


@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_hamiltonian_matches_qiskit(L):
    for h in (-2.0, 0.7, 4.0):
        ref = qiskit_chain(L, h)
        np.testing.assert_allclose(chain_hamiltonian(L, h), ref, atol=1e-12)


def test_qubit_initial_fidelity_is_bukov_value():
    env = QubitControlEnv(T=1.0)
    assert env.initial_fidelity == pytest.approx(0.2, abs=1e-12)
    _, info = env.reset(seed=0)
    assert info["fidelity"] == pytest.approx(0.2, abs=1e-12)
    assert info["t"] == 0 and info["protocol"].size == 0
    np.testing.assert_allclose(env.step_unitaries[0], scipy.linalg.expm(-1j * 0.05 * chain_hamiltonian(1, -4.0)))


@pytest.mark.parametrize("L", [1, 3])
def test_episode_fidelity_matches_reference(L):
    rng = np.random.default_rng(L)
    env = SpinChainControlEnv(L=L, T=0.6) if L > 1 else QubitControlEnv(T=0.6)
    protocol = rng.integers(0, 2, env.num_steps)
    env.reset(seed=1)
    rewards = []
    for k, a in enumerate(protocol):
        obs, r, term, trunc, info = env.step(int(a))
        rewards.append(r)
        assert term == (k == env.num_steps - 1) and not trunc
        assert info["t"] == pytest.approx((k + 1) * 0.05)
    fields = np.where(protocol == 1, 4.0, -4.0)
    ref = reference_fidelity(L, fields, 0.05)
    assert info["fidelity"] == pytest.approx(ref, abs=1e-10)
    assert rewards[-1] == pytest.approx(ref, abs=1e-10) and all(r == 0 for r in rewards[:-1])
    np.testing.assert_array_equal(info["protocol"], fields)
    # the batched device evaluation agrees with stepping
    batch = np.stack([protocol, 1 - protocol])
    f = env.fidelities(batch)
    assert f[0] == pytest.approx(ref, abs=1e-10)
    assert f[1] == pytest.approx(reference_fidelity(L, -fields, 0.05), abs=1e-10)


def test_dense_reward_telescopes_to_fidelity_gain():
    env = QubitControlEnv(T=0.5, dense_reward=True)
    env.reset(seed=0)
    total = 0.0
    for a in [1, 1, 0, 1, 0, 0, 1, 1, 0, 1]:
        _, r, term, _, info = env.step(a)
        total += r
    assert term
    assert total == pytest.approx(info["fidelity"] - 0.2, abs=1e-12)


def test_observation_modes():
    env = QubitControlEnv(T=0.2, observation="protocol")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.zeros(5, np.float32))
    obs, *_ = env.step(1)
    obs, *_ = env.step(0)
    np.testing.assert_allclose(obs, [1, -1, 0, 0, 0.5])
    env = QubitControlEnv(T=0.2, observation="time_field")
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs, [0, -0.5])
    obs, *_ = env.step(1)
    np.testing.assert_allclose(obs, [0.25, 1.0])
    env = SpinChainControlEnv(L=2, T=0.2, observation="state")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9,) and env.observation_space.contains(obs)
    np.testing.assert_allclose(obs[:4] + 1j * obs[4:8], env.psi_initial, atol=1e-6)
    obs, *_ = env.step(0)
    psi = obs[:4] + 1j * obs[4:8]
    np.testing.assert_allclose(psi, env.step_unitaries[0] @ env.psi_initial, atol=1e-6)
    assert obs[-1] == pytest.approx(0.25)


def test_configurable_actions_and_other_device():
    env = QubitControlEnv(T=0.1, actions=(-4.0, 0.0, 4.0), device=qphys.device("torch.qubit", dtype="complex64"))
    assert env.action_space.n == 3
    env.reset(seed=0)
    env.step(2)
    _, r, term, _, info = env.step(1)
    assert term
    assert r == pytest.approx(reference_fidelity(1, [4.0, 0.0], 0.05), abs=1e-5)


def test_render_ansi():
    env = gym.make("qphys/QubitControl-v0", T=0.1, render_mode="ansi")
    env.reset(seed=0)
    env.step(1)
    assert env.render().startswith("t=0.05/0.1 F=") and env.render().endswith("protocol +")


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("action", [2, -1, 0.5, "a", None, np.array([0, 1])])
def test_invalid_action_index(action):
    env = QubitControlEnv(T=0.5)
    env.reset(seed=0)
    with pytest.raises(gym.error.InvalidAction, match=r"action .* is not in Discrete\(2\)"):
        env.step(action)


def test_numpy_integer_actions_accepted():
    """numpy scalars act exactly like the Python ints: protocol (+4, -4) reaches the reference fidelity."""
    env = QubitControlEnv(T=0.1)
    env.reset(seed=0)
    _, r0, term0, _, info0 = env.step(np.int64(1))
    _, r1, term1, _, info1 = env.step(np.array(0))
    assert not term0 and r0 == 0 and term1
    np.testing.assert_array_equal(info1["protocol"], [4.0, -4.0])
    assert r1 == pytest.approx(reference_fidelity(1, [4.0, -4.0], 0.05), abs=1e-10)


def test_step_before_reset_and_after_termination():
    env = QubitControlEnv(T=0.1)
    with pytest.raises(gym.error.ResetNeeded, match="call env.reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    _, _, term, _, _ = env.step(0)
    assert term
    with pytest.raises(gym.error.ResetNeeded, match="episode has ended"):
        env.step(0)
    env.reset()
    env.step(0)  # fine again after reset


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"T": 0}, "T \\(total time\\) must be a positive finite number"),
        ({"T": -1.0}, "T \\(total time\\) must be a positive finite number"),
        ({"T": math.nan}, "T \\(total time\\) must be a positive finite number"),
        ({"T": "1"}, "T \\(total time\\) must be a positive number"),
        ({"T": 1.07}, "T=1.07 is not a positive whole multiple of dt=0.05"),
        ({"T": 0.01}, "not a positive whole multiple of dt"),
        ({"dt": 0}, "dt \\(time step\\) must be a positive finite number"),
        ({"dt": math.inf}, "dt \\(time step\\) must be a positive finite number"),
        ({"actions": (4.0,)}, "at least two distinct finite field values"),
        ({"actions": (4.0, 4.0)}, "at least two distinct finite field values"),
        ({"actions": (4.0, math.nan)}, "at least two distinct finite field values"),
        ({"observation": "pixels"}, "observation must be one of"),
        ({"render_mode": "human"}, "render_mode must be None or 'ansi'"),
        ({"L": 2}, "QubitControlEnv is one spin; L is not an option"),
        ({"h_target": math.inf}, "h_target must be a finite number"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        QubitControlEnv(**kwargs)


@pytest.mark.parametrize("L", [0, 17, 2.5, True])
def test_bad_chain_length(L):
    with pytest.raises(ConfigError, match="L \\(number of spins\\) must be an integer in 1..16"):
        SpinChainControlEnv(L=L)


def test_bad_options_through_gym_make():
    with pytest.raises(ConfigError, match="not a positive whole multiple"):
        gym.make("qphys/QubitControl-v0", T=0.33)


def test_bad_protocols_for_fidelities():
    env = QubitControlEnv(T=0.2)
    with pytest.raises(ConfigError, match=r"protocols must have shape \(B, 4\)"):
        env.fidelities([[0, 1, 0]])
    with pytest.raises(ConfigError, match="action indices in 0..1"):
        env.fidelities([[0, 1, 2, 0]])
