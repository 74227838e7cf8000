"""``qphys/ToricCodeDecoding-v0``: decoding the toric code as a game (Andreasson et al., Quantum 3, 183, 2019).

An episode starts from a random code-capacity error (bit-flip or depolarizing, rate ``p``) with a
non-empty syndrome. The agent sees only the syndrome — plaquette and vertex defects as a ``(2, d, d)``
image — and applies one single-qubit Pauli per step (``X``, ``Y`` or ``Z`` on one of the ``2 d**2``
qubits). The episode terminates when the syndrome is cleared; the reward is then ``+1`` if the error times
the agent's correction is a stabilizer (trivial logical class) and ``-1`` if it is a logical operator.
Episodes that reach ``max_steps`` are truncated (reward 0). Optional potential-based shaping adds
``shaping * (defects before - defects after)`` each step, which leaves the optimal policy unchanged
(Ng et al. 1999) with discount 1.

Simulation: the code state is a stabilizer state and errors and corrections are Paulis, so by the
Gottesman-Knill theorem the environment only tracks the Pauli frame (two bits per qubit) and the syndrome
parities with numpy (:class:`~qphys.rl.codes.ToricCode`). A statevector device such as ``torch.qubit``
cannot hold the ``2 d**2`` qubits (50 at d=5) and would add nothing here.

Perspective: with ``perspective="centered"`` (default, Andreasson et al.'s defect-centred view) the image is
translated on the torus so that one defect (the first plaquette defect in row-major order, else the first
vertex defect) sits at the centre cell ``(d//2, d//2)``, and actions are read in that translated frame;
the translation is a symmetry of the code, so this only removes what the agent would otherwise have to
learn ``d**2`` times. A centre cell exists for odd ``d`` only; the decoding literature (Andreasson et al.,
Fitzek et al., Sweke et al.) uses odd distances ``d = 3, 5, 7, ...``, and so does this environment
(``d`` must be odd and ``>= 3``). ``perspective="fixed"`` shows the lattice untranslated.

Examples:
    >>> import gymnasium as gym
    >>> import qphys.rl
    >>> env = gym.make("qphys/ToricCodeDecoding-v0", d=3, noise="bitflip", p=0.1)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, int(env.action_space.n)
    ((2, 3, 3), 54)
"""

from __future__ import annotations

import numbers

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from qphys.errors import ConfigError
from qphys.rl.codes import NOISE_MODELS, ToricCode, validate_rate

__all__ = ["ToricCodeDecodingEnv", "ToricCodeDefectEnv", "center_shift", "view_to_qubit"]

PERSPECTIVES = ("centered", "fixed")


