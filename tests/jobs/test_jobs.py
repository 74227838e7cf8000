"""The job ledger, retries, fault injection and re-attachment after a killed process.

Server-only behaviour (job ids that outlive a process, transient failures) is exercised through
the shipped transports (FaultInjectingTransport, RecordingTransport, LocalServerTransport) around
the real Aer transport of the qiskit plugin.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import qphys
from qphys.cli import main as cli_main
from qphys.errors import ConfigError, JobError, TransientJobError
from qphys.jobs import (
    FaultInjectingTransport,
    JobRunner,
    JobSpec,
    Ledger,
    LocalServerTransport,
    RecordingTransport,
    RetryPolicy,
    Transport,
)
from qphys.jobs.ledger import decode_arrays, encode_arrays

pytest.importorskip("qphys_qiskit")


class _Flaky(Transport):
    """Refuses the first ``fail`` submissions with ``exc``; results echo the payload."""

    name = "flaky"

    def __init__(self, fail=0, exc=TransientJobError("503")):
        self.fail, self.exc, self.submitted = fail, exc, 0

    def submit(self, payload):
        if self.fail:
            self.fail -= 1
            raise self.exc
        self.submitted += 1
        self.last = payload
        return f"j{self.submitted}"

    def result(self, job_id, timeout=None):
        return {"x": np.asarray(self.last)}


def test_ledger_roundtrip(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    row = led.create("dev", "k", structure="s", params="p", num_circuits=4)
    assert row.status == "pending" and not row.has_result
    led.mark_submitted(row.id, "job-9")
    assert led.find("dev", "k").job_id == "job-9"
    led.mark_done(row.id, {"a": np.arange(3.0)})
    assert led.result(row.id)["a"].tolist() == [0.0, 1.0, 2.0]
    assert [r.status for r in led.records(status="done")] == ["done"]
    assert decode_arrays(encode_arrays({"b": np.eye(2)}))["b"].shape == (2, 2)
    assert led.delete(status="done") == 1 and led.records() == []


def test_qphys_home_sets_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("QPHYS_HOME", str(tmp_path / "home"))
    assert Ledger().path == tmp_path / "home" / "jobs.sqlite"


def test_default_home_is_the_platform_user_cache_folder(tmp_path, monkeypatch):
    import platformdirs

    from qphys.jobs import ledger as ledger_module
    from qphys.jobs import qphys_home

    monkeypatch.delenv("QPHYS_HOME", raising=False)
    assert qphys_home() == platformdirs.user_cache_path("qphys")
    # the folder comes from platformdirs (macOS: ~/Library/Caches, Windows: %LOCALAPPDATA%), not from ~/.cache
    mac = tmp_path / "Library" / "Caches" / "qphys"
    monkeypatch.setattr(ledger_module, "user_cache_path", lambda app: mac if app == "qphys" else None)
    assert qphys_home() == mac and Ledger().path == mac / "jobs.sqlite"


def test_retry_with_exponential_backoff(tmp_path):
    delays = []
    policy = RetryPolicy(max_retries=4, base_delay=0.5, factor=2.0, jitter=0.0, sleep=delays.append)
    t = _Flaky(fail=3)
    runner = JobRunner("dev", t, ledger=Ledger(tmp_path / "l.sqlite"), retry=policy)
    assert runner.run(JobSpec("k", [1, 2]))["x"].tolist() == [1, 2]
    assert delays == [0.5, 1.0, 2.0] and t.submitted == 1
    assert runner.stats.attempts == 4 and runner.stats.retries == 3
    assert runner.ledger.find("dev", "k").attempts == 4


class _FlakyFetch(_Flaky):
    """Accepts every submission; the first ``fail_fetch`` result fetches fail transiently."""

    def __init__(self, fail_fetch):
        super().__init__()
        self.fail_fetch, self.fetches = fail_fetch, 0

    def result(self, job_id, timeout=None):
        self.fetches += 1
        if self.fail_fetch:
            self.fail_fetch -= 1
            raise TransientJobError("502 bad gateway")
        return super().result(job_id)


def test_submission_and_fetch_retries_share_one_jittered_schedule():
    """Both retry paths wait the policy's jittered, seeded delays: within [(1 - jitter) d, d], not in lockstep."""
    policy_kw = dict(max_retries=5, base_delay=1.0, factor=2.0, jitter=0.5, seed=42)
    expected = RetryPolicy(**policy_kw).waits(3)
    assert all(0.5 * d <= w <= d for w, d in zip(expected, [1.0, 2.0, 4.0]))
    assert len(set(round(w / d, 6) for w, d in zip(expected, [1.0, 2.0, 4.0]))) == 3  # not a fixed fraction
    for transport in (_Flaky(fail=3), _FlakyFetch(fail_fetch=3)):
        delays = []
        runner = JobRunner("dev", transport, retry=RetryPolicy(**policy_kw, sleep=delays.append))
        assert runner.run(JobSpec("k", [7]))["x"].tolist() == [7]
        assert delays == expected and runner.stats.retries == 3 and transport.submitted == 1
    with pytest.raises(TransientJobError, match="could not fetch the result of job j1 after 6 attempts .*502"):
        JobRunner("dev", _FlakyFetch(fail_fetch=9), retry=RetryPolicy(**policy_kw, sleep=lambda s: None)).run(
            JobSpec("k", [7]))
    with pytest.raises(ConfigError, match="jitter must be in"):
        RetryPolicy(jitter=1.5)


