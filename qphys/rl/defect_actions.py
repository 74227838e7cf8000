"""Defect-centred actions on the toric code and a batched torch simulation of decoding episodes.

Andreasson et al. (Quantum 3, 183, 2019) let a deep-Q agent decode the toric code one Pauli at a time,
looking at the syndrome from the *perspective* of one defect: the syndrome is translated on the torus so
that the chosen defect sits at the centre, and the agent acts on the qubits next to that defect. The
toric code is translation invariant, so one network serves every defect. Fitzek et al. (arXiv:1912.12919)
extend the action set to X, Y and Z for depolarizing noise.

Here a cell ``(r, c)`` of the ``d x d`` lattice holds plaquette ``(r, c)`` and vertex ``(r, c)`` (see
:mod:`qphys.rl.codes`). The local actions of a cell are:

- bit-flip noise (4 actions): X on each of the four edges of plaquette ``(r, c)`` — top ``h(r, c)``,
  bottom ``h(r+1, c)``, left ``v(r, c)``, right ``v(r, c+1)`` — valid when that plaquette is a defect;
- depolarizing noise (24 actions): X, Y or Z on each edge of plaquette ``(r, c)`` (valid when it is a
  defect) and X, Y or Z on each edge of vertex ``(r, c)`` — ``h(r, c), h(r, c-1), v(r, c), v(r-1, c)``
  (valid when that vertex is a defect).

A global action is ``a * d**2 + r * d + c`` (local action ``a`` at cell ``(r, c)``). :class:`DefectActions`
holds the lookup tables (which qubit, which Pauli, which defect makes it valid); :class:`BatchedToricEpisodes`
steps many decoding episodes at once with torch (the Pauli frame and syndrome are bit vectors: a stabilizer
simulation by the Gottesman-Knill theorem), with the rewards of the decoding game:

- each step: the number of defects removed (negative when defects are created);
- at termination (no defect left): ``terminal_reward`` if the error times the correction is a stabilizer
  (a trivial loop), ``0`` if it is a logical operator;
- episodes are truncated after ``max_steps`` steps (no terminal reward).

Examples:
    >>> from qphys.rl.codes import ToricCode
    >>> acts = DefectActions(ToricCode(3), "bitflip")
    >>> acts.n_local, acts.n_actions
    (4, 36)
    >>> [acts.describe(a) for a in (0, 9 * 3 + 4)]
    ['X on h(0,0) (plaquette (0,0), top)', 'X on v(1,2) (plaquette (1,1), right)']
"""

from __future__ import annotations

import numpy as np
import torch

from qphys.errors import ConfigError
from qphys.rl.codes import NOISE_MODELS, ToricCode, validate_rate

__all__ = ["BatchedToricEpisodes", "DefectActions"]

_PLAQ_EDGES = (("top", 0, 0, 0), ("bottom", 0, 1, 0), ("left", 1, 0, 0), ("right", 1, 0, 1))
_VERT_EDGES = (("right", 0, 0, 0), ("left", 0, 0, -1), ("down", 1, 0, 0), ("up", 1, -1, 0))


