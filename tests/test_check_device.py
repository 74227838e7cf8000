"""``qphys.testing.check_device``: the conformance suite as a plain function returning a Report."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

import qphys
from qphys.devices.torch_qubit import TorchQubitDevice
from qphys.errors import ConfigError, DeviceNotFoundError, DeviceOptionError
from qphys.testing import CheckResult, Report, check_device


class SignFlippedQubitDevice(TorchQubitDevice):
    """A broken device: every expectation value comes back with the wrong sign."""

    def execute(self, circuits, config):
        return [
            dataclasses.replace(r, values=tuple(-v if m.kind == "expval" else v for m, v in zip(r.measurements, r.values)))
            for r in super().execute(circuits, config)
        ]


def test_report_covers_the_same_checks_as_the_pytest_suite():
    report = check_device("torch.qubit")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "--pyargs",
         "qphys.testing.conformance_qubit", "--qphys-device", "torch.qubit"],
        capture_output=True, text=True, timeout=300,
    )
    collected = {
        ln.split("::", 1)[1].replace("[torch.qubit-", "[").replace("[torch.qubit]", "")
        for ln in proc.stdout.splitlines() if "::test_" in ln  # not the module's doctest
    }
    assert len(collected) >= 40, proc.stdout[-2000:] + proc.stderr[-2000:]
    names = {c.name.split("::", 1)[1] for c in report.checks if c.name.startswith("conformance_qubit::")}
    assert names == collected
    assert report.ok and not report.failed, report.format()
    assert report.device == "torch.qubit" and report.shots is None
    # the photonic half does not apply: one skip that says why
    (cv,) = [c for c in report.checks if c.name.startswith("conformance_cv")]
    assert cv.outcome == "skipped" and "runs ['qubit'] circuits, not photonic (cv) ones" in cv.reason


def test_a_broken_device_fails_with_the_assertion_message():
    report = check_device(SignFlippedQubitDevice(), select="test_expval")
    assert not report.ok
    failed = {c.name: c.reason for c in report.failed}
    assert "conformance_qubit::test_expval_pauli_words" in failed
    assert "(expval Z(0)): max deviation" in failed["conformance_qubit::test_expval_pauli_words"]
    text = report.format()
    assert text.splitlines()[-1] == report.summary()
    assert "FAILED   conformance_qubit::test_expval_pauli_words" in text


def test_device_instance_with_shots_uses_statistical_tolerances():
    dev = qphys.device("torch.qubit", shots=20000, seed=3)
    report = check_device(dev, select="test_expval_pauli_words")
    assert report.shots == 20000
    assert [(c.name, c.outcome) for c in report.checks] == [("conformance_qubit::test_expval_pauli_words", "passed")]


def test_skips_name_the_missing_capability():
    report = check_device("torch.gaussian", families=("cv",))
    skipped = {c.name: c.reason for c in report.skipped}
    assert skipped["conformance_cv::test_kerr"] == "torch.gaussian lacks operation(s) kerr"
    assert report.ok


def test_errors_before_any_check_runs():
    with pytest.raises(DeviceNotFoundError, match="no device named 'torch.qbit'"):
        check_device("torch.qbit")
    with pytest.raises(DeviceOptionError, match="unknown option"):
        check_device("torch.qubit", options={"precision": 1})
    with pytest.raises(ConfigError, match="unknown op family photonic; the suite covers cv, linear_optics, qubit"):
        check_device("torch.qubit", families=("photonic",))
    with pytest.raises(ConfigError, match="options were given with a device instance"):
        check_device(qphys.device("torch.qubit"), options={"dtype": "complex128"})


def test_report_properties():
    checks = (CheckResult("a", "passed"), CheckResult("b", "skipped", "no kerr"), CheckResult("c", "failed", "x\ny"))
    report = Report("dev", 100, checks, 1.25)
    assert [c.name for c in report.passed] == ["a"] and not report.ok
    assert report.summary() == "dev (shots=100): 1 passed, 1 failed, 1 skipped in 1.2 s"
    assert report.format(verbose=True).splitlines()[:4] == [
        "PASSED   a", "SKIPPED  b: no kerr", "FAILED   c: x", "         y"
    ]
    assert not Report("dev", None, (CheckResult("b", "skipped", "r"),)).ok  # nothing passed


def test_pytest_fixture_wraps_check_device(qphys_check_device):
    report = qphys_check_device("torch.gaussian", select="test_displacement")
    assert report.ok
    with pytest.raises(pytest.fail.Exception, match="device conformance failed:\n(.|\n)*FAILED   conformance_qubit"):
        qphys_check_device(SignFlippedQubitDevice(), select="test_expval_pauli")


def test_gradient_checks_run_on_float64_parameters():
    """A check that needs gradients passes through the same runner (not only value checks)."""
    report = check_device(qphys.device("torch.qubit", dtype="complex128"), select="test_gradient")
    assert report.ok, report.format()
    assert any("parameter_shift" in c.name for c in report.passed)
    assert torch.get_default_dtype() == torch.float32  # the checks leave global torch state alone
