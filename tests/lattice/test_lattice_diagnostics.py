"""ESS, autocorrelation times, error bars and the jackknife on series with known answers."""

import math

import pytest
import torch

from qphys.errors import ParameterError
from qphys.lattice import (
    Estimate,
    autocorrelation,
    effective_sample_size,
    integrated_autocorrelation_time,
    jackknife,
    mean_with_error,
)


def _ar1(n, chains, a, seed):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, chains, generator=g, dtype=torch.float64)
    x = torch.zeros(n, chains, dtype=torch.float64)
    x[0] = noise[0] / math.sqrt(1 - a * a)
    for i in range(1, n):
        x[i] = a * x[i - 1] + noise[i]
    return x


@pytest.mark.parametrize("a", [0.0, 0.5, 0.8])
def test_tau_int_of_ar1_chains(a):
    x = _ar1(4000, 8, a, seed=int(10 * a))
    tau = integrated_autocorrelation_time(x)
    exact = 0.5 + a / (1 - a)
    assert abs(tau.tau - exact) < 4 * tau.error + 0.02, (tau, exact)
    rho = autocorrelation(x, 3)
    torch.testing.assert_close(rho, torch.tensor([a**k for k in range(4)], dtype=torch.float64), atol=0.03, rtol=0)


def test_error_of_correlated_mean_is_calibrated():
    # 200 independent AR(1) chains: the spread of their means matches the estimated error
    a = 0.7
    x = _ar1(2000, 200, a, seed=3)
    errors = torch.tensor([mean_with_error(x[:, c]).error for c in range(200)])
    spread = x.mean(0).std()
    assert float(errors.mean()) == pytest.approx(float(spread), rel=0.15)
    naive = x[:, 0].std() / math.sqrt(2000)
    assert float(errors.mean()) > 2 * float(naive)  # ignoring autocorrelation would understate it


def test_ess_of_known_weights():
    w = torch.tensor([1.0, 1.0, 2.0, 4.0], dtype=torch.float64)
    assert effective_sample_size(torch.log(w)) == pytest.approx(8.0**2 / (4 * 22.0))
    assert effective_sample_size(torch.log(w) + 100.0) == pytest.approx(8.0**2 / (4 * 22.0))


def test_jackknife_of_variance_and_estimate_comparison():
    x = torch.randn(5000, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2
    est = jackknife(lambda v: (v * v).mean() - v.mean() ** 2, [x], n_blocks=25)
    assert est.agrees_with(4.0, sigmas=3)
    assert est.error == pytest.approx(4.0 * math.sqrt(2 / 5000), rel=0.4)
    assert Estimate(1.0, 0.1).agrees_with(Estimate(1.25, 0.1))
    assert not Estimate(1.0, 0.1).agrees_with(Estimate(1.4, 0.1))


def test_diagnostics_argument_errors():
    with pytest.raises(ParameterError, match=r"shape \(n,\) or \(n, chains\) with n >= 4"):
        integrated_autocorrelation_time(torch.zeros(3))
    with pytest.raises(ParameterError, match="got no weights"):
        effective_sample_size(torch.zeros(0))
    with pytest.raises(ParameterError, match="n_blocks must be in"):
        jackknife(lambda v: v.mean(), [torch.zeros(10)], n_blocks=1)
    with pytest.raises(ParameterError, match="same length"):
        jackknife(lambda a, b: a.mean(), [torch.zeros(10), torch.zeros(9)])
