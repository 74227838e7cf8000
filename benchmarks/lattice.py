"""Normalizing flows vs HMC for lattice field theory (qphys.lattice), on this machine's CPUs.

Parts (run each under the shared lock; results go to out/lattice/<part>.json and one BENCHMARKS.md
section assembled from every part measured so far):

- ``phi4``: φ⁴ L=8, M²=−4, λ=8 — train the recipe ``PHI4_L8_RECIPE`` within a wall-time budget,
  then flow-based independence Metropolis vs HMC: ESS/N, acceptance, M, |M|, χ₂, and τ_int per
  unit of CPU time. ``--save-weights`` ships the trained flow as qphys/lattice/data/phi4_L8.pt.
- ``phi4-critical``: the same at λ=5 (closer to the critical point: larger χ₂, HMC τ_int grows).
- ``phi4-L16``: the recipe at L=16.
- ``u1``: 2D U(1) at L=8, β=6, where HMC's topological charge freezes: τ_int(Q) per unit of CPU
  time, flow vs HMC, and ⟨cos P⟩ against I₁(β)/I₀(β).

    flock /work/heavy.lock .venv/bin/python benchmarks/lattice.py --part phi4 --threads 2 [--save-weights]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine, table, update_section  # noqa: E402

from qphys.lattice import (  # noqa: E402
    effective_sample_size,
    exact_plaquette,
    flow_metropolis,
    hmc,
    integrated_autocorrelation_time,
    jackknife,
    magnetization,
    mean_with_error,
    plaquette_mean,
    susceptibility,
    susceptibility_samples,
    topological_charge,
)
from qphys.lattice.pretrained import (  # noqa: E402
    PHI4_L8_RECIPE,
    U1_L8_RECIPE,
    batch_schedule,
    make_action,
    make_flow,
    save_flow,
)
from qphys.lattice.train import train_flow  # noqa: E402

OUT = ROOT / "out" / "lattice"


def _train(recipe, budget_s, seed, progress, clock="cpu"):
    torch.manual_seed(seed)
    flow = make_flow(recipe)
    t = recipe["train"]
    load0 = os.getloadavg()[0]
    hist = train_flow(flow, make_action(recipe), steps=t["steps"], batch_size=batch_schedule(t["batch_sizes"]),
                      lr=t["lr"], seed=seed, progress=progress, max_seconds=budget_s, clock=clock)
    return flow, hist, {"steps": hist.steps, "budget_s": budget_s, "clock": clock, "planned_steps": t["steps"], "wall_s": round(hist.seconds, 1),
                        "cpu_s": round(hist.cpu_seconds, 1), "load_before": round(load0, 1),
                        "load_after": round(os.getloadavg()[0], 1)}


def _tau_row(name, tau, cost_s):
    return {"observable": name, "tau": tau.tau, "tau_err": tau.error, "cpu_ms_per_step": 1e3 * cost_s,
            "tau_cpu_ms": 1e3 * cost_s * tau.tau}


def phi4_part(recipe, *, budget_s, clock, seed, progress, n_flow, n_chains, n_traj, save_weights=None):
    action = make_action(recipe)
    L = recipe["L"]
    V = L * L
    flow, hist, train_info = _train(recipe, budget_s, seed, progress, clock)
    if save_weights:
        save_flow(save_weights, flow, recipe, hist)
    with torch.no_grad():
        x, logq = flow.sample(16384, generator=torch.Generator().manual_seed(seed + 1))
        ess = effective_sample_size(-action(x) - logq)
    measure = {"M": magnetization, "chi": susceptibility_samples}
    chain = flow_metropolis(flow, action, n_steps=n_flow, batch_size=4096, measure=measure, seed=seed + 2,
                            progress=progress)
    x0 = torch.zeros(n_chains, L, L)
    c0 = time.process_time()
    ref = hmc(action, x0, n_traj=n_traj, n_tune=200, n_therm=200, measure=measure, seed=seed + 3, progress=progress)
    hmc_cpu = time.process_time() - c0
    hmc_cost = hmc_cpu / ((n_traj + 400) * n_chains)  # tuning and thermalisation trajectories cost the same
    flow_cost = chain.cpu_seconds / n_flow
    mf, mh = chain.observables["M"], ref.observables["M"]
    obs = {}
    for name, a, b in (("M", mean_with_error(mf), mean_with_error(mh)),
                       ("|M|", mean_with_error(mf.abs()), mean_with_error(mh.abs())),
                       ("chi2", jackknife(lambda m: susceptibility(m, V), [mf], n_blocks=32),
                        jackknife(lambda m: susceptibility(m.reshape(-1), V), [mh], n_blocks=32))):
        obs[name] = {"flow": [a.value, a.error], "hmc": [b.value, b.error], "agree_2sigma": a.agrees_with(b)}
    taus = []
    for name, key, f in (("M", "M", lambda v: v), ("|M|", "M", torch.abs), ("V M^2 (chi2)", "chi", lambda v: v)):
        taus.append({"sampler": "flow", **_tau_row(name, integrated_autocorrelation_time(f(chain.observables[key])),
                                                   flow_cost)})
        taus.append({"sampler": "HMC", **_tau_row(name, integrated_autocorrelation_time(f(ref.observables[key])),
                                                  hmc_cost)})
    return {"recipe": recipe, "train": train_info, "ess": ess, "acceptance": chain.acceptance,
            "flow_steps": n_flow, "hmc": {"chains": n_chains, "traj": n_traj, "acceptance": ref.acceptance,
                                          "leapfrog": ref.n_steps, "step_size": ref.step_size},
            "observables": obs, "tau": taus, "threads": torch.get_num_threads()}


def u1_part(recipe, *, budget_s, clock, seed, progress, n_flow, n_chains, n_traj):
    action = make_action(recipe)
    L, beta = recipe["L"], recipe["couplings"]["beta"]
    measure = {"Q": topological_charge, "P": plaquette_mean}
    x0 = (torch.rand(n_chains, 2, L, L, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * math.pi
    c0 = time.process_time()
    ref = hmc(action, x0, n_traj=n_traj, n_tune=200, n_therm=300, measure=measure, seed=seed + 3, progress=progress)
    hmc_cost = (time.process_time() - c0) / ((n_traj + 500) * n_chains)
    flow, hist, train_info = _train(recipe, budget_s, seed, progress, clock)
    chain = flow_metropolis(flow, action, n_steps=n_flow, batch_size=4096, measure=measure, seed=seed + 2,
                            progress=progress)
    flow_cost = chain.cpu_seconds / n_flow
    tq_f = integrated_autocorrelation_time(chain.observables["Q"])
    tq_h = integrated_autocorrelation_time(ref.observables["Q"])
    pf, ph = mean_with_error(chain.observables["P"]), mean_with_error(ref.observables["P"])
    return {"recipe": recipe, "train": train_info, "ess": chain.ess, "acceptance": chain.acceptance,
            "flow_steps": n_flow, "hmc": {"chains": n_chains, "traj": n_traj, "acceptance": ref.acceptance,
                                          "leapfrog": ref.n_steps, "step_size": ref.step_size,
                                          "window_Q": tq_h.window},
            "tau": [{"sampler": "flow", **_tau_row("Q", tq_f, flow_cost)},
                    {"sampler": "HMC", **_tau_row("Q", tq_h, hmc_cost)}],
            "plaquette": {"flow": [pf.value, pf.error], "hmc": [ph.value, ph.error],
                          "exact_inf": exact_plaquette(beta), "exact_V": exact_plaquette(beta, volume=L * L)},
            "Q2": {"flow": float((chain.observables["Q"] ** 2).mean()), "hmc": float((ref.observables["Q"] ** 2).mean())},
            "threads": torch.get_num_threads()}


def _fmt(v, e):
    return f"{v:.4f} ± {e:.4f}"


def _phi4_md(title, r):
    t = r["train"]
    lines = [f"**{title}** — flow {r['recipe']['flow']}, batch schedule {r['recipe']['train']['batch_sizes']}, "
             f"peak lr {r['recipe']['train']['lr']} (cosine), budget {t['budget_s']:.0f} s of {t['clock']} time; "
             f"trained {t['steps']}/{t['planned_steps']} steps in "
             f"**{t['wall_s']:.0f} s wall, {t['cpu_s']:.0f} s CPU** ({r['threads']} torch threads; 1-min load "
             f"average {t['load_before']} → {t['load_after']} on 2 cores).",
             "",
             f"ESS/N (16384 flow samples) **{r['ess']:.3f}**, independence-Metropolis acceptance "
             f"**{r['acceptance']:.3f}** ({r['flow_steps']} steps); HMC: {r['hmc']['chains']} chains x "
             f"{r['hmc']['traj']} trajectories of length 1 ({r['hmc']['leapfrog']} leapfrog steps), acceptance "
             f"{r['hmc']['acceptance']:.3f}.", ""]
    rows = [[k.replace("|", "\\|"), _fmt(*v["flow"]), _fmt(*v["hmc"]), "yes" if v["agree_2sigma"] else "**no**"]
            for k, v in r["observables"].items()]
    lines += [table(["observable", "flow Metropolis", "HMC", "agree within 2σ"], rows), ""]
    lines += [_tau_md(r["tau"]), ""]
    return "\n".join(lines)


def _tau_md(taus):
    rows = []
    by = {}
    for row in taus:
        by.setdefault(row["observable"], {})[row["sampler"]] = row
    for name, d in by.items():
        f, h = d["flow"], d["HMC"]
        rows.append([name.replace("|", "\\|"), f"{f['tau']:.2f} ± {f['tau_err']:.2f}", f"{f['cpu_ms_per_step']:.3f}",
                     f"{h['tau']:.1f} ± {h['tau_err']:.1f}", f"{h['cpu_ms_per_step']:.3f}",
                     f"{f['tau_cpu_ms']:.3f}", f"{h['tau_cpu_ms']:.3f}", f"{h['tau_cpu_ms'] / f['tau_cpu_ms']:.2g}x"])
    return table(["observable", "τ_int flow (steps)", "flow CPU ms/step", "τ_int HMC (traj.)", "HMC CPU ms/traj.",
                  "τ·cost flow (CPU ms)", "τ·cost HMC (CPU ms)", "HMC / flow"], rows)


def write_report():
    parts = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    md = ["## Lattice field theory: normalizing flows vs HMC (`benchmarks/lattice.py`)", "",
          f"Machine: {machine()} (shared with other engineers' jobs; CPU seconds are the robust measure). "
          "τ_int is in Markov steps (0.5 = independent; flow: one proposal per step; HMC: one trajectory), "
          "errors Madras–Sokal; cost = process CPU time per step, batched (flow proposals in batches of 4096, "
          "HMC chains in parallel), *including* HMC's step-size tuning and thermalisation; "
          "\"HMC / flow\" = how many times less CPU the flow needs per independent sample.", ""]
    titles = {"phi4": "φ⁴ L=8, M²=−4, λ=8 (Albergo et al.'s tutorial point)",
              "phi4-critical": "φ⁴ L=8, M²=−4, λ=5 (closer to criticality)",
              "phi4-L16": "φ⁴ L=16, M²=−4, λ=8"}
    for key, title in titles.items():
        if key in parts:
            md.append(_phi4_md(title, parts[key]))
    if "u1" in parts:
        r = parts["u1"]
        t = r["train"]
        p = r["plaquette"]
        md += [f"**U(1) 2D, L={r['recipe']['L']}, β={r['recipe']['couplings']['beta']}** — gauge-equivariant flow "
               f"{r['recipe']['flow']}, trained {t['steps']} steps in {t['wall_s']:.0f} s wall, {t['cpu_s']:.0f} s CPU. "
               f"Flow acceptance {r['acceptance']:.3f}, ESS/N {r['ess']:.3f}; HMC {r['hmc']['chains']} chains x "
               f"{r['hmc']['traj']} trajectories ({r['hmc']['leapfrog']} leapfrog steps, acceptance "
               f"{r['hmc']['acceptance']:.3f}, hot start; τ_int(Q) summation window {r['hmc']['window_Q']} "
               f"trajectories).", "",
               _tau_md(r["tau"]), "",
               table(["⟨cos P⟩", "value"], [["flow Metropolis", _fmt(*p["flow"])], ["HMC (frozen Q sectors)", _fmt(*p["hmc"])],
                                           ["exact, infinite volume I₁(β)/I₀(β)", f"{p['exact_inf']:.5f}"],
                                           [f"exact, V={r['recipe']['L'] ** 2} (character expansion)", f"{p['exact_V']:.5f}"]]),
               "", f"⟨Q²⟩: flow {r['Q2']['flow']:.3f}, HMC {r['Q2']['hmc']:.3f}.", ""]
    md.append("Reproduce: `flock /work/heavy.lock .venv/bin/python benchmarks/lattice.py --part PART --threads N` "
              "for PART in phi4 (add `--save-weights` to refresh the shipped flow), phi4-critical, phi4-L16, u1.")
    update_section("lattice", "\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["phi4", "phi4-critical", "phi4-L16", "u1", "report"], default="phi4")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=900.0, help="training budget in seconds (of --clock)")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="what the budget counts: process CPU time (default; fair on a shared machine) or wall time")
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's training steps")
    ap.add_argument("--quick", action="store_true", help="seconds-long smoke run (no report)")
    ap.add_argument("--save-weights", action="store_true")
    ap.add_argument("--n-flow", type=int, default=None, help="flow Metropolis steps")
    ap.add_argument("--hmc-chains", type=int, default=None)
    ap.add_argument("--hmc-traj", type=int, default=None, help="measured HMC trajectories per chain")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    progress = not args.no_progress
    OUT.mkdir(parents=True, exist_ok=True)
    if args.part == "report":
        write_report()
        return
    recipe = json.loads(json.dumps(U1_L8_RECIPE if args.part == "u1" else PHI4_L8_RECIPE))
    if args.part == "phi4-critical":
        recipe["couplings"]["lam"] = 5.0
    if args.part == "phi4-L16":
        recipe["L"] = 16
    if args.steps:
        recipe["train"]["steps"] = args.steps
    sizes = dict(n_flow=1 << 17, n_chains=64, n_traj=4000)
    if args.quick:
        recipe["train"]["steps"], recipe["L"] = 20, 4
        recipe["flow"]["n_layers"] = 2
        sizes = dict(n_flow=2048, n_chains=8, n_traj=50)
    if args.part == "u1" and not args.quick:
        sizes = dict(n_flow=1 << 17, n_chains=128, n_traj=10000)
    for key, value in (("n_flow", args.n_flow), ("n_chains", args.hmc_chains), ("n_traj", args.hmc_traj)):
        if value:
            sizes[key] = value
    if args.part == "u1":
        result = u1_part(recipe, budget_s=args.budget, clock=args.clock, seed=0, progress=progress, **sizes)
    else:
        save = ROOT / "qphys" / "lattice" / "data" / "phi4_L8.pt" if args.save_weights and args.part == "phi4" else None
        result = phi4_part(recipe, budget_s=args.budget, clock=args.clock, seed=0, progress=progress,
                           save_weights=save, **sizes)
    print(json.dumps(result, indent=1, default=str))
    if not args.quick:
        (OUT / f"{args.part}.json").write_text(json.dumps(result, indent=1, default=str))
        write_report()


if __name__ == "__main__":
    main()
