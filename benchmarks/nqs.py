"""Neural quantum states: qphys.nqs side by side with NetKet 3.23, 2D Heisenberg, neural tomography.

1. Chains of N=20 spins, PBC (REFERENCES.md, Carleo & Troyer): TFIM h=1 and Heisenberg (Marshall
   sign rule, zero-magnetisation sector, nearest-neighbour exchange moves), real RBM α=1 and α=2,
   1008 samples per iteration, 300 iterations of SR + SGD at lr 0.05, in one process, one thread
   each. NetKet runs its tutorial settings (16 chains x 63 samples, 5 discarded per chain, SR with
   diag_shift 0.01); qphys runs its defaults (1008 chains x 1 sample, SR with a diagonal shift
   decaying 0.1 -> 0.001 and a natural-metric step limit) and, as a control, NetKet's SR settings
   (constant shift 0.01, no step limit). The relative error is the exact variational energy of
   the final state (enumeration of the 2^20 amplitudes, no Monte Carlo noise); ms/iteration is
   the wall time of the 300 iterations (after a 10-iteration warm-up that absorbs JAX's
   compilation).
2. The defaults over several seeds: Heisenberg (5 seeds) and TFIM (3 seeds) N=20, RBM α=1, 300
   iterations, qphys only, CPU time (``--parts seeds``).
3. 2D Heisenberg 6x6 PBC: translation-symmetric RBM, energy per site (S·S units) against the exact
   −0.678872, from a final 16128-sample estimate.
4. Tomography of 8-qubit GHZ and W states from 10^4 shots per basis (torch.qubit): positive RBM
   on the Z basis, amplitude+phase RBMs on Z + adjacent XX/XY bases; fidelity to the exact state;
   Pauli-word estimates against classical shadows from the same total number of shots; GHZ on
   ``ibm.fake_kolkata`` (noise model of the real device) with the fidelity to the noiseless state.

Run (the lock keeps the timings clean): ``flock /work/heavy.lock .venv/bin/python benchmarks/nqs.py``
(parts: ``--parts chains,seeds,square,tomography``; ``--quick`` runs a few-second smoke version and
only prints).
"""

from __future__ import annotations

import os

# one thread for JAX/XLA as for torch; must be set before jax is imported
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, update_section  # noqa: E402

import qphys  # noqa: E402
from qphys.nqs import (  # noqa: E402
    RBM,
    SR,
    VMC,
    AmplitudePhase,
    SymmetricRBM,
    chain,
    heisenberg,
    square,
    state_vector,
    transverse_field_ising,
)
from qphys.nqs.tomography import (  # noqa: E402
    Tomography,
    classical_shadow,
    exact_state,
    fidelity_to,
    measure,
    model_expectation,
    pauli_expectation,
    shadow_expectation,
)

