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
scan), once with ideal photons and once with the source imperfection that real QPUs report:
photons of indistinguishability ``M < 1`` (``--indistinguishability``, default 0.9; Perceval's
``NoiseModel``), whose dip only reaches ``P_c(0) = (1 - M) / 2``: the visibility measures ``M``.
It prints the visibility ``1 - P_c(0) / P_c(|tau| >= 3 sigma)`` of every curve and its largest
deviation from the formula; ``--plot FILE`` saves the figure.

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


def fake_qpu_coincidences(c: qphys.Circuit, shots: int, *, indistinguishability: float = 1.0,
                          seed: int = 0) -> tuple[torch.Tensor, int]:
    """Coincidences sampled on ``quandela.fake:ascella`` (its photons of the given
    indistinguishability) and the number of jobs that took."""
    import perceval as pcvl
    from qphys_perceval import FakeQuandelaCloud

    noise = pcvl.NoiseModel(indistinguishability=indistinguishability) if indistinguishability < 1 else None
    with tempfile.TemporaryDirectory() as folder:
        cloud = FakeQuandelaCloud(folder, seed=seed, noise=noise)
        with qphys.device("quandela.fake:ascella", cloud=cloud, shots=shots, ledger=False,
                          poll_interval=0) as dev:
            pc = coincidences(c, qphys.execute(c, dev).values[0])
        return pc, len(cloud.submissions())


def scan(points: int = 41, shots: int = 4000, *, indistinguishability: float = 0.9, sigma: float = 1.0,
         seed: int = 0) -> dict:
    """Coincidence probabilities versus delay on the exact and sampled devices."""
    tau = torch.linspace(-4 * sigma, 4 * sigma, points, dtype=torch.float64)
    c = hom_circuit(tau, sigma)
    noisy = f"quandela.fake:ascella, M = {indistinguishability}"
    curves = {
        "torch.linear_optics": coincidences(c, qphys.execute(c, "torch.linear_optics").values[0]),
        "perceval.slos": coincidences(c, qphys.execute(c, "perceval.slos").values[0]),
    }
    curves["quandela.fake:ascella"], jobs = fake_qpu_coincidences(c, shots, seed=seed)
    curves[noisy], _ = fake_qpu_coincidences(c, shots, indistinguishability=indistinguishability, seed=seed)
    far = tau.abs() >= 3 * sigma
    results = {}
    for name, pc in curves.items():
        m = indistinguishability if name == noisy else 1.0
        theory = (1 - m * overlap(tau, sigma)) / 2
        visibility = 1 - float(pc[points // 2]) / float(pc[far].mean())
        results[name] = {"visibility": visibility, "max_dev": float((pc - theory).abs().max()), "expected": m}
    return {"tau": tau, "theory": (1 - overlap(tau, sigma)) / 2, "curves": curves, "results": results,
            "jobs": jobs, "shots": shots, "noisy": noisy}


def plot(out: dict, path: str) -> None:
    from qphys.plots import figure

    fig = figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(out["tau"], out["theory"], "k-", label="(1 - exp(-tau^2/4 sigma^2)) / 2")
    m = out["results"][out["noisy"]]["expected"]
    ax.plot(out["tau"], (1 - m * (1 - 2 * out["theory"])) / 2, "k--", label=f"(1 - {m} exp(-tau^2/4 sigma^2)) / 2")
    for (name, pc), style in zip(out["curves"].items(), ("o", "x", "s", "^"), strict=True):
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
    parser.add_argument("--indistinguishability", type=float, default=0.9,
                        help="of the photons of the second fake-QPU scan (Perceval's NoiseModel)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="save the figure to this file")
    args = parser.parse_args(argv)
    points = args.points or (11 if args.quick else 41)
    shots = args.shots or (1000 if args.quick else 4000)
    out = scan(points, shots, indistinguishability=args.indistinguishability, seed=args.seed)
    print(f"HOM dip, {points} delays in [-4 sigma, 4 sigma]; sampled device: {shots} shots per delay, "
          f"{out['jobs']} job for the whole scan")
    for name, r in out["results"].items():
        print(f"  {name:36s} visibility {r['visibility']:.4f} (theory {r['expected']:.2f})   "
              f"max |P_c - theory| {r['max_dev']:.2e}")
    print(f"  shot noise of one sampled point: <= {0.5 / math.sqrt(shots):.3f}")
    if args.plot:
        plot(out, args.plot)
        print(f"figure saved to {args.plot}")
    exact_ok = all(out["results"][k]["max_dev"] < 1e-12 for k in ("torch.linear_optics", "perceval.slos"))
    sampled_ok = all(out["results"][k]["max_dev"] < 5 * 0.5 / math.sqrt(shots)
                     for k in ("quandela.fake:ascella", out["noisy"]))
    if not (exact_ok and sampled_ok):
        raise SystemExit("the dip departs from (1 - exp(-tau^2 / 4 sigma^2)) / 2 beyond tolerance")
    return out


if __name__ == "__main__":
    main()
