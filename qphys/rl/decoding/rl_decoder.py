"""The SB3 deep-Q-learning decoder: a Q-network that decodes by acting in ``qphys/ToricCodeDecoding-v0``.

:class:`RLDecoder` runs a trained Q-network policy (an SB3 DQN from :func:`qphys.rl.agents.make_agent`,
or any callable returning Q-values) greedily on many syndromes at once; :func:`train_rl_decoder` trains
one with SB3 on the gymnasium environment; :class:`ToricFeaturesExtractor` is the circular-padded CNN
it sees the ``(2, d, d)`` syndrome image through.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from qphys.errors import ConfigError
from qphys.rl.codes import ToricCode

__all__ = ["RLDecoder", "ToricFeaturesExtractor", "train_rl_decoder"]


class ToricFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor for the decoding environment: circular-padded CNN over the ``(2, d, d)`` image.

    SB3's default ``NatureCNN`` needs images of at least 36x36 pixels; the syndrome is ``d x d`` on a
    torus, so this extractor keeps the size and wraps around the periodic boundary.

    Args:
        observation_space: the environment's ``Box(0, 1, (2, d, d))``.
        channels: convolution width. layers: number of 3x3 circular convolutions.

    Examples:
        >>> from qphys.rl.decoding_env import ToricCodeDecodingEnv
        >>> env = ToricCodeDecodingEnv(d=3, p=0.1)
        >>> ext = ToricFeaturesExtractor(env.observation_space, channels=4, layers=1)
        >>> ext(torch.zeros(1, 2, 3, 3)).shape
        torch.Size([1, 36])
    """

    def __init__(self, observation_space, channels: int = 32, layers: int = 3):
        c, h, w = observation_space.shape
        super().__init__(observation_space, channels * h * w)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Conv2d(c if i == 0 else channels, channels, 3, padding=1, padding_mode="circular"), nn.ReLU()]
        self.cnn = nn.Sequential(*mods, nn.Flatten())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.cnn(obs)


