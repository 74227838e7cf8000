"""Toric-code decoders side by side: failure rates and throughput (block ``decoders`` of BENCHMARKS.md).

On the same sampled syndromes (same seed) this evaluates PyMatching (MWPM), the shipped NeuralDecoders
(``qphys/rl/weights/decoder_cnn_*.pt``) and the shipped DQN agents (``decoder_dqn_*.pt``) for d = 3 and
5: logical failure rate with a 95% Wilson interval, and decoding throughput (syndromes/s; the
NeuralDecoder's batched inference vs PyMatching's ``decode_batch`` on one identical batch).

    .venv/bin/python benchmarks/decoders.py            # 20k syndromes per point
    .venv/bin/python benchmarks/decoders.py --quick    # 2k syndromes per point, no file written
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, timeit, update_section  # noqa: E402

from qphys.rl.codes import ToricCode  # noqa: E402
from qphys.rl.decoding import MWPMDecoder, NeuralDecoder, RLDecoder, evaluate, weights_path  # noqa: E402

POINTS = [("bitflip", 0.05), ("bitflip", 0.10), ("depolarizing", 0.10)]


def pct(r) -> str:
    return f"{100 * r.failure_rate:.2f} [{100 * r.ci_low:.2f}, {100 * r.ci_high:.2f}]"


def train_cell(info: dict) -> str:
    if not info:
        return "-"
    n = info.get("samples", info.get("timesteps"))
    unit = "syndromes" if "samples" in info else "env steps"
    return f"{info['seconds'] / 60:.1f} min, {n:,} {unit}"


def paired(a, b, code, noise, p, shots, seed) -> str:
    """Paired comparison on identical syndromes: failure-rate difference a - b with a 95% interval."""
    syn, true = code.sample(noise, p, shots=shots, seed=seed)
    fa = (a.predict(syn) != true).any(axis=1)
    fb = (b.predict(syn) != true).any(axis=1)
    n10, n01 = int((fa & ~fb).sum()), int((~fa & fb).sum())
    diff = (n10 - n01) / shots
    se = ((n10 + n01) - (n10 - n01) ** 2 / shots) ** 0.5 / shots
    return (f"{100 * diff:+.2f} points [{100 * (diff - 1.96 * se):+.2f}, {100 * (diff + 1.96 * se):+.2f}] "
            f"(NN-only failures {n10}, MWPM-only failures {n01})")


def failure_rates(shots: int, distances) -> tuple[list, list]:
    rows, notes = [], []
    for d in distances:
        code = ToricCode(d)
        mwpm = MWPMDecoder(code)
        for noise, p in POINTS:
            seed = 1000 + d
            r_mw = evaluate(mwpm, code, noise, p, shots, seed=seed)
            rows.append(["MWPM (PyMatching)", d, noise, p, pct(r_mw), "-"])
            nn_path = weights_path(f"decoder_cnn_d{d}_{noise}.pt")
            if nn_path.exists():
                nn = NeuralDecoder.load(nn_path)
                r = evaluate(nn, code, noise, p, shots, seed=seed)
                label = "NeuralDecoder (CNN + MWPM hint)" if nn.hint else "NeuralDecoder (CNN)"
                rows.append([label, d, noise, p, pct(r), train_cell(nn.train_info)])
                overlap = r.ci_low <= r_mw.ci_high and r_mw.ci_low <= r.ci_high
                notes.append((d, noise, p, r, r_mw, overlap, paired(nn, mwpm, code, noise, p, shots, seed)))
            rl_path = weights_path(f"decoder_dqn_d{d}_{noise}.pt")
            if rl_path.exists():
                rl = RLDecoder.load(rl_path)
                r = evaluate(rl, code, noise, p, shots, seed=seed)
                rows.append(["DQN agent (RLDecoder)", d, noise, p, pct(r), train_cell(rl.train_info)])
            print(*rows[-1], flush=True)
    return rows, notes


def throughput(shots: int) -> list:
    rows = []
    for d, noise in [(3, "depolarizing"), (5, "depolarizing"), (5, "bitflip")]:
        path = weights_path(f"decoder_cnn_d{d}_{noise}.pt")
        if not path.exists():
            continue
        code = ToricCode(d)
        s, _ = code.sample(noise, 0.10, shots=shots, seed=7)
        mwpm = MWPMDecoder(code)
        nn = NeuralDecoder.load(path)
        net_only = NeuralDecoder(code, noise=noise, hint=None, **nn.config)  # same size, no matching call
        t_mw = timeit(lambda m=mwpm, s=s: m.predict(s), repeat=3)
        t_nn = timeit(lambda m=nn, s=s: m.predict(s, batch_size=len(s)), repeat=3)
        t_net = timeit(lambda m=net_only, s=s: m.predict(s, batch_size=len(s)), repeat=3)
        rows.append([d, noise, shots, f"{shots / t_mw:,.0f}", f"{shots / t_nn:,.0f}", f"{shots / t_net:,.0f}",
                     "yes" if nn.hint else "no", f"{t_mw / t_nn:.2f}x"])
        print(*rows[-1], flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    shots = 2000 if args.quick else 20_000
    rows, notes = failure_rates(shots, (3, 5))
    trows = throughput(shots)
    lines = [
        "## Toric-code decoders (code capacity)",
        "",
        f"`benchmarks/decoders.py`, {shots:,} syndromes per point, the same syndromes for every decoder "
        f"(same seed). Failure rate in % with the 95% Wilson interval. Training on CPU, one torch thread, "
        f"on a shared 2-core machine (load ~10), so training times are wall-clock under contention. "
        f"Machine: {machine()}.",
        "",
        table(["decoder", "d", "noise", "p", "failure % [95% CI]", "training"], rows),
        "",
        "Learned decoder vs MWPM on the same syndromes (the paired difference counts the syndromes only "
        "one of the two gets wrong, a tighter test than comparing the two intervals):",
        "",
    ]
    for d, noise, p, r, r_mw, overlap, diff in notes:
        verdict = ("intervals overlap" if overlap else
                   ("better than MWPM" if r.failure_rate < r_mw.failure_rate else "worse than MWPM"))
        lines.append(f"- d={d} {noise} p={p}: NeuralDecoder {pct(r)} vs MWPM {pct(r_mw)}: {verdict}; "
                     f"paired difference NN - MWPM {diff}")
    lines += [
        "",
        "Throughput (syndromes/s, one batch, d and noise as listed, p = 0.10; median of 3):",
        "",
        table(["d", "noise", "batch", "PyMatching", "NeuralDecoder", "CNN forward alone", "uses MWPM hint",
               "NeuralDecoder / PyMatching"], trows),
        "",
        "The hinted NeuralDecoder calls PyMatching for its hint, so it cannot be faster than PyMatching "
        "on CPU; the 'CNN forward alone' column is the network's own cost (a GPU would shift it).",
    ]
    md = "\n".join(lines)
    print(md)
    if not args.quick:
        update_section("decoders", md)
    return md


if __name__ == "__main__":
    main()
