"""A deep-Q-learning decoder for the toric code (Andreasson et al., Quantum 3, 183, 2019), vs MWPM.

The agent plays ``qphys/ToricCodeDecoding-v0``: it sees the syndrome from a defect-centred view and
flips one qubit per step until the syndrome is clear (+1 if no logical error was made, -1 otherwise).
By default the shipped agents (``qphys/rl/weights/decoder_dqn_*.pt``) are evaluated against
PyMatching on the same syndromes; ``--train`` retrains them (double dueling DQN from
``qphys.rl.agents``, CPU, a few minutes each; the paper trains for days, so expect a weaker agent).

    .venv/bin/python examples/rl_toric_decoder.py            # d=3 and 5, 20k syndromes per point
    .venv/bin/python examples/rl_toric_decoder.py --quick    # d=3, 1k syndromes
    .venv/bin/python examples/rl_toric_decoder.py --train --d 3
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from qphys.rl.codes import ToricCode
from qphys.rl.decoding import MWPMDecoder, RLDecoder, evaluate, train_rl_decoder, weights_path

#: How the shipped agents were trained (bit-flip noise, trained at p = 0.1 as Andreasson et al.), with
#: a small potential-based shaping reward (0.1 per removed defect) on top of the +1/-1 terminal reward.
_COMMON = dict(p=0.10, shaping=0.1, learning_starts=2000, exploration_fraction=0.2, buffer_size=50_000,
               target_update_interval=2000, learning_rate=5e-4)
TRAIN_CONFIGS = {
    3: dict(_COMMON, timesteps=150_000, time_budget=420),
    5: dict(_COMMON, timesteps=200_000, time_budget=480),
}


def shipped_name(d: int, noise: str = "bitflip") -> str:
    return f"decoder_dqn_d{d}_{noise}.pt"


def train(d: int, out_dir: Path, *, seed: int = 0, progress: bool = True) -> Path:
    cfg = dict(TRAIN_CONFIGS[d])
    dec = train_rl_decoder(d, "bitflip", seed=seed, progress=progress, **cfg)
    path = dec.save(out_dir / shipped_name(d), env_kwargs=dec.env_kwargs, policy_kwargs=dec.policy_kwargs,
                    train_info=dec.train_info)
    print(f"trained DQN d={d}: {dec.train_info['timesteps']} steps in {dec.train_info['seconds']:.0f} s -> {path}")
    return path


def compare(d: int, shots: int, weights_dir: Path, ps=(0.05, 0.10), seed: int = 123) -> list[dict]:
    code = ToricCode(d)
    agent = RLDecoder.load(weights_dir / shipped_name(d))
    mwpm = MWPMDecoder(code)
    rows = []
    for p in ps:
        r_rl = evaluate(agent, code, "bitflip", p, shots, seed=seed)
        r_mw = evaluate(mwpm, code, "bitflip", p, shots, seed=seed)
        print(f"d={d} bitflip p={p:.2f}  DQN {100 * r_rl.failure_rate:6.2f}% [{100 * r_rl.ci_low:.2f}, "
              f"{100 * r_rl.ci_high:.2f}]   MWPM {100 * r_mw.failure_rate:6.2f}% "
              f"[{100 * r_mw.ci_low:.2f}, {100 * r_mw.ci_high:.2f}]")
        rows.append({"d": d, "p": p, "dqn": r_rl.as_dict(), "mwpm": r_mw.as_dict(), "train": agent.train_info})
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="d=3, 1k syndromes per point")
    ap.add_argument("--train", action="store_true", help="retrain the agents first")
    ap.add_argument("--d", type=int, nargs="*", default=None)
    ap.add_argument("--shots", type=int, default=None)
    ap.add_argument("--weights-dir", type=Path, default=weights_path(""))
    ap.add_argument("--out", type=Path, default=Path("out/examples"))
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    distances = args.d or ([3] if args.quick else [3, 5])
    shots = args.shots or (1000 if args.quick else 20_000)
    if args.train:
        for d in distances:
            train(d, args.weights_dir, progress=not args.no_progress)
    rows = []
    for d in distances:
        rows += compare(d, shots, args.weights_dir)
    # one episode, step by step, rendered
    from qphys.rl.decoding_env import ToricCodeDecodingEnv

    agent = RLDecoder.load(args.weights_dir / shipped_name(distances[0]))
    env = ToricCodeDecodingEnv(**agent.env_kwargs, render_mode="ansi")
    obs, info = env.reset(seed=7)
    print(env.render())
    done = False
    while not done:
        q = agent._q(obs[None])[0]
        obs, reward, term, trunc, info = env.step(int(q.argmax()))
        done = term or trunc
    print(env.render(), f"reward {reward:+.0f} ({'solved' if term else 'gave up'})")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rl_toric_decoder.json").write_text(json.dumps(rows, indent=1, default=str))
    return rows


if __name__ == "__main__":
    main()
