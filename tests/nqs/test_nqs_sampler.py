"""Samplers against the exact |ψ|² (χ² tests) and the Monte Carlo diagnostics."""

import numpy as np
import pytest
import torch
from scipy import stats as sps

from qphys.errors import ConfigError, ParameterError
from qphys.nqs import (
    RBM,
    Autoregressive,
    DirectSampler,
    ExactSampler,
    MetropolisSampler,
    SymmetricRBM,
    chain,
    integrated_autocorrelation_time,
    split_rhat,
    state_vector,
    statistics,
)
from qphys.nqs.operator import spins_to_index


def _chi2_pvalue(samples: torch.Tensor, probs: np.ndarray) -> float:
    counts = np.bincount(spins_to_index(samples).numpy(), minlength=probs.size)
    support = probs > 0
    assert counts[~support].sum() == 0, "sampled a configuration of zero probability"
    expected = probs[support] * counts.sum()
    return float(sps.chisquare(counts[support], expected).pvalue)


def _probs(model) -> np.ndarray:
    return state_vector(model).abs().pow(2).numpy()


@pytest.mark.parametrize("complex_", [False, True])
def test_metropolis_local_moves_sample_psi_squared(complex_):
    model = RBM(5, alpha=2, complex=complex_, init_std=0.4, seed=3)
    # one sample per chain: independent samples, as the χ² test assumes
    sampler = MetropolisSampler(5, seed=0, burn_in=40)
    samples = sampler.sample(model, 10000)
    assert samples.sigma.shape == (10000, 1, 5)
    assert 0.05 < samples.acceptance < 1.0
    assert _chi2_pvalue(samples.flat, _probs(model)) > 1e-3


def test_metropolis_exchange_moves_sample_the_zero_magnetisation_sector():
    model = SymmetricRBM(chain(6), alpha=2, init_std=0.5, seed=1)
    sampler = MetropolisSampler(6, moves="exchange", bonds=chain(6).edges, seed=2, burn_in=40)
    samples = sampler.sample(model, 16000)
    assert float(samples.flat.sum(-1).abs().max()) == 0.0
    p = _probs(model)
    sigma = torch.from_numpy(np.array([[1 - 2 * ((i >> (5 - k)) & 1) for k in range(6)] for i in range(64)]))
    p = np.where(sigma.sum(-1).numpy() == 0, p, 0.0)
    assert _chi2_pvalue(samples.flat, p / p.sum()) > 1e-3


def test_chains_persist_between_calls():
    model = RBM(4, seed=0)
    sampler = MetropolisSampler(4, n_chains=8, seed=0)
    sampler.sample(model, 8)
    first = sampler.chains.clone()
    sampler.sample(model, 16)
    assert sampler.chains.shape == first.shape
    sampler.reset()
    assert sampler.chains is None


def test_direct_sampler_is_exact_for_autoregressive_models():
    model = Autoregressive(5, hidden=8, seed=2)
    samples = DirectSampler(seed=0).sample(model, 20000)
    assert _chi2_pvalue(samples.flat, _probs(model)) > 1e-3


def test_exact_sampler():
    model = RBM(4, init_std=0.5, seed=4)
    samples = ExactSampler(seed=1).sample(model, 20000)
    assert _chi2_pvalue(samples.flat, _probs(model)) > 1e-3


def test_sampler_errors():
    with pytest.raises(ConfigError, match="'local' or 'exchange'"):
        MetropolisSampler(4, moves="cluster")
    with pytest.raises(ConfigError, match="multiple of n_chains"):
        MetropolisSampler(4, n_chains=3).sample(RBM(4), 10)
    with pytest.raises(ConfigError, match="magnetization 1 is impossible"):
        MetropolisSampler(4, moves="exchange", magnetization=1)
    with pytest.raises(ParameterError, match="sampler has 4 sites"):
        MetropolisSampler(4).sample(RBM(5), 4)
    with pytest.raises(ConfigError, match="Autoregressive"):
        DirectSampler().sample(RBM(3), 4)


def _ar1(rho: float, chains: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, length))
    x[:, 0] = rng.normal(size=chains) / np.sqrt(1 - rho**2)
    for t in range(1, length):
        x[:, t] = rho * x[:, t - 1] + rng.normal(size=chains)
    return x


def test_diagnostics_on_an_ar1_process():
    rho = 0.8
    x = _ar1(rho, 8, 20000, seed=0)
    tau = (1 + rho) / (1 - rho)  # = 9
    assert integrated_autocorrelation_time(x) == pytest.approx(tau, rel=0.15)
    s = statistics(x)
    true_error = np.sqrt(tau / (1 - rho**2) / x.size)  # var = 1/(1-ρ²)
    assert s.error == pytest.approx(true_error, rel=0.3)
    assert s.rhat == pytest.approx(1.0, abs=0.02)
    shifted = x + np.arange(8)[:, None]  # chains that disagree
    assert split_rhat(shifted) > 1.5
    assert np.isnan(statistics(np.ones((5, 1))).rhat)