EXACT = {("tfim", 20): -25.4909896864, ("heisenberg", 20): -35.6175461195}
SQUARE_EXACT_PER_SITE = -0.678872  # S·S units, 6x6 PBC (REFERENCES.md)
LR, SAMPLES, NETKET_SHIFT = 0.05, 1008, 0.01
FINAL_SAMPLES = 16 * SAMPLES  # the fresh Monte Carlo estimate after training (both libraries)
NOTES = {
    "chains": (
        "NetKet and qphys in one process, one thread each (XLA single-threaded). Real RBM, 1008 samples, "
        "SR + SGD lr 0.05, 300 iterations; TFIM h=1; Heisenberg with the Marshall sign rule in the "
        "zero-magnetisation sector (NetKet: total_sz=0, MetropolisExchange on the chain's bonds). NetKet: its "
        "tutorial settings (16 chains x 63 samples, 5 discarded, SR diag_shift 0.01, CG solver). qphys: SR(lr=0.05) "
        "with its defaults (1008 chains x 1 sample per iteration, one sweep between samples; diagonal shift "
        "0.1 -> 0.001, a natural-metric step limit, lr annealed 10x over the second half of the run, SPRING "
        "momentum 0.8; Cholesky solve); 'constant lr, no momentum' = the previous defaults "
        "(SR(lr_schedule=None, momentum=0)); 'NetKet's SR settings' = constant shift 0.01, no step limit, no "
        "annealing, no momentum. Relative error = exact variational energy of the final state (all 2^20 "
        "amplitudes, in the sampled sector); the next column is the fresh Monte Carlo estimate after training "
        "(16128 samples; qphys: blocking error, NetKet: its error_of_mean), signed, ± one standard error. "
        "ms/iteration = wall time of iterations 11-300 (NetKet: of driver.run; qphys: the sum of VMC.step's own "
        "wall times, History.seconds)."
    ),
    "seeds": (
        "qphys only, one torch thread: RBM α=1, 1008 samples, 300 iterations, SR(lr=0.05) with its defaults "
        "(lr annealed 10x over the second half, momentum 0.8); sampler seed = seed + 1; CPU time (process time)."
    ),
    "square": "one torch thread; energy per site from a final 16128-sample Monte Carlo estimate (blocking error).",
    "tomography": (
        "one torch thread. Positive RBM (α=2) fitted to the Z basis; amplitude+phase RBMs (α=2 each) fitted to "
        "Z + rotated bases (GHZ: X^8, YYX^6, XYX^6; W: XX and XY on each adjacent pair), Adam, exact likelihood, "
        "2000 steps. Classical shadows: uniformly random Pauli bases, as many shots as the NQS record in total. "
        "Pauli-word error = mean |estimate - exact| over nearest-neighbour ZZ and XX (and X^8, YYX^6 for GHZ)."
    ),
}


@functools.cache
def _hamiltonian(model: str, n: int):
    if model == "tfim":
        return transverse_field_ising(chain(n), h=1.0), None
    return heisenberg(chain(n), marshall_sign=True), 0


@functools.cache
def _sparse(model: str, n: int):
    return _hamiltonian(model, n)[0].to_sparse()


def _exact_variational_energy(rbm, model: str, n: int) -> float:
    psi = state_vector(rbm, magnetization=_hamiltonian(model, n)[1]).numpy()
    return float(np.real(np.vdot(psi, _sparse(model, n) @ psi)))


def run_qphys(
    model: str, n: int, alpha: int, iters: int, *, netket_sr: bool = False, plain: bool = False, seed: int = 0
) -> dict:
    h, _ = _hamiltonian(model, n)
    exact = EXACT.get((model, n)) or h.ground_state_energy()
    rbm = RBM(n, alpha=alpha, seed=seed)
    if netket_sr:
        sr = SR(lr=LR, diag_shift=NETKET_SHIFT, diag_shift_start=NETKET_SHIFT, max_step=None, lr_schedule=None,
                momentum=0.0)
    elif plain:
        sr = SR(lr=LR, lr_schedule=None, momentum=0.0)
    else:
        sr = SR(lr=LR)  # defaults: annealed over the second half of the run, momentum 0.8
    vmc = VMC(h, rbm, optimizer=sr, n_samples=SAMPLES, seed=seed + 1)
    impl = "qphys" + (" (NetKet's SR settings)" if netket_sr else " (constant lr, no momentum)" if plain else "")
    warm = min(10, iters)
    try:
        vmc.run(iters, progress=False)
    except FloatingPointError:  # a diverged run is a result too
        return {"impl": impl, "model": model, "n": n, "alpha": alpha, "iters": iters, "rel_error": float("nan"),
                "ms_per_iter": float("nan"), "diverged_at": vmc.step_count, "history": vmc.history.energy}
    per_iter = sum(vmc.history.seconds[warm:]) / max(iters - warm, 1)
    energy = _exact_variational_energy(rbm, model, n)
    mc = vmc.energy(FINAL_SAMPLES)
    return {
        "impl": impl, "model": model, "n": n, "alpha": alpha, "iters": iters,
        "rel_error": abs((energy - exact) / exact), "ms_per_iter": 1e3 * per_iter,
        "energy": energy, "mc_energy": mc.mean, "mc_error": mc.error,
        "mc_rel_error": (mc.mean - exact) / abs(exact), "mc_rel_sigma": mc.error / abs(exact),
        "history": vmc.history.energy,
    }


