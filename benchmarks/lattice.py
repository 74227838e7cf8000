"""Normalizing flows vs HMC for lattice field theory (qphys.lattice), on this machine's CPUs.

Parts (run each under the shared lock):

- ``phi4``: φ⁴ L=8, M²=−4, λ=8 — train the recipe ``PHI4_L8_RECIPE`` within a wall-time budget,
  then flow-based independence Metropolis vs HMC: ESS/N, acceptance, M, |M|, χ₂, and τ_int per
  unit of CPU time. ``--save-weights`` ships the trained flow as qphys/lattice/data/phi4_L8.pt.
- ``phi4-critical``: the same at λ=5 (closer to the critical point: larger χ₂, HMC τ_int grows).
- ``phi4-L16``: the recipe at L=16.
- ``u1``: 2D U(1) (``--L``, ``--beta``; default ``U1_L4_RECIPE``: L=4, β=6; ``--L 8 --beta 5`` is the
  harder case of the previous rounds) where HMC's topological charge
  freezes: τ_int(Q) per unit of CPU time and CPU per independent Q sample, flow vs HMC (with the
  break-even count that repays the flow's training), ⟨cos P⟩ against I₁(β)/I₀(β) and the exact
  finite-volume value, ⟨Q²⟩ against its exact finite-volume value.

Results go to out/lattice/<part>.json and to the ``lattice/<part>`` block inside the lattice section
of BENCHMARKS.md: a run rewrites only its own block (notes and other parts' blocks stay).

    flock /work/heavy.lock .venv/bin/python benchmarks/lattice.py --part phi4 --threads 2 [--save-weights]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine, table, update_block  # noqa: E402

from qphys.lattice import (  # noqa: E402
    effective_sample_size,
    exact_charge_variance,
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
    U1_L4_RECIPE,
    U1_PLAQUETTE_RECIPE,
    load_flow,
    make_action,
    save_flow,
    train_recipe,
)

OUT = ROOT / "out" / "lattice"


def _train(recipe, budget_s, seed, progress, clock="cpu"):
    load0 = os.getloadavg()[0]
    flow, hist = train_recipe(recipe, seed=seed, progress=progress, max_seconds=budget_s, clock=clock)
    return flow, hist, {"steps": hist.steps, "budget_s": budget_s, "clock": clock, "planned_steps": recipe["train"]["steps"],
                        "wall_s": round(hist.seconds, 1), "cpu_s": round(hist.cpu_seconds, 1),
                        "load_before": round(load0, 1), "load_after": round(os.getloadavg()[0], 1)}


def _load_trained(path, recipe):
    """A flow trained earlier (``--weights``): its recipe must match the part's; train info from its history."""
    flow, saved_recipe, h = load_flow(path)
    if {k: saved_recipe[k] for k in ("theory", "L", "couplings", "flow")} != {k: recipe[k] for k in ("theory", "L", "couplings", "flow")}:
        raise SystemExit(f"--weights {path}: its recipe {saved_recipe} does not match the part's {recipe}")
    return flow, None, {"steps": h.get("steps", h["step"][-1] + 1), "budget_s": h["cpu_seconds"], "clock": "cpu",
                        "planned_steps": saved_recipe["train"]["steps"], "wall_s": round(h["seconds"], 1),
                        "cpu_s": round(h["cpu_seconds"], 1), "load_before": "?", "load_after": "?",
                        "weights": str(path), "recipe_train": saved_recipe["train"]}


def _tau_row(name, tau, cost_s):
    return {"observable": name, "tau": tau.tau, "tau_err": tau.error, "cpu_ms_per_step": 1e3 * cost_s,
            "tau_cpu_ms": 1e3 * cost_s * tau.tau}


def phi4_part(recipe, *, budget_s, clock, seed, progress, n_flow, n_chains, n_traj, save_weights=None, weights=None):
    action = make_action(recipe)
    L = recipe["L"]
    V = L * L
    if weights is not None:
        flow, hist, train_info = _load_trained(weights, recipe)
        recipe = {**recipe, "train": train_info["recipe_train"]}
    else:
        flow, hist, train_info = _train(recipe, budget_s, seed, progress, clock)
    if save_weights and hist is not None:
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
            "observables": obs, "tau": taus, "threads": torch.get_num_threads(), "machine": machine()}


