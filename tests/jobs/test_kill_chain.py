"""Kill -9 at every deterministic kill point, and two processes on one ledger: every job is paid once,
none is lost, and the final results are bit-identical to an uninterrupted run.

Real processes (``python -m qphys.testing.kill_chain``), killed with SIGKILL by the kill-point hook
(``QPHYS_KILL_AT``); the folder-backed ``LocalServerTransport`` is the provider whose accepted
submissions are counted.
"""

import random

import numpy as np
import pytest

from qphys.jobs import KILL_POINTS, Ledger, LocalServerTransport
from qphys.testing.kill_chain import KILLED, Chain, reference_result, run_chain, run_concurrent, run_workload

FACTORY = "qphys.testing.kill_chain:local_server"
JOBS = 6
#: one kill point of each kind: row created, provider accepted unheard, inside the transaction that
#: records the job id, result fetched but not stored, inside the transaction that stores it
FAST_POINTS = [
    "ledger.claim.committed@2",
    "server.accepted@1",
    "ledger.submitted.before_commit@1",
    "runner.fetched@2",
    "ledger.done.before_commit@1",
]


def _uninterrupted(tmp_path):
    return run_workload(FACTORY, tmp_path / "clean", jobs=JOBS)


def _check_exactly_once(workdir, results, clean):
    accepted = LocalServerTransport(workdir / "server").submissions()
    assert len(accepted) == JOBS, f"{len(accepted)} paid submissions for {JOBS} jobs"
    assert len({a["idempotency_key"] for a in accepted}) == JOBS
    assert sorted(results) == sorted(clean) == [f"job-{i}" for i in range(JOBS)]
    for key, value in clean.items():
        assert results[key].tobytes() == value.tobytes(), f"{key} differs from the uninterrupted run"
    assert {r.status for r in Ledger(workdir / "jobs.sqlite").records()} == {"done"}


def test_the_uninterrupted_workload_is_the_reference(tmp_path):
    clean = _uninterrupted(tmp_path)
    assert all(np.array_equal(clean[f"job-{i}"], reference_result(i)) for i in range(JOBS))
    assert len(LocalServerTransport(tmp_path / "clean" / "server").submissions()) == JOBS


def test_every_kill_point_pays_once_loses_nothing_and_changes_no_bit(tmp_path):
    report = run_chain(FACTORY, tmp_path / "chain", FAST_POINTS, jobs=JOBS)
    for run in report.runs[:-1]:
        assert run.returncode == KILLED, f"kill point {run.kill_at} was not reached (rc {run.returncode}): {run.stderr}"
    assert report.runs[-1].returncode == 0, report.runs[-1].stderr
    _check_exactly_once(tmp_path / "chain", report.results, _uninterrupted(tmp_path))
    # the run after "server.accepted" found the accepted job by its idempotency key
    assert report.runs[-1].stats["submitted"] < JOBS


def test_two_processes_on_one_ledger_submit_each_job_once(tmp_path):
    """Both run the same jobs at the same time (the server takes 0.3 s per job, so they overlap)."""
    workers = run_concurrent(FACTORY, tmp_path / "conc", [None, None], jobs=JOBS,
                             env={"QPHYS_CHAIN_LATENCY": "0.3"})
    clean = _uninterrupted(tmp_path)
    for record, results in workers:
        assert record.returncode == 0, record.stderr
        _check_exactly_once(tmp_path / "conc", results, clean)
    stats = [record.stats for record, _ in workers]
    assert sum(s["submitted"] for s in stats) == JOBS
    assert sum(s["waited"] for s in stats) >= 1  # one waited for the other's result instead of paying


@pytest.mark.slow
def test_randomized_kills_of_concurrent_processes(tmp_path):
    """Three rounds of two concurrent workers, each killed at a random kill point (or finishing), then one
    clean run: still exactly one paid submission per job and bit-identical results."""
    rng = random.Random(20240615)
    workdir = tmp_path / "random"
    plan = []
    with Chain(FACTORY, workdir, jobs=JOBS, env={"QPHYS_CHAIN_LATENCY": "0.05"}) as chain:
        for _ in range(3):
            points = [f"{rng.choice(KILL_POINTS)}@{rng.randint(1, 4)}" if rng.random() < 0.85 else None
                      for _ in range(2)]
            plan.append(points)
            for record, _ in chain.round(points):
                assert record.returncode in (0, KILLED), f"{points}: {record.stderr}"
        (final, results), = chain.round([None])
    assert final.returncode == 0, f"{plan}: {final.stderr}"
    _check_exactly_once(workdir, results, _uninterrupted(tmp_path))
