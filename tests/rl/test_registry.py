"""Every registered qphys gymnasium environment passes gymnasium's and SB3's checkers, makes
vector environments, and is reproducible under a fixed seed."""

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import qphys.rl

QPHYS_IDS = sorted(i for i in gym.registry if i.startswith("qphys/"))

# Smaller-than-default options only where the default would make the test slow.
SMALL = {"qphys/SpinChainControl-v0": {"L": 3, "T": 0.5}, "qphys/QubitControl-v0": {"T": 0.5}}


def test_registry_has_every_qphys_env_with_versioned_id():
    assert set(qphys.rl.ENV_IDS) == {
        "qphys/QubitControl-v0",
        "qphys/SpinChainControl-v0",
        "qphys/ToricCodeDecoding-v0",
        "qphys/ToricCodeDefectDecoding-v0",
    }
    assert set(qphys.rl.ENV_IDS) <= set(QPHYS_IDS)
    for env_id in QPHYS_IDS:
        assert re.fullmatch(r"qphys/[A-Za-z]+-v\d+", env_id), env_id
        assert gym.spec(env_id).entry_point == qphys.rl.ENV_IDS[env_id]


def test_register_envs_is_idempotent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qphys.rl.register_envs()
    assert sorted(i for i in gym.registry if i.startswith("qphys/")) == QPHYS_IDS


# Warnings that are expected, per environment, with the reason. Anything else fails the test.
EXPECTED_WARNINGS = {
    # SB3's checker treats every 3-D Box observation as a would-be uint8 [0, 255] camera image and
    # warns about its dtype, bounds and size (36x36 for NatureCNN). The syndrome image holds 0/1
    # defect indicators in float32 on purpose (as a uint8 image SB3's CnnPolicy would divide it by
    # 255) and is d x d (decoders use their own small CNNs); only these three heuristics of SB3's
    # _check_image_input are allowed.
    "qphys/ToricCodeDecoding-v0": [
        r"It seems that your observation\s+is an image but its `dtype` is \(float32\)",
        r"It seems that your observation space\s+is an image but the upper and lower bounds are not in \[0, 255\]",
        r"The minimal resolution for an image is 36x36 for the default `CnnPolicy`",
    ],
}
EXPECTED_WARNINGS["qphys/ToricCodeDefectDecoding-v0"] = EXPECTED_WARNINGS["qphys/ToricCodeDecoding-v0"]


@pytest.mark.parametrize("env_id", QPHYS_IDS)
def test_gymnasium_and_sb3_check_env_without_warnings(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (gymnasium's checker warns) fails the test
        for message in EXPECTED_WARNINGS.get(env_id, []):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        env = gym.make(env_id)  # default options; gym.make also runs the passive env checker
        check_env(env.unwrapped, skip_render_check=False)
        sb3_check_env(env.unwrapped, warn=True)
        env.close()


def _trajectory(env, seed, n_steps=40):
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out += [obs, np.float64(reward), np.bool_(terminated)]
        if terminated or truncated:
            obs, info = env.reset()
            out.append(obs)
    return out


@pytest.mark.parametrize("env_id", QPHYS_IDS)
def test_reproducible_under_fixed_seed(env_id):
    kw = SMALL.get(env_id, {})
    a = _trajectory(gym.make(env_id, **kw), seed=123)
    b = _trajectory(gym.make(env_id, **kw), seed=123)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("env_id", QPHYS_IDS)
def test_sync_vector_env_matches_single_envs(env_id):
    kw = SMALL.get(env_id, {})
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync", **kw)
    singles = [gym.make(env_id, **kw) for _ in range(2)]
    obs, _ = venv.reset(seed=[5, 6])
    for i, e in enumerate(singles):
        o, _ = e.reset(seed=5 + i)
        np.testing.assert_array_equal(obs[i], o)
    actions = np.zeros(2, dtype=np.int64)
    for _ in range(3):
        vobs, vrew, vterm, _, _ = venv.step(actions)
        for i, e in enumerate(singles):
            o, r, t, _, _ = e.step(int(actions[i]))
            if not t:  # vector envs autoreset; compare only non-terminal steps
                np.testing.assert_array_equal(vobs[i], o)
                assert vrew[i] == r
        if vterm.any():
            break
    venv.close()


def test_async_vector_env_runs_control():
    venv = gym.make_vec("qphys/QubitControl-v0", num_envs=2, vectorization_mode="async", T=0.1)
    obs, _ = venv.reset(seed=0)
    venv.step(np.array([0, 1]))
    _, rew, term, _, info = venv.step(np.array([1, 1]))
    assert term.all() and rew.shape == (2,)
    expected = qphys.rl.QubitControlEnv(T=0.1).fidelities([[0, 1], [1, 1]])
    np.testing.assert_allclose(rew, expected, atol=1e-12)
    assert abs(rew[0] - rew[1]) > 1e-3
    venv.close()
