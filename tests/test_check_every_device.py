"""``check_device`` on every registered device, cheaply: each one builds from its name, runs two
cheap checks of its op family through the plain-function path (no pytest machinery) and passes.

The full conformance suites run per device in ``tests/devices``, ``tests/photonic`` and
``tests/backends/*``; this catches a registered device that cannot be built with its defaults,
whose capabilities promise what it rejects, or that no suite covers. The ``ibm.fake_*`` family is
represented by one backend (every fake backend is the same class over another configuration file;
``tests/backends/qiskit/test_ibm.py`` checks each one's name and qubit count).
"""

from __future__ import annotations

import warnings

import pytest

import qphys
from qphys.errors import MissingDependencyError
from qphys.testing import DeviceSpec, check_device

#: Per op family, cheap checks (a few circuits each) that every device of the family can run.
CHEAP_CHECKS = {
    "qubit": ("test_basis_state_order", "test_expval_pauli_words"),
    "cv": ("test_displacement", "test_squeezing"),
    "linear_optics": ("test_hong_ou_mandel", "test_photon_numbers"),
}
IBM_REPRESENTATIVE = "ibm.fake_manila"
#: Noisy devices: the checks compare with ideal results, so their gate and readout errors (a few
#: percent; 13% on one basis-state probability of fake_manila) need a margin, as in
#: tests/backends/qiskit/test_conformance_qiskit.py.
NOISE_MARGIN = {"ibm.fake_": 0.15}


def _registered() -> list[str]:
    names = qphys.device_names()  # families expanded (loads the plugins: fine in a test)
    ibm = [n for n in names if n.startswith("ibm.fake_")]
    keep = [n for n in names if not n.startswith("ibm.fake_")]
    if ibm:
        keep.append(IBM_REPRESENTATIVE if IBM_REPRESENTATIVE in ibm else ibm[0])
    return sorted(keep)


def test_every_core_device_is_covered():
    assert {"torch.qubit", "torch.fock", "torch.gaussian"} <= set(_registered())


@pytest.mark.parametrize("name", _registered())
def test_check_device_passes_on_every_registered_device(name):
    with warnings.catch_warnings():  # some fake IBM backends warn about their calibration data
        warnings.simplefilter("ignore", UserWarning)
        try:
            dev = qphys.device(name)
        except MissingDependencyError as exc:  # e.g. pennylane.default.tensor without quimb
            pytest.skip(f"{name}: {exc}")
        select = tuple(c for fam in sorted(dev.capabilities.families) for c in CHEAP_CHECKS.get(fam, ()))
        assert select, f"{name} runs {sorted(dev.capabilities.families)} circuits: add cheap checks for them"
        margin = next((m for prefix, m in NOISE_MARGIN.items() if name.startswith(prefix)), None)
        target = name if margin is None else DeviceSpec(name, shots=dev.default_config.shots, atol=margin)
        report = check_device(target, select=select)
    assert report.ok, report.format()
    assert not report.failed and report.passed, report.format()
