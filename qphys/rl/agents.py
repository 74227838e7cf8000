"""Deep RL agents for the qphys environments: double/dueling deep Q-learning and PPO.

Both agents are `stable-baselines3 <https://stable-baselines3.readthedocs.io>`_ algorithms, so
they come with SB3's replay buffer, exploration schedule, vectorized environments, logging,
progress bar, and ``save``/``load``; they run in torch on CPU or CUDA (``device="auto"`` picks
CUDA when it is available).

- ``"ppo"`` is SB3's :class:`~stable_baselines3.PPO` unchanged.
- ``"dqn"`` is :class:`DoubleDuelingDQN`, a small subclass of SB3's
  :class:`~stable_baselines3.DQN`. SB3's DQN bootstraps from ``max_a Q_target(s', a)`` (plain
  DQN with a target network, which over-estimates values) and has a single-stream Q-network.
  Deep Q-learning as used for quantum control and decoding (van Hasselt et al. 2016; Wang et al.
  2016; Sweke et al. 2018; Andreasson et al. 2019) is *double* (the online network picks the
  next action, the target network values it) and *dueling* (Q = V + A - mean A). SB3 has no
  switch for either, so this module adds exactly those two pieces — a dueling
  :class:`DuelingQNetwork` plugged in through SB3's policy customization
  (:class:`DuelingDQNPolicy`, with Mlp/Cnn/MultiInput variants) and the double-Q target in
  :meth:`DoubleDuelingDQN.train` (SB3's ``train`` with the one-line target change) — and keeps
  everything else from SB3. Both features can be turned off (``double_q=False``,
  ``policy_kwargs={"dueling": False}``) to recover SB3's DQN.

The control agents' networks are small MLPs: on CPU, ``torch.set_num_threads(1)`` trains them
several times faster than torch's default thread pool (measured 15x on a loaded 2-core machine).

Examples:
    >>> import gymnasium as gym
    >>> import qphys.rl
    >>> from qphys.rl.agents import make_agent
    >>> agent = make_agent("dqn", gym.make("qphys/QubitControl-v0", T=0.5), seed=0,
    ...                    device="cpu", learning_starts=50)
    >>> _ = agent.learn(200)
    >>> obs, _ = agent.get_env().reset(), None
    >>> action, _ = agent.predict(obs, deterministic=True)
    >>> action.shape
    (1,)
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import (
    CombinedExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn

from qphys.errors import ConfigError

logger = logging.getLogger(__name__)

AGENT_KINDS = ("dqn", "ppo")


class DuelingHead(nn.Module):
    """Dueling Q head (Wang et al. 2016): a shared MLP trunk, then a state-value stream ``V`` and
    an advantage stream ``A``, combined as ``Q = V + A - mean_a A``.

    Args:
        features_dim: input features.
        n_actions: number of discrete actions.
        net_arch: hidden layer sizes of the shared trunk (may be empty).
        activation_fn: activation between layers.
    """

    def __init__(self, features_dim: int, n_actions: int, net_arch: list[int], activation_fn):
        super().__init__()
        self.trunk = nn.Sequential(*create_mlp(features_dim, -1, list(net_arch), activation_fn))
        last = net_arch[-1] if net_arch else features_dim
        self.value = nn.Linear(last, 1)
        self.advantage = nn.Linear(last, n_actions)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.trunk(features)
        adv = self.advantage(h)
        return self.value(h) + adv - adv.mean(dim=1, keepdim=True)


class DuelingQNetwork(QNetwork):
    """SB3's :class:`~stable_baselines3.dqn.policies.QNetwork` with an optional dueling head."""

    def __init__(self, *args, dueling: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.dueling = dueling
        if dueling:
            self.q_net = DuelingHead(
                self.features_dim, int(self.action_space.n), self.net_arch, self.activation_fn
            )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["dueling"] = self.dueling
        return data


class DuelingDQNPolicy(DQNPolicy):
    """SB3's DQN policy whose online and target networks are :class:`DuelingQNetwork`.

    Takes every :class:`~stable_baselines3.dqn.policies.DQNPolicy` argument plus ``dueling``
    (default ``True``); pass it through ``policy_kwargs={"dueling": False}``.
    """

    def __init__(self, *args, dueling: bool = True, **kwargs):
        self.dueling = dueling  # read by make_q_net, which DQNPolicy.__init__ calls
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> DuelingQNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return DuelingQNetwork(**net_args, dueling=self.dueling).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["dueling"] = self.dueling
        return data


class DuelingCnnPolicy(DuelingDQNPolicy):
    """:class:`DuelingDQNPolicy` with SB3's NatureCNN features extractor by default (images)."""

    def __init__(self, *args, features_extractor_class=NatureCNN, **kwargs):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class DuelingMultiInputPolicy(DuelingDQNPolicy):
    """:class:`DuelingDQNPolicy` for dict observations (SB3's CombinedExtractor)."""

    def __init__(self, *args, features_extractor_class=CombinedExtractor, **kwargs):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class DoubleDuelingDQN(DQN):
    """Double deep Q-learning with a dueling network and experience replay, on SB3's DQN.

    Takes every :class:`~stable_baselines3.DQN` argument plus ``double_q`` (default ``True``).
    The policy aliases ``"MlpPolicy"``, ``"CnnPolicy"``, ``"MultiInputPolicy"`` map to the
    dueling policies of this module.

    Examples:
        >>> import gymnasium as gym
        >>> import qphys.rl
        >>> model = DoubleDuelingDQN("MlpPolicy", gym.make("qphys/QubitControl-v0", T=0.5),
        ...                          seed=0, device="cpu")
        >>> type(model.q_net.q_net).__name__
        'DuelingHead'
    """

    policy_aliases = {
        "MlpPolicy": DuelingDQNPolicy,
        "CnnPolicy": DuelingCnnPolicy,
        "MultiInputPolicy": DuelingMultiInputPolicy,
    }

    def __init__(self, *args, double_q: bool = True, **kwargs):
        self.double_q = double_q
        super().__init__(*args, **kwargs)

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        # SB3 DQN.train with the double-Q target (online network selects, target evaluates).
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = getattr(replay_data, "discounts", None)
            discounts = discounts if discounts is not None else self.gamma
            with torch.no_grad():
                next_q_target = self.q_net_target(replay_data.next_observations)
                if self.double_q:
                    next_actions = self.q_net(replay_data.next_observations).argmax(dim=1, keepdim=True)
                    next_q = torch.gather(next_q_target, dim=1, index=next_actions)
                else:
                    next_q = next_q_target.max(dim=1, keepdim=True).values
                target_q = replay_data.rewards + (1 - replay_data.dones) * discounts * next_q
            current_q = torch.gather(
                self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long()
            )
            loss = F.smooth_l1_loss(current_q, target_q)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)) if losses else float("nan"))


