"""The shipped control agents and protocols (benchmarks/rl_control.py) meet the acceptance bar."""

import numpy as np
import pytest

from qphys.rl.agents import rollout
from qphys.rl.control_env import (
    CONTROL_ENV_OPTIONS,
    QubitControlEnv,
    load_control_agent,
    shipped_control_results,
)

SHIPPED = shipped_control_results()


def test_shipped_results_cover_T1_and_T3():
    assert {"1.0", "3.0"} <= set(SHIPPED)


@pytest.mark.parametrize("key", ["1.0", "3.0"])
def test_shipped_best_protocol_within_1e3_of_stochastic_descent(key):
    rec = SHIPPED[key]
    env = QubitControlEnv(T=rec["T"])
    best = env.fidelities(np.asarray(rec["best_protocol"]))[0]
    sd = env.fidelities(np.asarray(rec["sd_best_protocol"]))[0]
    assert best == pytest.approx(rec["best_fidelity"], abs=1e-9)
    assert sd == pytest.approx(rec["sd_best_fidelity"], abs=1e-9)
    assert best >= sd - 1e-3


@pytest.mark.parametrize("key", ["1.0", "3.0"])
def test_shipped_agent_replays_its_greedy_protocol(key):
    rec = SHIPPED[key]
    agent = load_control_agent(rec["T"], device="cpu")
    env = QubitControlEnv(T=rec["T"], **CONTROL_ENV_OPTIONS)
    _, info = rollout(agent, env)
    expected = env.actions[np.asarray(rec["greedy_protocol"])]
    np.testing.assert_array_equal(info["protocol"], expected)
    assert info["fidelity"] == pytest.approx(rec["greedy_fidelity"], abs=1e-6)


def test_missing_shipped_agent():
    with pytest.raises(FileNotFoundError, match=r"no shipped control agent for T=2.0 .*control_dqn_T1.00.pt"):
        load_control_agent(2.0)
