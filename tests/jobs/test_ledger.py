"""The ledger: claims and leases, checksums, shapes, and every way the file can fail (a LedgerError)."""

import json
import os
import sqlite3
import stat
import sys

import numpy as np
import pytest
from jobs_testutil import Flaky

from qphys.errors import ConfigError, LedgerError
from qphys.jobs import DamagedResultError, JobRunner, JobSpec, Ledger, RetryPolicy
from qphys.jobs.lease import hostname, owner_alive, this_process
from qphys.jobs.ledger import decode_arrays, encode_arrays


def test_roundtrip_and_listing(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    claim = led.claim("dev", "k", structure="s", params="p", num_circuits=4)
    row = claim.record
    assert claim.owned and claim.created and row.status == "pending" and not row.has_result
    assert row.idempotency_key.startswith("qphys-") and row.owner == this_process()
    led.mark_submitted(row.id, "job-9")
    assert led.find("dev", "k").job_id == "job-9"
    led.mark_done(row.id, {"a": np.arange(3.0)})
    assert led.result(row.id)["a"].tolist() == [0.0, 1.0, 2.0]
    done = led.get(row.id)
    assert done.status == "done" and done.owner is None and done.result_sha256
    assert [r.status for r in led.records(status="done")] == ["done"]
    assert decode_arrays(encode_arrays({"b": np.eye(2)}))["b"].shape == (2, 2)
    assert led.delete(status="done") == 1 and led.records() == []
    with pytest.raises(ConfigError, match="unknown job status 'doen'; use one of"):
        led.records(status="doen")


def test_qphys_home_sets_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("QPHYS_HOME", str(tmp_path / "home"))
    assert Ledger().path == tmp_path / "home" / "jobs.sqlite"


def test_default_home_is_the_platform_user_cache_folder(tmp_path, monkeypatch):
    import platformdirs

    from qphys.jobs import ledger as ledger_module
    from qphys.jobs import qphys_home

    monkeypatch.delenv("QPHYS_HOME", raising=False)
    assert qphys_home() == platformdirs.user_cache_path("qphys")
    mac = tmp_path / "Library" / "Caches" / "qphys"
    monkeypatch.setattr(ledger_module, "user_cache_path", lambda app: mac if app == "qphys" else None)
    assert qphys_home() == mac and Ledger().path == mac / "jobs.sqlite"


def test_wal_mode_and_schema_version(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    con = sqlite3.connect(led.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()


def test_claims_one_owner_at_a_time(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    parent = f"{hostname()}|{os.getppid()}|-"  # a live process on this host (pytest's parent)
    first = led.claim("dev", "k", owner=parent)
    assert first.owned and first.created
    second = led.claim("dev", "k")  # the owner is alive: not ours
    assert not second.owned and not second.created and second.record.owner == parent
    dead = f"{hostname()}|999999999|-"  # no such pid
    led._write("x", lambda con: con.execute("UPDATE jobs SET owner=? WHERE id=?", (dead, first.record.id)))
    taken = led.claim("dev", "k")  # the owner is gone: taken over, idempotency key kept
    assert taken.owned and not taken.created and taken.record.owner == this_process()
    assert taken.record.idempotency_key == first.record.idempotency_key


def test_owner_on_another_host_holds_until_its_lease_expires(tmp_path):
    led = Ledger(tmp_path / "l.sqlite", lease=60.0)
    row = led.claim("dev", "k", owner="otherhost|123|-").record
    assert not led.claim("dev", "k").owned  # lease running
    led._write("x", lambda con: con.execute("UPDATE jobs SET lease_until=0 WHERE id=?", (row.id,)))
    assert led.claim("dev", "k").owned
    assert not owner_alive("otherhost|123|-", 0.0) and owner_alive("otherhost|123|-", 1e12)


def test_recycled_pid_is_not_the_owner():
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        pytest.skip("needs /proc to read process start times")
    pid, start = this_process().split("|")[1:]
    assert owner_alive(this_process(), None)
    assert not owner_alive(f"{hostname()}|{os.getppid()}|{int(start) + 1}", None)  # same pid space, other start


def test_a_result_swapped_between_rows_fails_its_checksum(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    rows = []
    for k, value in (("a", 1.0), ("b", 2.0)):
        r = led.claim("dev", k).record
        led.mark_submitted(r.id, f"job-{k}")
        led.mark_done(r.id, {"evs": np.full(3, value)})
        rows.append(r.id)
    # a damaged ledger: row a gets row b's blob AND its checksum
    led._write("x", lambda con: con.execute(
        "UPDATE jobs SET result=(SELECT result FROM jobs WHERE id=?), result_sha256=(SELECT result_sha256 FROM "
        "jobs WHERE id=?) WHERE id=?", (rows[1], rows[1], rows[0])))
    with pytest.raises(DamagedResultError, match=r"row \d+ \(dev, job job-a\) fails its checksum .*qphys jobs forget"):
        led.result(rows[0])
    assert led.result(rows[1])["evs"].tolist() == [2.0] * 3


def test_a_damaged_result_is_fetched_again_or_refused(tmp_path):
    """Reused results are checked: a re-attachable job is fetched again, an in-process one is refused
    with the command that recomputes it; a blob with too few rows is never broadcast."""
    led = Ledger(tmp_path / "l.sqlite")
    t = Flaky()
    runner = JobRunner("dev", t, ledger=led)
    spec = JobSpec("k", [1.0, 2.0], expected={"x": 2})
    assert runner.run(spec)["x"].tolist() == [1.0, 2.0]
    row = led.find("dev", "k")
    short = encode_arrays({"x": np.array([1.0])})
    led._write("x", lambda con: con.execute("UPDATE jobs SET result=?, result_sha256=NULL WHERE id=?", (short, row.id)))
    again = JobRunner("dev", t, ledger=led)
    assert again.run(spec)["x"].tolist() == [1.0, 2.0]  # Flaky re-attaches: fetched again, not reused
    assert again.stats.reattached == 1 and again.stats.reused == 0 and t.submitted == 1
    assert led.result(row.id)["x"].shape == (2,)  # and repaired
    t.can_reattach = False
    led._write("x", lambda con: con.execute("UPDATE jobs SET result=?, result_sha256=NULL WHERE id=?", (short, row.id)))
    with pytest.raises(DamagedResultError, match=r"does not fit the job \(array 'x' has shape \(1,\), expected 2 row"):
        JobRunner("dev", t, ledger=led).run(spec)


def test_an_edited_row_identity_is_refused(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    r = led.claim("dev", "k").record
    led.release(r.id)
    led._write("x", lambda con: con.execute("UPDATE jobs SET idempotency_key='qphys-forged' WHERE id=?", (r.id,)))
    with pytest.raises(LedgerError, match="fails its identity checksum: the row was edited or damaged"):
        led.claim("dev", "k")


@pytest.mark.parametrize("content", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\x01" * 500])
def test_garbage_and_truncated_files(tmp_path, content):
    path = tmp_path / "l.sqlite"
    path.write_bytes(content)
    with pytest.raises(LedgerError, match=rf"job ledger {path}: opening failed .*move it aside \(mv "):
        Ledger(path)


def test_a_ledger_truncated_while_in_use(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    led.claim("dev", "k")
    good = led.path.read_bytes() if led.path.stat().st_size else b""
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"l.sqlite{suffix}").unlink(missing_ok=True)
    led.path.write_bytes(good[: len(good) // 2] if good else b"junk" * 64)
    with pytest.raises(LedgerError, match=r"job ledger .*l\.sqlite: .* failed .*(move it aside|dropped)"):
        led.records()


def test_a_dropped_table(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    led._write("x", lambda con: con.execute("DROP TABLE jobs"))
    with pytest.raises(LedgerError, match=r"no such table: jobs.*table was dropped or altered; move the file aside"):
        led.find("dev", "k")
    with pytest.raises(LedgerError, match=r"has no jobs table although it was a ledger"):
        Ledger(led.path)


def test_a_vanished_home(tmp_path):
    home = tmp_path / "home"
    led = Ledger(home / "jobs.sqlite")
    for f in home.iterdir():
        f.unlink()
    home.rmdir()
    with pytest.raises(LedgerError, match=r"unable to open database file.*vanished while in use"):
        led.claim("dev", "k")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_home(tmp_path):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(LedgerError, match=r"cannot create|opening failed.*writable"):
            Ledger(home / "sub" / "jobs.sqlite")
    finally:
        home.chmod(stat.S_IRWXU)


def test_a_read_only_file(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    r = led.claim("dev", "k").record
    ro = Ledger(tmp_path / "l.sqlite")
    ro._connect = lambda create=False: sqlite3.connect(f"{ro.path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(LedgerError, match=r"attempt to write a readonly database.*make the file and its folder writable"):
        ro.mark_failed(r.id, "x")


def test_a_locked_ledger_keeps_the_accepted_job_id_in_the_side_log(tmp_path):
    """The provider accepted a job, but the ledger stays locked: the job id goes to the side log and
    into the error; the next run re-attaches from there instead of paying again."""
    led = Ledger(tmp_path / "l.sqlite", timeout=0.05)
    blocker = sqlite3.connect(led.path, isolation_level=None)

    class LockAfterAccepting(Flaky):  # another process grabs the ledger right after the provider accepted
        def submit(self, payload, idempotency_key):
            job_id = super().submit(payload, idempotency_key)
            blocker.execute("BEGIN EXCLUSIVE")
            return job_id

    t = LockAfterAccepting()
    try:
        with pytest.raises(LedgerError, match=r"database is locked.*ACCEPTED job j1 \(ledger row \d+\).*accepted\.jsonl"):
            JobRunner("dev", t, ledger=led, retry=RetryPolicy(sleep=lambda s: None)).run(JobSpec("k", [5]))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    row = led.find("dev", "k")
    entry = json.loads(led.side_log_path.read_text().splitlines()[-1])
    assert entry["job_id"] == "j1" and entry["idempotency_key"] == row.idempotency_key
    assert "token" not in json.dumps(entry).lower()
    assert led.get(row.id).status == "pending"
    t.submit = Flaky.submit.__get__(t)  # no more locking
    rerun = JobRunner("dev", t, ledger=led)
    assert rerun.run(JobSpec("k", [5]))["x"].tolist() == [5]
    assert t.submitted == 1 and rerun.stats.recovered == 1  # found in the side log: not paid twice


def test_a_version_1_ledger_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, job_key TEXT NOT NULL, "
        "structure TEXT, params TEXT, num_circuits INTEGER, job_id TEXT, status TEXT NOT NULL, attempts INTEGER NOT "
        "NULL DEFAULT 0, error TEXT, created REAL NOT NULL, updated REAL NOT NULL, result BLOB, UNIQUE (device, "
        "job_key));"
    )
    con.execute("INSERT INTO jobs (device, job_key, job_id, status, created, updated, result) VALUES "
                "('dev', 'k', 'old-1', 'done', 0, 0, ?)", (encode_arrays({"x": np.ones(2)}),))
    con.commit()
    con.close()
    led = Ledger(path)
    claim = led.claim("dev", "k")
    assert not claim.owned and claim.record.status == "done"
    assert led.result(claim.record.id)["x"].tolist() == [1.0, 1.0]  # no checksum yet: accepted as it is


def test_the_ledger_refuses_a_folder_and_bad_settings(tmp_path):
    with pytest.raises(LedgerError, match="is a folder; give a file path"):
        Ledger(tmp_path)
    with pytest.raises(ConfigError, match="lease must be a positive number"):
        Ledger(tmp_path / "l.sqlite", lease=0)
