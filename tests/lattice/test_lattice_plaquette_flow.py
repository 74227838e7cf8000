"""The autoregressive plaquette flow for 2D U(1): log-det against autograd, normalisation by
quadrature, gauge and holonomy invariance, the links it builds, and exactness of its Metropolis chain."""

import math

import pytest
import torch
from scipy import stats
from torch import nn

from qphys.errors import ParameterError
from qphys.lattice import (
    PlaquetteFlow,
    U1Action,
    exact_charge_variance,
    exact_plaquette,
    flow_hmc,
    flow_metropolis,
    gauge_transform,
    mean_with_error,
    plaquette_mean,
    plaquettes,
    topological_charge,
    train_flow,
    wrap,
)


def _random_flow(L, *, seed=0, std=0.5, **kw):
    flow = PlaquetteFlow(L, dtype=torch.float64, **kw)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return flow


def _uniform(*shape, seed=1):
    return (2 * torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) - 1) * math.pi


def test_logdet_matches_autograd_jacobian():
    flow = _random_flow(3, hidden=(6, 6), bins=5)
    u = _uniform(4, 8)
    angles, ladj = flow.plaquettes_from_uniform(u)
    assert not torch.allclose(angles, u)  # the flow does something
    for i in range(4):
        jac = torch.autograd.functional.jacobian(lambda v: flow.plaquettes_from_uniform(v[None])[0][0], u[i])
        assert torch.allclose(jac.triu(1), torch.zeros_like(jac))  # autoregressive: lower triangular
        torch.testing.assert_close(ladj[i], torch.linalg.slogdet(jac)[1])


def test_density_integrates_to_one_on_a_2x2_lattice():
    # 3 free plaquettes on a periodic 48³ grid (the trapezoid rule converges algebraically here: the
    # splines are only C¹, so the tolerance is 5e-3, while a missing Jacobian factor would be off by far
    # more); this uses log_prob (the inverse pass), independently of the forward log-det
    flow = _random_flow(2, hidden=(8,), std=0.2, seed=3)
    n = 48
    g = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n) - math.pi
    free = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    zeros = torch.zeros(free.shape[0], 2, dtype=torch.float64)
    theta = flow.links_from_plaquettes(free, zeros, torch.zeros(free.shape[0], 2, 2, dtype=torch.float64))
    with torch.no_grad():
        log_q = flow.log_prob(theta)
    # log q is a density on the 2V = 8 link angles; on the 3 free plaquettes it is (2π)^{V+1} = (2π)^5 larger
    mass = (torch.exp(log_q + 5 * math.log(2 * math.pi)) * (2 * math.pi / n) ** 3).sum()
    assert abs(float(mass) - 1) < 5e-3
    assert float(log_q.std()) > 0.5  # not the uniform density


def test_links_have_the_requested_plaquettes_and_charge():
    flow = _random_flow(4, hidden=(8,))
    free, _ = flow.plaquettes_from_uniform(_uniform(6, 15))
    theta = flow.links_from_plaquettes(free, _uniform(6, 2, seed=2), _uniform(6, 4, 4, seed=3))
    p = wrap(plaquettes(theta)).flatten(1)
    torch.testing.assert_close(wrap(p[:, :15] - free), torch.zeros_like(free), atol=1e-12, rtol=0)
    total = free.sum(1) + p[:, 15]
    torch.testing.assert_close(topological_charge(theta), torch.round(total / (2 * math.pi)))
    torch.testing.assert_close(wrap(total), torch.zeros_like(total), atol=1e-12, rtol=0)


def test_log_prob_inverts_sample_and_is_gauge_and_holonomy_invariant():
    flow = _random_flow(4, hidden=(8, 8))
    theta, log_q = flow.sample(5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(theta), log_q)
    torch.testing.assert_close(flow.log_prob(gauge_transform(theta, _uniform(5, 4, 4))), log_q)
    shifted = theta.clone()
    shifted[:, 1] += 0.7  # a constant shift of all links of one direction: plaquettes unchanged
    torch.testing.assert_close(flow.log_prob(shifted), log_q)


