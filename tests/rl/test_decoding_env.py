"""qphys/ToricCodeDecoding-v0: API conformance, dynamics, rewards, bad input."""

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import qphys.rl  # noqa: F401  (registers the ids)
from qphys.errors import ConfigError
from qphys.rl.decoding import MWPMDecoder
from qphys.rl.decoding_env import ToricCodeDecodingEnv, center_shift, roll_images, view_to_qubit

# SB3's checker warns about every 3-D observation that is not a >=36x36 uint8 camera frame (it assumes
# its NatureCNN); the syndrome is a small binary d x d image read by our own circular CNN. These three
# warnings are expected; anything else fails the test.
EXPECTED_SB3 = [
    r"is an image but its `dtype` is \(float32\)",
    r"upper and lower bounds are not in \[0, 255\]",
    r"minimal resolution for an image is 36x36",
]


@pytest.mark.parametrize("noise", ["bitflip", "depolarizing"])
@pytest.mark.parametrize("perspective", ["centered", "fixed"])
def test_env_checkers_pass(noise, perspective):
    env = gym.make("qphys/ToricCodeDecoding-v0", d=3, noise=noise, p=0.1, perspective=perspective)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env.unwrapped, warn=True)
    unexpected = [str(w.message) for w in caught if not any(re.search(p, str(w.message)) for p in EXPECTED_SB3)]
    assert unexpected == []


def test_reproducible_under_seed():
    def rollout(seed):
        env = ToricCodeDecodingEnv(d=5, noise="depolarizing", p=0.1)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(30):
            obs, r, term, trunc, _ = env.step(env.action_space.sample())
            out.append(obs)
            if term or trunc:
                out.append(env.reset()[0])
        return np.stack(out)

    np.testing.assert_array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


def test_reset_always_has_defects_and_centres_one():
    env = ToricCodeDecodingEnv(d=5, noise="bitflip", p=0.01)
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        assert obs.dtype == np.float32 and obs.shape == (2, 5, 5)
        assert info["defects"] == int(obs.sum()) > 0
        assert obs[0, 2, 2] == 1.0  # defect-centred view: the first plaquette defect sits at the centre


def test_correcting_the_error_gives_plus_one_and_a_logical_gives_minus_one():
    env = ToricCodeDecodingEnv(d=3, noise="bitflip", p=0.1, perspective="fixed", shaping=0.0)
    err = np.zeros(18, dtype=np.uint8)
    err[0] = 1  # X on h(0,0)
    env.reset(seed=0, options={"error": err})
    obs, r, term, trunc, info = env.step(0)  # X on qubit 0 undoes it
    assert (r, term, trunc, info["success"]) == (1.0, True, False, True)
    env.reset(seed=0, options={"error": err})
    _, r1, term1, _, _ = env.step(3)  # X on h(1,0): the defects move, not cleared
    obs, r2, term2, _, info = env.step(6)  # X on h(2,0): completes the logical X_0 loop
    assert (r1, term1) == (0.0, False)
    assert (r2, term2, info["success"]) == (-1.0, True, False)
    assert info["logical_class"].tolist() == [1, 0, 0, 0]


def test_y_action_and_shaping_and_truncation():
    env = ToricCodeDecodingEnv(d=3, noise="depolarizing", p=0.1, perspective="fixed", shaping=0.5, max_steps=2)
    err = np.zeros(18, dtype=np.uint8)
    err[4] = 2  # Y: two plaquette and two vertex defects
    env.reset(seed=1, options={"error": err})
    _, r, term, _, info = env.step(18 + 4)  # Y on qubit 4
    assert term and r == pytest.approx(0.5 * 4 + 1.0)
    env.reset(seed=1, options={"error": err})
    _, r, term, trunc, info = env.step(0)  # X on qubit 0 adds two plaquette defects
    assert r == pytest.approx(-1.0) and not term and not trunc and info["defects"] == 6
    _, _, term, trunc, _ = env.step(0)  # undo: back to 4 defects, step limit 2 reached
    assert trunc and not term


def test_centered_view_actions_map_back_to_lattice():
    rng = np.random.default_rng(0)
    img = (rng.random((6, 2, 5, 5)) < 0.2).astype(np.float32)
    img[:, 0, 0, 0] = 0
    img[:, 0, 1, 3] = 1
    shifts = center_shift(img)
    rolled = roll_images(img, shifts)
    assert np.all(rolled[np.arange(6), 0, 2, 2] == 1)
    # rolling back with the negative shift restores the image; qubits map consistently
    np.testing.assert_array_equal(roll_images(rolled, -shifts), img)
    q = np.arange(50)
    back = view_to_qubit(q[None], shifts[:, None, :], 5)
    assert all(sorted(row) == list(range(50)) for row in back)


