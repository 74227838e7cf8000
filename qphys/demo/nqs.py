"""Demo section: neural quantum states — VMC ground states and neural tomography.

1. Carleo & Troyer: an RBM trained by variational Monte Carlo with stochastic reconfiguration
   (qphys's defaults) on the transverse-field Ising chain, against the exact Lanczos energy.
2. Torlai et al.: a 6-qubit GHZ state measured on ``torch.qubit`` (shots) and reconstructed by a
   positive RBM; the fidelity and Pauli-word estimates beside classical shadows of the same shots.
"""

from __future__ import annotations

from qphys.demo import DemoContext, Section


def run(ctx: DemoContext) -> dict:
    import qphys
    from qphys.nqs import RBM, VMC, chain, transverse_field_ising, variational_energy
    from qphys.nqs.plots import energy_convergence
    from qphys.nqs.tomography import (
        Tomography,
        classical_shadow,
        fidelity_to,
        measure,
        model_expectation,
        shadow_expectation,
    )

    n, iters = (10, 80) if ctx.quick else (16, 250)
    h = transverse_field_ising(chain(n), h=1.0)
    exact = h.ground_state_energy()
    model = RBM(n, alpha=1, seed=ctx.seed)
    vmc = VMC(h, model, n_samples=1008, seed=ctx.seed + 1)
    history = vmc.run(iters, progress=ctx.progress)
    rel = abs(variational_energy(model, h) / exact - 1)
    ms = 1e3 * sum(history.seconds) / len(history.seconds)
    print(f"   TFIM chain N={n}, h=1: RBM α=1, {iters} SR iterations ({ms:.0f} ms each): "
          f"relative energy error {rel:.1e} (exact {exact:.6f})")
    fig = energy_convergence(history, exact=exact, title=f"VMC, TFIM N={n}, RBM α=1")
    path = ctx.out_dir / "nqs_vmc_tfim.png"
    fig.savefig(path, dpi=120)

    q = 6
    ghz = qphys.Circuit(wires=q).h(0)
    for i in range(q - 1):
        ghz.cx(i, i + 1)
    shots = 2000 if ctx.quick else 10_000
    record = measure(ghz, ["Z" * q], shots=shots, seed=ctx.seed)
    rbm = RBM(q, alpha=2, seed=ctx.seed)
    Tomography(rbm, record, lr=0.05).fit(300 if ctx.quick else 1000, progress=ctx.progress)
    fid = fidelity_to(rbm, ghz)
    shadow = classical_shadow(ghz, shots, seed=ctx.seed + 1)
    zz = "ZZ" + "I" * (q - 2)
    sh, err = shadow_expectation(shadow, zz)
    print(f"   {q}-qubit GHZ from {shots} Z-basis shots: NQS fidelity {fid:.4f}; <Z0 Z1> NQS "
          f"{model_expectation(rbm, zz):.3f}, classical shadows {sh:.3f} ± {err:.3f} (exact 1)")
    print(f"   plot: {path}")
    return {"vmc_relative_error": rel, "vmc_ms_per_iteration": ms, "ghz_fidelity": fid}


SECTION = Section(70, "nqs", "Neural quantum states: VMC ground state and neural tomography", run, threads=1)
