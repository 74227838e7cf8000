"""The job runner: retries, idempotency keys and look-ups, timeouts, wrapped transport errors, waiting
for another owner, and the advice its errors give."""

import os
import threading
import time

import numpy as np
import pytest
from jobs_testutil import Flaky

from qphys.errors import ConfigError, JobError, JobTimeoutError, TransientJobError
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
from qphys.jobs.lease import hostname
from qphys.testing.kill_chain import ComputeTransport, reference_result

NO_SLEEP = RetryPolicy(max_retries=20, base_delay=0.0, sleep=lambda s: None)


def test_retry_with_exponential_backoff(tmp_path):
    delays = []
    policy = RetryPolicy(max_retries=4, base_delay=0.5, factor=2.0, jitter=0.0, sleep=delays.append)
    t = Flaky(fail=3)
    runner = JobRunner("dev", t, ledger=Ledger(tmp_path / "l.sqlite"), retry=policy)
    assert runner.run(JobSpec("k", [1, 2]))["x"].tolist() == [1, 2]
    assert delays == [0.5, 1.0, 2.0] and t.submitted == 1
    assert runner.stats.attempts == 4 and runner.stats.retries == 3
    assert runner.ledger.find("dev", "k").attempts == 4


class _FlakyFetch(Flaky):
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
    for transport in (Flaky(fail=3), _FlakyFetch(fail_fetch=3)):
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
    runner = JobRunner("dev", Flaky(fail=10), retry=RetryPolicy(max_retries=2, sleep=lambda s: None))
    with pytest.raises(TransientJobError, match="still failing after 3 attempts .*not accepted"):
        runner.run(JobSpec("k", [1]))


def test_permanent_error_carries_provider_message(tmp_path):
    t = Flaky(fail=1, exc=JobError("Error 1517: circuit has 200 qubits, backend has 127"))
    runner = JobRunner("ibm.x", t, ledger=Ledger(tmp_path / "l.sqlite"), retry=NO_SLEEP)
    with pytest.raises(JobError, match="refused the job: Error 1517: circuit has 200 qubits"):
        runner.run(JobSpec("k", [1]))
    row = runner.ledger.find("ibm.x", "k")
    assert row.status == "failed" and "Error 1517" in row.error and row.owner is None


def test_one_idempotency_key_per_job_sent_with_every_attempt(tmp_path):
    t = Flaky(fail=2)
    runner = JobRunner("dev", t, ledger=Ledger(tmp_path / "l.sqlite"), retry=NO_SLEEP)
    runner.run(JobSpec("k", [1]))
    row = runner.ledger.find("dev", "k")
    assert t.keys == [row.idempotency_key]


def test_lost_responses_are_found_by_key_not_paid_twice(tmp_path):
    """The provider accepts the job but the response is lost (connection reset after the request):
    the runner looks the key up instead of submitting again."""
    server = LocalServerTransport(tmp_path / "srv", ComputeTransport())
    faulty = FaultInjectingTransport(server, submit_failure_rate=0.2, lost_response_rate=0.5, seed=3)
    runner = JobRunner("dev", faulty, ledger=Ledger(tmp_path / "l.sqlite"), retry=NO_SLEEP)
    specs = [JobSpec(f"job-{i}", {"job": i}) for i in range(12)]
    out = runner.run_many(specs)
    assert all(np.array_equal(o["values"], reference_result(i)) for i, o in enumerate(out))
    assert faulty.injected_lost_responses >= 3 and faulty.injected_submit_failures >= 1
    assert len(server.submissions()) == 12 == runner.stats.submitted
    assert runner.stats.recovered == faulty.injected_lost_responses