def test_mwpm_played_through_the_env_gets_reward_of_its_logical_outcome():
    env = ToricCodeDecodingEnv(d=5, noise="depolarizing", p=0.1)
    m = MWPMDecoder(env.code)
    n, d = env.n_qubits, env.d
    for ep in range(40):
        env.reset(seed=ep)
        s = env.code.syndrome(env._error)
        right = bool((m.predict(s)[0] == env.code.logical_class(env._error)).all())
        corr = m.correction(s)[0]
        for q in np.flatnonzero(corr):
            kind, rest = divmod(int(q), d * d)
            r, c = divmod(rest, d)
            sh = env._shift
            vq = kind * d * d + ((r + sh[0]) % d) * d + (c + sh[1]) % d
            _, reward, term, trunc, _ = env.step(int((corr[q] - 1) * n + vq))
            if term or trunc:
                break
        assert term and reward == (1.0 if right else -1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(d=4), r"must be odd \(3, 5, 7, ...\).*got d=4"),
        (dict(d=2), r"odd integer >= 3, got d=2 \(d < 3\)"),
        (dict(d=1), r"odd integer >= 3, got d=1"),
        (dict(d=3.0), r"odd integer >= 3, got 3.0"),
        (dict(p=-0.1), r"probability in \[0, 1\], got -0.1"),
        (dict(p=1.5), r"probability in \[0, 1\], got 1.5"),
        (dict(p=float("nan")), r"real number in \[0, 1\]"),
        (dict(p=0.0), r"p=0.0 with bitflip noise never produces a syndrome"),
        (dict(p=1.0), r"p=1.0 with bitflip noise never produces a syndrome"),
        (dict(noise="amplitude"), r"unknown noise model 'amplitude'"),
        (dict(max_steps=0), r"max_steps must be a positive integer"),
        (dict(perspective="egocentric"), r"perspective must be one of"),
        (dict(render_mode="human"), r"render_mode must be None or 'ansi'"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ToricCodeDecodingEnv(**kwargs)


def test_bad_construction_through_gym_make():
    with pytest.raises(ConfigError, match="must be odd"):
        gym.make("qphys/ToricCodeDecoding-v0", d=6)


def test_depolarizing_p_one_is_allowed():
    env = ToricCodeDecodingEnv(d=3, noise="depolarizing", p=1.0)
    obs, info = env.reset(seed=0)
    assert info["defects"] > 0


def test_invalid_actions_and_stepping_after_termination():
    env = ToricCodeDecodingEnv(d=3, noise="bitflip", p=0.1, perspective="fixed")
    with pytest.raises(gym.error.ResetNeeded, match="before reset"):
        env.step(0)
    err = np.zeros(18, dtype=np.uint8)
    err[0] = 1
    env.reset(seed=0, options={"error": err})
    with pytest.raises(gym.error.InvalidAction, match=r"action 54 is outside Discrete\(54\)"):
        env.step(54)
    with pytest.raises(gym.error.InvalidAction, match=r"action -1 is outside Discrete\(54\)"):
        env.step(-1)
    with pytest.raises(gym.error.InvalidAction, match="must be an integer"):
        env.step(1.5)
    with pytest.raises(gym.error.InvalidAction, match="must be an integer"):
        env.step(np.array([0, 1]))
    env.step(np.int64(0))  # numpy integers are fine; this clears the syndrome
    with pytest.raises(gym.error.ResetNeeded, match="after the episode ended"):
        env.step(0)
    with pytest.raises(ConfigError, match="empty syndrome"):
        env.reset(options={"error": np.zeros(18, dtype=np.uint8)})


def test_render_ansi():
    env = ToricCodeDecodingEnv(d=3, p=0.1, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "P" in text and "defects" in text


def test_vectorized_env_autoresets():
    envs = gym.make_vec("qphys/ToricCodeDecoding-v0", num_envs=3, vectorization_mode="sync", d=3, p=0.1)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (3, 2, 3, 3)
    for _ in range(40):
        obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
        assert obs.shape == (3, 2, 3, 3) and set(np.unique(rew)) <= {-1.0, 0.0, 1.0}
    envs.close()