class DefectActions:
    """Lookup tables of the defect-centred action set (see the module docstring).

    Args:
        code: the :class:`~qphys.rl.codes.ToricCode`.
        noise: ``'bitflip'`` (X next to plaquette defects) or ``'depolarizing'`` (X, Y, Z next to either
            kind of defect).

    Attributes:
        n_local: local actions per cell (4 or 24). n_actions: ``n_local * d**2``.
        qubit: ``(n_local, d, d)`` int64, the qubit each action acts on.
        pauli: ``(n_local,)`` Pauli code 1=X, 2=Y, 3=Z of each local action.
        anchor: ``(n_local,)`` 0 when the action needs a plaquette defect at its cell, 1 a vertex defect.
    """

    def __init__(self, code: ToricCode, noise: str):
        if not isinstance(code, ToricCode):
            raise ConfigError(f"DefectActions needs a qphys.rl.codes.ToricCode, got {type(code).__name__}")
        if noise not in NOISE_MODELS:
            raise ConfigError(f"unknown noise model {noise!r}; choose one of {list(NOISE_MODELS)}")
        self.code, self.noise, d = code, noise, code.d
        paulis = (1,) if noise == "bitflip" else (1, 2, 3)
        anchors = ((0, _PLAQ_EDGES),) if noise == "bitflip" else ((0, _PLAQ_EDGES), (1, _VERT_EDGES))
        qubit, pauli, anchor, names = [], [], [], []
        rr, cc = np.meshgrid(np.arange(d), np.arange(d), indexing="ij")
        for kind, edges in anchors:
            for name, orient, dr, dc in edges:
                for p in paulis:
                    qubit.append(orient * d * d + ((rr + dr) % d) * d + (cc + dc) % d)
                    pauli.append(p)
                    anchor.append(kind)
                    names.append((kind, name))
        self.qubit = np.stack(qubit).astype(np.int64)
        self.pauli = np.array(pauli, dtype=np.int64)
        self.anchor = np.array(anchor, dtype=np.int64)
        self._names = names
        self.n_local = len(pauli)
        self.n_actions = self.n_local * d * d

    def describe(self, action: int) -> str:
        """Human-readable global action, e.g. ``'X on h(0,0) (plaquette (0,0), top)'``."""
        d = self.code.d
        a, cell = divmod(int(action), d * d)
        r, c = divmod(cell, d)
        kind, side = self._names[a]
        q = int(self.qubit[a, r, c])
        return (f"{'IXYZ'[self.pauli[a]]} on {self.code.qubit_label(q)} "
                f"({('plaquette', 'vertex')[kind]} ({r},{c}), {side})")

    def valid_mask(self, images: np.ndarray) -> np.ndarray:
        """Valid global actions ``(B, n_actions)`` bool for syndrome images ``(B, 2, d, d)`` (numpy)."""
        img = np.asarray(images) != 0
        return img[:, self.anchor].reshape(len(img), -1)

    def global_qubit_pauli(self, action) -> tuple[np.ndarray, np.ndarray]:
        """(qubit, Pauli code) of global actions (numpy, any shape)."""
        d = self.code.d
        a, cell = np.divmod(np.asarray(action), d * d)
        return self.qubit.reshape(self.n_local, -1)[a, cell], self.pauli[a]


