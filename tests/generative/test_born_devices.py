"""Born machines on qphys-qiskit devices (skipped only where the plugin is not installed)."""

import importlib.metadata
import warnings

import numpy as np
import pytest
import torch

import qphys
from qphys.generative import BornMachine, ChowLiuAnsatz, bars_and_stripes_distribution, kl_divergence


def plugin_installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed. Only its absence skips: an installed plugin that is
    broken (fails to import or to build a device) makes the tests below fail, not skip."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(not plugin_installed("qphys-qiskit"), reason="qphys-qiskit is not installed")


def test_probs_agree_with_aer_statevector():
    target = bars_and_stripes_distribution(2, 2)
    ans = ChowLiuAnsatz.from_data(2, target, 4)
    w = torch.tensor(np.random.default_rng(2).uniform(0, 2 * np.pi, ans.num_params(4)))
    p_torch = BornMachine(ans, 4, device=qphys.device("torch.qubit", dtype="complex128"), weights=w).probs()
    p_aer = BornMachine(ans, 4, device="aer.statevector", weights=w).probs()
    assert float((p_torch - p_aer).detach().abs().max()) < 1e-8


def _train_and_check(dev, jobs):
    target = bars_and_stripes_distribution(2, 2)
    ans = ChowLiuAnsatz.from_data(1, target, 4)
    bm = BornMachine(ans, 4, device=dev, seed=5)
    exact = qphys.device("torch.qubit", dtype="complex128")
    def model_kl():  # evaluated on an exact simulator, outside the fake device's job count
        p = BornMachine(ans, 4, device=exact, weights=bm.weights.detach()).probs().detach()
        return float(kl_divergence(target, p))

    kl0 = model_kl()
    hist = bm.fit_sampled(target, steps=20, shots=500, lr=0.1, seed=0)
    assert jobs(dev) == 20  # one job per step: base + 2P shifted circuits together
    assert dev.job_stats()["circuits"] == 20 * (1 + 2 * bm.num_params)
    assert model_kl() < kl0 - 0.1
    assert len(hist.loss) == 20


def test_shot_based_training_on_aer_one_job_per_step():
    dev = qphys.device("aer.statevector", shots=500, seed=0)
    _train_and_check(dev, lambda d: d.job_stats()["submitted"])


@pytest.mark.slow
def test_shot_based_training_on_ibm_fake_one_job_per_step():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = qphys.device("ibm.fake_manila", shots=500, seed=0, ledger=False)
    _train_and_check(dev, lambda d: d.jobs_submitted)
