"""The deep-Q decoding agent of Andreasson et al. (bit-flip) and Fitzek et al. (depolarizing) vs matching.

The agent sees the toric-code syndrome from the perspective of each defect (translated so the defect sits
at the centre) and flips one qubit next to a defect per step until no defect is left
(:mod:`qphys.rl.decoding.deepq`). By default the shipped agents (``qphys/rl/weights/decoder_deepq_*.pt``)
are compared with PyMatching on the same syndromes (paired difference with a 95% interval); ``--train``
retrains them with the configurations in ``TRAIN_CONFIGS`` (the commands that produced the shipped
weights), ``--quick`` trains a tiny d=3 agent and evaluates the shipped d=3 agent on 1000 syndromes.

    .venv/bin/python examples/rl_toric_decoder.py                       # all shipped agents, 20k syndromes
    .venv/bin/python examples/rl_toric_decoder.py --quick               # CI: seconds
    nice -n 10 .venv/bin/python examples/rl_toric_decoder.py --train --d 5 --noise bitflip
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from qphys.rl.decoding import DeepQDecoder, MWPMDecoder, paired_difference, train_deepq_decoder, weights_path

#: How the shipped agents were trained (one per distance and noise; final rate p = 0.10 as in the papers).
#: Stage 1: curriculum from p = 0.05, epsilon 1 -> 0.02; stage 2 (d >= 5) continues from stage 1's network
#: at p = 0.10 with little exploration and a lower learning rate. ``updates`` gradient steps of 128 replayed
#: transitions, 64 episodes stepped per update; ``time_budget`` (wall seconds) ends a stage on the shared
#: 2-core machine, and the schedules then follow the budget (see ``train_deepq_decoder``).
_COMMON = dict(p=0.10, p_start=0.05, n_envs=64, batch_size=128, learning_starts=2000, lr=5e-4, gamma=0.95,
               target_update=500, buffer_size=200_000, terminal_reward=10.0, channels=32, hidden=64)
_FINE_TUNE = dict(_COMMON, p_start=0.10, eps_start=0.05, eps_end=0.01, lr=2.5e-4, learning_starts=5000,
                  updates=40_000, time_budget=1800)
#: Stage 3 (bit-flip d >= 5, issue 14 follow-up): prioritised replay (Schaul et al.) and each replayed
#: transition in a random one of the 8 lattice orientations, rates 0.07 -> 0.10, learning rate falling to
#: 5e-5; the shipped decoder then averages its Q-values over the 8 orientations (``symmetrize``).
_REFINE = dict(_FINE_TUNE, p_start=0.07, lr_end=5e-5, eps_fraction=0.3, prioritized=True, augment=True,
               time_budget=2100, symmetrize=True)
#: Stage 4 (bit-flip d=5, issue 14 round 3): continues stage 3 at the hardest evaluation rate with a lower
#: learning rate and less exploration (prioritised, augmented replay as in stage 3); the shipped decoder keeps
#: the shortest of its 8 orientation episodes (``DeepQDecoder(orientations=True)``).
_POLISH = dict(_REFINE, p_start=0.09, lr=1e-4, lr_end=2e-5, eps_start=0.02, eps_end=0.005, eps_fraction=0.2,
               updates=30_000, time_budget=2700, symmetrize=False, orientations=True)
TRAIN_CONFIGS = {
    (3, "bitflip"): [dict(_COMMON, updates=4_000, layers=3, time_budget=900)],
    (5, "bitflip"): [dict(_COMMON, updates=40_000, layers=3, time_budget=3900), _FINE_TUNE, _REFINE, _POLISH],
    # d=7: stage 3 (_REFINE, 5,984 updates in 35 min) made it worse at p = 0.10 (+1.75 points on 2,000 held-out
    # syndromes), so the shipped agent is stage 2's; it decodes with the shortest of its 8 orientation episodes
    (7, "bitflip"): [dict(_COMMON, updates=40_000, layers=4, time_budget=4200),
                     dict(_FINE_TUNE, time_budget=1500, orientations=True)],
    (5, "depolarizing"): [dict(_COMMON, updates=40_000, layers=3, time_budget=3900), _FINE_TUNE],
}
QUICK_CONFIG = [dict(_COMMON, updates=200, learning_starts=256, layers=2, channels=8, hidden=16)]
POINTS = {"bitflip": (0.05, 0.08, 0.10), "depolarizing": (0.10,)}


def train(d: int, noise: str, out_dir: Path, *, seed: int = 0, progress: bool = True, quick: bool = False,
          stages: list[int] | None = None) -> Path:
    """Train the agent for ``(d, noise)`` stage by stage (``stages``: which ones, default all; a later stage
    alone continues from the weights already in ``out_dir``)."""
    configs = QUICK_CONFIG if quick else TRAIN_CONFIGS[(d, noise)]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / DeepQDecoder.shipped_name(d, noise)
    dec = None
    for k, cfg in enumerate(configs):
        if stages is not None and k not in stages:
            continue
        if k > 0 and dec is None:
            dec = DeepQDecoder.load(path)
        cfg = {key: val for key, val in cfg.items() if not (k > 0 and key in ("layers", "channels", "hidden"))}
        symmetrize, orientations = cfg.pop("symmetrize", False), cfg.pop("orientations", False)
        dec = train_deepq_decoder(d, noise, seed=seed + k, progress=progress, init=dec,
                                  checkpoint=None if quick else path, **cfg)
        dec.symmetrize, dec.orientations = symmetrize, orientations
        dec.save(path)
        info = dec.train_info
        print(f"trained deep-Q d={d} {noise} (stage {k + 1}): {info['updates']} updates, {info['syndromes']:,} "
              f"episodes, {info['env_steps']:,} transitions, {info['seconds']:.0f} s wall, "
              f"{info['cpu_seconds']:.0f} s CPU in total -> {path}")
    return path


def compare(dec: DeepQDecoder, shots: int, seed: int = 123) -> list[dict]:
    code, noise = dec.code, dec.noise
    mwpm = MWPMDecoder(code)
    rows = []
    for p in POINTS[noise]:
        syn, true = code.sample(noise, p, shots=shots, seed=seed)
        res = paired_difference(dec, mwpm, syn, true)
        print(f"d={code.d} {noise} p={p:.2f}  deep-Q {100 * res.rate_a:6.2f}%  MWPM {100 * res.rate_b:6.2f}%  "
              f"paired difference {res}")
        rows.append({"d": code.d, "noise": noise, "p": p, **res.as_dict(), "train": dec.train_info})
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny d=3 training + 1k-syndrome check (CI)")
    ap.add_argument("--train", action="store_true", help="retrain the agents first (TRAIN_CONFIGS)")
    ap.add_argument("--d", type=int, nargs="*", default=None)
    ap.add_argument("--noise", nargs="*", default=None)
    ap.add_argument("--shots", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stages", type=int, nargs="*", default=None, help="train only these stages (0-based)")
    ap.add_argument("--weights-dir", type=Path, default=weights_path(""))
    ap.add_argument("--out", type=Path, default=Path("out/examples"))
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)  # small convolutions: one thread is fastest on a shared machine
    shots = args.shots or (1000 if args.quick else 20_000)
    pairs = [k for k in TRAIN_CONFIGS if (args.d is None or k[0] in args.d)
             and (args.noise is None or k[1] in args.noise)]
    if args.quick:
        pairs = [(3, "bitflip")]
        train(3, "bitflip", args.out, seed=args.seed, progress=False, quick=True)
    elif args.train:
        for d, noise in pairs:
            train(d, noise, args.weights_dir, seed=args.seed, progress=not args.no_progress, stages=args.stages)
    rows = []
    for d, noise in pairs:
        rows += compare(DeepQDecoder.load(args.weights_dir / DeepQDecoder.shipped_name(d, noise)), shots)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rl_toric_decoder.json").write_text(json.dumps(rows, indent=1, default=str))
    return rows


if __name__ == "__main__":
    main()
