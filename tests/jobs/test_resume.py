"""``qphys jobs resume`` uses the transport each job was submitted through (rebuilt from the ledger,
without credentials), or leaves the row untouched and says why."""

import numpy as np

from qphys.cli import main as cli_main
from qphys.errors import TransientJobError
from qphys.jobs import JobRunner, JobSpec, Ledger, LocalServerTransport, RetryPolicy, WrappingTransport
from qphys.jobs.cli import resume
from qphys.testing.kill_chain import ComputeTransport, reference_result


class _Unreachable(WrappingTransport):
    """The network goes down after submission: every fetch fails."""

    def result(self, job_id, timeout=None):
        raise TransientJobError("connection refused")


def test_resume_fetches_through_the_recorded_transport_and_the_next_run_pays_nothing(tmp_path, capsys):
    server = LocalServerTransport(tmp_path / "srv", ComputeTransport())
    ledger_path = tmp_path / "jobs.sqlite"
    led = Ledger(ledger_path)
    down = JobRunner("dev", _Unreachable(server), ledger=led, retry=RetryPolicy(max_retries=1, sleep=lambda s: None))
    try:
        down.run_many([JobSpec("a", {"job": 1}), JobSpec("b", {"job": 2})])
    except TransientJobError as exc:
        assert "qphys jobs resume" in str(exc)  # a server job: resuming is the right advice
    row = led.find("dev", "a")
    assert row.status == "submitted" and row.transport_spec["factory"].endswith(":local_server_transport")
    assert "ComputeTransport" not in (row.transport or "")
    assert cli_main(["jobs", "--ledger", str(ledger_path), "resume"]) == 0
    out = capsys.readouterr().out
    assert "2 done" in out and "0 left untouched" in out
    rerun = JobRunner("dev", server, ledger=led)
    results = rerun.run_many([JobSpec("a", {"job": 1}), JobSpec("b", {"job": 2})])
    assert np.array_equal(results[0]["values"], reference_result(1))
    assert rerun.stats.reused == 2 and rerun.stats.submitted == 0 and len(server.submissions()) == 2


def test_resume_finds_a_pending_job_by_its_idempotency_key(tmp_path):
    """A crash after the provider accepted, before the job id was recorded: resume looks the key up."""
    server = LocalServerTransport(tmp_path / "srv", ComputeTransport())
    led = Ledger(tmp_path / "jobs.sqlite")
    runner = JobRunner("dev", server, ledger=led)
    claim = led.claim("dev", "a", transport=runner._transport_desc, owner="elsewhere|1|-")
    led._write("x", lambda con: con.execute("UPDATE jobs SET lease_until=0 WHERE id=?", (claim.record.id,)))
    server.submit({"job": 3}, claim.record.idempotency_key)  # accepted; the client died before hearing
    counts = resume(led)
    assert counts["done"] == 1, counts
    assert np.array_equal(led.result(claim.record.id)["values"], reference_result(3))
    assert len(server.submissions()) == 1


def test_resume_leaves_in_process_and_owned_rows_untouched_and_says_why(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QPHYS_HOME", str(tmp_path))
    led = Ledger()
    aer = led.claim("aer.statevector", "k1", structure="abc", num_circuits=5, owner="elsewhere|1|-").record
    led.mark_submitted(aer.id, "aer-123")
    led.release(aer.id)
    busy = led.claim("aer.statevector", "k2", owner="elsewhere|2|-").record
    led._write("x", lambda con: con.execute("UPDATE jobs SET lease_until=1e12 WHERE id=?", (busy.id,)))
    assert cli_main(["jobs"]) == 0
    out = capsys.readouterr().out
    assert "aer-123" in out and "submitted" in out
    assert cli_main(["jobs", "resume"]) == 0
    out = capsys.readouterr().out
    assert "2 left untouched" in out and "cannot be rebuilt in another process" in out and "is running it now" in out
    assert led.get(aer.id).status == "submitted" and led.get(busy.id).status == "pending"  # untouched
    assert cli_main(["jobs", "list", "--status", "submitted", "--json"]) == 0
    assert '"job_id": "aer-123"' in capsys.readouterr().out
    assert cli_main(["jobs", "forget", str(aer.id)]) == 0
    assert "removed 1 row" in capsys.readouterr().out and led.find("aer.statevector", "k1") is None


def test_cli_reports_a_damaged_ledger_as_an_error(tmp_path, capsys):
    bad = tmp_path / "jobs.sqlite"
    bad.write_bytes(b"garbage" * 200)
    assert cli_main(["jobs", "--ledger", str(bad)]) == 2
    assert "qphys: error: job ledger" in capsys.readouterr().err