class RLDecoder:
    """A trained Q-network (DQN) decoding the toric code by acting as in the decoding environment.

    Starting from each syndrome, the agent applies single-qubit Paulis greedily (``argmax Q``) until the
    syndrome is clear or ``max_steps`` is reached (then the shot counts as failed: the decoder gave up).
    All shots advance together, one batched Q-network call per step. An action already taken on the same
    (lattice) qubit with the same Pauli in the current episode is masked, which breaks two-cycles.

    Args:
        policy: an SB3 DQN (anything with a ``q_net`` module mapping observations to Q-values) trained
            on :class:`~qphys.rl.decoding_env.ToricCodeDecodingEnv`, or a callable
            ``obs (B, 2, d, d) float32 -> Q (B, 3 * 2 d**2)``.
        code: the :class:`~qphys.rl.codes.ToricCode`.
        perspective: the environment's ``perspective`` the policy was trained with (``'centered'`` or
            ``'fixed'``).
        max_steps: step limit per shot (default ``2 d**2``, as the environment).

    Examples:
        >>> import numpy as np
        >>> from qphys.rl.codes import ToricCode
        >>> code = ToricCode(3)
        >>> lazy = RLDecoder(lambda obs: np.zeros((len(obs), 54)), code, max_steps=3)
        >>> lazy.predict(code.sample("bitflip", 0.3, shots=4, seed=0)[0]).shape
        (4, 4)
    """

    def __init__(self, policy, code: ToricCode, *, perspective: str = "centered", max_steps: int | None = None):
        if perspective not in ("centered", "fixed"):
            raise ConfigError(f"perspective must be 'centered' or 'fixed', got {perspective!r}")
        self.policy, self.code, self.perspective = policy, code, perspective
        self.max_steps = int(max_steps) if max_steps is not None else code.n_qubits

    def __repr__(self) -> str:
        return f"RLDecoder(d={self.code.d}, perspective={self.perspective!r})"

    def _q(self, obs: np.ndarray) -> np.ndarray:
        if not hasattr(self.policy, "q_net"):
            return np.asarray(self.policy(obs), dtype=np.float64)
        qnet = self.policy.q_net
        dev = next(qnet.parameters()).device
        qnet.eval()
        with torch.no_grad():
            return qnet(torch.as_tensor(obs, dtype=torch.float32, device=dev)).cpu().numpy().astype(np.float64)

    def correction(self, syndromes) -> tuple[np.ndarray, np.ndarray]:
        """Run the policy; return ``(corrections (shots, n) Pauli codes, solved (shots,) bool)``."""
        from qphys.rl.decoding_env import center_shift, roll_images, view_to_qubit

        code = self.code
        s = np.asarray(syndromes, dtype=np.uint8)
        if s.ndim == 1:
            s = s[None]
        if s.ndim != 2 or s.shape[1] != code.n_stabilizers:
            raise ConfigError(f"syndromes must be (shots, {code.n_stabilizers}) bits, got {s.shape}")
        shots, n = len(s), code.n_qubits
        corr = np.zeros((shots, n), dtype=np.uint8)
        cur = s.copy()
        active = cur.any(axis=1)
        taken = np.zeros((shots, 3 * n), dtype=bool)  # indexed by lattice action
        for _ in range(self.max_steps):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            img = code.syndrome_to_image(cur[idx]).astype(np.float32)
            if self.perspective == "centered":
                shifts = center_shift(img)
                img = roll_images(img, shifts)
            q = self._q(img)
            view_q = np.arange(3 * n) % n
            pauli_of = np.arange(3 * n) // n
            if self.perspective == "centered":
                lattice = pauli_of[None] * n + view_to_qubit(view_q[None], shifts[:, None, :], code.d)
            else:
                lattice = np.broadcast_to(np.arange(3 * n)[None], (idx.size, 3 * n))
            q = np.where(taken[idx[:, None], lattice], -np.inf, q)
            a = q.argmax(axis=1)
            la = lattice[np.arange(idx.size), a]
            taken[idx, la] = True
            op = np.zeros((idx.size, n), dtype=np.uint8)
            op[np.arange(idx.size), la % n] = la // n + 1
            corr[idx] = ToricCode.compose(corr[idx], op)
            cur[idx] = s[idx] ^ code.syndrome(corr[idx])
            active[idx] = cur[idx].any(axis=1)
        return corr, ~active

    def predict(self, syndromes) -> np.ndarray:
        """Logical class of the agent's correction ``(shots, 4)``; unsolved shots get an impossible class.

        A shot the agent could not clear within ``max_steps`` is a decoding failure; it is reported as
        class bits ``2`` (never equal to a true bit), so :func:`evaluate` counts it as failed.
        """
        corr, solved = self.correction(syndromes)
        bits = self.code.logical_class(corr)
        bits[~solved] = 2
        return bits

    # -------------------------------------------------------------------------------- persistence
    def save(self, path, *, env_kwargs: dict, policy_kwargs: dict, train_info: dict | None = None) -> Path:
        """Save the Q-network weights (a small ``.pt``) with what is needed to rebuild it.

        Args:
            env_kwargs: the environment's ``d, noise, p, perspective, ...`` used in training.
            policy_kwargs: the DQN ``policy_kwargs`` without ``features_extractor_class`` (always
                :class:`ToricFeaturesExtractor`).
            train_info: training time, steps, ... (JSON-like).
        """
        if not hasattr(self.policy, "q_net"):
            raise ConfigError("only a DQN policy (with q_net) can be saved")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = {k: v for k, v in policy_kwargs.items() if k != "features_extractor_class"}
        torch.save(
            {
                "format": "qphys.RLDecoder/1",
                "env_kwargs": dict(env_kwargs),
                "policy_kwargs": kwargs,
                "q_net": {k: v.detach().cpu() for k, v in self.policy.q_net.state_dict().items()},
                "max_steps": self.max_steps,
                "train_info": dict(train_info or {}),
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path, *, device: str = "cpu") -> RLDecoder:
        """Rebuild a decoder saved by :meth:`save` (a DQN from :func:`qphys.rl.agents.make_agent`)."""
        from qphys.rl.agents import make_agent
        from qphys.rl.decoding_env import ToricCodeDecodingEnv

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no RLDecoder weights at {path}")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != "qphys.RLDecoder/1":
            raise ConfigError(f"{path} is not a qphys RLDecoder file (format 'qphys.RLDecoder/1')")
        env = ToricCodeDecodingEnv(**blob["env_kwargs"])
        pk = dict(blob["policy_kwargs"], features_extractor_class=ToricFeaturesExtractor)
        agent = make_agent("dqn", env, seed=0, device=device, buffer_size=1, policy_kwargs=pk)
        agent.q_net.load_state_dict(blob["q_net"])
        dec = cls(agent, env.code, perspective=env.perspective, max_steps=blob["max_steps"])
        dec.env_kwargs = blob["env_kwargs"]
        dec.policy_kwargs = blob["policy_kwargs"]
        dec.train_info = blob["train_info"]
        return dec


def train_rl_decoder(
    d: int = 3,
    noise: str = "bitflip",
    p: float = 0.1,
    *,
    timesteps: int = 50_000,
    seed: int = 0,
    device: str = "cpu",
    perspective: str = "centered",
    shaping: float = 0.0,
    channels: int = 32,
    layers: int = 3,
    net_arch: tuple[int, ...] = (256,),
    time_budget: float | None = None,
    progress: bool = False,
    **hyper,
) -> RLDecoder:
    """Train a double dueling DQN (:func:`qphys.rl.agents.make_agent`) on ``qphys/ToricCodeDecoding-v0``.

    Defaults follow Fitzek et al. 2020 where they fit a small budget (learning rate 2.5e-4, discount
    0.95, replay 20k); ``hyper`` overrides any DQN argument. ``time_budget`` (seconds) stops training
    early (the exploration schedule still spans ``timesteps``). Returns an :class:`RLDecoder` whose
    ``train_info`` holds the training time and steps, and whose ``env_kwargs`` / ``policy_kwargs`` are
    what :meth:`RLDecoder.save` needs.

    Examples:
        >>> dec = train_rl_decoder(3, timesteps=300, learning_starts=100, seed=0)
        >>> dec.train_info["timesteps"]
        300
    """
    from qphys.rl.agents import make_agent
    from qphys.rl.decoding_env import ToricCodeDecodingEnv

    env_kwargs = dict(d=d, noise=noise, p=p, perspective=perspective, shaping=shaping)
    env = ToricCodeDecodingEnv(**env_kwargs)
    policy_kwargs = dict(
        features_extractor_class=ToricFeaturesExtractor,
        features_extractor_kwargs=dict(channels=channels, layers=layers),
        net_arch=list(net_arch),
    )
    params = dict(
        learning_rate=2.5e-4, gamma=0.95, buffer_size=20_000, learning_starts=1000, batch_size=64,
        train_freq=4, target_update_interval=1000, exploration_fraction=0.4, exploration_final_eps=0.02,
    )
    params.update(hyper)
    agent = make_agent("dqn", env, seed=seed, device=device, policy_kwargs=policy_kwargs, **params)
    from stable_baselines3.common.callbacks import BaseCallback

    class _Budget(BaseCallback):
        def _on_step(self) -> bool:
            return time_budget is None or time.perf_counter() - t0 < time_budget

    t0 = time.perf_counter()
    agent.learn(int(timesteps), progress_bar=progress, callback=_Budget())
    secs = time.perf_counter() - t0
    dec = RLDecoder(agent, env.code, perspective=perspective)
    dec.env_kwargs = env_kwargs
    dec.policy_kwargs = {k: v for k, v in policy_kwargs.items() if k != "features_extractor_class"}
    dec.train_info = dict(timesteps=int(agent.num_timesteps), seconds=secs, seed=seed, device=str(device),
                          torch_threads=torch.get_num_threads(), **{k: v for k, v in params.items()})
    return dec