def run_netket(model: str, n: int, alpha: int, iters: int, *, seed: int = 0) -> dict:
    import netket as nk

    g = nk.graph.Chain(n, pbc=True)
    if model == "tfim":
        hi = nk.hilbert.Spin(0.5, N=n)
        h = nk.operator.Ising(hi, g, h=1.0)
        sampler = nk.sampler.MetropolisLocal(hi)
    else:
        hi = nk.hilbert.Spin(0.5, N=n, total_sz=0)
        h = nk.operator.Heisenberg(hi, g, sign_rule=True)
        sampler = nk.sampler.MetropolisExchange(hi, graph=g)
    exact = EXACT.get((model, n)) or _hamiltonian(model, n)[0].ground_state_energy()
    vs = nk.vqs.MCState(sampler, nk.models.RBM(alpha=alpha, param_dtype=float), n_samples=SAMPLES, seed=seed,
                        sampler_seed=seed + 1)
    driver = nk.VMC(h, nk.optimizer.Sgd(learning_rate=LR), variational_state=vs,
                    preconditioner=nk.optimizer.SR(diag_shift=NETKET_SHIFT))
    log = nk.logging.RuntimeLog()
    warm = min(10, iters)
    driver.run(n_iter=warm, out=log, show_progress=False)
    t0 = time.perf_counter()
    driver.run(n_iter=iters - warm, out=log, show_progress=False)
    per_iter = (time.perf_counter() - t0) / max(iters - warm, 1)
    psi = np.asarray(vs.to_array())
    energy = float(np.real(np.vdot(psi, h.to_sparse() @ psi)))
    vs.n_samples = FINAL_SAMPLES
    mc = vs.expect(h)
    mc_mean, mc_err = float(np.real(mc.mean)), float(mc.error_of_mean)
    return {
        "impl": f"NetKet {nk.__version__}", "model": model, "n": n, "alpha": alpha, "iters": iters,
        "rel_error": abs((energy - exact) / exact), "ms_per_iter": 1e3 * per_iter, "energy": energy,
        "mc_energy": mc_mean, "mc_error": mc_err, "mc_rel_error": (mc_mean - exact) / abs(exact),
        "mc_rel_sigma": mc_err / abs(exact),
        "sampler": f"{sampler.n_chains} chains, {vs.n_discard_per_chain} discarded",
        "history": [float(np.real(e)) for e in log.data["Energy"]["Mean"]],
    }


