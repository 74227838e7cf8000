"""Demo section: flow-based sampling of 2D φ⁴ (L=8, M²=−4, λ=8) against HMC.

Loads the shipped flow (``qphys/lattice/data/phi4_L8.pt``, trained with
``qphys.lattice.pretrained.PHI4_L8_RECIPE``), runs flow-based independence Metropolis and HMC side by
side, and plots the training loss, the training ESS/N and the two magnetisation histograms.
"""

from __future__ import annotations

import torch

from qphys.demo import DemoContext, Section


def run(ctx: DemoContext) -> dict:
    from qphys.lattice import (
        Phi4Action,
        effective_sample_size,
        flow_metropolis,
        hmc,
        jackknife,
        magnetization,
        mean_with_error,
        susceptibility,
    )
    from qphys.lattice.pretrained import load_pretrained_phi4
    from qphys.plots import figure

    flow, recipe, history = load_pretrained_phi4()
    L = recipe["L"]
    action = Phi4Action(**recipe["couplings"])
    with torch.no_grad():
        x, logq = flow.sample(4096, generator=torch.Generator().manual_seed(ctx.seed))
        ess = effective_sample_size(-action(x) - logq)
    n_flow = 16384 if ctx.quick else 65536
    chain = flow_metropolis(flow, action, n_steps=n_flow, batch_size=4096, measure={"M": magnetization},
                            seed=ctx.seed, progress=ctx.progress)
    ref = hmc(action, torch.zeros(32 if ctx.quick else 64, L, L, dtype=torch.float64),
              n_traj=300 if ctx.quick else 1000, n_tune=100, n_therm=50, measure={"M": magnetization},
              seed=ctx.seed + 1, progress=ctx.progress)
    m_flow, m_hmc = chain.observables["M"], ref.observables["M"]
    absm_flow, absm_hmc = mean_with_error(m_flow.abs()), mean_with_error(m_hmc.abs())
    chi_flow = jackknife(lambda m: susceptibility(m, L * L), [m_flow], n_blocks=32)
    chi_hmc = jackknife(lambda m: susceptibility(m.reshape(-1), L * L), [m_hmc], n_blocks=20)
    print(f"   φ⁴ L={L}, M²={recipe['couplings']['m2']}, λ={recipe['couplings']['lam']}: shipped flow "
          f"ESS/N {ess:.3f}, Metropolis acceptance {chain.acceptance:.3f}")
    print(f"   ⟨|M|⟩ flow {absm_flow}  HMC {absm_hmc};  χ₂ flow {chi_flow}  HMC {chi_hmc}")

    fig = figure(figsize=(10, 3))
    ax_loss, ax_ess, ax_hist = fig.subplots(1, 3)
    if history is not None:
        ax_loss.plot(history["step"], history["loss"], lw=0.8)
        ax_loss.set(xlabel="training step", ylabel="loss  E[log q + S]", title="reverse-KL training")
        # the first steps' loss is orders of magnitude above the rest: zoom on the last 95 % of training
        tail = sorted(history["loss"][len(history["loss"]) // 20:])
        if tail:
            low, high = tail[0], tail[int(0.99 * (len(tail) - 1))]
            pad = 0.1 * (high - low) + 1e-9
            ax_loss.set_ylim(low - pad, high + 4 * pad)
        ax_ess.plot(history["step"], history["ess"], lw=0.8)
        ax_ess.set(xlabel="training step", ylabel="ESS/N (training batch)", ylim=(0, 1), title="effective sample size")
    bins = torch.linspace(-0.6, 0.6, 41)
    ax_hist.hist(m_hmc.reshape(-1).numpy(), bins=bins.numpy(), density=True, alpha=0.5, label="HMC")
    ax_hist.hist(m_flow.numpy(), bins=bins.numpy(), density=True, histtype="step", lw=1.5, label="flow Metropolis")
    ax_hist.set(xlabel="magnetization M", ylabel="density", title="flow vs HMC")
    ax_hist.legend(fontsize=8)
    fig.tight_layout()
    path = ctx.out_dir / "lattice_phi4_flow.png"
    fig.savefig(path, dpi=120)
    print(f"   plot: {path}")
    return {"ess": ess, "acceptance": chain.acceptance, "abs_m_flow": absm_flow.value,
            "abs_m_hmc": absm_hmc.value, "chi2_flow": chi_flow.value, "chi2_hmc": chi_hmc.value}


SECTION = Section(80, "lattice", "Normalizing flows for lattice φ⁴ (vs HMC)", run, threads=1)
