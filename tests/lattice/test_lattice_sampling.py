"""Exactness of the samplers on a 2x2 φ⁴ lattice: χ² of magnetisation histograms against enumeration.

The 4-site distribution e^{-S} is integrated on a grid (41⁴ points, bin edges halfway between the
values the grid's magnetisation takes). Flow-based independence Metropolis with a deliberately poor flow, HMC
and local Metropolis must all reproduce it; the raw (uncorrected) flow samples must not.
"""

import numpy as np
import pytest
import torch
from scipy import stats

from qphys.lattice import (
    Phi4Action,
    flow_hmc,
    flow_metropolis,
    hmc,
    integrated_autocorrelation_time,
    local_metropolis_sweep,
    magnetization,
    make_phi4_flow,
    metropolis_indices,
)

S = Phi4Action(-4.0, 8.0)
H = 0.125
GRID = np.arange(-20, 21) * H  # φ per site; e^{-S} < e^{-300} beyond
_HALF = np.array([2.5, 5.5, 8.5, 12.5]) * H / 4  # M takes values k H/4
EDGES = np.concatenate([[-np.inf], -_HALF[::-1], _HALF, [np.inf]])


@pytest.fixture(scope="module")
def exact_bins():
    g = torch.tensor(GRID, dtype=torch.float64)
    phi = torch.stack(torch.meshgrid(g, g, g, g, indexing="ij"), -1).reshape(-1, 2, 2)
    s = S(phi)
    p = np.histogram(magnetization(phi).numpy(), bins=EDGES, weights=torch.exp(s.min() - s).numpy())[0]
    return p / p.sum()


def _chi2_pvalue(m, p_exact):
    """χ² p-value of a correlated series m against bin probabilities, counts deflated by 2 τ_int."""
    m = np.asarray(m, dtype=float)
    tau = max(integrated_autocorrelation_time(torch.as_tensor(m)).tau, 0.5)
    counts = np.histogram(m, bins=EDGES)[0]
    n = counts.sum()
    chi2 = float(((counts - n * p_exact) ** 2 / (n * p_exact)).sum()) / (2 * tau)
    return stats.chi2.sf(chi2, len(p_exact) - 1)


@pytest.fixture(scope="module")
def poor_flow():
    flow = make_phi4_flow(2, n_layers=2, hidden=(4,)).double()
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
    return flow


def test_flow_metropolis_is_exact(exact_bins, poor_flow):
    p_exact = exact_bins
    r = flow_metropolis(poor_flow, S, n_steps=40000, batch_size=4000, measure={"M": magnetization}, seed=0)
    assert 0.05 < r.acceptance < 0.95  # the flow is neither perfect nor useless
    assert _chi2_pvalue(r.observables["M"], p_exact) > 1e-3


def test_raw_flow_samples_fail_the_same_check(exact_bins, poor_flow):
    p_exact = exact_bins
    with torch.no_grad():
        x, _ = poor_flow.sample(40000, generator=torch.Generator().manual_seed(1))
    assert _chi2_pvalue(magnetization(x), p_exact) < 1e-6


def test_hmc_and_local_metropolis_are_exact(exact_bins):
    p_exact = exact_bins
    r = hmc(S, torch.zeros(64, 2, 2, dtype=torch.float64), n_traj=600, n_tune=50, n_therm=50,
            measure={"M": magnetization}, seed=0)
    assert _chi2_pvalue(r.observables["M"].T.reshape(-1), p_exact) > 1e-3
    g = torch.Generator().manual_seed(2)
    x, ms = torch.zeros(64, 2, 2, dtype=torch.float64), []
    for i in range(700):
        x, _ = local_metropolis_sweep(S, x, g, width=0.8)
        if i >= 100:
            ms.append(magnetization(x))
    assert _chi2_pvalue(torch.stack(ms).T.reshape(-1), p_exact) > 1e-3


def test_flow_hmc_mixture_is_exact(exact_bins, poor_flow):
    p_exact = exact_bins
    r = flow_hmc(poor_flow, S, torch.zeros(100, 2, 2, dtype=torch.float64), n_steps=200, hmc_per_flow=1,
                 step_size=0.2, n_leapfrog=3, measure={"M": magnetization}, seed=3)
    assert _chi2_pvalue(r.observables["M"][20:].T.reshape(-1), p_exact) > 1e-3
    assert 0 < r.acceptance < 1


def test_metropolis_indices_accepts_by_weight_ratio():
    rng = np.random.default_rng(0)
    lw = np.log(np.array([1.0, 0.25] * 20000))
    idx, acc = metropolis_indices(lw, rng.random(len(lw)))
    # from a weight-1 state a weight-0.25 proposal is accepted 1/4 of the time; back up always
    assert acc[1::2].mean() == pytest.approx(0.25, abs=0.01)
    assert acc[2::2][~acc[1:-1:2]].all()
    with pytest.raises(Exception, match="n_steps and batch_size must be >= 1"):
        flow_metropolis(None, S, n_steps=0)