def chains_part(quick: bool) -> tuple[list[dict], str]:
    n, iters = (8, 30) if quick else (20, 300)
    cases = [("tfim", 1), ("heisenberg", 1)] if quick else [("tfim", 1), ("tfim", 2), ("heisenberg", 1), ("heisenberg", 2)]
    rows = []
    for model, alpha in cases:
        runners = (run_netket, run_qphys, lambda *a: run_qphys(*a, plain=True), lambda *a: run_qphys(*a, netket_sr=True))
        for runner in runners:
            res = runner(model, n, alpha, iters)
            rows.append(res)
            outcome = (f"diverged at iteration {res['diverged_at']}" if "diverged_at" in res else
                       f"rel. error {res['rel_error']:.2e}  {res['ms_per_iter']:.1f} ms/iteration")
            print(f"   {model} N={n} α={alpha} {res['impl']:<32} {outcome}", flush=True)
    md_rows = []
    for r in rows:
        ok = ""
        if r["impl"] == "qphys" and not quick:
            target = {"tfim": 1e-4, "heisenberg": 2e-4}[r["model"]]
            nk_row = next(x for x in rows if x["impl"].startswith("NetKet") and x["model"] == r["model"]
                          and x["alpha"] == r["alpha"])
            ok = f"{'yes' if r['rel_error'] <= target else 'NO'} (≤ {target:.0e})"
            ok += f"; {nk_row['ms_per_iter'] / r['ms_per_iter']:.2f}x NetKet's speed"
        if "diverged_at" in r:
            md_rows.append([r["model"], r["alpha"], r["impl"], f"diverged (non-finite energies at iteration "
                            f"{r['diverged_at']})", "-", "-", "-"])
            continue
        mc = f"{r['mc_rel_error']:+.1e} ± {r['mc_rel_sigma']:.1e}"
        md_rows.append([r["model"], r["alpha"], r["impl"], f"{r['rel_error']:.2e}", mc, f"{r['ms_per_iter']:.1f}", ok or "-"])
    md = table(["model", "α", "implementation", "relative error (exact, final state)",
                f"fresh MC estimate ({FINAL_SAMPLES} samples): (E_MC - E_0) / -E_0", "ms / iteration", "acceptance"], md_rows)
    return rows, md


def seeds_part(quick: bool) -> tuple[list[dict], str]:
    """Robustness of the defaults: TFIM and Heisenberg N=20, RBM α=1, 300 iterations, several seeds."""
    n, iters = (8, 40) if quick else (20, 300)
    cases = [("heisenberg", 0)] if quick else [("heisenberg", s) for s in range(5)] + [("tfim", s) for s in range(3)]
    rows = []
    for model, seed in cases:
        h, _ = _hamiltonian(model, n)
        exact = EXACT.get((model, n)) or h.ground_state_energy()
        rbm = RBM(n, alpha=1, seed=seed)
        vmc = VMC(h, rbm, optimizer=SR(lr=LR), n_samples=SAMPLES, seed=seed + 1)
        cpu = time.process_time()
        vmc.run(iters, progress=False)
        cpu = time.process_time() - cpu
        energy = _exact_variational_energy(rbm, model, n)
        rows.append({"model": model, "seed": seed, "iters": iters, "rel_error": abs((energy - exact) / exact),
                     "cpu_ms_per_iter": 1e3 * cpu / iters})
        print(f"   {model} N={n} α=1 seed {seed}, {iters} iterations, defaults: rel. error {rows[-1]['rel_error']:.2e}, "
              f"{rows[-1]['cpu_ms_per_iter']:.1f} CPU ms/iteration", flush=True)
    target = {"tfim": 1e-4, "heisenberg": 2e-4}
    md = table(
        ["model", "seed", "iterations", "relative error (exact, final state)", "CPU ms / iteration", "target"],
        [[r["model"], r["seed"], r["iters"], f"{r['rel_error']:.2e}", f"{r['cpu_ms_per_iter']:.1f}",
          f"{'yes' if r['rel_error'] <= target[r['model']] else 'NO'} (≤ {target[r['model']]:.0e})"] for r in rows],
    )
    return rows, md


