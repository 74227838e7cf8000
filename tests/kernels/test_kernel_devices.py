"""Gram matrices across devices: torch.qubit, aer.statevector (qphys-qiskit) and an IBM fake
backend with its noise model. Skipped only where the qphys-qiskit plugin is not installed."""

import importlib.metadata
import warnings

import numpy as np
import pytest
import torch

import qphys
from qphys.kernels import QSVC, QuantumKernel
from qphys.kernels.datasets import ad_hoc_data
from qphys.templates import zz_feature_map


def plugin_installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed. Only its absence skips: an installed plugin that is
    broken (fails to import or to build a device) makes the tests below fail, not skip."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not plugin_installed("qphys-qiskit"), reason="qphys-qiskit (aer.*, ibm.fake_*) is not installed"
)


def fm(c, x):
    return zz_feature_map(c, x, reps=2, entanglement="linear")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(7).random((6, 2)) * 2 * np.pi


@pytest.fixture(scope="module")
def exact(X):
    return QuantumKernel(fm, qphys.device("torch.qubit", dtype="complex128")).matrix(X)


def test_aer_statevector_and_compute_uncompute_agree_to_1e8(X, exact):
    aer = qphys.device("aer.statevector")
    k = QuantumKernel(fm, aer)
    K = k.matrix(X)
    assert k.last_stats["method"] == "statevector"
    assert float((K - exact).abs().max()) < 1e-8
    kc = QuantumKernel(fm, aer, method="compute-uncompute")
    assert float((kc.matrix(X) - exact).abs().max()) < 1e-8
    Y = X[:2] + 0.3
    ref = QuantumKernel(fm, qphys.device("torch.qubit", dtype="complex128")).matrix(X, Y)
    assert float((kc.matrix(X, Y) - ref).abs().max()) < 1e-8


def test_aer_shots_within_shot_noise(X, exact):
    shots = 4000
    aer = qphys.device("aer.statevector", shots=shots, seed=11)
    K = QuantumKernel(fm, aer).matrix(X)
    sigma = torch.sqrt(exact * (1 - exact) / shots) + 1 / shots
    assert bool(((K - exact).abs() <= 5 * sigma).all())


def test_ibm_fake_one_job_upper_triangle_and_noise_budget(X, exact):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = qphys.device("ibm.fake_manila", shots=4000, seed=3, ledger=False)
    k = QuantumKernel(fm, dev, postprocess=("clip", "psd"))
    K = k.matrix(X)
    assert dev.jobs_submitted == 1
    assert dev.job_stats()["circuits"] == 15  # strict upper triangle of 6 x 6
    # shot noise (5 sigma) plus the fake backend's gate/readout noise: fidelities are pulled
    # toward 1/4 by a few percent, so agreement is within shot noise + a 0.1 noise budget
    sigma = torch.sqrt(exact * (1 - exact) / 4000) + 1 / 4000
    assert bool(((K - exact).abs() <= 5 * sigma + 0.1).all())
    assert float(torch.linalg.eigvalsh(K).min()) >= -1e-10


def test_qsvc_on_ibm_fake_classifies_ad_hoc_data():
    xtr, ytr, xte, yte = ad_hoc_data(10, 5, 2, 0.3, seed=12345)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = qphys.device("ibm.fake_manila", shots=2000, seed=5, ledger=False)
    model = QSVC(QuantumKernel(fm, dev, postprocess=("clip", "psd"))).fit(xtr, ytr)
    assert dev.jobs_submitted == 1  # the whole training Gram matrix in one job
    assert model.score(xte, yte) >= 0.8
    assert dev.jobs_submitted == 2  # the test-versus-train matrix in one more
