"""Reinforcement learning for quantum physics: gymnasium environments, agents, baselines.

Importing :mod:`qphys.rl` registers the qphys environments with gymnasium under versioned ids in
the ``qphys`` namespace (entry points are lazy strings, so nothing heavy is imported until an
environment is made):

- ``qphys/QubitControl-v0`` — bang-bang state preparation of one qubit (Bukov et al., PRX 8,
  031086, 2018), :class:`qphys.rl.control_env.QubitControlEnv`;
- ``qphys/SpinChainControl-v0`` — the same task on Bukov et al.'s L-spin chain,
  :class:`qphys.rl.control_env.SpinChainControlEnv`;
- ``qphys/ToricCodeDecoding-v0`` — decoding the distance-d toric code,
  :class:`qphys.rl.decoding_env.ToricCodeDecodingEnv`;
- ``qphys/ToricCodeDefectDecoding-v0`` — the same with Andreasson et al.'s defect-centred actions (a Pauli
  next to a defect, with an action mask), :class:`qphys.rl.decoding_env.ToricCodeDefectEnv`.

Agents (double/dueling deep Q-learning and PPO) come from :func:`qphys.rl.agents.make_agent`; decoders
(matching, neural, RL) and their evaluation from :mod:`qphys.rl.decoding` (also importable from here,
e.g. ``from qphys.rl import MWPMDecoder``).

This package needs the ``rl`` extra (gymnasium, stable-baselines3, stim, pymatching): importing it, or
any of its submodules, without them raises :class:`qphys.errors.MissingDependencyError` naming
``pip install "qphys[rl]"``.

Examples:
    >>> import gymnasium as gym
    >>> import qphys.rl
    >>> env = gym.make("qphys/QubitControl-v0", T=1.0)
    >>> obs, info = env.reset(seed=0)
    >>> round(info["fidelity"], 3)
    0.2
"""

from __future__ import annotations

import importlib.util

from qphys._deps import require

#: The packages of the ``rl`` extra (import names), checked when qphys.rl is imported.
RL_DEPENDENCIES = ("gymnasium", "stable_baselines3", "stim", "pymatching")


def _check_dependencies() -> None:
    """Raise MissingDependencyError naming ``pip install "qphys[rl]"`` if a package of the extra is missing.

    Presence is checked with ``importlib.util.find_spec`` (cheap, nothing heavy is imported); a missing
    package is then imported through :func:`qphys._deps.require`, which raises the error.
    """
    for module in RL_DEPENDENCIES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            require(module, extra="rl", feature="reinforcement-learning and decoding")


_check_dependencies()

import gymnasium  # noqa: E402

#: Every environment id qphys registers, mapped to its lazy entry point.
ENV_IDS: dict[str, str] = {
    "qphys/QubitControl-v0": "qphys.rl.control_env:QubitControlEnv",
    "qphys/SpinChainControl-v0": "qphys.rl.control_env:SpinChainControlEnv",
    "qphys/ToricCodeDecoding-v0": "qphys.rl.decoding_env:ToricCodeDecodingEnv",
    "qphys/ToricCodeDefectDecoding-v0": "qphys.rl.decoding_env:ToricCodeDefectEnv",
}


def register_envs() -> None:
    """Register every qphys environment with gymnasium (idempotent; runs on import)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point, disable_env_checker=False)


register_envs()


#: Decoding names re-exported lazily from :mod:`qphys.rl.decoding`.
_DECODING_NAMES = (
    "MWPMDecoder",
    "NeuralDecoder",
    "RLDecoder",
    "DecodingResult",
    "evaluate",
    "threshold_plot",
    "weights_path",
    "wilson_interval",
)


def __getattr__(name):
    # Lazy access to the heavier submodules' main entry points (torch / SB3 are only imported
    # when used).
    if name in ("make_agent", "load_agent"):
        from qphys.rl import agents

        return getattr(agents, name)
    if name in ("QubitControlEnv", "SpinChainControlEnv"):
        from qphys.rl import control_env

        return getattr(control_env, name)
    if name == "stochastic_descent":
        from qphys.rl import baselines

        return baselines.stochastic_descent
    if name in _DECODING_NAMES:
        from qphys.rl import decoding

        return getattr(decoding, name)
    raise AttributeError(f"module 'qphys.rl' has no attribute {name!r}")


__all__ = [
    "ENV_IDS",
    "register_envs",
    "make_agent",
    "load_agent",
    "QubitControlEnv",
    "SpinChainControlEnv",
    "stochastic_descent",
    *_DECODING_NAMES,
]