def u1_part(recipe, *, budget_s, clock, seed, progress, n_flow, n_chains, n_traj, n_therm=300, weights=None):
    action = make_action(recipe)
    L, beta = recipe["L"], recipe["couplings"]["beta"]
    measure = {"Q": topological_charge, "P": plaquette_mean}
    x0 = (torch.rand(n_chains, 2, L, L, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * math.pi
    c0 = time.process_time()
    ref = hmc(action, x0, n_traj=n_traj, n_tune=200, n_therm=n_therm, measure=measure, seed=seed + 3,
              progress=progress)
    hmc_cost = (time.process_time() - c0) / ((n_traj + n_therm + 200) * n_chains)
    if weights is not None:
        flow, _, train_info = _load_trained(weights, recipe)
        recipe = {**recipe, "train": train_info["recipe_train"]}
    else:
        flow, _, train_info = _train(recipe, budget_s, seed, progress, clock)
    chain = flow_metropolis(flow, action, n_steps=n_flow, batch_size=4096, measure=measure, seed=seed + 2,
                            progress=progress)
    flow_cost = chain.cpu_seconds / n_flow
    tq_f = integrated_autocorrelation_time(chain.observables["Q"])
    tq_h = integrated_autocorrelation_time(ref.observables["Q"])
    pf, ph = mean_with_error(chain.observables["P"]), mean_with_error(ref.observables["P"])
    qf, qh = mean_with_error(chain.observables["Q"] ** 2), mean_with_error(ref.observables["Q"] ** 2)
    per_f, per_h = 2 * tq_f.tau * flow_cost, 2 * tq_h.tau * hmc_cost  # CPU-s per independent sample of Q
    return {"recipe": recipe, "train": train_info, "ess": chain.ess, "acceptance": chain.acceptance,
            "flow_steps": n_flow, "hmc": {"chains": n_chains, "traj": n_traj, "therm": n_therm,
                                          "acceptance": ref.acceptance, "leapfrog": ref.n_steps,
                                          "step_size": ref.step_size, "window_Q": tq_h.window},
            "tau": [{"sampler": "flow", **_tau_row("Q", tq_f, flow_cost)},
                    {"sampler": "HMC", **_tau_row("Q", tq_h, hmc_cost)}],
            "cpu_per_independent_ms": {"flow": 1e3 * per_f, "hmc": 1e3 * per_h},
            "break_even_samples": train_info["cpu_s"] / (per_h - per_f) if per_h > per_f else None,
            "plaquette": {"flow": [pf.value, pf.error], "hmc": [ph.value, ph.error],
                          "exact_inf": exact_plaquette(beta), "exact_V": exact_plaquette(beta, volume=L * L)},
            "Q2": {"flow": [qf.value, qf.error], "hmc": [qh.value, qh.error],
                   "exact": exact_charge_variance(beta, L * L)},
            "threads": torch.get_num_threads(), "machine": machine()}


def _fmt(v, e):
    return f"{v:.4f} ± {e:.4f}"


def _phi4_md(title, r):
    t = r["train"]
    tr = r["recipe"]["train"]
    ft = tr.get("finetune")
    stage2 = (f"; then fine-tuned with the {ft['gradient']} gradient, batch {ft['batch']}, peak lr {ft['lr']} "
              f"(cosine), for {ft['budget_s']:.0f} s of CPU time" if ft else "")
    how = (f"trained beforehand (1 torch thread, nice, on the shared machine), evaluated from `{t['weights']}`"
           if "weights" in t else f"{r['threads']} torch threads; 1-min load average {t['load_before']} → "
           f"{t['load_after']} on 2 cores")
    lines = [f"**{title}** — flow {r['recipe']['flow']}, batch schedule {tr['batch_sizes']}, "
             f"peak lr {tr['lr']} (cosine){stage2}; trained {t['steps']} steps in "
             f"**{t['wall_s']:.0f} s wall, {t['cpu_s']:.0f} s CPU** in all ({how}).",
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


INTRO = (
    "## Lattice field theory: normalizing flows vs HMC (`benchmarks/lattice.py`)\n\n"
    "CPU seconds are the robust measure on this shared machine. τ_int is in Markov steps (0.5 = independent; "
    "flow: one proposal per step; HMC: one trajectory), errors Madras–Sokal; cost = process CPU time per step, "
    "batched (flow proposals in batches of 4096, HMC chains in parallel), *including* HMC's step-size tuning and "
    "thermalisation; \"HMC / flow\" = how many times less CPU the flow needs per independent sample. Each "
    "`lattice/PART` block below is rewritten only by its own part; the notes between blocks are hand-written.\n\n"
    "Reproduce: `flock /work/heavy.lock .venv/bin/python benchmarks/lattice.py --part PART --threads N` for PART in "
    "phi4 (add `--save-weights` to refresh the shipped flow), phi4-critical, phi4-L16, u1 (`--L`, `--beta`, "
    "`--weights`, `--flow plaquette`); `--part report` re-renders the blocks of the parts whose JSON is in out/lattice/."
)

PHI4_TITLES = {"phi4": "φ⁴ L=8, M²=−4, λ=8 (Albergo et al.'s tutorial point)",
               "phi4-critical": "φ⁴ L=8, M²=−4, λ=5 (closer to criticality)",
               "phi4-L16": "φ⁴ L=16, M²=−4, λ=8"}


def _u1_md(r):
    t = r["train"]
    p = r["plaquette"]
    L, beta = r["recipe"]["L"], r["recipe"]["couplings"]["beta"]
    how = (f"trained beforehand (1 torch thread, nice, shared machine), evaluated from `{t['weights']}`"
           if "weights" in t else "trained in this run")
    kind = ("autoregressive plaquette flow" if r["recipe"]["flow"].get("kind") == "plaquette"
            else "gauge-equivariant flow")
    md = [f"**U(1) 2D, L={L}, β={beta}** — {kind} {r['recipe']['flow']}, "
          f"{r['recipe']['train'].get('gradient', 'total')} gradient, trained {t['steps']} steps in {t['wall_s']:.0f} s wall, "
          f"**{t['cpu_s']:.0f} s CPU** ({how}). Flow acceptance {r['acceptance']:.3f}, ESS/N {r['ess']:.3f} "
          f"({r['flow_steps']} steps); HMC {r['hmc']['chains']} chains x {r['hmc']['traj']} trajectories "
          f"({r['hmc']['leapfrog']} leapfrog steps, acceptance {r['hmc']['acceptance']:.3f}, hot start"
          + (f", {r['hmc']['therm']} thermalisation trajectories" if "therm" in r["hmc"] else "")
          + f"; τ_int(Q) summation window {r['hmc']['window_Q']} trajectories).", "",
          _tau_md(r["tau"]), ""]
    if "cpu_per_independent_ms" in r:
        c = r["cpu_per_independent_ms"]
        be = r.get("break_even_samples")
        md += [f"CPU per independent Q sample (2 τ_int x cost): flow {c['flow']:.3f} ms, HMC {c['hmc']:.3f} ms. "
               + (f"Counting the flow's training ({t['cpu_s']:.0f} CPU-s), the flow is cheaper in all only after "
                  f"{be:,.0f} independent samples." if be else
                  "The flow never repays its training here (it is not cheaper per independent sample)."), ""]
    rows = [["flow Metropolis", f"{p['flow'][0]:.5f} ± {p['flow'][1]:.5f}"],
            ["HMC (Q nearly frozen)", f"{p['hmc'][0]:.5f} ± {p['hmc'][1]:.5f}"],
            ["exact, infinite volume I₁(β)/I₀(β)", f"{p['exact_inf']:.5f}"],
            [f"exact, V={L * L} (character expansion)", f"{p['exact_V']:.5f}"]]
    md += [table(["⟨cos P⟩", "value"], rows), ""]
    q2 = r["Q2"]
    if isinstance(q2["flow"], list):
        md.append(f"⟨Q²⟩: flow {q2['flow'][0]:.3g} ± {q2['flow'][1]:.2g}, HMC {q2['hmc'][0]:.3g} ± {q2['hmc'][1]:.2g}, "
                  f"exact (V={L * L}, character expansion, all sectors) {q2['exact']:.3g}.")
    else:
        md.append(f"⟨Q²⟩: flow {q2['flow']:.3f}, HMC {q2['hmc']:.3f}.")
    return "\n".join(md)


def part_markdown(key: str, r: dict) -> str:
    """The markdown of one part's block (``key``: the JSON file's stem)."""
    if key in PHI4_TITLES:
        return f"Machine: {r.get('machine', machine())}.\n\n" + _phi4_md(PHI4_TITLES[key], r)
    if key.startswith("u1"):
        return f"Machine: {r.get('machine', machine())}.\n\n" + _u1_md(r)
    raise ValueError(f"no report for part {key!r}")


def write_report(keys=None):
    """Rewrite the ``lattice/KEY`` blocks of BENCHMARKS.md for the parts ``keys`` (default: every
    part with a JSON in out/lattice/); other blocks and hand-written notes are left alone."""
    paths = sorted(OUT.glob("*.json")) if keys is None else [OUT / f"{k}.json" for k in keys]
    for path in paths:
        update_block("lattice", f"lattice/{path.stem}", part_markdown(path.stem, json.loads(path.read_text())),
                     intro=INTRO)


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
    ap.add_argument("--beta", type=float, default=None, help="u1 part: the coupling (default: the recipe's)")
    ap.add_argument("--L", type=int, default=None, help="u1 part: the lattice extent (default: the recipe's)")
    ap.add_argument("--hmc-therm", type=int, default=None,
                    help="u1 part: HMC thermalisation trajectories (default 300; use several τ_int(Q) when Q freezes)")
    ap.add_argument("--flow", choices=["gauge", "plaquette"], default="gauge",
                    help="u1 part: gauge-equivariant couplings (U1_L4_RECIPE) or the autoregressive plaquette flow "
                         "(U1_PLAQUETTE_RECIPE)")
    ap.add_argument("--weights", type=Path, default=None,
                    help="evaluate this flow (saved by save_flow, trained earlier with its recorded CPU "
                         "budget) instead of training one; with --save-weights it becomes the shipped flow")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    progress = not args.no_progress
    OUT.mkdir(parents=True, exist_ok=True)
    if args.part == "report":
        write_report()
        return
    u1_recipe = U1_PLAQUETTE_RECIPE if args.flow == "plaquette" else U1_L4_RECIPE
    recipe = json.loads(json.dumps(u1_recipe if args.part == "u1" else PHI4_L8_RECIPE))
    if args.part == "phi4-critical":
        recipe["couplings"]["lam"] = 5.0
    if args.part == "phi4-L16":
        recipe["L"] = 16
    if args.steps:
        recipe["train"]["steps"] = args.steps
    sizes = dict(n_flow=1 << 17, n_chains=64, n_traj=4000)
    if args.quick:
        recipe["train"]["steps"], recipe["L"] = 20, 4
        if "finetune" in recipe["train"]:
            recipe["train"]["finetune"]["steps"] = 10
        if "n_layers" in recipe["flow"]:
            recipe["flow"]["n_layers"] = 2
        sizes = dict(n_flow=2048, n_chains=8, n_traj=50)
    if args.part == "u1" and not args.quick:
        sizes = dict(n_flow=1 << 17, n_chains=128, n_traj=10000)
    for key, value in (("n_flow", args.n_flow), ("n_chains", args.hmc_chains), ("n_traj", args.hmc_traj)):
        if value:
            sizes[key] = value
    if args.part == "u1":
        if args.beta is not None:
            recipe["couplings"]["beta"] = args.beta
        if args.L is not None:
            recipe["L"] = args.L
        if args.hmc_therm is not None:
            sizes["n_therm"] = args.hmc_therm
        result = u1_part(recipe, budget_s=args.budget, clock=args.clock, seed=0, progress=progress,
                         weights=args.weights, **sizes)
    else:
        save = ROOT / "qphys" / "lattice" / "data" / "phi4_L8.pt" if args.save_weights and args.part == "phi4" else None
        result = phi4_part(recipe, budget_s=args.budget, clock=args.clock, seed=0, progress=progress,
                           save_weights=save, weights=args.weights, **sizes)
        if save is not None and args.weights is not None:
            shutil.copyfile(args.weights, save)
    print(json.dumps(result, indent=1, default=str))
    if not args.quick:
        name = args.part
        if args.part == "u1":
            name = f"u1-L{recipe['L']}-beta{recipe['couplings']['beta']:g}"
            if recipe["flow"].get("kind") == "plaquette":
                name += "-plaquette"
        (OUT / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))
        write_report([name])


if __name__ == "__main__":
    main()