def test_retries_give_up_with_transient_error():
    runner = JobRunner("dev", _Flaky(fail=10), retry=RetryPolicy(max_retries=2, sleep=lambda s: None))
    with pytest.raises(TransientJobError, match="still failing after 3 attempts .*not submitted"):
        runner.run(JobSpec("k", [1]))


def test_permanent_error_carries_provider_message(tmp_path):
    t = _Flaky(fail=1, exc=JobError("Error 1517: circuit has 200 qubits, backend has 127"))
    runner = JobRunner("ibm.x", t, ledger=Ledger(tmp_path / "l.sqlite"), retry=RetryPolicy(sleep=lambda s: None))
    with pytest.raises(JobError, match="refused the job: Error 1517: circuit has 200 qubits"):
        runner.run(JobSpec("k", [1]))
    row = runner.ledger.find("ibm.x", "k")
    assert row.status == "failed" and "Error 1517" in row.error


def _train(device, steps=20):
    """A tiny parameter-shift training run; returns the weight trajectory."""
    from qphys.nn import QuantumLayer
    from qphys.templates import angle_embedding, hardware_efficient

    def circuit(x, w):
        return hardware_efficient(angle_embedding(qphys.Circuit(wires=2), x), w).expval(qphys.Z(0))

    torch.manual_seed(0)
    layer = QuantumLayer(circuit, {"w": (1, 2, 2)}, device=device, diff_method="parameter-shift")
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    x = torch.rand(8, 2, generator=torch.Generator().manual_seed(1))
    y = torch.linspace(-1, 1, 8)
    for _ in range(steps):
        opt.zero_grad()
        loss = (layer(x)[:, 0] - y).pow(2).mean()
        loss.backward()
        opt.step()
    return layer.w.detach().clone()


def test_fault_injected_training_matches_fault_free_and_pays_once(tmp_path):
    clean = qphys.device("aer.statevector")
    w_clean = _train(clean)
    holder = {}

    def wrap(inner):
        rec = RecordingTransport(inner)
        holder["rec"] = rec
        holder["faults"] = FaultInjectingTransport(rec, submit_failure_rate=0.3, result_failure_rate=0.3, seed=7)
        return holder["faults"]

    faulty = qphys.device(
        "aer.statevector", transport=wrap, ledger=tmp_path / "l.sqlite",
        retry=RetryPolicy(max_retries=20, base_delay=0.0, sleep=lambda s: None),
    )
    w_faulty = _train(faulty)
    assert torch.equal(w_clean, w_faulty)
    faults = holder["faults"]
    assert faults.injected_submit_failures > 5 and faults.injected_result_failures > 5
    # 20 steps x (forward + backward) = 40 distinct jobs, each accepted (paid) exactly once
    assert holder["rec"].submissions == 40 == clean.jobs_submitted == faulty.jobs_submitted
    assert all(r.status == "done" for r in Ledger(tmp_path / "l.sqlite").records())


