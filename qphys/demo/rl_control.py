"""Demo section: bang-bang qubit control (Bukov et al.) with a deep-RL agent vs stochastic descent.

Replays the shipped DQN agents (trained by ``benchmarks/rl_control.py`` at T = 1.0 and 3.0) on
``QubitControl-v0`` simulated by ``torch.qubit``, re-checks their best protocols on the device,
runs stochastic descent live for comparison and trains a small agent from scratch at T = 0.5.
"""

from __future__ import annotations

import numpy as np
import torch

from qphys.demo import DemoContext, Section
from qphys.plots import figure


def run(ctx: DemoContext) -> dict:
    from qphys.rl.agents import rollout
    from qphys.rl.baselines import stochastic_descent
    from qphys.rl.control_env import (
        CONTROL_ENV_OPTIONS,
        QubitControlEnv,
        load_control_agent,
        shipped_control_results,
        train_control_agent,
    )

    torch.manual_seed(ctx.seed)
    metrics: dict = {}
    shipped = shipped_control_results()
    panels = []
    for key, rec in sorted(shipped.items()):
        T = float(rec["T"])
        env = QubitControlEnv(T=T)
        best = float(env.fidelities(np.asarray(rec["best_protocol"]))[0])
        agent = load_control_agent(T)
        _, info = rollout(agent, QubitControlEnv(T=T, **CONTROL_ENV_OPTIONS))
        sd = stochastic_descent(env, restarts=5 if ctx.quick else 20, seed=ctx.seed)
        print(f"   T={T:g}: shipped DQN best protocol F={best:.6f}, greedy F={info['fidelity']:.6f}; "
              f"stochastic descent ({len(sd.fidelities)} restarts, {sd.seconds:.1f} s) F={sd.best_fidelity:.6f}")
        metrics[f"T{key}"] = {"dqn_best": best, "dqn_greedy": float(info["fidelity"]),
                              "sd_best": sd.best_fidelity}
        panels.append((T, env, np.asarray(rec["best_protocol"]), best, sd.best_protocol, sd.best_fidelity))
    if not shipped:
        print("   (no shipped control agents; run benchmarks/rl_control.py to train them)")

    steps = 1500 if ctx.quick else 3000
    res = train_control_agent(0.5, total_timesteps=steps, seed=ctx.seed, device="cpu", progress=False)
    sd = stochastic_descent(T=0.5, restarts=10, seed=ctx.seed)
    print(f"   T=0.5 from scratch: DQN {steps} steps ({res.seconds:.1f} s) best F={res.best_fidelity:.4f}, "
          f"greedy F={res.greedy_fidelity:.4f}; stochastic descent F={sd.best_fidelity:.4f}")
    metrics["T0.5_fresh"] = {"dqn_best": res.best_fidelity, "dqn_greedy": res.greedy_fidelity,
                             "sd_best": sd.best_fidelity}
    panels.append((0.5, QubitControlEnv(T=0.5), res.best_protocol, res.best_fidelity, sd.best_protocol,
                   sd.best_fidelity))

    fig = figure(figsize=(6, 1.9 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, (T, env, dqn_p, dqn_f, sd_p, sd_f) in zip(axes[:, 0], panels):
        t = np.arange(env.num_steps + 1) * env.dt
        for p, label, shift in ((sd_p, f"SD F={sd_f:.6f}", 0.2), (dqn_p, f"DQN F={dqn_f:.6f}", -0.2)):
            h = env.actions[np.asarray(p)]
            ax.step(t, np.append(h, h[-1]) + shift, where="post", label=label)
        ax.set(ylabel="h_x", title=f"T={T:g}")
        ax.legend(loc="center right", fontsize=7)
    axes[-1, 0].set_xlabel("t")
    fig.tight_layout()
    path = ctx.out_dir / "rl_control_protocols.png"
    fig.savefig(path, dpi=110)
    print(f"   protocols: {path}")
    return metrics


SECTION = Section(
    50, "rl_control", "RL bang-bang qubit control vs stochastic descent (Bukov et al.)", run, threads=1
)
