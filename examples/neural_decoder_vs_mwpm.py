"""Neural decoders vs minimum-weight perfect matching on the toric code (code-capacity noise).

By default this loads the shipped weights (``qphys/rl/weights/decoder_cnn_*.pt``) and compares each
NeuralDecoder with PyMatching on the same sampled syndromes: logical failure rate with a 95% Wilson
interval, plus a threshold plot of MWPM for d = 3, 5, 7. At d=5 under depolarizing noise it also compares
the syndrome-only translation-invariant network (``decoder_equivariant_d5_depolarizing.pt``) with
separate and with correlated matching (paired differences). ``--train`` retrains the shipped CNNs with
``TRAIN_CONFIGS``; ``--train-equivariant`` retrains the translation-invariant network with
``EQUIVARIANT_CONFIG`` (the command that produced the shipped weights; ``nice -n 10``, about an hour).

    .venv/bin/python examples/neural_decoder_vs_mwpm.py            # d=3 and 5, 20k syndromes per point
    .venv/bin/python examples/neural_decoder_vs_mwpm.py --quick    # d=3 only, 2k syndromes
    .venv/bin/python examples/neural_decoder_vs_mwpm.py --train --d 5 --noise depolarizing
    nice -n 10 .venv/bin/python examples/neural_decoder_vs_mwpm.py --train-equivariant
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from qphys.rl.codes import ToricCode
from qphys.rl.decoding import (
    CorrelatedMWPMDecoder,
    MWPMDecoder,
    NeuralDecoder,
    evaluate,
    paired_difference,
    threshold_plot,
    weights_path,
)

#: How the shipped weights were trained (one network per distance and noise model).
#: ``hint='mwpm'``: the network also sees matching's answer and learns where it is wrong (d=5);
#: ``hint=None``: the network sees only the syndrome (d=3, where that is cheap to learn).
TRAIN_CONFIGS = {
    (3, "bitflip"): dict(hint=None, p=(0.03, 0.13), steps=700, budget=300),
    (3, "depolarizing"): dict(hint=None, p=(0.06, 0.14), steps=700, budget=300),
    (5, "bitflip"): dict(hint="mwpm", p=(0.04, 0.12), steps=1000, budget=420),
    (5, "depolarizing"): dict(hint="mwpm", p=(0.08, 0.12), steps=2000, budget=660),
}
NET = dict(channels=32, blocks=1, hidden=128)
#: The syndrome-only translation-invariant network (d=5, depolarizing, trained on fresh syndromes at
#: rates drawn from [0.08, 0.12]; ``time_budget`` caps the wall time on the shared machine).
EQUIVARIANT_CONFIG = dict(d=5, noise="depolarizing", net=dict(channels=32, blocks=2, hidden=64), p=(0.08, 0.12),
                          steps=4000, batch_size=256, lr=2e-3, time_budget=3900)
EQUIVARIANT_QUICK = dict(d=3, noise="depolarizing", net=dict(channels=8, blocks=1, hidden=8), p=(0.05, 0.1),
                         steps=20, batch_size=64, lr=2e-3, time_budget=None)
POINTS = {"bitflip": (0.05, 0.10), "depolarizing": (0.10,)}


def shipped_name(d: int, noise: str) -> str:
    return f"decoder_cnn_d{d}_{noise}.pt"


def train(d: int, noise: str, out_dir: Path, *, seed: int = 0, progress: bool = True) -> Path:
    cfg = TRAIN_CONFIGS[(d, noise)]
    dec = NeuralDecoder(ToricCode(d), noise=noise, hint=cfg["hint"], **NET)
    info = dec.fit(p=cfg["p"], steps=cfg["steps"], batch_size=512, seed=seed, time_budget=cfg["budget"],
                   progress=progress)
    path = dec.save(out_dir / shipped_name(d, noise))
    print(f"trained d={d} {noise}: {info['steps']} steps, {info['samples']} syndromes, "
          f"{info['seconds']:.0f} s -> {path}")
    return path


def train_equivariant(out_dir: Path, *, quick: bool = False, seed: int = 0, progress: bool = True) -> Path:
    cfg = EQUIVARIANT_QUICK if quick else EQUIVARIANT_CONFIG
    dec = NeuralDecoder(ToricCode(cfg["d"]), noise=cfg["noise"], arch="equivariant", **cfg["net"])
    info = dec.fit(p=cfg["p"], steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed,
                   time_budget=cfg["time_budget"], progress=progress)
    path = dec.save(out_dir / f"decoder_equivariant_d{cfg['d']}_{cfg['noise']}.pt")
    print(f"trained the translation-invariant network d={cfg['d']}: {info['steps']} steps, "
          f"{info['samples']:,} syndromes, {info['seconds']:.0f} s -> {path}")
    return path


def compare_equivariant(path: Path, shots: int, seed: int = 123) -> dict:
    dec = NeuralDecoder.load(path)
    code = dec.code
    syn, true = code.sample(dec.noise, 0.10, shots=shots, seed=seed)
    vs_mwpm = paired_difference(dec, MWPMDecoder(code), syn, true)
    vs_corr = paired_difference(dec, CorrelatedMWPMDecoder(code, p=0.10), syn, true)
    print(f"d={code.d} {dec.noise} p=0.10  translation-invariant net {100 * vs_mwpm.rate_a:.2f}%  "
          f"MWPM {100 * vs_mwpm.rate_b:.2f}%  correlated matching {100 * vs_corr.rate_b:.2f}%\n"
          f"   vs MWPM {vs_mwpm}\n   vs correlated matching {vs_corr}")
    return {"d": code.d, "noise": dec.noise, "p": 0.10, "vs_mwpm": vs_mwpm.as_dict(), "vs_correlated": vs_corr.as_dict(),
            "train": dec.train_info}


def compare(d: int, noise: str, shots: int, weights_dir: Path, seed: int = 123) -> list[dict]:
    code = ToricCode(d)
    nn_dec = NeuralDecoder.load(weights_dir / shipped_name(d, noise))
    mwpm = MWPMDecoder(code)
    rows = []
    for p in POINTS[noise]:
        r_nn = evaluate(nn_dec, code, noise, p, shots, seed=seed)  # same seed -> same syndromes
        r_mw = evaluate(mwpm, code, noise, p, shots, seed=seed)
        print(f"d={d} {noise:12s} p={p:.2f}  NN(hint={nn_dec.hint}) {100 * r_nn.failure_rate:6.2f}% "
              f"[{100 * r_nn.ci_low:.2f}, {100 * r_nn.ci_high:.2f}]   MWPM {100 * r_mw.failure_rate:6.2f}% "
              f"[{100 * r_mw.ci_low:.2f}, {100 * r_mw.ci_high:.2f}]")
        rows.append({"d": d, "noise": noise, "p": p, "neural": r_nn.as_dict(), "mwpm": r_mw.as_dict(),
                     "train": nn_dec.train_info})
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="d=3 only, 2k syndromes per point")
    ap.add_argument("--train", action="store_true", help="retrain the networks before comparing")
    ap.add_argument("--train-equivariant", action="store_true", help="retrain the translation-invariant network")
    ap.add_argument("--d", type=int, nargs="*", default=None, help="distances (default 3 5; quick: 3)")
    ap.add_argument("--noise", nargs="*", default=["bitflip", "depolarizing"])
    ap.add_argument("--shots", type=int, default=None, help="syndromes per point (default 20000; quick 2000)")
    ap.add_argument("--weights-dir", type=Path, default=weights_path(""))
    ap.add_argument("--out", type=Path, default=Path("out/examples"))
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)  # small convolutions: one thread is fastest and leaves the other core free
    distances = args.d or ([3] if args.quick else [3, 5])
    shots = args.shots or (2000 if args.quick else 20_000)
    if args.train:
        for d in distances:
            for noise in args.noise:
                train(d, noise, args.weights_dir, progress=not args.no_progress)
    rows = []
    for d in distances:
        for noise in args.noise:
            rows += compare(d, noise, shots, args.weights_dir)
    if args.quick:  # CI: a few steps of the translation-invariant network, then its comparison
        rows.append(compare_equivariant(train_equivariant(args.out, quick=True, progress=False), shots))
    else:
        if args.train_equivariant:
            train_equivariant(args.weights_dir, progress=not args.no_progress)
        eq_path = args.weights_dir / "decoder_equivariant_d5_depolarizing.pt"
        if eq_path.exists():
            rows.append(compare_equivariant(eq_path, shots))
    args.out.mkdir(parents=True, exist_ok=True)
    plot = threshold_plot(
        [3, 5] if args.quick else [3, 5, 7],
        [0.06, 0.08, 0.10, 0.12] if args.quick else [0.04, 0.06, 0.08, 0.09, 0.10, 0.11, 0.12, 0.14],
        noise="bitflip", shots=shots, path=args.out / "toric_threshold_mwpm.png", seed=0,
        title="Toric code, bit-flip noise, MWPM (PyMatching)",
    )
    print(f"threshold plot: {plot['path']}")
    (args.out / "neural_decoder_vs_mwpm.json").write_text(json.dumps(rows, indent=1, default=str))
    return rows


if __name__ == "__main__":
    main()