_CLASSES: dict[str, type[BaseAlgorithm]] = {"dqn": DoubleDuelingDQN, "ppo": PPO}


def _check_kind(kind) -> str:
    if not isinstance(kind, str) or kind.lower() not in _CLASSES:
        raise ConfigError(f"agent kind must be one of {AGENT_KINDS}, got {kind!r}")
    return kind.lower()


def _check_device(device) -> str:
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return device
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'"
        )
    return str(dev)


def _allowed_hyperparams(cls) -> set[str]:
    # Constructor keywords of ``cls`` and its bases down to the public SB3 algorithm (DQN/PPO);
    # SB3's internal base-class switches (sde_support, supported_action_spaces, ...) are left out.
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters
            names |= {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if klass.__module__.startswith("stable_baselines3"):
            break
    return {n for n in names if not n.startswith("_")} - {"self", "policy", "env", "seed", "device"}


def make_agent(
    kind: str,
    env: gym.Env | VecEnv | str,
    *,
    seed: int | None = None,
    device: str | torch.device = "auto",
    policy: str | type | None = None,
    n_envs: int = 1,
    env_kwargs: dict | None = None,
    **hyperparams,
) -> BaseAlgorithm:
    """Build a deep-RL agent for ``env``.

    Args:
        kind: ``"dqn"`` (double, dueling deep Q-learning with replay: :class:`DoubleDuelingDQN`)
            or ``"ppo"`` (SB3's PPO).
        env: a gymnasium environment, an SB3 vectorized environment, or a registered id (e.g.
            ``"qphys/QubitControl-v0"``), which is made ``n_envs`` times with ``env_kwargs``.
        seed: seeds the networks, exploration and (for an id) the environments.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        policy: SB3 policy name or class; default ``"CnnPolicy"`` for image observations,
            ``"MultiInputPolicy"`` for dict observations, else ``"MlpPolicy"``.
        n_envs: number of copies when ``env`` is an id.
        env_kwargs: keyword arguments for ``gymnasium.make`` when ``env`` is an id.
        **hyperparams: any keyword argument of the SB3 algorithm (``learning_rate``,
            ``buffer_size``, ``gamma``, ``policy_kwargs``, ``double_q``, ``n_steps``, ...).

    Returns:
        The SB3 algorithm: ``.learn(total_timesteps, progress_bar=...)``,
        ``.predict(obs, deterministic=True)``, ``.save(path)``; reload with :func:`load_agent`.

    Raises:
        ConfigError: unknown ``kind``, unknown hyperparameter, CUDA requested but absent, or a
            bad ``n_envs``.

    Examples:
        >>> import qphys.rl
        >>> agent = make_agent("ppo", "qphys/QubitControl-v0", env_kwargs={"T": 0.5},
        ...                    n_envs=2, seed=1, device="cpu", n_steps=32, batch_size=32)
        >>> agent.n_envs
        2
    """
    kind = _check_kind(kind)
    device = _check_device(device)
    cls = _CLASSES[kind]
    allowed = _allowed_hyperparams(cls)
    unknown = sorted(set(hyperparams) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown {kind} hyperparameter(s) {unknown}; valid: {', '.join(sorted(allowed))}"
        )
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ConfigError(f"n_envs must be a positive integer, got {n_envs!r}")
    if isinstance(env, str):
        from stable_baselines3.common.env_util import make_vec_env

        import qphys.rl  # noqa: F401  (registers the qphys ids)

        # SB3 asks for render_mode="rgb_array" unless told otherwise; qphys envs render text only
        kwargs = {"render_mode": None, **(env_kwargs or {})}
        env = make_vec_env(env, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
    elif n_envs != 1 or env_kwargs:
        raise ConfigError("n_envs and env_kwargs apply only when env is an environment id (a str)")
    if policy is None:
        space = env.observation_space
        if isinstance(space, gym.spaces.Dict):
            policy = "MultiInputPolicy"
        elif is_image_space(space, check_channels=False) and len(space.shape) == 3:
            policy = "CnnPolicy"
        else:
            policy = "MlpPolicy"
    logger.info("building %s agent (policy %s) on device %s", kind, policy, device)
    return cls(policy, env, seed=seed, device=device, **hyperparams)


def load_agent(
    path: str | Path,
    kind: str,
    *,
    env: gym.Env | VecEnv | None = None,
    device: str | torch.device = "auto",
) -> BaseAlgorithm:
    """Load an agent saved with ``agent.save(path)``.

    Args:
        path: the ``.zip`` written by ``save``.
        kind: ``"dqn"`` or ``"ppo"`` (the kind it was made with).
        env: optional environment to attach (needed to continue training).
        device: where to put the networks.

    Raises:
        ConfigError: unknown kind or unavailable device.
        FileNotFoundError: no file at ``path``.

    Examples:
        >>> import tempfile, gymnasium as gym, qphys.rl
        >>> agent = make_agent("ppo", gym.make("qphys/QubitControl-v0", T=0.5), seed=0, device="cpu")
        >>> path = tempfile.mkdtemp() + "/agent.zip"
        >>> agent.save(path)
        >>> type(load_agent(path, "ppo", device="cpu")).__name__
        'PPO'
    """
    kind = _check_kind(kind)
    device = _check_device(device)
    p = Path(path)
    if not p.exists() and not p.with_suffix(".zip").exists():
        raise FileNotFoundError(f"no saved agent at {str(path)!r}")
    return _CLASSES[kind].load(p, env=env, device=device)


class BestEpisodeCallback(BaseCallback):
    """Remember the best episode met while training, judged by ``info[key]`` at its last step.

    Bukov et al. report the best protocol an agent encounters; with the control environments,
    ``best_info["protocol"]`` is that protocol and ``best_value`` its fidelity.

    Args:
        key: the ``info`` entry that scores an episode (default ``"fidelity"``).

    Examples:
        >>> import gymnasium as gym, qphys.rl
        >>> agent = make_agent("dqn", gym.make("qphys/QubitControl-v0", T=0.5), seed=0,
        ...                    device="cpu", learning_starts=50)
        >>> best = BestEpisodeCallback()
        >>> _ = agent.learn(100, callback=best)
        >>> best.episodes, 0.2 < best.best_value <= 1
        (10, True)
    """

    def __init__(self, key: str = "fidelity", verbose: int = 0):
        super().__init__(verbose)
        self.key = key
        self.best_value = -np.inf
        self.best_info: dict = {}
        self.best_timestep = -1
        self.episodes = 0

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if done and self.key in info:
                self.episodes += 1
                value = float(info[self.key])
                if value > self.best_value:
                    self.best_value = value
                    self.best_info = {k: v for k, v in info.items() if k != "terminal_observation"}
                    self.best_timestep = self.num_timesteps
        return True


def rollout(agent, env: gym.Env, *, deterministic: bool = True, seed: int | None = None) -> tuple[float, dict]:
    """Play one episode of ``env`` with ``agent.predict``; return ``(return, last info)``.

    Examples:
        >>> import gymnasium as gym, qphys.rl
        >>> env = gym.make("qphys/QubitControl-v0", T=0.5)
        >>> agent = make_agent("ppo", env, seed=0, device="cpu")
        >>> ret, info = rollout(agent, env)
        >>> len(info["protocol"])
        10
    """
    obs, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        action, _ = agent.predict(obs, deterministic=deterministic)
        obs, reward, terminated, truncated, info = env.step(int(np.asarray(action).reshape(-1)[0]))
        total += float(reward)
        done = terminated or truncated
    return total, info