def square_part(quick: bool, iters: int | None = None) -> tuple[dict, str]:
    side, alpha, default_iters = (4, 1, 30) if quick else (6, 4, 1000)
    iters = iters or default_iters
    lat = square(side)
    h = heisenberg(lat, marshall_sign=True)
    model = SymmetricRBM(lat, alpha=alpha, seed=0)
    vmc = VMC(h, model, optimizer=SR(lr=LR), n_samples=SAMPLES, seed=1)  # defaults: annealed, momentum 0.8
    t0, c0 = time.perf_counter(), time.process_time()
    vmc.run(iters, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    final = vmc.energy(16 * SAMPLES)
    per_site = final.mean / (4 * lat.n_sites)  # S·S units
    err = final.error / (4 * lat.n_sites)
    res = {"side": side, "alpha": alpha, "iters": iters, "energy_per_site": per_site, "error": err,
           "seconds": seconds, "cpu_seconds": cpu, "ms_per_iter": 1e3 * seconds / iters}
    if side == 6:
        res["rel_error"] = abs((per_site - SQUARE_EXACT_PER_SITE) / SQUARE_EXACT_PER_SITE)
    print(f"   Heisenberg {side}x{side}: E/site {per_site:.6f} ± {err:.1e}"
          + (f", relative error {res['rel_error']:.2e}" if "rel_error" in res else "")
          + f", {res['ms_per_iter']:.0f} ms/iteration ({seconds:.0f} s wall, {cpu:.0f} s CPU)", flush=True)
    md = table(
        ["lattice", "ansatz", "iterations", "E / site (S·S)", "exact", "relative error", "time"],
        [[f"{side}x{side} PBC", f"SymmetricRBM α={alpha}, {sum(p.numel() for p in model.parameters())} params, "
          f"SR defaults (lr 0.05 annealed to 0.005 over the second half, momentum 0.8)",
          iters, f"{per_site:.6f} ± {err:.1e}", f"{SQUARE_EXACT_PER_SITE}",
          f"{res.get('rel_error', float('nan')):.2e}", f"{res['ms_per_iter']:.0f} ms/it, {seconds:.0f} s wall, {cpu:.0f} s CPU"]],
    )
    return res, md


def _ghz(n: int) -> qphys.Circuit:
    c = qphys.Circuit(wires=n).h(0)
    for i in range(n - 1):
        c.cx(i, i + 1)
    return c


def _w(n: int) -> qphys.Circuit:
    v = np.zeros(2**n)
    v[[1 << (n - 1 - i) for i in range(n)]] = 1 / math.sqrt(n)
    return qphys.Circuit(wires=n).state_prep(torch.tensor(v))


def _pair_bases(n: int) -> list[str]:
    out = []
    for i in range(n - 1):
        for a, b in ("XX", "XY"):
            s = ["Z"] * n
            s[i], s[i + 1] = a, b
            out.append("".join(s))
    return out


def _words(n: int, state: str) -> list[str]:
    words = []
    for i in range(n - 1):
        for p in ("ZZ", "XX"):
            w = ["I"] * n
            w[i], w[i + 1] = p
            words.append("".join(w))
    if state == "ghz":
        words += ["X" * n, "Y" * 2 + "X" * (n - 2)]
    return words


def tomography_part(quick: bool) -> tuple[list[dict], str]:
    n, shots, steps = (4, 2000, 300) if quick else (8, 10_000, 2000)
    rows = []
    cases = [("ghz", _ghz(n), "torch.qubit"), ("w", _w(n), "torch.qubit")]
    if not quick:
        cases.append(("ghz", _ghz(n), "ibm.fake_kolkata"))
    for name, circuit, device in cases:
        target = exact_state(circuit)
        for kind in ("positive RBM", "amplitude+phase"):
            bases = ["Z" * n] if kind == "positive RBM" else ["Z" * n] + _pair_bases(n)
            if name == "ghz" and kind != "positive RBM":
                bases = ["Z" * n, "X" * n, "Y" * 2 + "X" * (n - 2), "XY" + "X" * (n - 2)]
            if device != "torch.qubit" and kind != "positive RBM":
                continue
            t0 = time.perf_counter()
            record = measure(circuit, bases, shots=shots, device=device, seed=0)
            measured = time.perf_counter() - t0
            model = RBM(n, alpha=2, seed=0) if kind == "positive RBM" else AmplitudePhase(
                RBM(n, alpha=2, seed=0), RBM(n, alpha=2, seed=1))
            t0 = time.perf_counter()
            Tomography(model, record, lr=0.05 if kind == "positive RBM" else 0.02).fit(steps, progress=False)
            fitted = time.perf_counter() - t0
            fid = fidelity_to(model, circuit)
            total = shots * len(bases)
            shadow = classical_shadow(circuit, total, device=device, seed=1)
            words = _words(n, name)
            exact_vals = [pauli_expectation(target, w) for w in words]
            nqs_err = float(np.mean([abs(model_expectation(model, w) - e) for w, e in zip(words, exact_vals)]))
            sh = [shadow_expectation(shadow, w)[0] for w in words]
            sh_err = float(np.mean([abs(s - e) for s, e in zip(sh, exact_vals)]))
            hist = record.histograms()[0]
            support = target.abs().pow(2).numpy() > 1e-12
            in_support = float(hist[torch.from_numpy(support)].sum() / hist.sum())
            row = {"state": name, "device": device, "model": kind, "bases": len(bases), "shots_per_basis": shots,
                   "fidelity": fid, "nqs_obs_error": nqs_err, "shadow_obs_error": sh_err, "words": len(words),
                   "z_in_support": in_support, "fit_s": fitted, "measure_s": measured}
            rows.append(row)
            print(f"   {name.upper()} n={n} on {device}, {kind}, {len(bases)} bases x {shots} shots: fidelity {fid:.4f}; "
                  f"mean |error| over {len(words)} Pauli words: NQS {nqs_err:.3f}, shadows {sh_err:.3f} "
                  f"({total} shots); Z-basis weight on the ideal support {in_support:.3f}", flush=True)
    md = table(
        ["state", "device", "model", "bases x shots", "fidelity", "Pauli-word error: NQS", "classical shadows (same shots)",
         "Z-basis weight on ideal support", "fit time"],
        [[r["state"].upper(), r["device"], r["model"], f"{r['bases']} x {r['shots_per_basis']}", f"{r['fidelity']:.4f}",
          f"{r['nqs_obs_error']:.4f}", f"{r['shadow_obs_error']:.4f}", f"{r['z_in_support']:.3f}", f"{r['fit_s']:.0f} s"]
         for r in rows],
    )
    return rows, md


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small systems, print only")
    ap.add_argument("--parts", default="chains,seeds,square,tomography")
    ap.add_argument("--square-iters", type=int, default=None, help="iterations of the 6x6 run (default 1000)")
    ap.add_argument("--json", type=Path, default=None, help="write raw results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    parts = args.parts.split(",")
    results, sections = {}, {}
    if "chains" in parts:
        print("== 1D chains: qphys.nqs vs NetKet ==", flush=True)
        results["chains"], md = chains_part(args.quick)
        sections["chains"] = ("1D chains N=20 PBC, side by side with NetKet", md)
    if "seeds" in parts:
        print("== 1D chains, RBM α=1, defaults over several seeds ==", flush=True)
        results["seeds"], md = seeds_part(args.quick)
        sections["seeds"] = ("1D chains N=20, RBM α=1, qphys defaults over several seeds", md)
    if "square" in parts:
        print("== 2D Heisenberg ==", flush=True)
        results["square"], md = square_part(args.quick, args.square_iters)
        sections["square"] = ("2D Heisenberg 6x6 PBC (Marshall sign, zero magnetisation)", md)
    if "tomography" in parts:
        print("== neural tomography ==", flush=True)
        results["tomography"], md = tomography_part(args.quick)
        sections["tomography"] = ("neural tomography, 8 qubits, 10^4 shots per basis", md)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    if not args.quick:
        for part, (title, md) in sections.items():
            update_section(
                f"nqs_{part}",
                f"## Neural quantum states: {title} — `benchmarks/nqs.py`\n\n"
                f"Machine: {machine()}; {NOTES[part]}\n\n{md}\n\n"
                f"Reproduce: `flock /work/heavy.lock .venv/bin/python benchmarks/nqs.py --parts {part}`",
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