class BatchedToricEpisodes:
    """Many decoding episodes stepped at once in torch (the simulation used for training and decoding).

    Args:
        actions: the :class:`DefectActions` (code and noise).
        n: number of parallel episodes.
        terminal_reward: reward for ending with a trivial loop.
        max_steps: step limit per episode (truncation).
        device: torch device. generator: the ``torch.Generator`` errors are sampled from.

    Attributes:
        syndrome: ``(n, 2, d, d)`` float32 images. x, z: ``(n, n_qubits)`` bool Pauli frame (error times
        correction). steps: ``(n,)`` int64. rate: ``(n,)`` the error rate each episode was sampled at.
    """

    def __init__(
        self,
        actions: DefectActions,
        n: int,
        *,
        terminal_reward: float = 10.0,
        max_steps: int | None = None,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
    ):
        code = actions.code
        self.actions, self.code, self.n, self.d = actions, code, int(n), code.d
        self.noise = actions.noise
        self.device = torch.device(device)
        self.terminal_reward = float(terminal_reward)
        self.max_steps = int(max_steps) if max_steps is not None else code.n_qubits
        self.gen = generator if generator is not None else torch.Generator(device=self.device)
        f = dict(dtype=torch.float32, device=self.device)
        self._hz_t = torch.as_tensor(code.hz.T, **f)
        self._hx_t = torch.as_tensor(code.hx.T, **f)
        self._lz_t = torch.as_tensor(code.logical_z.T, **f)
        self._lx_t = torch.as_tensor(code.logical_x.T, **f)
        self._qubit = torch.as_tensor(actions.qubit.reshape(actions.n_local, -1), device=self.device)
        self._pauli = torch.as_tensor(actions.pauli, device=self.device)
        self._anchor = torch.as_tensor(actions.anchor, device=self.device)
        n_q = code.n_qubits
        self.x = torch.zeros(self.n, n_q, dtype=torch.bool, device=self.device)
        self.z = torch.zeros_like(self.x)
        self.syndrome = torch.zeros(self.n, 2, self.d, self.d, **f)
        self.base = torch.zeros_like(self.syndrome)  # syndrome of the unknown error when decoding
        self.steps = torch.zeros(self.n, dtype=torch.int64, device=self.device)
        self.rate = torch.zeros(self.n, **f)

    # ------------------------------------------------------------------ state
    def _syndrome_of(self, x: torch.Tensor, z: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        sp = x.float() @ self._hz_t
        sv = z.float() @ self._hx_t
        return torch.remainder(torch.stack([sp, sv], 1).view(-1, 2, self.d, self.d) + base, 2)

    def logical_class(self) -> torch.Tensor:
        """``(n, 4)`` bits ``(x0, x1, z0, z1)`` of the current frame (error times correction)."""
        return torch.cat([torch.remainder(self.x.float() @ self._lz_t, 2),
                          torch.remainder(self.z.float() @ self._lx_t, 2)], 1).bool()

    def valid(self, syndrome: torch.Tensor | None = None) -> torch.Tensor:
        """Valid global actions ``(B, n_actions)`` bool (a defect at the action's anchor)."""
        s = self.syndrome if syndrome is None else syndrome
        return (s[:, self._anchor] > 0.5).reshape(len(s), -1)

    def reset(self, which: torch.Tensor, rate) -> None:
        """Start new episodes where ``which`` (bool ``(n,)``) from random errors with a non-empty syndrome.

        ``rate``: a float or a ``(n,)`` tensor of error rates (one per episode).
        """
        rate = torch.as_tensor(rate, dtype=torch.float32, device=self.device).expand(self.n)
        todo = which.clone()
        for _ in range(1000):
            idx = torch.nonzero(todo).flatten()
            if idx.numel() == 0:
                return
            p = rate[idx, None]
            hit = torch.rand(idx.numel(), self.code.n_qubits, generator=self.gen, device=self.device) < p
            if self.noise == "bitflip":
                x, z = hit, torch.zeros_like(hit)
            else:
                kind = torch.randint(1, 4, hit.shape, generator=self.gen, device=self.device)
                x, z = hit & (kind <= 2), hit & (kind >= 2)
            self.base[idx] = 0.0
            s = self._syndrome_of(x, z, self.base[idx])
            self.x[idx], self.z[idx], self.syndrome[idx] = x, z, s
            self.steps[idx] = 0
            self.rate[idx] = rate[idx]
            todo[idx] = s.flatten(1).sum(1) == 0
        raise RuntimeError("could not sample errors with a non-empty syndrome; is the error rate 0?")

    def load(self, syndromes: torch.Tensor) -> None:
        """Start one episode per given syndrome image ``(n, 2, d, d)`` (decoding an unknown error).

        The frame then holds the correction alone, and the syndrome is the given one times the
        correction's (so ``logical_class`` is the correction's class).
        """
        self.base = syndromes.to(self.device, torch.float32).clone()
        self.syndrome = self.base.clone()
        self.x.zero_()
        self.z.zero_()
        self.steps.zero_()

    # ------------------------------------------------------------------ dynamics
    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply one global action per episode; returns ``(reward, terminated, truncated, success)``.

        ``success`` is meaningful where ``terminated``: the frame is a stabilizer (trivial loop).
        """
        dd = self.d * self.d
        a, cell = action // dd, action % dd
        q = self._qubit[a, cell]
        p = self._pauli[a]
        rows = torch.arange(self.n, device=self.device)
        before = self.syndrome.flatten(1).sum(1)
        flip_x, flip_z = (p == 1) | (p == 2), (p == 3) | (p == 2)
        self.x[rows, q] ^= flip_x
        self.z[rows, q] ^= flip_z
        self.syndrome = self._syndrome_of(self.x, self.z, self.base)
        after = self.syndrome.flatten(1).sum(1)
        self.steps += 1
        terminated = after == 0
        success = terminated & ~self.logical_class().any(1)
        reward = (before - after) + self.terminal_reward * success.float()
        truncated = ~terminated & (self.steps >= self.max_steps)
        return reward, terminated, truncated, success

    @staticmethod
    def check_rate(p) -> float:
        """A training/decoding error rate: a probability in ``(0, 1)``."""
        p = validate_rate(p)
        if p == 0.0:
            raise ConfigError("an error rate of 0 produces no syndrome to decode; use 0 < p < 1")
        return p
