"""Bang-bang quantum state preparation as gymnasium environments (Bukov et al., PRX 8, 031086, 2018).

The agent chooses, every ``dt``, a field ``h`` from a discrete set (default ``{-4, +4}``) for the
Hamiltonian of an ``L``-spin chain with periodic boundaries (spin-1/2 operators ``S = sigma/2``)

    H(h) = -sum_j [ J S^z_j S^z_{j+1} + g S^z_j + h S^x_j ],     J = g = 1,

starting from the ground state of ``H(h_initial = -2)`` and aiming at the ground state of
``H(h_target = +2)``. After ``N = T / dt`` steps the episode ends with reward equal to the fidelity
``|<target|psi(T)>|^2`` (sparse reward, as in the paper). With ``dense_reward=True`` each step is
rewarded by the change of fidelity it caused, so the undiscounted return is
``F(T) - F(0)``: potential-based shaping with the same optimal protocols.

``QubitControlEnv`` is the single qubit of the paper, ``H = -S^z - h S^x`` (the ``L = 1`` chain:
its ``J`` term is a constant); at ``h = -2 -> +2`` the initial fidelity is 0.200.

Every time step is simulated on a qphys device (default ``torch.qubit`` in complex128): the
environment keeps the state vector and sends the circuit ``state_prep(psi) . unitary(U_a) .
state()`` to the device, where ``U_a = exp(-i H(h_a) dt)`` is precomputed for each action.
:meth:`SpinChainControlEnv.fidelities` evaluates a whole batch of protocols as one batched
circuit on the device (used by the stochastic-descent baseline).

Observations (``observation=``):

- ``"protocol"`` (default): the fields applied so far, ``h_k / max|h|`` for the steps taken and 0
  for the steps to come, followed by the elapsed fraction ``t / T``. The dynamics is deterministic,
  so this history is a Markov state although it never shows the (unobservable) wave function.
- ``"time_field"``: ``(t / T, h(t) / max|h|)``, the reduced RL state Bukov et al. used.
- ``"state"``: real and imaginary parts of the wave function plus ``t / T`` (Zhang et al. 2019).

Examples:
    >>> import gymnasium as gym
    >>> import qphys.rl
    >>> env = gym.make("qphys/QubitControl-v0", T=0.1)
    >>> obs, info = env.reset(seed=0)
    >>> round(info["fidelity"], 3)
    0.2
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> terminated, round(reward, 4) == round(info["fidelity"], 4)
    (True, True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import scipy.linalg
import torch
from gymnasium import spaces

from qphys.circuit import Circuit
from qphys.devices import device as make_device
from qphys.devices.base import Device
from qphys.diff import execute
from qphys.errors import ConfigError
from qphys.observables import Hermitian, X, Z

logger = logging.getLogger(__name__)

OBSERVATIONS = ("protocol", "time_field", "state")


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ConfigError(f"{name} must be a positive finite number, got {value!r}")
    return v


def chain_hamiltonian(L: int, h: float, *, J: float = 1.0, g: float = 1.0, periodic: bool = True) -> np.ndarray:
    """Dense ``H(h) = -sum_j [J S^z_j S^z_{j+1} + g S^z_j + h S^x_j]`` (``S = sigma/2``), wire 0 MSB.

    For ``L = 1`` the coupling is dropped, leaving the qubit ``-g S^z - h S^x``.

    Examples:
        >>> chain_hamiltonian(1, 2.0).real.round(2).tolist()
        [[-0.5, -1.0], [-1.0, 0.5]]
    """
    obs = None
    bonds = [] if L == 1 else [(j, (j + 1) % L) for j in range(L if periodic and L > 2 else L - 1)]
    for a, b in bonds:
        term = (-J / 4) * (Z(a) @ Z(b))
        obs = term if obs is None else obs + term
    for j in range(L):
        term = (-g / 2) * Z(j) + (-h / 2) * X(j)
        obs = term if obs is None else obs + term
    return obs.matrix(tuple(range(L)))


def ground_state(H: np.ndarray) -> np.ndarray:
    """Lowest eigenvector of ``H`` (complex128, with its largest entry made real positive)."""
    vals, vecs = np.linalg.eigh(H)
    if len(vals) > 1 and vals[1] - vals[0] < 1e-10:
        logger.warning("ground state of H is degenerate (gap %.2e); picking one", vals[1] - vals[0])
    v = vecs[:, 0].astype(complex)
    k = int(np.argmax(np.abs(v)))
    return v * (abs(v[k]) / v[k])


class SpinChainControlEnv(gym.Env):
    """Bang-bang preparation of the ``h = +2`` ground state of Bukov et al.'s ``L``-spin chain.

    Args:
        L: number of spins (qubits), at least 1.
        T: total protocol time; must be a positive multiple of ``dt``.
        dt: duration of one bang (one environment step).
        actions: the allowed field values ``h`` (at least two distinct finite numbers); action
            ``i`` applies ``actions[i]``.
        J: nearest-neighbour ``S^z S^z`` coupling.
        g: longitudinal field.
        h_initial: field whose ground state is the initial state.
        h_target: field whose ground state is the target.
        periodic: periodic boundary conditions.
        observation: ``"protocol"``, ``"time_field"`` or ``"state"`` (see the module docstring).
        dense_reward: reward the change of fidelity every step instead of the final fidelity.
        device: qphys device name or instance that simulates the dynamics (default
            ``"torch.qubit"``, run in complex128).
        render_mode: ``None`` or ``"ansi"``.

    Raises:
        ConfigError: a bad ``L``, ``T``, ``dt``, action set or option.

    Examples:
        >>> env = SpinChainControlEnv(L=2, T=0.5)
        >>> env.num_steps, int(env.action_space.n)
        (10, 2)
        >>> _, info = env.reset(seed=0)
        >>> round(info["fidelity"], 4) == round(env.initial_fidelity, 4)
        True
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        *,
        L: int = 4,
        T: float = 1.0,
        dt: float = 0.05,
        actions: Sequence[float] = (-4.0, 4.0),
        J: float = 1.0,
        g: float = 1.0,
        h_initial: float = -2.0,
        h_target: float = 2.0,
        periodic: bool = True,
        observation: str = "protocol",
        dense_reward: bool = False,
        device: str | Device = "torch.qubit",
        render_mode: str | None = None,
    ):
        super().__init__()
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or not 1 <= L <= 16:
            raise ConfigError(f"L (number of spins) must be an integer in 1..16, got {L!r}")
        self.L = int(L)
        self.T = _check_positive("T (total time)", T)
        self.dt = _check_positive("dt (time step)", dt)
        n = round(self.T / self.dt)
        if n < 1 or abs(n * self.dt - self.T) > 1e-9 * max(1.0, self.T):
            raise ConfigError(
                f"T={T!r} is not a positive whole multiple of dt={dt!r} (T/dt = {self.T / self.dt:.6g}); "
                f"pick T = k*dt, e.g. T={max(n, 1) * self.dt:.6g}"
            )
        self.num_steps = int(n)
        try:
            acts = np.asarray(actions, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(f"actions must be a sequence of field values, got {actions!r}") from None
        if acts.size < 2 or not np.all(np.isfinite(acts)) or len(set(acts.tolist())) != acts.size:
            raise ConfigError(
                f"actions must be at least two distinct finite field values, got {list(acts)}"
            )
        self.actions = acts
        for name, v in (("J", J), ("g", g), ("h_initial", h_initial), ("h_target", h_target)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number, got {v!r}")
        self.J, self.g, self.h_initial, self.h_target = float(J), float(g), float(h_initial), float(h_target)
        self.periodic = bool(periodic)
        if observation not in OBSERVATIONS:
            raise ConfigError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        self.observation = observation
        self.dense_reward = bool(dense_reward)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.device = self._make_device(device)

        ham = lambda h: chain_hamiltonian(self.L, h, J=self.J, g=self.g, periodic=self.periodic)  # noqa: E731
        self.psi_initial = ground_state(ham(self.h_initial))
        self.psi_target = ground_state(ham(self.h_target))
        self.step_unitaries = np.stack([scipy.linalg.expm(-1j * self.dt * ham(h)) for h in self.actions])
        self._U = torch.as_tensor(self.step_unitaries, dtype=torch.complex128)
        self._projector = Hermitian(np.outer(self.psi_target, self.psi_target.conj()), range(self.L))
        self.initial_fidelity = float(abs(np.vdot(self.psi_target, self.psi_initial)) ** 2)

        self.action_space = spaces.Discrete(len(self.actions))
        dim = {"protocol": self.num_steps + 1, "time_field": 2, "state": 2 * 2**self.L + 1}[observation]
        low = np.full(dim, -1.0, dtype=np.float32)
        if observation != "state":
            low[0 if observation == "time_field" else -1] = 0.0
        else:
            low[-1] = 0.0
        self.observation_space = spaces.Box(low=low, high=np.ones(dim, dtype=np.float32), dtype=np.float32)
        self._scale = float(np.max(np.abs(self.actions))) or 1.0
        self._psi: np.ndarray | None = None
        self._k = 0
        self._protocol = np.zeros(self.num_steps, dtype=np.int64)
        self._fidelity = self.initial_fidelity
        self._done = True

    # ---- physics on the device -----------------------------------------------------------------
    @staticmethod
    def _make_device(device) -> Device:
        if isinstance(device, Device):
            return device
        if not isinstance(device, str):
            raise ConfigError(f"device must be a qphys device name or instance, got {device!r}")
        if device == "torch.qubit":
            return make_device("torch.qubit", dtype="complex128")
        return make_device(device)

    def _evolve(self, psi: np.ndarray, action: int) -> np.ndarray:
        wires = tuple(range(self.L))
        c = Circuit(wires=self.L).state_prep(torch.as_tensor(psi), wires).unitary(self._U[action], wires)
        res = execute(c.state(), self.device)
        return res.state.detach().cpu().numpy().astype(complex).reshape(-1)

    def fidelities(self, protocols) -> np.ndarray:
        """Final fidelities of a batch of protocols (action indices), as ONE batched device circuit.

        Args:
            protocols: ``(B, N)`` (or ``(N,)``) integer action indices, ``N = num_steps``.

        Returns:
            ``(B,)`` fidelities ``|<target|psi(T)>|^2``.

        Raises:
            ConfigError: wrong shape or an action index out of range.

        Examples:
            >>> env = QubitControlEnv(T=0.5)
            >>> env.fidelities([[0] * 10, [1] * 10]).shape
            (2,)
        """
        p = np.asarray(protocols)
        if p.ndim == 1:
            p = p[None]
        if p.ndim != 2 or p.shape[1] != self.num_steps or p.shape[0] < 1:
            raise ConfigError(
                f"protocols must have shape (B, {self.num_steps}) for T={self.T}, dt={self.dt}; "
                f"got {p.shape}"
            )
        if not np.issubdtype(p.dtype, np.integer) or p.min() < 0 or p.max() >= len(self.actions):
            raise ConfigError(
                f"protocol entries must be action indices in 0..{len(self.actions) - 1}, got values "
                f"in [{p.min()}, {p.max()}]"
            )
        wires = tuple(range(self.L))
        c = Circuit(wires=self.L).state_prep(torch.as_tensor(self.psi_initial), wires)
        idx = torch.as_tensor(p, dtype=torch.long)
        for k in range(self.num_steps):
            c.unitary(self._U[idx[:, k]], wires)
        c.expval(self._projector)
        res = execute(c, self.device)
        return res.expvals.detach().cpu().numpy().astype(float).reshape(-1)

    # ---- gymnasium API -------------------------------------------------------------------------
    def _obs(self) -> np.ndarray:
        t = self._k / self.num_steps
        if self.observation == "protocol":
            out = np.zeros(self.num_steps + 1, dtype=np.float32)
            out[: self._k] = self.actions[self._protocol[: self._k]] / self._scale
            out[-1] = t
        elif self.observation == "time_field":
            h = self.actions[self._protocol[self._k - 1]] if self._k else self.h_initial
            out = np.array([t, np.clip(h / self._scale, -1, 1)], dtype=np.float32)
        else:
            out = np.concatenate([self._psi.real, self._psi.imag, [t]]).astype(np.float32)
            out = np.clip(out, -1.0, 1.0)
        return out

    def _info(self) -> dict:
        return {
            "fidelity": self._fidelity,
            "t": self._k * self.dt,
            "protocol": self.actions[self._protocol[: self._k]].copy(),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a new protocol from the initial ground state (deterministic; ``seed`` seeds
        :attr:`np_random` for wrappers and agents)."""
        super().reset(seed=seed)
        self._psi = self.psi_initial.copy()
        self._k = 0
        self._protocol[:] = 0
        self._fidelity = self.initial_fidelity
        self._done = False
        return self._obs(), self._info()

    def step(self, action):
        """Apply field ``actions[action]`` for one ``dt``.

        Raises:
            gymnasium.error.ResetNeeded: stepping before ``reset`` or after the episode ended.
            gymnasium.error.InvalidAction: an action outside ``action_space``.
        """
        if self._done:
            raise gym.error.ResetNeeded(
                "the episode has ended (or reset was never called); call env.reset() before step()"
            )
        try:
            a = int(action)
            valid = a == action and self.action_space.contains(a)
        except (TypeError, ValueError, OverflowError):
            valid = False
        if not valid:
            raise gym.error.InvalidAction(
                f"action {action!r} is not in {self.action_space} (indices 0..{self.action_space.n - 1} "
                f"for fields {self.actions.tolist()})"
            )
        self._psi = self._evolve(self._psi, a)
        self._protocol[self._k] = a
        self._k += 1
        previous = self._fidelity
        self._fidelity = float(min(1.0, abs(np.vdot(self.psi_target, self._psi)) ** 2))
        terminated = self._k == self.num_steps
        if self.dense_reward:
            reward = self._fidelity - previous
        else:
            reward = self._fidelity if terminated else 0.0
        self._done = terminated
        return self._obs(), float(reward), terminated, False, self._info()

    def render(self):
        if self.render_mode == "ansi":
            bangs = "".join("+" if h > 0 else "-" for h in self.actions[self._protocol[: self._k]])
            return f"t={self._k * self.dt:.2f}/{self.T:g} F={self._fidelity:.5f} protocol {bangs}"
        return None


class QubitControlEnv(SpinChainControlEnv):
    """Bukov et al.'s single qubit: ``H = -S^z - h S^x``, from the ``h=-2`` to the ``h=+2`` ground
    state (initial fidelity 0.200), bang-bang ``h`` in ``{-4, +4}``, ``dt = 0.05``.

    Takes the keyword arguments of :class:`SpinChainControlEnv` except ``L`` and ``J``.

    Examples:
        >>> env = QubitControlEnv(T=1.0)
        >>> env.num_steps, round(env.initial_fidelity, 3)
        (20, 0.2)
    """

    def __init__(self, *, T: float = 1.0, dt: float = 0.05, actions: Sequence[float] = (-4.0, 4.0), **kwargs):
        for bad in ("L", "J"):
            if bad in kwargs:
                raise ConfigError(f"QubitControlEnv is one spin; {bad} is not an option (use SpinChainControlEnv)")
        super().__init__(L=1, T=T, dt=dt, actions=actions, J=0.0, **kwargs)


#: Hyperparameters of the double/dueling DQN used for bang-bang control in the example, the
#: benchmark and the demo (wave-function observation, dense reward, undiscounted).
CONTROL_DQN_HYPERPARAMS: dict = {
    "gamma": 1.0,
    "learning_rate": 1e-3,
    "learning_starts": 1000,
    "exploration_fraction": 0.5,
    "target_update_interval": 500,
}
CONTROL_ENV_OPTIONS: dict = {"observation": "state", "dense_reward": True}


@dataclass
class ControlTrainingResult:
    """Outcome of :func:`train_control_agent`.

    Attributes:
        agent: the trained SB3 agent.
        best_fidelity: the best final fidelity met during training (Bukov et al.'s measure),
            re-evaluated on the device from its protocol.
        best_protocol: that protocol as action indices.
        greedy_fidelity: final fidelity of the trained greedy policy.
        greedy_protocol: the greedy policy's protocol as action indices.
        episodes: training episodes played.
        seconds: training wall time.
    """

    agent: object
    best_fidelity: float
    best_protocol: np.ndarray
    greedy_fidelity: float
    greedy_protocol: np.ndarray
    episodes: int
    seconds: float


def train_control_agent(
    T: float,
    *,
    total_timesteps: int,
    kind: str = "dqn",
    seed: int | None = 0,
    device: str = "auto",
    progress: bool = False,
    env_options: dict | None = None,
    **hyperparams,
) -> ControlTrainingResult:
    """Train an agent on :class:`QubitControlEnv` at total time ``T`` and report its protocols.

    Uses :data:`CONTROL_ENV_OPTIONS` and (for ``kind="dqn"``) :data:`CONTROL_DQN_HYPERPARAMS`,
    overridden by ``env_options`` / ``hyperparams``.

    Args:
        T: total protocol time (multiple of ``dt = 0.05``).
        total_timesteps: environment steps to train for (``T / dt`` per episode).
        kind: ``"dqn"`` or ``"ppo"``.
        seed: seeds the agent and the environment.
        device: torch device of the networks (``"auto"``, ``"cpu"``, ``"cuda"``).
        progress: show SB3's progress bar.
        env_options: extra :class:`QubitControlEnv` options.
        **hyperparams: agent hyperparameters.

    Returns:
        A :class:`ControlTrainingResult`.

    Examples:
        >>> res = train_control_agent(0.5, total_timesteps=300, seed=0, device="cpu",
        ...                           learning_starts=100)
        >>> res.episodes, len(res.best_protocol)
        (30, 10)
    """
    import time

    from qphys.rl.agents import BestEpisodeCallback, make_agent, rollout

    options = {**CONTROL_ENV_OPTIONS, **(env_options or {})}
    env = QubitControlEnv(T=T, **options)
    params = {**(CONTROL_DQN_HYPERPARAMS if kind == "dqn" else {}), **hyperparams}
    agent = make_agent(kind, env, seed=seed, device=device, **params)
    best = BestEpisodeCallback()
    t0 = time.perf_counter()
    agent.learn(total_timesteps, callback=best, progress_bar=progress)
    seconds = time.perf_counter() - t0
    index = {float(h): i for i, h in enumerate(env.actions)}
    best_protocol = np.array([index[float(h)] for h in best.best_info.get("protocol", [])], dtype=np.int64)
    best_fid = float(env.fidelities(best_protocol)[0]) if best_protocol.size == env.num_steps else float("nan")
    _, info = rollout(agent, env, seed=seed)
    greedy = np.array([index[float(h)] for h in info["protocol"]], dtype=np.int64)
    return ControlTrainingResult(agent, best_fid, best_protocol, float(info["fidelity"]), greedy,
                                 best.episodes, seconds)


WEIGHTS_DIR = __import__("pathlib").Path(__file__).resolve().parent / "weights"


def shipped_control_results() -> dict:
    """The results shipped with qphys by ``benchmarks/rl_control.py`` (empty if none): per total
    time ``T`` (a string key such as ``"1.0"``), the trained agent's best and greedy protocols and
    fidelities, stochastic descent's best fidelity, and the training settings.

    Examples:
        >>> isinstance(shipped_control_results(), dict)
        True
    """
    import json

    path = WEIGHTS_DIR / "control_protocols.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_control_agent(T: float, *, device: str = "cpu"):
    """The DQN agent trained by ``benchmarks/rl_control.py`` at total time ``T`` (shipped weights).

    Raises:
        FileNotFoundError: no shipped weights for this ``T``.

    Examples:
        >>> agent = load_control_agent(1.0)
        >>> type(agent).__name__
        'DoubleDuelingDQN'
    """
    from qphys.rl.agents import make_agent

    path = WEIGHTS_DIR / f"control_dqn_T{float(T):.2f}.pt"
    if not path.exists():
        have = sorted(p.name for p in WEIGHTS_DIR.glob("control_dqn_T*.pt"))
        raise FileNotFoundError(
            f"no shipped control agent for T={T} ({path.name}); shipped: {have or 'none'}; "
            "train one with benchmarks/rl_control.py or train_control_agent()"
        )
    env = QubitControlEnv(T=T, **CONTROL_ENV_OPTIONS)
    agent = make_agent("dqn", env, seed=0, device=device, **CONTROL_DQN_HYPERPARAMS)
    agent.policy.load_state_dict(torch.load(path, map_location=agent.device, weights_only=True))
    return agent