def center_shift(images: np.ndarray) -> np.ndarray:
    """Translations ``(B, 2)`` that bring the first defect of each ``(B, 2, d, d)`` image to the centre.

    The first defect is the first plaquette defect in row-major order, else the first vertex defect;
    images without defects get shift ``(0, 0)``.
    """
    imgs = np.asarray(images)
    b, _, d, _ = imgs.shape
    flat = imgs.reshape(b, -1) != 0
    first = np.where(flat.any(axis=1), flat.argmax(axis=1), 0) % (d * d)
    r, c = np.divmod(first, d)
    return np.stack([(d // 2 - r) % d, (d // 2 - c) % d], axis=1)


def roll_images(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Translate each ``(2, d, d)`` image of a batch on the torus by its ``(dr, dc)``."""
    imgs = np.asarray(images)
    d = imgs.shape[-1]
    rows = (np.arange(d)[None, :] - shifts[:, :1]) % d  # (B, d): source row of each target row
    cols = (np.arange(d)[None, :] - shifts[:, 1:]) % d
    return imgs[np.arange(len(imgs))[:, None, None, None], np.arange(2)[None, :, None, None],
                rows[:, None, :, None], cols[:, None, None, :]]


def view_to_qubit(view_qubits: np.ndarray, shifts: np.ndarray, d: int) -> np.ndarray:
    """Map qubit indices read in a translated view back to lattice qubits (inverse of the shift)."""
    q = np.asarray(view_qubits)
    kind, rest = np.divmod(q, d * d)
    r, c = np.divmod(rest, d)
    r = (r - shifts[..., 0]) % d
    c = (c - shifts[..., 1]) % d
    return kind * d * d + r * d + c


class ToricCodeDecodingEnv(gym.Env):
    """Gymnasium environment: clear the syndrome of a toric-code error with single-qubit Paulis.

    Args:
        d: code distance, odd and ``>= 3``.
        noise: ``'bitflip'`` or ``'depolarizing'`` (code capacity: perfect syndrome measurements).
        p: physical error rate in ``[0, 1]``; it must be able to produce a defect (not 0, and not 1 for
            bit-flip noise, where X on every qubit is a stabilizer product with an empty syndrome).
        max_steps: step limit before truncation (default ``2 d**2``, the number of qubits).
        shaping: weight of the potential-based shaping reward per removed defect (default 0: the
            sparse +1/-1 reward of Andreasson et al.).
        perspective: ``'centered'`` (defect-centred view) or ``'fixed'``.
        render_mode: ``None`` or ``'ansi'``.

    Observation: ``Box(0, 1, (2, d, d), float32)``, channel 0 plaquette defects, channel 1 vertex defects.
    Action: ``Discrete(3 * 2 d**2)``; action ``a`` applies Pauli ``'XYZ'[a // n]`` on (view) qubit ``a % n``.
    Info: ``defects`` (number of defects); at termination also ``success`` (bool) and ``logical_class``
    (bits ``x0, x1, z0, z1`` of error times correction).

    Raises:
        ConfigError: even or too small ``d``, unknown noise, ``p`` outside ``[0, 1]`` or unable to
            produce a syndrome, bad ``max_steps``/``shaping``/``perspective``/``render_mode``.

    Examples:
        >>> env = ToricCodeDecodingEnv(d=3, noise="bitflip", p=0.1, perspective="fixed")
        >>> obs, info = env.reset(seed=1)
        >>> obs, reward, terminated, truncated, info = env.step(0)   # X on qubit 0
        >>> sorted(info)[:1]
        ['defects']
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        d: int = 5,
        noise: str = "bitflip",
        p: float = 0.1,
        *,
        max_steps: int | None = None,
        shaping: float = 0.0,
        perspective: str = "centered",
        render_mode: str | None = None,
    ):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise ConfigError(f"toric code distance d must be an odd integer >= 3, got {d!r}")
        if d < 3:
            raise ConfigError(f"toric code distance d must be an odd integer >= 3, got d={d} (d < 3)")
        if d % 2 == 0:
            raise ConfigError(
                f"toric code distance d must be odd (3, 5, 7, ...) for the decoding environment, got d={d}; "
                "the defect-centred view needs a centre cell"
            )
        if noise not in NOISE_MODELS:
            raise ConfigError(f"unknown noise model {noise!r}; choose one of {list(NOISE_MODELS)}")
        p = validate_rate(p)
        if p == 0.0 or (noise == "bitflip" and p == 1.0):
            raise ConfigError(
                f"p={p} with {noise} noise never produces a syndrome, so no decoding episode can start; "
                "use 0 < p < 1"
            )
        n = 2 * int(d) ** 2
        if max_steps is None:
            max_steps = n
        if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
            raise ConfigError(f"max_steps must be a positive integer, got {max_steps!r}")
        if isinstance(shaping, bool) or not isinstance(shaping, numbers.Real) or not np.isfinite(shaping):
            raise ConfigError(f"shaping must be a finite real number, got {shaping!r}")
        if perspective not in PERSPECTIVES:
            raise ConfigError(f"perspective must be one of {list(PERSPECTIVES)}, got {perspective!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.code = ToricCode(int(d))
        self.d, self.noise, self.p = int(d), noise, p
        self.max_steps, self.shaping, self.perspective = int(max_steps), float(shaping), perspective
        self.render_mode = render_mode
        self.n_qubits = n
        self.observation_space = spaces.Box(0.0, 1.0, shape=(2, self.d, self.d), dtype=np.float32)
        self.action_space = spaces.Discrete(3 * n)
        self._error = None  # Pauli frame: error times correction so far
        self._syndrome = None
        self._shift = np.zeros(2, dtype=np.int64)
        self._steps = 0
        self._done = True
        self._p0 = (1.0 - p) ** n  # probability of no error at all

    # ------------------------------------------------------------------ helpers
    def _sample_error(self) -> np.ndarray:
        """An error conditioned on a non-empty syndrome (exact: truncated binomial, then rejection)."""
        from scipy.stats import binom

        rng, n = self.np_random, self.n_qubits
        for _ in range(10_000):
            if self._p0 > 1.0 - 1e-9:
                k = 1
            else:
                k = int(binom.ppf(rng.uniform(self._p0, 1.0), n, self.p))
                k = min(max(k, 1), n)
            e = np.zeros(n, dtype=np.uint8)
            where = rng.choice(n, size=k, replace=False)
            e[where] = 1 if self.noise == "bitflip" else rng.integers(1, 4, size=k)
            if self.code.syndrome(e).any():
                return e
        raise RuntimeError(f"could not sample an error with a syndrome at p={self.p} ({self.noise})")

    def _obs(self) -> np.ndarray:
        img = self.code.syndrome_to_image(self._syndrome).astype(np.float32)
        if self.perspective == "centered":
            self._shift = center_shift(img[None])[0]
            img = roll_images(img[None], self._shift[None])[0]
        return np.ascontiguousarray(img, dtype=np.float32)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode from a fresh random error with at least one defect.

        ``options={"error": array}`` starts from a given error instead (Pauli codes ``0..3`` over the
        ``2 d**2`` qubits, with a non-empty syndrome), e.g. to replay a test case.
        """
        super().reset(seed=seed)
        if options and "error" in options:
            e = np.asarray(options["error"])
            if e.shape != (self.n_qubits,) or e.min() < 0 or e.max() > 3:
                raise ConfigError(
                    f"options['error'] must be {self.n_qubits} Pauli codes in 0..3, got shape {e.shape}"
                )
            e = e.astype(np.uint8)
            if not self.code.syndrome(e).any():
                raise ConfigError("options['error'] has an empty syndrome; nothing to decode")
        else:
            e = self._sample_error()
        self._error = e
        self._syndrome = self.code.syndrome(e)
        self._steps = 0
        self._done = False
        return self._obs(), {"defects": int(self._syndrome.sum())}

    def step(self, action):
        """Apply one Pauli; see the class docstring for rewards and termination.

        Raises:
            gymnasium.error.ResetNeeded: stepping before ``reset`` or after the episode ended.
            gymnasium.error.InvalidAction: an action outside ``action_space``.
        """
        if self._done:
            raise gym.error.ResetNeeded(
                "ToricCodeDecodingEnv.step called before reset() or after the episode ended "
                "(terminated or truncated); call env.reset() first"
            )
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral):
            raise gym.error.InvalidAction(
                f"action must be an integer in [0, {self.action_space.n}), got {action!r}"
            )
        if not 0 <= int(action) < self.action_space.n:
            raise gym.error.InvalidAction(
                f"action {int(action)} is outside Discrete({self.action_space.n}): "
                f"use a in [0, {self.action_space.n}) = Pauli 'XYZ'[a // {self.n_qubits}] on qubit a % {self.n_qubits}"
            )
        a = int(action)
        pauli, view_q = a // self.n_qubits + 1, a % self.n_qubits
        q = int(view_to_qubit(np.array(view_q), self._shift, self.d)) if self.perspective == "centered" else view_q
        before = int(self._syndrome.sum())
        op = np.zeros(self.n_qubits, dtype=np.uint8)
        op[q] = pauli
        self._error = ToricCode.compose(self._error, op)
        self._syndrome = self.code.syndrome(self._error)
        after = int(self._syndrome.sum())
        self._steps += 1
        reward = self.shaping * (before - after)
        info: dict = {"defects": after}
        terminated = after == 0
        truncated = False
        if terminated:
            cls = self.code.logical_class(self._error)
            success = not cls.any()
            reward += 1.0 if success else -1.0
            info.update(success=bool(success), logical_class=cls)
        elif self._steps >= self.max_steps:
            truncated = True
        self._done = terminated or truncated
        return self._obs(), float(reward), terminated, truncated, info

    def render(self):
        """``'ansi'``: the syndrome as text (``P`` plaquette defect, ``V`` vertex defect, ``.`` none)."""
        if self.render_mode != "ansi" or self._syndrome is None:
            return None
        img = self.code.syndrome_to_image(self._syndrome)
        lines = []
        for r in range(self.d):
            lines.append(" ".join(("V" if img[1, r, c] else "+") for c in range(self.d)))
            lines.append(" ".join(("P" if img[0, r, c] else ".") for c in range(self.d)))
        return "\n".join(lines) + f"\nstep {self._steps}, defects {int(self._syndrome.sum())}\n"


class ToricCodeDefectEnv(ToricCodeDecodingEnv):
    """Decoding with Andreasson et al.'s defect-centred actions (``qphys/ToricCodeDefectDecoding-v0``).

    The action set of :mod:`qphys.rl.defect_actions`: a Pauli on one of the four edges next to a
    defect (X next to plaquette defects under bit-flip noise; X, Y or Z next to plaquette or vertex defects
    under depolarizing noise). Global action ``a * d**2 + r * d + c`` is local action ``a`` at cell
    ``(r, c)``; the agent considers only actions next to a current defect (``info["action_mask"]``,
    :meth:`action_masks`; a masked action is still applied if taken). The agent's view is defect-centred: :meth:`perspectives` gives the syndrome
    translated so each defect sits at the centre (the input of Andreasson et al.'s network; the
    :class:`~qphys.rl.decoding.deepq.PerspectiveQNetwork` computes all of them in one pass).

    Rewards: the number of defects removed by the step, plus ``terminal_reward`` when no defect is left
    and the error times the correction is a stabilizer (a trivial loop); ``0`` more when it is a logical
    operator. Truncation after ``max_steps``. The batched training simulation
    (:class:`~qphys.rl.defect_actions.BatchedToricEpisodes`) follows the same rules; a test checks
    they agree step by step.

    Args:
        d, noise, p, max_steps, render_mode: as :class:`ToricCodeDecodingEnv`.
        terminal_reward: reward for ending with a trivial loop (default 10).

    Raises:
        ConfigError: as :class:`ToricCodeDecodingEnv`, or a non-finite ``terminal_reward``.

    Examples:
        >>> env = ToricCodeDefectEnv(d=3, noise="bitflip", p=0.1)
        >>> obs, info = env.reset(seed=3)
        >>> int(env.action_space.n), info["action_mask"].shape
        (36, (36,))
        >>> a = int(np.flatnonzero(info["action_mask"])[0])
        >>> obs, reward, terminated, truncated, info = env.step(a)
        >>> env.perspectives().shape[1:]
        (2, 3, 3)
    """

    def __init__(
        self,
        d: int = 5,
        noise: str = "bitflip",
        p: float = 0.1,
        *,
        max_steps: int | None = None,
        terminal_reward: float = 10.0,
        render_mode: str | None = None,
    ):
        super().__init__(d, noise, p, max_steps=max_steps, perspective="fixed", render_mode=render_mode)
        if isinstance(terminal_reward, bool) or not isinstance(terminal_reward, numbers.Real) or not np.isfinite(
            terminal_reward
        ):
            raise ConfigError(f"terminal_reward must be a finite real number, got {terminal_reward!r}")
        from qphys.rl.defect_actions import DefectActions

        self.terminal_reward = float(terminal_reward)
        self.actions = DefectActions(self.code, noise)
        self.action_space = spaces.Discrete(self.actions.n_actions)

    def action_masks(self) -> np.ndarray:
        """Valid actions now, ``(n_actions,)`` bool (an action needs a defect at its cell)."""
        img = self.code.syndrome_to_image(self._syndrome)
        return self.actions.valid_mask(img[None])[0]

    def perspectives(self) -> np.ndarray:
        """The syndrome centred on each defect, ``(n_defects, 2, d, d)`` (plaquette defects first)."""
        img = self.code.syndrome_to_image(self._syndrome).astype(np.float32)
        cells = np.argwhere(img != 0)  # (kind, r, c)
        shifts = np.stack([(self.d // 2 - cells[:, 1]) % self.d, (self.d // 2 - cells[:, 2]) % self.d], 1)
        return roll_images(np.repeat(img[None], len(cells), 0), shifts)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """As :meth:`ToricCodeDecodingEnv.reset`; ``info`` also holds ``action_mask``."""
        obs, info = super().reset(seed=seed, options=options)
        info["action_mask"] = self.action_masks()
        return obs, info

    def step(self, action):
        """Apply one defect-centred action.

        Raises:
            gymnasium.error.ResetNeeded: stepping before ``reset`` or after the episode ended.
            gymnasium.error.InvalidAction: an action outside the action space.

        A masked action (no defect at its cell) is still a legal Pauli and is applied — it creates
        defects, so its reward is negative; the mask tells an agent which actions Andreasson et al.'s
        agent considers, and keeps generic tools (random actions, vector envs, checkers) working.
        """
        if self._done:
            raise gym.error.ResetNeeded(
                "ToricCodeDefectEnv.step called before reset() or after the episode ended; call env.reset() first"
            )
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral) or not (
            0 <= int(action) < self.action_space.n
        ):
            raise gym.error.InvalidAction(
                f"action must be an integer in [0, {self.action_space.n}) (local action * d**2 + cell), got {action!r}"
            )
        a = int(action)
        q, pauli = self.actions.global_qubit_pauli(a)
        before = int(self._syndrome.sum())
        op = np.zeros(self.n_qubits, dtype=np.uint8)
        op[int(q)] = int(pauli)
        self._error = ToricCode.compose(self._error, op)
        self._syndrome = self.code.syndrome(self._error)
        after = int(self._syndrome.sum())
        self._steps += 1
        reward = float(before - after)
        info: dict = {"defects": after}
        terminated = after == 0
        truncated = False
        if terminated:
            cls = self.code.logical_class(self._error)
            success = not cls.any()
            reward += self.terminal_reward if success else 0.0
            info.update(success=bool(success), logical_class=cls)
        elif self._steps >= self.max_steps:
            truncated = True
        self._done = terminated or truncated
        info["action_mask"] = self.action_masks()
        return self._obs(), reward, terminated, truncated, info