def test_without_a_lookup_a_lost_response_is_paid_again(tmp_path):
    """The remaining window for providers without a look-up, shown: the same faults pay extra jobs."""
    server = LocalServerTransport(tmp_path / "srv", ComputeTransport())
    server.can_lookup = False
    faulty = FaultInjectingTransport(server, lost_response_rate=0.5, seed=3)
    runner = JobRunner("dev", faulty, ledger=Ledger(tmp_path / "l.sqlite"), retry=NO_SLEEP)
    runner.run_many([JobSpec(f"job-{i}", {"job": i}) for i in range(12)])
    assert len(server.submissions()) == 12 + faulty.injected_lost_responses > 12


class _Broken(Flaky):
    """A transport with a bug: raises plain Python exceptions."""

    def __init__(self, where):
        super().__init__()
        self.where = where

    def submit(self, payload, idempotency_key):
        if self.where == "submit":
            raise KeyError("missing field 'backend'")
        return super().submit(payload, idempotency_key)

    def result(self, job_id, timeout=None):
        if self.where == "result":
            raise ValueError("cannot decode the provider's JSON")
        return super().result(job_id)


def test_a_transport_raising_plain_exceptions_is_wrapped_and_the_row_marked(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    with pytest.raises(JobError, match=r"refused the job: transport flaky raised KeyError while submitting: .*backend"):
        JobRunner("dev", _Broken("submit"), ledger=led, retry=NO_SLEEP).run(JobSpec("a", [1]))
    row = led.find("dev", "a")
    assert row.status == "failed" and "KeyError" in row.error and row.idempotency_key  # key kept: looked up next time
    with pytest.raises(JobError, match=r"fetching job j1 failed in the client: transport flaky raised ValueError "
                                       r".*stays recorded as submitted"):
        JobRunner("dev", _Broken("result"), ledger=led, retry=NO_SLEEP).run(JobSpec("b", [2]))
    row = led.find("dev", "b")
    assert row.status == "submitted" and row.job_id == "j1" and "ValueError" in row.error and row.owner is None


def test_in_process_jobs_give_no_advice_to_resume():
    class InProcess(_FlakyFetch):
        can_reattach = False

    with pytest.raises(TransientJobError, match=r"runs jobs in this process, so the job cannot be re-attached later; "
                                                r"re-run the script") as info:
        JobRunner("dev", InProcess(fail_fetch=99), retry=RetryPolicy(max_retries=1, sleep=lambda s: None)).run(
            JobSpec("k", [1]))
    assert "qphys jobs resume" not in str(info.value)


def test_job_timeout_leaves_the_job_reattachable(tmp_path):
    server = LocalServerTransport(tmp_path / "srv", ComputeTransport(), latency=1.5)  # a queue of 1.5 s
    led = Ledger(tmp_path / "l.sqlite")
    with pytest.raises(JobTimeoutError, match=r"job srv-\w+ did not finish within 0.2 s \(job_timeout\); it stays "
                                              r"recorded as submitted: re-run"):
        JobRunner("dev", server, ledger=led).run(JobSpec("k", {"job": 0}), timeout=0.2)
    row = led.find("dev", "k")
    assert row.status == "submitted" and row.owner is None and "timed out" in row.error
    again = JobRunner("dev", server, ledger=led)  # no limit: waits for the queue, re-attaches
    assert np.array_equal(again.run(JobSpec("k", {"job": 0}))["values"], reference_result(0))
    assert again.stats.reattached == 1 and again.stats.submitted == 0 and len(server.submissions()) == 1
    with pytest.raises(ConfigError, match="job timeout must be a positive number"):
        again.run(JobSpec("k", {"job": 0}), timeout=-1)


def test_waits_for_the_owner_then_reuses_its_result(tmp_path):
    """A row owned by another live process: the runner waits (until job_timeout) and reuses its result."""
    led = Ledger(tmp_path / "l.sqlite")
    other = f"{hostname()}|{os.getppid()}|-"
    row = led.claim("dev", "k", owner=other).record
    t = Flaky()
    with pytest.raises(JobTimeoutError, match=r"waited 0.2 s for job \(not yet submitted\) .* run by pid \d+ on"):
        JobRunner("dev", t, ledger=led, poll=0.02).run(JobSpec("k", [3]), timeout=0.2)

    def finish():
        time.sleep(0.3)
        led.mark_submitted(row.id, "other-1")
        led.mark_done(row.id, {"x": np.array([3])})

    threading.Thread(target=finish).start()
    runner = JobRunner("dev", t, ledger=led, poll=0.02)
    assert runner.run(JobSpec("k", [3]), timeout=30)["x"].tolist() == [3]
    assert runner.stats.waited == 1 and t.submitted == 0


def test_a_job_that_failed_at_the_provider_is_a_new_job_next_time(tmp_path):
    class FailsOnce(Flaky):
        def result(self, job_id, timeout=None):
            if self.submitted == 1:
                raise JobError("job failed: qubit 3 calibration expired")
            return super().result(job_id)

    led = Ledger(tmp_path / "l.sqlite")
    t = FailsOnce()
    with pytest.raises(JobError, match="job j1 failed: job failed: qubit 3 calibration expired"):
        JobRunner("dev", t, ledger=led, retry=NO_SLEEP).run(JobSpec("k", [4]))
    first_key = led.find("dev", "k").idempotency_key
    assert JobRunner("dev", t, ledger=led, retry=NO_SLEEP).run(JobSpec("k", [4]))["x"].tolist() == [4]
    assert t.submitted == 2 and t.keys[1] != first_key  # a new attempt, a new key


def test_duplicate_specs_in_one_call_run_once(tmp_path):
    t = Flaky()
    runner = JobRunner("dev", t, ledger=Ledger(tmp_path / "l.sqlite"))
    out = runner.run_many([JobSpec("k", [1]), JobSpec("k", [1])])
    assert [o["x"].tolist() for o in out] == [[1], [1]] and t.submitted == 1


def test_a_fresh_result_that_does_not_fit_is_refused(tmp_path):
    runner = JobRunner("dev", Flaky(), ledger=Ledger(tmp_path / "l.sqlite"))
    with pytest.raises(JobError, match=r"does not fit the job \(array 'y' is missing\)"):
        runner.run(JobSpec("k", [1], expected={"y": 1}))


def test_the_recording_transport_records_lookups(tmp_path):
    rec = RecordingTransport(LocalServerTransport(tmp_path / "srv", ComputeTransport()))
    job = rec.submit({"job": 1}, "qphys-k1")
    assert rec.lookup("qphys-k1") == job and rec.lookup("qphys-none") is None
    assert [c[0] for c in rec.calls] == ["submit", "lookup", "lookup"] and rec.submissions == 1


def test_transport_descriptions_never_hold_credentials(tmp_path):
    class Leaky(Flaky):
        def rebuild_spec(self):
            return {"factory": "qphys.jobs.transport:local_server_transport", "kwargs": {"root": "x", "api_token": "s"}}

    with pytest.raises(ConfigError, match=r"keyword\(s\) api_token that look like credentials"):
        JobRunner("dev", Leaky(), ledger=Ledger(tmp_path / "l.sqlite"))
    with pytest.raises(ConfigError, match="transport must be a qphys.jobs.Transport"):
        JobRunner("dev", object())


def test_only_marked_factories_are_rebuilt(tmp_path):
    from qphys.jobs import rebuild_transport

    with pytest.raises(JobError, match="is not a transport factory"):
        rebuild_transport({"factory": "os:getcwd", "kwargs": {}})
    with pytest.raises(JobError, match="install the plugin that submitted the job"):
        rebuild_transport({"factory": "qphys_nonexistent.mod:factory", "kwargs": {}})
    assert isinstance(rebuild_transport({"factory": "qphys.jobs.transport:local_server_transport",
                                         "kwargs": {"root": str(tmp_path / "srv")}}), Transport)
