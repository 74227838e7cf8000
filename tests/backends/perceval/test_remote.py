"""Remote Perceval devices through Perceval's remote runtime, offline: the FakeQuandelaCloud
replays Quandela Cloud's side of the protocol under Perceval's real communication layer, with
injected faults (HTTP 5xx, refused connections, connections lost after a request, failed jobs)
and kill-and-resume across processes: no job is paid twice, none is lost."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import requests
import torch

import qphys
from qphys.errors import (
    CredentialsError,
    DeviceOptionError,
    DifferentiationError,
    JobError,
    ParameterError,
    UnsupportedOperationError,
    WireError,
)
from qphys.jobs import Ledger, RetryPolicy
from qphys.jobs.cli import resume

qp = pytest.importorskip("qphys_perceval")
from qphys_perceval.fake_cloud import FakeQuandelaCloud, Faults  # noqa: E402
from qphys_perceval.transport import SubmissionOutcomeUnknown, classify, http_status  # noqa: E402

NO_WAIT = RetryPolicy(base_delay=0.0, jitter=0.0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("QPHYS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def device(cloud, tmp_path, **options):
    options = {"ledger": tmp_path / "ledger.sqlite", "shots": 500, "retry": NO_WAIT, **options}
    return qphys.device("quandela.fake:ascella", cloud=cloud, poll_interval=0, **options)


def hom(theta=math.pi / 2):
    return qphys.Circuit(photons=(1, 1, 0)).bs(theta, 0, 1).bs(0.8, 1, 2)


def paid(cloud):
    return len(cloud.submissions())


# ---- the protocol works ---------------------------------------------------------------------------------
def test_results_follow_the_exact_distribution_one_job_per_execute(tmp_path):
    cloud = FakeQuandelaCloud(tmp_path / "cloud")
    dev = device(cloud, tmp_path, shots=4000)
    thetas = torch.tensor([0.3, 1.2, 2.5], dtype=torch.float64)
    c = hom(thetas).probs().counts().sample().photon_numbers()
    r = qphys.execute(c, dev)
    exact = qphys.execute(hom(thetas).probs(), "torch.linear_optics").values[0]
    assert (r.values[0] - exact).abs().max() < 5 * 0.5 / math.sqrt(4000)
    assert len(r.values[1]) == 3 and all(sum(d.values()) == 4000 for d in r.values[1])
    assert r.values[2].shape == (3, 4000, 3)
    assert r.metadata["samples"].tolist() == [4000] * 3 and r.metadata["platform"] == "fake:ascella"
    assert paid(cloud) == 1 and dev.jobs_submitted == 1
    name = cloud.submissions()[0]["name"]
    assert name.startswith("qphys-") and Ledger(tmp_path / "ledger.sqlite").records()[0].job_id == cloud.submissions()[0]["id"]
    # the same circuits again: the ledger's result is reused, nothing is paid
    again = qphys.execute(hom(thetas).probs().counts().sample().photon_numbers(), dev)
    assert torch.equal(again.values[0], r.values[0]) and paid(cloud) == 1


def test_parameter_shift_training_step_is_two_jobs(tmp_path):
    cloud = FakeQuandelaCloud(tmp_path / "cloud")
    dev = device(cloud, tmp_path, shots=300)
    layer = qphys.nn.LinearOpticsLayer((1, 0, 1, 0), output="probs", heralds={3: 0}, seed=1, device=dev)
    x = torch.rand(6, 4, dtype=torch.float64)
    layer(x)[:, 0].sum().backward()
    assert paid(cloud) == 2, "forward: one job for the batch; backward: one job for every shifted circuit"
    assert all(p.grad is not None for p in layer.parameters())
    jobs = Ledger(tmp_path / "ledger.sqlite").records()
    assert sorted(j.num_circuits for j in jobs) == [6, 6 * (1 + sum(  # base circuits for the herald quotient
        qphys.linear_optics.shift_terms(layer.circuit(x), i, j) for i, j in layer.circuit(x).trainable_params()))]


# ---- validation before anything is sent -------------------------------------------------------------------
@pytest.mark.parametrize("circuit, error, match", [
    (qphys.Circuit(photons=(1,) + (0,) * 12).bs(0.1, 0, 1).counts(), WireError, "13 modes; the platform takes 1 to 12"),
    (qphys.Circuit(photons=(1,) * 7 + (0,) * 3).bs(0.1, 0, 1).counts(), ParameterError, "7 photons"),
    (qphys.Circuit(photons=(2, 0)).bs(0.1, 0, 1).counts(), ParameterError, "at most one photon per mode"),
    (qphys.Circuit(photons=(1, 0)).bs(0.1, 0, 1).state(), UnsupportedOperationError, "does not support measurement 'state'"),
])
def test_preprocess_checks_the_platform_spec(tmp_path, circuit, error, match):
    cloud = FakeQuandelaCloud(tmp_path / "cloud")
    with pytest.raises(error, match=match):
        qphys.execute(circuit, device(cloud, tmp_path))
    assert paid(cloud) == 0


def test_interferometers_travel_as_clements_meshes_one_job_for_a_batch(tmp_path):
    from scipy.stats import unitary_group

    cloud = FakeQuandelaCloud(tmp_path / "cloud")
    U = torch.tensor(np.stack([unitary_group.rvs(4, random_state=k) for k in range(3)]))
    c = qphys.Circuit(photons=(1, 0, 1, 0)).interferometer(U).probs()
    r = qphys.execute(c, device(cloud, tmp_path, shots=4000))
    exact = qphys.execute(c, "torch.linear_optics").values[0]
    assert (r.values[0] - exact).abs().max() < 5 * 0.5 / math.sqrt(4000)
    assert paid(cloud) == 1, "three matrices: three rows of one job"
    with pytest.raises(UnsupportedOperationError, match="batched interferometer matrix cannot travel"):
        qphys.execute(c, device(cloud, tmp_path, interferometers="unitary"))
    one = qphys.Circuit(photons=(1, 0, 1, 0)).interferometer(U[0]).probs()
    r = qphys.execute(one, device(cloud, tmp_path, shots=4000, interferometers="unitary"))
    assert (r.values[0] - exact[0]).abs().max() < 5 * 0.5 / math.sqrt(4000) and paid(cloud) == 2
    with pytest.raises(DeviceOptionError, match="interferometers must be 'mesh' or 'unitary'"):
        device(cloud, tmp_path, interferometers="clements")
    trainable = torch.tensor(unitary_group.rvs(3, random_state=5), requires_grad=True)
    sub = qphys.Circuit(photons=(1, 0, 1, 0)).bs(0.4, 0, 1).interferometer(trainable, (1, 2, 3)).probs()
    with pytest.raises(DifferentiationError, match="matrix of 'interferometer' is trainable"):
        qphys.execute(sub, device(cloud, tmp_path))
    r = qphys.execute(sub.detached(), device(cloud, tmp_path, shots=4000))  # a sub-mesh on modes 1..3
    exact = qphys.execute(sub.detached(), "torch.linear_optics").values[0]
    assert (r.values[0] - exact).abs().max() < 5 * 0.5 / math.sqrt(4000)


def test_exact_results_are_refused(tmp_path):
    with pytest.raises(UnsupportedOperationError, match="cannot compute exact results; pass shots=N"):
        qphys.execute(hom().probs(), device(FakeQuandelaCloud(tmp_path / "c"), tmp_path), shots=None)


def test_credentials_only_through_perceval(monkeypatch):
    from perceval.providers.quandela import RemoteConfig
    from perceval.providers.scaleway import ScalewayConfig

    for var in ("PCVL_CLOUD_TOKEN", "SCALEWAY_CLOUD_TOKEN", "SCW_DEFAULT_PROJECT_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(RemoteConfig, "_get_remote_config", lambda self, key, remote_key=None: None)
    monkeypatch.setattr(ScalewayConfig, "_get_remote_config", lambda self, key, remote_key=None: None)
    RemoteConfig.clear_cache()
    ScalewayConfig.clear_cache()
    with pytest.raises(CredentialsError, match="PCVL_CLOUD_TOKEN"):
        qphys.device("quandela.qpu:belenos")
    with pytest.raises(CredentialsError, match="SCALEWAY_CLOUD_TOKEN"):
        qphys.device("scaleway.QPU-BELENOS-12PQ")
    monkeypatch.setenv("PCVL_CLOUD_TOKEN", "not-a-real-token")
    monkeypatch.setenv("SCALEWAY_CLOUD_TOKEN", "not-a-real-key")
    RemoteConfig.clear_cache()
    ScalewayConfig.clear_cache()
    dev = qphys.device("quandela.qpu:belenos", shots=100)  # nothing is contacted before the first run
    assert dev.name == "quandela.qpu:belenos" and "not-a-real-token" not in repr(dev.__dict__)
    with pytest.raises(DeviceOptionError, match="project_id"):
        qphys.device("scaleway.QPU-BELENOS-12PQ")
    with pytest.raises(DeviceOptionError, match="unknown option"):
        qphys.device("quandela.qpu:belenos", token="x")
    RemoteConfig.clear_cache()
    ScalewayConfig.clear_cache()


# ---- faults -------------------------------------------------------------------------------------------
def test_transient_failures_are_retried_and_paid_once(tmp_path):
    faults = Faults(create_job=["http503", "connect", "http429"], get_job_status=["http503", "lost", None, "http500"],
                    get_job_results=["http503", "lost"])
    cloud = FakeQuandelaCloud(tmp_path / "cloud", faults=faults)
    reference = qphys.execute(hom().probs(), device(FakeQuandelaCloud(tmp_path / "clean"), tmp_path, ledger=False))
    dev = device(cloud, tmp_path)
    r = qphys.execute(hom().probs(), dev)
    assert paid(cloud) == 1 and dev.job_stats()["retries"] == 3 + 3 + 2
    assert torch.equal(r.values[0], reference.values[0]), "the same job gives the same samples"


def test_connection_lost_after_submit_is_never_resubmitted_and_is_resumable(tmp_path):
    cloud = FakeQuandelaCloud(tmp_path / "cloud", faults=Faults(create_job=["lost"]))
    dev = device(cloud, tmp_path)
    with pytest.raises(JobError, match="submission outcome unknown"):
        qphys.execute(hom().probs(), dev)
    assert paid(cloud) == 1
    # a re-run refuses to pay again, and says how to attach the job
    with pytest.raises(JobError, match="resume_job"):
        qphys.execute(hom().probs(), device(cloud, tmp_path))
    assert paid(cloud) == 1
    (name,) = {s["name"] for s in cloud.submissions()}
    (job_id,) = cloud.jobs_named(name)  # what the user finds in the provider's console
    dev = device(cloud, tmp_path)
    (r,) = dev.resume_job(job_id, [hom().probs()])
    assert paid(cloud) == 1 and dev.job_stats()["reattached"] == 1 and abs(float(r.values[0].sum()) - 1) < 1e-12
    # now the ledger holds the result: the next run reuses it
    qphys.execute(hom().probs(), device(cloud, tmp_path))
    assert paid(cloud) == 1
    # or pay again, deliberately
    cloud2 = FakeQuandelaCloud(tmp_path / "cloud2", faults=Faults(create_job=["lost"]))
    with pytest.raises(JobError):
        qphys.execute(hom().probs(), device(cloud2, tmp_path / "x"))
    qphys.execute(hom().probs(), device(cloud2, tmp_path / "x", resubmit_unknown=True))
    assert paid(cloud2) == 2


def test_failed_job_raises_with_the_provider_message(tmp_path):
    cloud = FakeQuandelaCloud(tmp_path / "cloud", faults=Faults(fail_jobs=["Calibration drift on source 3"]))
    dev = device(cloud, tmp_path)
    with pytest.raises(JobError, match="Calibration drift on source 3"):
        qphys.execute(hom().probs(), dev)
    row = Ledger(tmp_path / "ledger.sqlite").records()[0]
    assert row.status == "failed" and "Calibration drift" in row.error and paid(cloud) == 1


def test_random_faults_change_nothing(tmp_path):
    rng = random.Random(5)
    kinds = ["http503", "http500", "connect", "http429"]
    faults = Faults(create_job=[rng.choice(kinds) if rng.random() < 0.4 else None for _ in range(40)],
                    get_job_status=[rng.choice(kinds + ["lost"]) if rng.random() < 0.4 else None for _ in range(60)],
                    get_job_results=[rng.choice(kinds + ["lost"]) if rng.random() < 0.4 else None for _ in range(40)])
    cloud = FakeQuandelaCloud(tmp_path / "faulty", faults=faults)
    clean = FakeQuandelaCloud(tmp_path / "clean")
    dev = device(cloud, tmp_path, retry=RetryPolicy(base_delay=0.0, jitter=0.0, max_retries=12))
    ref = device(clean, tmp_path / "r")
    for k in range(6):
        c = hom(0.2 + 0.4 * k).counts()
        assert qphys.execute(c, dev).values[0] == qphys.execute(hom(0.2 + 0.4 * k).counts(), ref).values[0]
    assert paid(cloud) == paid(clean) == 6 and dev.job_stats()["retries"] > 0


# ---- kill and resume ----------------------------------------------------------------------------------
CHILD = """
import math, sys, qphys
from qphys_perceval.fake_cloud import FakeQuandelaCloud
cloud = FakeQuandelaCloud(sys.argv[1], polls_to_finish=10**9)  # this run never sees its jobs finish
dev = qphys.device("quandela.fake:ascella", cloud=cloud, shots=500, poll_interval=0.05)
a = qphys.Circuit(photons=(1, 1, 0)).bs(math.pi / 2, 0, 1).bs(0.8, 1, 2).probs()
b = qphys.Circuit(photons=(1, 1, 0)).mzi(0.3, 0.9, 1, 2).probs()
qphys.execute([a, b], dev)  # two structures: two jobs, both submitted before waiting
"""


def other():
    return qphys.Circuit(photons=(1, 1, 0)).mzi(0.3, 0.9, 1, 2).probs()


@pytest.mark.slow
def test_kill_while_waiting_then_rerun_and_resume_pay_once(home):
    cloud_dir = home / "fake_quandela_cloud"  # the default folder: `qphys jobs resume` rebuilds the device by name
    env = dict(os.environ, QPHYS_HOME=str(home), OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(cloud_dir)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ledger = Ledger(home / "jobs.sqlite")
    deadline = time.time() + 120
    while time.time() < deadline and sum(r.status == "submitted" for r in ledger.records()) < 2:
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)  # killed while waiting for its jobs
    child.wait()
    cloud = FakeQuandelaCloud(cloud_dir)
    assert paid(cloud) == 2 and [r.status for r in ledger.records()] == ["submitted", "submitted"]
    # a re-run re-attaches to the first job by its id
    dev = qphys.device("quandela.fake:ascella", shots=500, poll_interval=0)
    r = qphys.execute(hom().probs(), dev)
    assert dev.job_stats()["reattached"] == 1 and dev.jobs_submitted == 0 and abs(float(r.values[0].sum()) - 1) < 1e-12
    # `qphys jobs resume` fetches the other through the device rebuilt by name; the next run reuses it
    summary = resume(ledger)
    assert summary == {"done": 1, "lost": 0, "failed": 0, "pending": 0, "untouched": 0, "notes": []}
    dev = qphys.device("quandela.fake:ascella", shots=500, poll_interval=0)
    qphys.execute(other(), dev)
    assert dev.job_stats()["reused"] == 1 and paid(cloud) == 2, "no job paid twice, none lost"


# ---- payload serialization ---------------------------------------------------------------------------------
def test_indexed_archive_writes_perceval_s_exact_text(tmp_path):
    from perceval.providers.rpc_based_communication_layer import RPCBasedCommunicationLayer
    from qphys_perceval.transport import serialize_payload_value

    dev = device(FakeQuandelaCloud(tmp_path / "cloud"), tmp_path)
    c = qphys.nn.LinearOpticsLayer((1, 0, 1, 0), seed=2).circuit(torch.rand(30, 4, dtype=torch.float64))
    ((spec,), _) = dev._plan([c], dev.default_config)
    iterator = dev.job_transport().computation(spec.payload)
    assert len(iterator) == 30
    assert serialize_payload_value(iterator) == RPCBasedCommunicationLayer._serialize(iterator)


# ---- error classification ---------------------------------------------------------------------------------
def test_classification_of_provider_errors():
    def http(code):
        response = requests.Response()
        response.status_code = code
        return requests.HTTPError(f"{code} Server Error", response=response)

    assert type(classify(http(503), "x", submitting=True)).__name__ == "TransientJobError"
    assert isinstance(classify(http(401), "x"), CredentialsError)
    assert type(classify(http(404), "x")).__name__ == "JobNotFoundError"
    assert type(classify(http(400), "x", submitting=True)) is JobError
    lost = requests.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))")
    assert isinstance(classify(lost, "x", submitting=True), SubmissionOutcomeUnknown)
    assert type(classify(lost, "x")).__name__ == "TransientJobError"
    refused = requests.ConnectionError("Max retries exceeded (Caused by NewConnectionError('Failed to establish a new connection'))")
    assert type(classify(refused, "x", submitting=True)).__name__ == "TransientJobError"
    assert http_status(requests.HTTPError("Error while retrieving job results: 502 Server Error: Bad Gateway")) == 502
