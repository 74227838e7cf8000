"""Baselines for bang-bang quantum control: stochastic descent (Bukov et al., PRX 8, 031086, 2018).

Stochastic descent (SD) starts from a random bang-bang protocol and repeatedly changes the field
of one randomly chosen time step, keeping the change only if the final fidelity increases; it
stops in a local optimum, where no single-step change helps, and is restarted from fresh random
protocols. Here each descent step evaluates every single-step change at once, as ONE batched
circuit on the environment's qphys device, and accepts one improving change drawn uniformly at
random. That is the same random walk as trying changes in random order and accepting the first
that improves (the first improving change met in a random order is uniform over the improving
ones), at one device call per accepted change. No library implements SD over bang-bang protocols,
hence this module.

Examples:
    >>> from qphys.rl.baselines import stochastic_descent
    >>> res = stochastic_descent(T=0.5, restarts=10, seed=0)
    >>> round(res.best_fidelity, 3)
    0.331
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from qphys.errors import ConfigError
from qphys.rl.control_env import QubitControlEnv, SpinChainControlEnv

logger = logging.getLogger(__name__)


@dataclass
class DescentResult:
    """Outcome of :func:`stochastic_descent`.

    Attributes:
        best_fidelity: the best final fidelity over all restarts.
        best_protocol: its protocol as action indices, ``(N,)``.
        best_fields: its protocol as field values ``h``, ``(N,)``.
        fidelities: final fidelity of each restart's local optimum.
        protocols: each restart's local optimum, ``(restarts, N)`` action indices.
        evaluations: number of protocols whose fidelity was computed.
        seconds: wall time.
    """

    best_fidelity: float
    best_protocol: np.ndarray
    best_fields: np.ndarray
    fidelities: np.ndarray
    protocols: np.ndarray
    evaluations: int
    seconds: float
    meta: dict = field(default_factory=dict)


def _neighbours(p: np.ndarray, n_actions: int) -> np.ndarray:
    """Every protocol that differs from ``p`` at exactly one time step."""
    out = []
    for k in range(p.size):
        for a in range(n_actions):
            if a != p[k]:
                q = p.copy()
                q[k] = a
                out.append(q)
    return np.stack(out)


def stochastic_descent(
    env: gym.Env | None = None,
    *,
    restarts: int = 20,
    seed: int | None = None,
    max_iterations: int = 10_000,
    progress: bool = False,
    **env_kwargs,
) -> DescentResult:
    """Stochastic descent over bang-bang protocols with random restarts.

    Args:
        env: a :class:`~qphys.rl.control_env.SpinChainControlEnv` (or a wrapper of one, e.g. from
            ``gymnasium.make``); if ``None`` a :class:`~qphys.rl.control_env.QubitControlEnv` is
            built from ``env_kwargs`` (``T``, ``dt``, ``actions``, ``device``...).
        restarts: number of independent descents from random protocols.
        seed: seeds the random initial protocols and the choice among improving changes.
        max_iterations: safety cap on accepted changes per descent.
        progress: show a progress bar over restarts.
        **env_kwargs: options of the environment built when ``env`` is ``None``.

    Returns:
        A :class:`DescentResult`.

    Raises:
        ConfigError: ``restarts``/``max_iterations`` not positive, ``env`` not a control
            environment, or both ``env`` and ``env_kwargs`` given.

    Examples:
        >>> from qphys.rl.control_env import SpinChainControlEnv
        >>> res = stochastic_descent(SpinChainControlEnv(L=2, T=0.5), restarts=2, seed=1)
        >>> res.protocols.shape
        (2, 10)
    """
    for name, v in (("restarts", restarts), ("max_iterations", max_iterations)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}")
    if env is None:
        env = QubitControlEnv(**env_kwargs)
    elif env_kwargs:
        raise ConfigError(f"pass either env or environment options, not both (got {sorted(env_kwargs)})")
    base = env.unwrapped if isinstance(env, gym.Env) else env
    if not isinstance(base, SpinChainControlEnv):
        raise ConfigError(
            f"stochastic_descent needs a qphys control environment, got {type(base).__name__}"
        )
    rng = np.random.default_rng(seed)
    n, A = base.num_steps, len(base.actions)
    t0 = time.perf_counter()
    evaluations = 0
    finals, fids = [], []
    for r in tqdm(range(restarts), desc="stochastic descent", disable=not progress):
        p = rng.integers(0, A, size=n)
        f = float(base.fidelities(p)[0])
        evaluations += 1
        for _ in range(max_iterations):
            nb = _neighbours(p, A)
            fn = base.fidelities(nb)
            evaluations += len(nb)
            better = np.flatnonzero(fn > f + 1e-12)
            if better.size == 0:
                break
            j = int(rng.choice(better))
            p, f = nb[j], float(fn[j])
        else:
            logger.warning("restart %d hit max_iterations=%d before a local optimum", r, max_iterations)
        logger.debug("restart %d: fidelity %.6f", r, f)
        finals.append(p)
        fids.append(f)
    fids_arr = np.asarray(fids)
    best = int(np.argmax(fids_arr))
    prot = np.stack(finals)
    return DescentResult(
        best_fidelity=float(fids_arr[best]),
        best_protocol=prot[best].copy(),
        best_fields=base.actions[prot[best]].copy(),
        fidelities=fids_arr,
        protocols=prot,
        evaluations=evaluations,
        seconds=time.perf_counter() - t0,
        meta={"T": base.T, "dt": base.dt, "L": base.L, "restarts": restarts, "seed": seed},
    )
