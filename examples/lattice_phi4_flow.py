"""Flow-based sampling of 2D φ⁴ theory (Albergo, Kanwar & Shanahan), checked against HMC.

By default loads the shipped flow for L=8, M²=-4, λ=8 (trained with the recipe in
``qphys.lattice.pretrained``); ``--train`` trains it from scratch with that recipe instead
(at most ``--budget`` wall seconds, default 900; ``--steps`` to shorten); ``--quick`` trains a small flow on a 4x4 lattice in a few seconds.
Then runs flow-based independence Metropolis and HMC side by side and compares the magnetisation,
|M| and the two-point susceptibility. The last two lines are ``acceptance <value>`` and ``ess <value>``.

    python examples/lattice_phi4_flow.py [--quick] [--train [--steps N] [--budget 900] [--out flow.pt]] [--threads 1]
"""

from __future__ import annotations

import argparse

import torch

from qphys.lattice import (
    Phi4Action,
    effective_sample_size,
    flow_metropolis,
    hmc,
    integrated_autocorrelation_time,
    jackknife,
    magnetization,
    make_phi4_flow,
    mean_with_error,
    susceptibility,
    train_flow,
)
from qphys.lattice.pretrained import PHI4_L8_RECIPE, load_pretrained_phi4, save_flow, train_recipe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny lattice, a few seconds")
    ap.add_argument("--train", action="store_true", help="train the L=8 flow from scratch")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    ap.add_argument("--budget", type=float, default=900.0,
                    help="training budget in wall seconds (the recipe's 15 minutes; use --threads 2)")
    ap.add_argument("--out", default=None, help="save the trained flow here")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress

    if args.quick:
        L, action = 4, Phi4Action(-4.0, 8.0)
        flow = make_phi4_flow(L, n_layers=2, coupling="spline", hidden=(8,), bound=4.0)
        torch.manual_seed(0)
        hist = train_flow(flow, action, steps=80, batch_size=128, lr=5e-3, progress=False)
        print(f"trained a 2-layer spline flow on 4x4 for {hist.steps} steps ({hist.seconds:.1f} s)")
        n_flow, n_chains, n_traj = 4096, 8, 200
    else:
        if args.train:
            flow, hist = train_recipe(PHI4_L8_RECIPE, steps=args.steps, progress=progress, max_seconds=args.budget,
                                      clock="wall")
            print(f"trained {hist.steps} steps in {hist.seconds:.0f} s wall, {hist.cpu_seconds:.0f} s CPU")
            if args.out:
                save_flow(args.out, flow, PHI4_L8_RECIPE, hist)
                print(f"saved {args.out}")
        else:
            flow, recipe, history = load_pretrained_phi4()
            print(f"loaded the shipped flow ({recipe['flow']}), trained {history['step'][-1] + 1}+ steps "
                  f"in {history['seconds']:.0f} s")
        L, action = PHI4_L8_RECIPE["L"], Phi4Action(**PHI4_L8_RECIPE["couplings"])
        n_flow, n_chains, n_traj = 65536, 64, 1000

    with torch.no_grad():
        x, logq = flow.sample(4096, generator=torch.Generator().manual_seed(7))
        ess = effective_sample_size(-action(x) - logq)
    chain = flow_metropolis(flow, action, n_steps=n_flow, batch_size=4096, measure={"M": magnetization},
                            seed=1, progress=progress)
    ref = hmc(action, torch.zeros(n_chains, L, L, dtype=torch.float64), n_traj=n_traj, n_tune=100, n_therm=100,
              measure={"M": magnetization}, seed=2, progress=progress)
    V = L * L
    print(f"{'':22s} {'flow Metropolis':>20s} {'HMC':>20s}")
    for name, f in (("magnetization M", lambda m: m), ("|M|", torch.abs)):
        a, b = mean_with_error(f(chain.observables["M"])), mean_with_error(f(ref.observables["M"]))
        print(f"{name:22s} {str(a):>20s} {str(b):>20s}  agree(2σ)={a.agrees_with(b)}")
    chi_flow = jackknife(lambda m: susceptibility(m, V), [chain.observables["M"]], n_blocks=32)
    chi_hmc = jackknife(lambda m: susceptibility(m.reshape(-1), V), [ref.observables["M"]], n_blocks=20)
    print(f"{'susceptibility χ₂':22s} {str(chi_flow):>20s} {str(chi_hmc):>20s}  agree(2σ)={chi_flow.agrees_with(chi_hmc)}")
    tau_f = integrated_autocorrelation_time(chain.observables["M"])
    tau_h = integrated_autocorrelation_time(ref.observables["M"])
    print(f"τ_int(M): flow {tau_f} steps, HMC {tau_h} trajectories ({ref.n_steps} leapfrog steps each)")
    print(f"acceptance {chain.acceptance:.4f}")
    print(f"ess {ess:.4f}")


if __name__ == "__main__":
    main()
