"""Boson sampling, and telling its samples from uniform ones.

``n`` single photons enter the first ``n`` of ``m`` modes of a Haar-random interferometer ``U``;
each output pattern ``s`` occurs with probability ``|Perm(U_{s,in})|^2 / prod_j s_j!``
(Aaronson & Arkhipov, 2011). Samples come from Perceval's Clifford & Clifford sampler
(``perceval.clifford``) and from the sampled outputs of qphys's torch SLOS
(``torch.linear_optics`` with shots); a "cheater" draws collision-free patterns uniformly.

Validation (the standard checks against the uniform hypothesis):

1. **Exact probabilities**: the torch SLOS probabilities agree with Perceval's SLOS and with
   permanents computed by thewalrus on a few patterns.
2. **Likelihood-ratio (Bayesian) test** (Bentivegna et al., Int. J. Quantum Inf. 12, 1560028,
   2014): with equal priors, the posterior of "boson sampler" after ``k`` samples is
   ``1 / (1 + prod_i p_U(s_i) / p_BS(s_i))``. As in Aaronson & Arkhipov's setting, both
   hypotheses are compared on collision-free samples only (a bunched pattern would betray the
   boson sampler at once): ``p_BS`` conditioned on no collision against ``p_U = 1 / C(m, n)``.
   The posterior goes to 1 for the boson samplers and to 0 for the uniform one within a few
   dozen samples.
3. **Row-norm test** (Aaronson & Arkhipov, Quantum Inf. Comput. 14, 1383, 2014): without any
   permanent, ``R*(s) = prod_{j in s} (m/n) sum_{i < n} |U_{j,i}|^2`` on the collision-free
   samples; its mean is ``> 1`` for boson samples and ``~ 1`` for uniform ones.

Run::

    python examples/boson_sampling.py            # 4 photons in 12 modes, 2000 samples per sampler
    python examples/boson_sampling.py --quick    # 3 photons in 8 modes, 300 samples
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

import qphys
from qphys import linear_optics as lo

#: the test's decision thresholds: posterior above / below these after all samples
CONFIDENT = 0.999


def haar_unitary(m: int, seed: int) -> torch.Tensor:
    """A Haar-random ``m x m`` unitary (QR of a complex Ginibre matrix, phases fixed; Mezzadri 2007)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.complex(torch.randn(m, m, generator=gen, dtype=torch.float64),
                      torch.randn(m, m, generator=gen, dtype=torch.float64)) / math.sqrt(2)
    q, r = torch.linalg.qr(z)
    d = torch.diagonal(r)
    return q * (d / d.abs()).unsqueeze(0)


def boson_circuit(U: torch.Tensor, n: int) -> qphys.Circuit:
    m = U.shape[0]
    return qphys.Circuit(modes=m, photons=(1,) * n + (0,) * (m - n)).interferometer(U)


def uniform_collision_free(m: int, n: int, k: int, seed: int) -> np.ndarray:
    """``k`` patterns drawn uniformly among the ``C(m, n)`` collision-free ones."""
    rng = np.random.default_rng(seed)
    out = np.zeros((k, m), dtype=np.int64)
    for row in out:
        row[rng.choice(m, size=n, replace=False)] = 1
    return out


