"""qphys.rl.agents: double/dueling DQN on SB3, PPO, save/load, seeding, errors."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

import qphys.rl
from qphys.errors import ConfigError
from qphys.rl.agents import (
    BestEpisodeCallback,
    DoubleDuelingDQN,
    DuelingHead,
    load_agent,
    make_agent,
    rollout,
)


def _env(T=0.5, **kw):
    return gym.make("qphys/QubitControl-v0", T=T, **kw)


def test_dqn_is_dueling_and_double_by_default():
    agent = make_agent("dqn", _env(), seed=0, device="cpu")
    assert isinstance(agent, DoubleDuelingDQN) and agent.double_q
    assert isinstance(agent.q_net.q_net, DuelingHead)
    assert isinstance(agent.q_net_target.q_net, DuelingHead)
    plain = make_agent("dqn", _env(), seed=0, device="cpu", double_q=False, policy_kwargs={"dueling": False})
    assert not plain.double_q and isinstance(plain.q_net.q_net, torch.nn.Sequential)


def test_dueling_head_combines_value_and_mean_free_advantage():
    head = DuelingHead(3, 4, [8], torch.nn.ReLU)
    x = torch.randn(5, 3)
    q = head(x)
    h = head.trunk(x)
    adv = head.advantage(h)
    torch.testing.assert_close(q, head.value(h) + adv - adv.mean(1, keepdim=True))
    torch.testing.assert_close(q.mean(1, keepdim=True), head.value(h))


def _loss_of_one_update(agent, double_q):
    """The Huber loss SB3-style training must report, computed independently."""
    np.random.seed(7)
    data = agent.replay_buffer.sample(16)
    with torch.no_grad():
        q_next_target = agent.q_net_target(data.next_observations)
        if double_q:
            a = agent.q_net(data.next_observations).argmax(1, keepdim=True)
            q_next = q_next_target.gather(1, a)
        else:
            q_next = q_next_target.max(1, keepdim=True).values
        target = data.rewards + (1 - data.dones) * agent.gamma * q_next
        current = agent.q_net(data.observations).gather(1, data.actions.long())
        return torch.nn.functional.smooth_l1_loss(current, target).item()


def test_double_q_target_is_used_in_training():
    agent = make_agent("dqn", _env(), seed=0, device="cpu", learning_starts=10_000, batch_size=16, gamma=0.9)
    agent.learn(300)  # fills the replay buffer, no gradient step yet
    # make online and target networks disagree so double and plain targets differ
    with torch.no_grad():
        for p in agent.q_net_target.parameters():
            p.add_(0.5 * torch.randn_like(p))
    expected_double = _loss_of_one_update(agent, True)
    expected_plain = _loss_of_one_update(agent, False)
    assert abs(expected_double - expected_plain) > 1e-6
    np.random.seed(7)
    agent.train(gradient_steps=1, batch_size=16)
    assert agent.logger.name_to_value["train/loss"] == pytest.approx(expected_double, rel=1e-5)


def test_dqn_learns_short_protocol():
    # T=0.5: 10 bangs, 1024 protocols, best fidelity 0.33130 (exhaustive search)
    env = _env(T=0.5)
    agent = make_agent(
        "dqn", env, seed=0, device="cpu", gamma=1.0, learning_rate=1e-3, learning_starts=500,
        exploration_fraction=0.5, target_update_interval=250,
    )
    best = BestEpisodeCallback()
    agent.learn(4000, callback=best)
    assert best.episodes == 400
    assert best.best_value == pytest.approx(0.33130, abs=1e-4)
    assert len(best.best_info["protocol"]) == 10
    _, info = rollout(agent, env)
    assert info["fidelity"] > 0.30  # the greedy policy, far above the 0.2 start


def test_ppo_with_vector_env_from_id():
    agent = make_agent("ppo", "qphys/QubitControl-v0", env_kwargs={"T": 0.5}, n_envs=2, seed=3,
                       device="cpu", n_steps=20, batch_size=20)
    assert isinstance(agent, PPO) and agent.n_envs == 2
    best = BestEpisodeCallback()
    agent.learn(80, callback=best)
    assert best.episodes == 8 and 0 < best.best_value <= 1


def test_same_seed_same_agent():
    params = []
    for _ in range(2):
        agent = make_agent("dqn", _env(), seed=11, device="cpu", learning_starts=100, train_freq=2)
        agent.learn(300)
        params.append(torch.cat([p.detach().flatten() for p in agent.q_net.parameters()]))
    torch.testing.assert_close(params[0], params[1], rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["dqn", "ppo"])
def test_save_load_roundtrip(kind, tmp_path):
    env = _env()
    extra = {"n_steps": 20, "batch_size": 20} if kind == "ppo" else {"learning_starts": 20}
    agent = make_agent(kind, env, seed=0, device="cpu", **extra)
    agent.learn(60)
    path = tmp_path / "agent.zip"
    agent.save(path)
    loaded = load_agent(path, kind, device="cpu")
    assert type(loaded) is type(agent)
    obs = np.random.default_rng(0).uniform(-1, 1, (6, 11)).astype(np.float32)
    obs[:, -1] = np.abs(obs[:, -1])
    np.testing.assert_array_equal(agent.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    if kind == "dqn":
        assert loaded.double_q and isinstance(loaded.q_net.q_net, DuelingHead)


# ---- bad input ----------------------------------------------------------------------------------
def test_unknown_kind():
    with pytest.raises(ConfigError, match=r"agent kind must be one of \('dqn', 'ppo'\), got 'a2c'"):
        make_agent("a2c", _env())


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown dqn hyperparameter\(s\) \['lr'\]; valid: .*learning_rate"):
        make_agent("dqn", _env(), lr=1e-3)


def test_bad_n_envs_and_env_kwargs_without_id():
    with pytest.raises(ConfigError, match="n_envs must be a positive integer"):
        make_agent("ppo", "qphys/QubitControl-v0", n_envs=0)
    with pytest.raises(ConfigError, match="apply only when env is an environment id"):
        make_agent("ppo", _env(), env_kwargs={"T": 1.0})


def test_bad_device():
    with pytest.raises(ConfigError, match="device must be 'auto', 'cpu' or 'cuda"):
        make_agent("dqn", _env(), device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available here"):
            make_agent("dqn", _env(), device="cuda")


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved agent"):
        load_agent(tmp_path / "nope.zip", "dqn")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", ["dqn", "ppo"])
def test_agents_train_on_cuda(kind):
    extra = {"n_steps": 20, "batch_size": 20} if kind == "ppo" else {"learning_starts": 20}
    agent = make_agent(kind, _env(), seed=0, device="cuda", **extra)
    agent.learn(60)
    assert next(agent.policy.parameters()).device.type == "cuda"
    assert qphys.rl.ENV_IDS  # environments stay on the qphys device; only the networks move
