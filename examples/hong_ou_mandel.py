"""The Hong-Ou-Mandel dip: two photons meet on a 50:50 beam splitter and leave together.

Two single photons enter the two input ports ``a`` and ``b`` of a balanced beam splitter
(Perceval's ``BS``, ``theta = pi/2``). When they are indistinguishable, the amplitudes of "both
transmitted" and "both reflected" cancel and the two detectors never click together
(Hong, Ou & Mandel, PRL 59, 2044, 1987). Delaying photon ``b`` by ``tau`` makes the photons
partly distinguishable: with Gaussian wave packets whose intensity has temporal width ``sigma``,
their overlap is ``|<psi(0)|psi(tau)>|^2 = exp(-tau^2 / (4 sigma^2))`` and the coincidence
probability is ``P_c(tau) = (1 - exp(-tau^2 / (4 sigma^2))) / 2``: the dip, of visibility 1.

The delay is modelled exactly in the linear-optical circuit family: each spatial mode carries two
orthogonal temporal modes (``a0, b0`` share photon ``a``'s wave packet; ``a1, b1`` are
orthogonal to it), photon ``b`` is prepared in ``sqrt(s) |b0> + i sqrt(1 - s) |b1>`` by a beam
splitter between its two temporal modes (``s`` = the overlap), and the 50:50 beam splitter acts
on both temporal modes. Detectors do not resolve time, so a coincidence is "a photon in ``a0`` or
``a1``, and one in ``b0`` or ``b1``".

The scan runs as one batched circuit (one row per delay) on ``torch.linear_optics`` (exact), on
``perceval.slos`` (Perceval's exact simulator) and on ``quandela.fake:ascella`` (the offline
Quandela Cloud fake: sampled counts through Perceval's remote protocol, one job for the whole
scan). It prints the curves, the fitted visibility and the largest deviation from the formula;
``--plot FILE`` saves the figure.

Run::

    python examples/hong_ou_mandel.py                # 41 delays, 4000 shots each
    python examples/hong_ou_mandel.py --quick        # 11 delays, 1000 shots each
"""

from __future__ import annotations

import argparse
import math
import tempfile

import torch

import qphys
from qphys.linear_optics import outcome_patterns

#: modes: a0, b0 (photon a's temporal mode), a1, b1 (the orthogonal one)
A_MODES, B_MODES = (0, 2), (1, 3)


def overlap(tau: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """``|<psi(0)|psi(tau)>|^2`` of two Gaussian wave packets of intensity width ``sigma``."""
    return torch.exp(-(tau**2) / (4 * sigma**2))


def hom_circuit(tau: torch.Tensor, sigma: float = 1.0) -> qphys.Circuit:
    """The batched HOM circuit of the delays ``tau`` (module docstring), measuring ``probs()``."""
    s = overlap(tau, sigma)
    # Perceval's BS(theta) leaves cos(theta/2) of the amplitude in its first mode
    theta = 2 * torch.acos(torch.sqrt(s).clamp(max=1.0))
    return (qphys.Circuit(modes=4, photons=(1, 1, 0, 0))
            .bs(theta, 1, 3)                       # photon b: overlap s with photon a's wave packet
            .bs(math.pi / 2, 0, 1)                 # the 50:50 beam splitter, temporal mode 0
            .bs(math.pi / 2, 2, 3)                 # ... and temporal mode 1
            .probs())


def coincidences(circuit: qphys.Circuit, probs: torch.Tensor) -> torch.Tensor:
    """Probability that both detectors click, ``(B,)``, from the pattern probabilities."""
    pats = outcome_patterns(circuit, circuit.measurements[0]).to(torch.int64)
    both = (pats[:, list(A_MODES)].sum(1) > 0) & (pats[:, list(B_MODES)].sum(1) > 0)
    return probs[:, both].sum(1)


def scan(points: int = 41, shots: int = 4000, *, sigma: float = 1.0, seed: int = 0) -> dict:
    """Coincidence probabilities versus delay on the exact and sampled devices."""
    tau = torch.linspace(-4 * sigma, 4 * sigma, points, dtype=torch.float64)
    c = hom_circuit(tau, sigma)
    theory = (1 - overlap(tau, sigma)) / 2
    curves = {
        "torch.linear_optics": coincidences(c, qphys.execute(c, "torch.linear_optics").values[0]),
        "perceval.slos": coincidences(c, qphys.execute(c, "perceval.slos").values[0]),
    }
    with tempfile.TemporaryDirectory() as folder:
        from qphys_perceval import FakeQuandelaCloud

        cloud = FakeQuandelaCloud(folder, seed=seed)
        with qphys.device("quandela.fake:ascella", cloud=cloud, shots=shots, ledger=False,
                          poll_interval=0) as dev:
            curves["quandela.fake:ascella"] = coincidences(c, qphys.execute(c, dev).values[0])
        jobs = len(cloud.submissions())
    far = tau.abs() >= 3 * sigma
    results = {}
    for name, pc in curves.items():
        # visibility: 1 - P_c(0) / P_c(far from the dip)
        visibility = 1 - float(pc[points // 2]) / float(pc[far].mean())
        results[name] = {"visibility": visibility, "max_dev": float((pc - theory).abs().max())}
    return {"tau": tau, "theory": theory, "curves": curves, "results": results, "jobs": jobs, "shots": shots}


def plot(out: dict, path: str) -> None:
    from qphys.plots import figure

    fig = figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(out["tau"], out["theory"], "k-", label="(1 - exp(-tau^2/4 sigma^2)) / 2")
    for (name, pc), style in zip(out["curves"].items(), ("o", "x", "s"), strict=True):
        ax.plot(out["tau"], pc, style, fillstyle="none", label=name)
    ax.set_xlabel("delay tau / sigma")
    ax.set_ylabel("coincidence probability")
    ax.set_title("Hong-Ou-Mandel dip")
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="11 delays, 1000 shots")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--shots", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="save the figure to this file")
    args = parser.parse_args(argv)
    points = args.points or (11 if args.quick else 41)
    shots = args.shots or (1000 if args.quick else 4000)
    out = scan(points, shots, seed=args.seed)
    print(f"HOM dip, {points} delays in [-4 sigma, 4 sigma]; sampled device: {shots} shots per delay, "
          f"{out['jobs']} job for the whole scan")
    for name, r in out["results"].items():
        print(f"  {name:24s} visibility {r['visibility']:.4f}   max |P_c - theory| {r['max_dev']:.2e}")
    print(f"  shot noise of one sampled point: <= {0.5 / math.sqrt(shots):.3f}")
    if args.plot:
        plot(out, args.plot)
        print(f"figure saved to {args.plot}")
    exact_ok = all(out["results"][k]["max_dev"] < 1e-12 for k in ("torch.linear_optics", "perceval.slos"))
    sampled_ok = out["results"]["quandela.fake:ascella"]["max_dev"] < 5 * 0.5 / math.sqrt(shots)
    if not (exact_ok and sampled_ok):
        raise SystemExit("the dip departs from (1 - exp(-tau^2 / 4 sigma^2)) / 2 beyond tolerance")
    return out


if __name__ == "__main__":
    main()
