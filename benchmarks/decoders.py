"""Toric-code decoders side by side: failure rates, paired differences, throughput (block ``decoders``).

For every point (d, noise, p) one set of syndromes is sampled (fixed seed) and every decoder decodes
the same syndromes: PyMatching with X and Z matched separately (MWPM), PyMatching's correlated matching
on a detector error model that keeps Y errors (depolarizing only), the shipped deep-Q agents
(``decoder_deepq_*``, Andreasson et al. / Fitzek et al.), the shipped syndrome-only translation-invariant
network (``decoder_equivariant_*``) and the earlier CNNs (``decoder_cnn_*``). Each learned decoder is
compared with MWPM (and under depolarizing noise with correlated matching) by the paired difference of
failure rates with its 95% interval (``qphys.rl.decoding.paired_difference``).

    .venv/bin/python benchmarks/decoders.py            # 20k syndromes per point, d = 3, 5, 7
    .venv/bin/python benchmarks/decoders.py --quick    # 2k syndromes, d = 3 and 5, no file written

A full run can be split (e.g. to hold the benchmark lock for less time): ``--distances 3 5 --no-throughput``
then ``--distances 7``; each run stores its points in ``out/benchmarks/decoders_points.json`` and the
BENCHMARKS.md section is written once every point and the throughput table are there (same shots).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, timeit, update_section  # noqa: E402

from qphys.rl.codes import ToricCode  # noqa: E402
from qphys.rl.decoding import (  # noqa: E402
    CorrelatedMWPMDecoder,
    MWPMDecoder,
    PairedDifference,
    load_decoder,
    paired_difference,
    shipped_decoders,
    wilson_interval,
)

BITFLIP_RATES = (0.05, 0.08, 0.10)
DEPOLARIZING_RATES = (0.10,)


def pct(failures: int, shots: int) -> str:
    lo, hi = wilson_interval(failures, shots)
    return f"{100 * failures / shots:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"


def diff_cell(r) -> str:
    return f"{100 * r.diff:+.2f} [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}]"


def train_cell(info: dict) -> str:
    if not info:
        return "-"
    if "updates" in info:  # deep-Q agent
        cpu = f", {info['cpu_seconds'] / 60:.1f} CPU-min" if info.get("cpu_seconds") else ""
        return (f"{info['seconds'] / 60:.0f} min wall{cpu}, {info['updates']:,} updates, "
                f"{info['syndromes']:,} episodes ({info['env_steps']:,} transitions)")
    return f"{info['seconds'] / 60:.1f} min wall, {info['samples']:,} syndromes"


def label(name: str, dec) -> str:
    if name.startswith("deepq"):
        if getattr(dec, "orientations", False):
            return "deep-Q agent (DeepQDecoder, shortest of its 8 orientation episodes)"
        return "deep-Q agent (DeepQDecoder" + (", Q averaged over 8 orientations)" if dec.symmetrize else ")")
    if name.startswith("equivariant"):
        return "translation-invariant network, syndrome only"
    return "CNN + MWPM hint (NeuralDecoder)" if getattr(dec, "hint", None) else "CNN (NeuralDecoder)"


def points(distances):
    for d in distances:
        for p in BITFLIP_RATES:
            yield d, "bitflip", p
        if d == 5:
            for p in DEPOLARIZING_RATES:
                yield d, "depolarizing", p


CACHE = Path("out/benchmarks/decoders_points.json")


def point_key(d, noise, p) -> str:
    return f"{d}|{noise}|{p}"


def failure_rates(shots: int, distances, cache: dict | None = None) -> tuple[list, list]:
    """Rows and verdicts of every point at ``distances``; each point is also stored in ``cache``."""
    rows, verdicts = [], []
    shipped = shipped_decoders()
    for d, noise, p in points(distances):
        n_rows, n_verdicts = len(rows), len(verdicts)
        code = ToricCode(d)
        syn, true = code.sample(noise, p, shots=shots, seed=1000 + d)
        mwpm = MWPMDecoder(code)
        f_mw = int((mwpm.predict(syn) != true).any(axis=1).sum())
        rows.append(["MWPM (X, Z separately)", d, noise, p, pct(f_mw, shots), "-", "-", "-"])
        corr = None
        if noise == "depolarizing":
            corr = CorrelatedMWPMDecoder(code, p=p)
            r = paired_difference(corr, mwpm, syn, true)
            rows.append(["correlated matching (PyMatching)", d, noise, p, pct(r.only_a + (f_mw - r.only_b), shots),
                         diff_cell(r), "-", "-"])
        for name in (f"deepq_d{d}_{noise}", f"equivariant_d{d}_{noise}", f"cnn_d{d}_{noise}"):
            if name not in shipped:
                continue
            dec = load_decoder(name)
            t0 = time.perf_counter()
            r = paired_difference(dec, mwpm, syn, true)
            secs = time.perf_counter() - t0
            rc = paired_difference(dec, corr, syn, true) if corr is not None else None
            rows.append([label(name, dec), d, noise, p, pct(r.only_a + (f_mw - r.only_b), shots), diff_cell(r),
                         diff_cell(rc) if rc else "-", train_cell(dec.train_info)])
            if not name.startswith("cnn"):
                verdicts.append((name, d, noise, p, r, rc))
            print(*rows[-1], f"({secs:.0f} s for both decoders)", flush=True)
        if cache is not None:
            cache["points"][point_key(d, noise, p)] = {
                "rows": rows[n_rows:],
                "verdicts": [[*v[:4], v[4].as_dict(), v[5].as_dict() if v[5] else None] for v in verdicts[n_verdicts:]],
            }
    return rows, verdicts


def from_cache(cache: dict, distances) -> tuple[list, list] | None:
    """All rows and verdicts at ``distances`` from ``cache``, or None when a point is missing."""
    rows, verdicts = [], []
    for d, noise, p in points(distances):
        got = cache["points"].get(point_key(d, noise, p))
        if got is None:
            return None
        rows += got["rows"]
        verdicts += [(*v[:4], PairedDifference(**v[4]), PairedDifference(**v[5]) if v[5] else None)
                     for v in got["verdicts"]]
    return rows, verdicts


def verdict_line(name, d, noise, p, r, rc) -> str:
    if r.ci_high < 0:
        v = "better than MWPM"
    elif r.ci_low <= 0:
        v = "within the paired 95% interval of MWPM"
    else:
        v = "worse than MWPM"
    extra = ""
    if rc is not None:
        extra = (f"; vs correlated matching {diff_cell(rc)} points: "
                 + ("better" if rc.ci_high < 0 else "not distinguishable" if rc.ci_low <= 0 else "worse"))
    return f"- {name}, p={p}: vs MWPM {r} — {v}{extra}"


def throughput(shots: int) -> list:
    rows = []
    for d, noise in [(5, "bitflip"), (7, "bitflip"), (5, "depolarizing")]:
        code = ToricCode(d)
        s, _ = code.sample(noise, 0.10, shots=shots, seed=7)
        mwpm = MWPMDecoder(code)
        cells = [d, noise, shots, f"{shots / timeit(lambda m=mwpm, s=s: m.predict(s), repeat=3):,.0f}"]
        for name in (f"deepq_d{d}_{noise}", f"equivariant_d{d}_{noise}"):
            if name in shipped_decoders():
                dec = load_decoder(name)
                cells.append(f"{shots / timeit(lambda m=dec, s=s: m.predict(s), repeat=1, warmup=0):,.0f}")
            else:
                cells.append("-")
        rows.append(cells)
        print(*cells, flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--distances", type=int, nargs="*", default=None, help="evaluate only these (default 3 5 7)")
    ap.add_argument("--no-throughput", action="store_true", help="skip the throughput table this run")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    shots = 2000 if args.quick else 20_000
    every = (3, 5) if args.quick else (3, 5, 7)
    if args.quick:
        rows, verdicts = failure_rates(shots, every)
        trows = throughput(2000)
    else:
        cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
        if cache.get("shots") != shots:
            cache = {"shots": shots, "points": {}, "throughput": None}
        failure_rates(shots, args.distances or every, cache)
        if not args.no_throughput:
            cache["throughput"] = throughput(5000)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_text(json.dumps(cache, indent=1))
        got = from_cache(cache, every)
        if got is None or cache["throughput"] is None:
            print(f"stored in {CACHE}; BENCHMARKS.md is written once every point and the throughput are there")
            return None
        (rows, verdicts), trows = got, cache["throughput"]
    lines = [
        "## Toric-code decoders (code capacity)",
        "",
        f"`benchmarks/decoders.py`, {shots:,} syndromes per point, the same syndromes for every decoder "
        "(one seed per point). Failure rate in % with the 95% Wilson interval; learned decoders are compared "
        "with MWPM (X and Z matched separately) and, under depolarizing noise, with correlated matching by "
        "the paired difference of failure rates in points with its 95% interval (negative = fewer failures "
        "than the baseline). Training on CPU, one torch thread, under `nice` on a shared 2-core machine "
        "(load 6-12 from other work), so wall time is far above CPU time; both are listed. "
        f"Machine: {machine()}.",
        "",
        table(["decoder", "d", "noise", "p", "failure % [95% CI]", "vs MWPM", "vs correlated", "training"], rows),
        "",
        "Acceptance checks (paired differences, learned decoder minus baseline):",
        "",
        *[verdict_line(*v) for v in verdicts],
        "",
        "Throughput (syndromes/s, p = 0.10, one batch; the agents step all shots together, one network call "
        "per step):",
        "",
        table(["d", "noise", "batch", "PyMatching", "deep-Q agent", "translation-invariant net"], trows),
    ]
    md = "\n".join(lines)
    print(md)
    if not args.quick:
        update_section("decoders", md)
    return md


if __name__ == "__main__":
    main()
