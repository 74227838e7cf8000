"""One meaning of ``shots=N`` on every qubit device: N samples per qubit-wise commuting
measurement setting (:mod:`qphys.measurements`).

For ``H = Z0 + Z0 Z1 + 0.5 X1`` the terms ``Z0`` and ``Z0 Z1`` share one setting, so their
estimates are correlated; the variance of the estimate of ``<H>`` is
``(Var(Z0 + Z0 Z1) + 0.25 Var(X1)) / N``, about 1.8 times the per-term-sampling value
``(Var(Z0) + Var(Z0 Z1) + 0.25 Var(X1)) / N`` on this state. The test draws 400 independent
estimates per device (4 seeds x 100 batch rows, every row sampled independently) and checks, at
99.9% confidence each: every device's sample variance against the predicted one (chi-square),
and every pair of devices against each other (F-test).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

import qphys
from qphys import X, Z
from qphys.measurements import plan

DEVICES = ("torch.qubit", "aer.statevector", "pennylane.default.qubit")
A, B = 1.2, 0.5  # ry angles of wires 0 and 1 (a product state)
SHOTS, ROWS, SEEDS = 200, 100, (0, 1, 2, 3)
ALPHA = 1e-3
H = Z(0) + Z(0) @ Z(1) + 0.5 * X(1)


def _circuit():
    return qphys.Circuit(wires=2).ry(torch.full((ROWS,), A, dtype=torch.float64), 0).ry(B, 1).expval(H)


def _predicted():
    """Exact mean and the variance of one estimate, grouped and per term."""
    ca, cb, sb = math.cos(A), math.cos(B), math.sin(B)
    mean = ca + ca * cb + 0.5 * sb
    var_group_z = 2 * (1 + cb) - (ca * (1 + cb)) ** 2  # Z0 (1 + Z1): values 0 or ±2
    var_x = 0.25 * (1 - sb**2)
    grouped = (var_group_z + var_x) / SHOTS
    per_term = ((1 - ca**2) + (1 - (ca * cb) ** 2) + var_x) / SHOTS
    return mean, grouped, per_term


def _estimates(name):
    out = []
    for seed in SEEDS:
        dev = qphys.device(name, shots=SHOTS, seed=seed)
        out.append(qphys.execute(_circuit(), dev).expvals[:, 0].double().numpy())
    return np.concatenate(out)


@pytest.fixture(scope="module")
def estimates():
    return {name: _estimates(name) for name in DEVICES}


def test_the_grouping_puts_the_z_terms_in_one_setting():
    sp = plan(_circuit())
    assert [s.bases for s in sp.settings] == [{0: "Z", 1: "Z"}, {1: "X"}]
    mean, grouped, per_term = _predicted()
    assert grouped / per_term > 1.5, "the test must be able to tell the two semantics apart"


def test_variance_across_seeds_is_the_per_setting_variance_on_every_device(estimates):
    mean, grouped, _ = _predicted()
    n = len(next(iter(estimates.values())))
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], n - 1) / (n - 1)
    for name, est in estimates.items():
        ratio = est.var(ddof=1) / grouped
        assert lo < ratio < hi, f"{name}: sample variance / predicted = {ratio:.3f}, 99.9% band ({lo:.3f}, {hi:.3f})"
        z = (est.mean() - mean) / math.sqrt(grouped / n)
        assert abs(z) < stats.norm.ppf(1 - ALPHA / 2), f"{name}: mean off by {z:.2f} standard errors"


def test_devices_agree_pairwise_by_f_test(estimates):
    for a, b in itertools.combinations(DEVICES, 2):
        va, vb = estimates[a].var(ddof=1), estimates[b].var(ddof=1)
        na, nb = len(estimates[a]), len(estimates[b])
        f = va / vb
        lo, hi = stats.f.ppf([ALPHA / 2, 1 - ALPHA / 2], na - 1, nb - 1)
        assert lo < f < hi, f"{a} vs {b}: variance ratio {f:.3f} outside the 99.9% band ({lo:.3f}, {hi:.3f})"
