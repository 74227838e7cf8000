"""The shipped linear-optics conformance suite on the Perceval plugin's local devices and the
offline Quandela fake (remote protocol, samples only)."""

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
