"""ibm.* devices: the fake-backend family through local testing mode, and credentials for real ones."""

import warnings

import numpy as np
import pytest
import torch
from qphys_qiskit.ibm import IBMFamily, fake_backend_classes

import qphys
from qphys.errors import CredentialsError, DeviceNotFoundError, DeviceOptionError
from qphys.nn import QuantumLayer
from qphys.templates import angle_embedding, hardware_efficient


def test_every_fake_backend_is_a_device_name():
    names = IBMFamily.available_names()
    assert len(names) == len(fake_backend_classes()) >= 60
    assert {"ibm.fake_manila", "ibm.fake_brisbane", "ibm.fake_torino"} <= set(names)
    assert set(names) <= set(qphys.device_names())
    caps = IBMFamily.capabilities_for("ibm.fake_brisbane")
    assert caps.max_wires == 127 and not caps.exact and caps.shots


def test_metadata_catalog_names_the_same_fake_backends():
    """`qphys devices` lists ibm.* from qiskit-ibm-runtime's file list; it must agree with the classes."""
    from qphys_qiskit.catalog import ibm_device_names

    assert ibm_device_names() == IBMFamily.available_names()
    assert {r["name"] for r in qphys.devices.device_listing() if r.get("family") == "ibm.*"} == set(ibm_device_names())


def test_listing_capabilities_builds_no_fake_backend(monkeypatch):
    """`qphys devices` needs every fake backend's qubit count, not its Target (0.13 s and a warning each)."""
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    built = []
    original = FakeBackendV2.__init__
    monkeypatch.setattr(FakeBackendV2, "__init__", lambda self, *a, **k: built.append(self) or original(self, *a, **k))
    rows = {r["name"]: r for r in qphys.devices() if r["name"].startswith("ibm.")}
    assert built == []
    assert rows["ibm.fake_manila"]["capabilities"].max_wires == 5
    assert rows["ibm.fake_brisbane"]["capabilities"].max_wires == 127
    # the configuration file agrees with the built backend (checked on a few; building all takes ~10 s)
    for name in ("fake_manila", "fake_torino", "fake_nighthawk"):
        with warnings.catch_warnings():  # fake_nighthawk warns that its error values are not typical
            warnings.simplefilter("ignore", UserWarning)
            backend = fake_backend_classes()[name]()
        assert IBMFamily.capabilities_for(f"ibm.{name}").max_wires == backend.num_qubits


def test_unknown_fake_and_unknown_option():
    with pytest.raises(DeviceNotFoundError, match="no fake IBM backend 'fake_nowhere'"):
        qphys.device("ibm.fake_nowhere")
    with pytest.raises(DeviceOptionError, match="unknown option.*precision"):
        qphys.device("ibm.fake_manila", precision=0.1)


def test_real_backend_without_credentials_raises(monkeypatch, tmp_path):
    import qiskit_ibm_runtime.accounts.management as management

    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(tmp_path / "none.json"))
    with pytest.raises(CredentialsError, match="set QISKIT_IBM_TOKEN .*save_account"):
        qphys.device("ibm.ibm_brisbane")


def test_fake_device_noisy_results_and_one_job_per_primitive(tmp_path):
    dev = qphys.device("ibm.fake_manila", shots=2000, seed=5, ledger=tmp_path / "l.sqlite")
    x = torch.tensor([0.0, np.pi], dtype=torch.float64)
    c = qphys.Circuit(wires=2).ry(x, 0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1)).expval(qphys.Z(1)).counts()
    r = qphys.execute(c, dev)
    assert dev.jobs_submitted == 2  # one EstimatorV2 job and one SamplerV2 job
    # noisy device: close to the ideal values, but readout and gate errors are visible
    assert torch.allclose(r.values[0], torch.tensor([1.0, 1.0], dtype=torch.float64), atol=0.25)
    assert torch.allclose(r.values[1], torch.tensor([1.0, -1.0], dtype=torch.float64), atol=0.25)
    assert r.counts[0].get("00", 0) > 1500 and r.counts[1].get("11", 0) > 1500
    again = qphys.execute(c, dev)  # identical job: served from the ledger
    assert dev.jobs_submitted == 2 and dev.job_stats()["reused"] == 2
    assert torch.equal(again.values[0], r.values[0])


def test_fake_device_gradient_of_batch_is_one_job():
    dev = qphys.device("ibm.fake_manila", shots=256, seed=2, ledger=False)

    def circuit(x, w):
        return hardware_efficient(angle_embedding(qphys.Circuit(wires=2), x), w).expval(qphys.Z(0))

    torch.manual_seed(0)
    layer = QuantumLayer(circuit, {"w": (1, 2, 2)}, device=dev, diff_method="parameter-shift")
    layer(torch.rand(16, 2)).sum().backward()
    assert dev.jobs_submitted == 2  # forward + the whole backward pass (8 shifted circuits x 16 rows)
    assert dev.job_stats()["circuits"] == 16 + 8 * 16
    assert layer.w.grad is not None and torch.isfinite(layer.w.grad).all()
