"""The shipped linear-optics conformance suite on the Perceval plugin's local devices and the
offline Quandela fake (remote protocol, samples only)."""

import re

import pytest

from qphys.testing import DeviceSpec
from qphys.testing.conformance_linear_optics import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("perceval.slos", atol=1e-10),
    DeviceSpec("perceval.naive", atol=1e-10),
    DeviceSpec("perceval.clifford", shots=4000, atol=0.0),
    DeviceSpec("quandela.fake:ascella", options={"poll_interval": 0, "ledger": False}, shots=4000, atol=0.0),
    DeviceSpec("quandela.fake:belenos", options={"poll_interval": 0, "ledger": False}, shots=4000, atol=0.0),
]


@pytest.fixture(autouse=True)
def _fake_cloud_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("QPHYS_HOME", str(tmp_path_factory.getbasetemp() / "qphys_home"))


@pytest.mark.parametrize("argv, summary", [
    (["perceval.slos"], r"perceval\.slos \(exact\): (\d+) passed, 0 failed"),
    (["quandela.fake:ascella", "--shots", "4000", "--options", '{"poll_interval": 0}'],
     r"quandela\.fake:ascella \(shots=4000\): (\d+) passed, 0 failed"),
])
def test_check_device_command_passes(argv, summary, capsys):
    from qphys import cli

    assert cli.main(["check-device", *argv]) == 0
    found = re.search(summary, capsys.readouterr().out)
    assert found and int(found.group(1)) >= 9, "the linear-optics checks ran"