def collision_free_probs(probs: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """The boson-sampling distribution conditioned on collision-free patterns (0 elsewhere)."""
    keep = (lo.patterns(m, n) <= 1).all(1)
    return torch.where(keep, probs, 0.0) / probs[keep].sum()


def posterior(samples: np.ndarray, cf_probs: torch.Tensor, m: int, n: int) -> np.ndarray:
    """Posterior of the boson-sampling hypothesis after each collision-free sample (test 2):
    ``cf_probs`` (:func:`collision_free_probs`) against the uniform ``1 / C(m, n)``."""
    p_bs = cf_probs[lo.pattern_indices(samples)].numpy()
    log_ratio = np.cumsum(-math.log(math.comb(m, n)) - np.log(p_bs))  # log prod p_U / p_BS
    return 1 / (1 + np.exp(np.clip(log_ratio, -700, 700)))


def row_norm_estimator(samples: np.ndarray, U: torch.Tensor, n: int) -> np.ndarray:
    """``R*(s)`` of every sample (module docstring, test 3)."""
    m = U.shape[0]
    row_weight = (m / n) * (U[:, :n].abs() ** 2).sum(1).numpy()  # (m,)
    return np.prod(row_weight[None, :] ** samples, axis=1)


def check_probabilities(U: torch.Tensor, n: int, probs: torch.Tensor, patterns_to_check: int = 5) -> dict:
    """Largest differences of the torch SLOS probabilities from Perceval's SLOS and thewalrus."""
    from thewalrus import perm

    m = U.shape[0]
    c = boson_circuit(U, n).probs()
    perceval = qphys.execute(c, "perceval.slos").values[0]
    pats = lo.patterns(m, n).numpy().astype(np.int64)
    chosen = np.linspace(0, len(pats) - 1, patterns_to_check).astype(int)
    walrus = []
    for k in chosen:
        s = pats[k]
        rows = np.repeat(np.arange(m), s)  # output modes with multiplicity
        sub = U.numpy()[np.ix_(rows, np.arange(n))]
        walrus.append(abs(perm(sub)) ** 2 / np.prod([math.factorial(int(v)) for v in s]))
    return {
        "vs_perceval": float((probs - perceval).abs().max()),
        "vs_thewalrus": float(np.abs(probs[torch.as_tensor(chosen)].numpy() - np.array(walrus)).max()),
    }


def run(m: int = 12, n: int = 4, samples: int = 2000, seed: int = 0) -> dict:
    U = haar_unitary(m, seed)
    probs = qphys.execute(boson_circuit(U, n).probs(), "torch.linear_optics").values[0]
    checks = check_probabilities(U, n, probs)
    sources = {
        "perceval.clifford": qphys.execute(boson_circuit(U, n).sample(), "perceval.clifford",
                                           shots=samples, seed=seed).values[0].numpy().astype(np.int64),
        "torch.linear_optics (shots)": qphys.execute(boson_circuit(U, n).sample(), "torch.linear_optics",
                                                     shots=samples, seed=seed).values[0].numpy().astype(np.int64),
        "uniform (collision-free)": uniform_collision_free(m, n, samples, seed),
    }
    cf_probs = collision_free_probs(probs, m, n)
    tests = {}
    for name, s in sources.items():
        free = s[(s <= 1).all(axis=1)]
        post = posterior(free, cf_probs, m, n)
        # samples after which the posterior stays beyond the confidence threshold on its final side
        final_side = (post > CONFIDENT) if post[-1] > 0.5 else (post < 1 - CONFIDENT)
        undecided = np.flatnonzero(~final_side)
        decided = len(undecided) < len(post)
        tests[name] = {
            "posterior": float(post[-1]),
            "samples_to_decide": (int(undecided[-1]) + 2 if len(undecided) else 1) if decided else None,
            "row_norm_mean": float(row_norm_estimator(free, U, n).mean()),
            "collision_free": float((s <= 1).all(axis=1).mean()),
        }
    p_cf = float(probs[torch.as_tensor((lo.patterns(m, n) <= 1).all(1))].sum())
    return {"m": m, "n": n, "samples": samples, "checks": checks, "tests": tests,
            "patterns": lo.num_patterns(m, n), "exact_collision_free": p_cf}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 photons in 8 modes, 300 samples")
    parser.add_argument("--modes", type=int, default=None)
    parser.add_argument("--photons", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    m = args.modes or (8 if args.quick else 12)
    n = args.photons or (3 if args.quick else 4)
    samples = args.samples or (300 if args.quick else 2000)
    out = run(m, n, samples, args.seed)
    c = out["checks"]
    print(f"boson sampling: {n} photons in {m} modes ({out['patterns']} patterns), Haar-random U (seed {args.seed})")
    print(f"  torch SLOS vs Perceval SLOS: max diff {c['vs_perceval']:.1e}; vs thewalrus permanents: "
          f"{c['vs_thewalrus']:.1e}")
    print(f"  exact collision-free probability {out['exact_collision_free']:.3f}")
    print("  tests on the collision-free samples; 'decided after': collision-free samples after which the "
          f"posterior stays beyond {CONFIDENT} (or below {1 - CONFIDENT:.3g})")
    print(f"  {'sampler':30s} {'P(boson sampler)':>17s} {'decided after':>14s} {'mean R*':>8s} {'coll.-free':>10s}")
    for name, t in out["tests"].items():
        after = "-" if t["samples_to_decide"] is None else str(t["samples_to_decide"])
        print(f"  {name:30s} {t['posterior']:17.3g} {after:>14s} {t['row_norm_mean']:8.3f} {t['collision_free']:10.3f}")
    ok = (all(out["tests"][k]["posterior"] > CONFIDENT for k in ("perceval.clifford", "torch.linear_optics (shots)"))
          and out["tests"]["uniform (collision-free)"]["posterior"] < 1 - CONFIDENT)
    print("  validation: boson samplers " + ("accepted, uniform sampler rejected" if ok else "NOT separated from uniform"))
    if not ok:
        raise SystemExit(1)
    return out


if __name__ == "__main__":
    main()