def test_fresh_flow_samples_the_haar_measure():
    flow = PlaquetteFlow(4, hidden=(8,))
    with torch.no_grad():
        theta, log_q = flow.sample(4000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(log_q, torch.full_like(log_q, -32 * math.log(2 * math.pi)))
    for values in (theta[:, 0, 1, 2], theta[:, 1, 3, 0], wrap(plaquettes(theta))[:, 3, 3]):
        assert stats.kstest(values.numpy(), "uniform", args=(-math.pi, 2 * math.pi)).pvalue > 1e-3


def test_argument_errors():
    with pytest.raises(ParameterError, match="L must be >= 2, got 1"):
        PlaquetteFlow(1)
    with pytest.raises(ParameterError, match="bins must be >= 2, got 1"):
        PlaquetteFlow(4, bins=1)
    flow = PlaquetteFlow(4, hidden=(4,))
    with pytest.raises(ParameterError, match="links of a 6x6 lattice, but the flow is for L=4"):
        flow.log_prob(torch.zeros(2, 2, 6, 6))
    with pytest.raises(ParameterError, match=r"shape \(batch, 2, L, L\)"):
        flow.log_prob(torch.zeros(2, 4, 4))


@pytest.mark.slow
def test_trained_flow_metropolis_reproduces_exact_plaquette_and_charge_variance():
    beta, L = 3.0, 4  # HMC's Q still moves here; ⟨Q²⟩ ≈ 0.1, so the charge sectors are all tested
    S = U1Action(beta)
    torch.manual_seed(0)
    flow = PlaquetteFlow(L, hidden=(16,))
    hist = train_flow(flow, S, steps=60, batch_size=256, lr=1e-2, seed=0, progress=False)
    assert hist.ess[-1] > hist.ess[0]
    r = flow_metropolis(flow, S, n_steps=32768, batch_size=4096,
                        measure={"P": plaquette_mean, "Q2": lambda t: topological_charge(t) ** 2}, seed=1)
    assert 0.1 < r.acceptance < 0.98  # an imperfect flow: the Metropolis step must make it exact
    p, q2 = mean_with_error(r.observables["P"]), mean_with_error(r.observables["Q2"])
    assert p.agrees_with(exact_plaquette(beta, volume=L * L), sigmas=3.5), (p, exact_plaquette(beta, L * L))
    assert q2.agrees_with(exact_charge_variance(beta, L * L), sigmas=3.5), (q2, exact_charge_variance(beta, L * L))


def test_raw_samples_of_a_poor_flow_are_biased_and_metropolis_removes_the_bias():
    beta, L = 3.0, 2
    S = U1Action(beta)
    flow = _random_flow(L, hidden=(8,), std=0.3, seed=5)
    exact = exact_plaquette(beta, volume=L * L)
    with torch.no_grad():
        raw = mean_with_error(plaquette_mean(flow.sample(40000, generator=torch.Generator().manual_seed(2))[0]))
    assert not raw.agrees_with(exact, sigmas=6), raw
    r = flow_metropolis(flow, S, n_steps=40000, batch_size=4000, measure={"P": plaquette_mean}, seed=3)
    assert 0.02 < r.acceptance < 0.95
    est = mean_with_error(r.observables["P"])
    assert est.agrees_with(exact, sigmas=3.5), (est, exact)


def test_module_is_a_torch_module_with_its_parameters():
    flow = PlaquetteFlow(3, hidden=(4,))
    assert isinstance(flow, nn.Module)
    assert flow.dtype == torch.float32 and flow.shape == (2, 3, 3)
    assert sum(p.numel() for p in flow.parameters()) > 0


def test_recipes_build_either_u1_flow_kind():
    from qphys.lattice.pretrained import U1_L4_RECIPE, U1_PLAQUETTE_RECIPE, make_flow

    assert isinstance(make_flow(U1_PLAQUETTE_RECIPE), PlaquetteFlow)
    assert not isinstance(make_flow(U1_L4_RECIPE), PlaquetteFlow)
    bad = {**U1_PLAQUETTE_RECIPE, "flow": {"kind": "autoregressive"}}
    with pytest.raises(ParameterError, match="unknown U\\(1\\) flow kind 'autoregressive'"):
        make_flow(bad)


def test_flow_hmc_mixture_with_the_plaquette_flow_is_exact():
    # HMC moves links off the flow's gauge; the flow move recomputes log q of the current links (gauge invariant)
    beta, L = 2.0, 2
    flow = _random_flow(L, hidden=(8,), std=0.3, seed=7)
    x0 = _uniform(64, 2, L, L, seed=4)
    r = flow_hmc(flow, U1Action(beta), x0, n_steps=300, hmc_per_flow=1, step_size=0.2, n_leapfrog=4,
                 measure={"P": plaquette_mean}, seed=5)
    assert 0 < r.acceptance < 1
    est = mean_with_error(r.observables["P"][30:].T.reshape(-1))
    assert est.agrees_with(exact_plaquette(beta, volume=L * L), sigmas=3.5), (est, exact_plaquette(beta, L * L))
