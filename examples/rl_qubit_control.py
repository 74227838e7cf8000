"""Bang-bang qubit control with deep RL vs stochastic descent (Bukov et al., PRX 8, 031086, 2018).

Trains the double/dueling DQN of ``qphys.rl.agents`` on ``qphys/QubitControl-v0`` (simulated on
``torch.qubit``) for a total time T, runs stochastic descent with 20 restarts on the same
environment, prints both fidelities and plots the protocols.

Run:
    .venv/bin/python examples/rl_qubit_control.py            # T=1.0, 20k steps (~1 min)
    .venv/bin/python examples/rl_qubit_control.py --T 3.0 --steps 40000
    .venv/bin/python examples/rl_qubit_control.py --quick    # T=0.5, 3k steps (seconds)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from qphys.rl.baselines import stochastic_descent  # noqa: E402
from qphys.rl.control_env import QubitControlEnv, train_control_agent  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=float, default=1.0, help="total protocol time (multiple of 0.05)")
    ap.add_argument("--steps", type=int, default=20_000, help="training environment steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", help="torch device of the networks: auto, cpu, cuda")
    ap.add_argument("--out", default="out/examples", help="where the plot goes")
    ap.add_argument("--quick", action="store_true", help="T=0.5 and 3000 steps")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.T, args.steps = 0.5, 3000
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # tiny networks: one thread beats several competing ones

    env = QubitControlEnv(T=args.T)
    print(f"QubitControl-v0: T={args.T}, {env.num_steps} bangs of dt=0.05, h in {env.actions.tolist()}, "
          f"initial fidelity {env.initial_fidelity:.3f}")
    sd = stochastic_descent(env, restarts=20, seed=args.seed, progress=not args.no_progress)
    print(f"stochastic descent, 20 restarts: best fidelity {sd.best_fidelity:.6f} ({sd.seconds:.1f} s, "
          f"{sd.evaluations} protocols evaluated)")
    res = train_control_agent(args.T, total_timesteps=args.steps, seed=args.seed, device=args.device,
                              progress=not args.no_progress)
    print(f"double/dueling DQN, {args.steps} steps ({res.episodes} episodes, {res.seconds:.1f} s): "
          f"best protocol met {res.best_fidelity:.6f}, greedy policy {res.greedy_fidelity:.6f}")
    gap = res.best_fidelity - sd.best_fidelity
    print(f"agent best - SD best = {gap:+.2e} ({'within' if gap >= -1e-3 else 'NOT within'} 1e-3)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t = np.arange(env.num_steps + 1) * env.dt
    fig, ax = plt.subplots(figsize=(6, 3))
    for prot, label, shift in ((sd.best_protocol, f"SD  F={sd.best_fidelity:.6f}", 0.15),
                               (res.best_protocol, f"DQN F={res.best_fidelity:.6f}", -0.15)):
        h = env.actions[prot]
        ax.step(t, np.append(h, h[-1]) + shift, where="post", label=label)
    ax.set(xlabel="t", ylabel="h_x(t)", title=f"Bang-bang protocols, T={args.T}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = out / f"rl_qubit_control_T{args.T:g}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"protocols plotted to {path}")
    return {"sd": sd.best_fidelity, "dqn_best": res.best_fidelity, "dqn_greedy": res.greedy_fidelity}


if __name__ == "__main__":
    main()