_SCRIPT = textwrap.dedent(
    """
    import os, sys, torch, qphys
    from qphys.jobs import LocalServerTransport, WrappingTransport

    class KillWhileWaiting(WrappingTransport):
        # kills the process while it waits for the n-th job (submitted, id recorded)
        def __init__(self, inner, n):
            super().__init__(inner)
            self.n = n
        def result(self, job_id, timeout=None):
            self.n -= 1
            if self.n == 0:
                os._exit(17)
            return self.inner.result(job_id, timeout)

    server, ledger, kill = sys.argv[1], sys.argv[2], int(sys.argv[3])
    def wrap(inner):
        t = LocalServerTransport(server, inner)
        return KillWhileWaiting(t, kill) if kill else t
    dev = qphys.device("aer.statevector", transport=wrap, ledger=ledger)
    vals = []
    for k in range(3):
        x = torch.linspace(0, 1, 4) + k
        c = qphys.Circuit(wires=2).ry(x, 0).cx(0, 1).expval(qphys.Z(1))
        vals.append(qphys.execute(c, dev).expvals[:, 0])
    print("RESULT", torch.cat(vals).tolist(), dev.job_stats())
    """
)


def test_killed_after_submission_rerun_reattaches_without_resubmitting(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    server, ledger = tmp_path / "server", tmp_path / "jobs.sqlite"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    first = subprocess.run([sys.executable, str(script), str(server), str(ledger), "2"], capture_output=True,
                           text=True, env=env, timeout=240)
    assert first.returncode == 17, first.stderr
    assert len(LocalServerTransport(server, _Flaky()).submissions()) == 2
    rows = Ledger(ledger).records()
    assert sorted(r.status for r in rows) == ["done", "submitted"]
    second = subprocess.run([sys.executable, str(script), str(server), str(ledger), "0"], capture_output=True,
                            text=True, env=env, timeout=240)
    assert second.returncode == 0, second.stderr
    # job 1 reused from the ledger, job 2 re-attached by id, only job 3 newly submitted
    assert len(LocalServerTransport(server, _Flaky()).submissions()) == 3
    assert "'reused': 1" in second.stdout and "'reattached': 1" in second.stdout and "'submitted': 1" in second.stdout
    expected = torch.cos(torch.cat([torch.linspace(0, 1, 4) + k for k in range(3)]))
    got = torch.tensor(eval(second.stdout.split("RESULT ")[1].rsplit(" {", 1)[0]))
    assert torch.allclose(got, expected.to(got.dtype), atol=1e-6)


def test_cli_lists_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QPHYS_HOME", str(tmp_path))
    led = Ledger()
    row = led.create("aer.statevector", "k1", structure="abc", num_circuits=5)
    led.mark_submitted(row.id, "aer-123")
    assert cli_main(["jobs"]) == 0
    out = capsys.readouterr().out
    assert "aer-123" in out and "submitted" in out
    assert cli_main(["jobs", "resume"]) == 0
    assert "1 lost" in capsys.readouterr().out  # in-process Aer jobs cannot be re-attached
    assert led.get(row.id).status == "lost"
    assert cli_main(["jobs", "list", "--status", "lost", "--json"]) == 0
    assert '"job_id": "aer-123"' in capsys.readouterr().out


def test_credentials_never_reach_ledger_or_logs(tmp_path, monkeypatch, caplog):
    secret = "sk-TOKEN-should-never-be-stored-0123456789"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", secret)
    caplog.set_level("DEBUG")
    dev = qphys.device("ibm.fake_manila", shots=64, seed=1, ledger=tmp_path / "l.sqlite")
    c = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1)).counts()
    qphys.execute(c, dev)
    assert secret.encode() not in (tmp_path / "l.sqlite").read_bytes()
    assert secret not in caplog.text
