"""The SQLite job ledger: one row per remote job, owned by one process at a time.

A row holds the device name, the job's identity (``job_key``: a digest of the circuit structures,
parameter values and run options), the structural hashes and parameter digest for people to read,
the client-side ``idempotency_key`` sent with the submission, the provider's job id, the status,
the owner (process) and its lease, timestamps, attempts, the provider's error message, a
description of the transport that can rebuild it without credentials, and the result as an
``.npz`` blob (numeric arrays only, loaded with ``allow_pickle=False``) with a SHA-256 checksum
that binds it to the job's identity. Credentials never reach the ledger.

Durability and concurrency:

- every write is one ``BEGIN IMMEDIATE`` transaction, committed with ``synchronous=FULL`` in WAL
  mode (fsync'd before the call returns), with a busy timeout for concurrent writers;
- :meth:`Ledger.claim` creates or takes over a row atomically (``INSERT ... ON CONFLICT DO
  NOTHING`` and an owner check in one transaction), so two processes never both submit a job;
- the idempotency key is durable before the job is submitted; a job id the provider returned is
  recorded right after (if that write fails, the id goes to a side log, ``<ledger>.accepted.jsonl``,
  and into the error, and the next run recovers it from there).

Every failure of the file (garbage or truncated, read-only or vanished folder, a dropped table,
a lock held too long, a result blob that fails its checksum) raises
:class:`~qphys.errors.LedgerError` naming the file and the fix.

The file lives at ``$QPHYS_HOME/jobs.sqlite`` (default: the platform's user cache folder from
``platformdirs.user_cache_path("qphys")``: ``~/.cache/qphys`` on Linux, ``~/Library/Caches/qphys``
on macOS, ``%LOCALAPPDATA%\\qphys\\Cache`` on Windows). Python's built-in :mod:`sqlite3` is the
storage; keep the ledger on a local disk (SQLite's WAL mode does not work on network file systems).

Examples:
    >>> import tempfile, numpy as np
    >>> from qphys.jobs import Ledger
    >>> led = Ledger(tempfile.mktemp(suffix=".sqlite"))
    >>> claim = led.claim("aer.statevector", "key1", structure="ab12", params="cd34", num_circuits=3)
    >>> claim.owned, claim.record.status, claim.record.idempotency_key.startswith("qphys-")
    (True, 'pending', True)
    >>> led.mark_submitted(claim.record.id, "job-1")
    >>> led.mark_done(claim.record.id, {"evs": np.ones(2)})
    >>> led.find("aer.statevector", "key1").status, led.result(claim.record.id)["evs"].tolist()
    ('done', [1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sqlite3
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from platformdirs import user_cache_path

from qphys.errors import ConfigError, LedgerError
from qphys.jobs.faults import kill_point
from qphys.jobs.lease import describe, owner_alive, this_process

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Row states: ``pending`` (claimed; its idempotency key is durable; the provider may or may not
#: have accepted it), ``submitted`` (the provider has it; job id known), ``done`` (result stored),
#: ``failed`` (permanent error), ``lost`` (the provider no longer knows the job, or it ran in a
#: process that died: it will be submitted again under a new idempotency key).
STATUSES = ("pending", "submitted", "done", "failed", "lost")

#: ``PRAGMA user_version`` of a ledger this version writes.
SCHEMA_VERSION = 2

_TABLE = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    job_key TEXT NOT NULL,
    structure TEXT,
    params TEXT,
    num_circuits INTEGER,
    job_id TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    result BLOB,
    idempotency_key TEXT,
    transport TEXT,
    owner TEXT,
    lease_until REAL,
    result_sha256 TEXT,
    identity_sha256 TEXT,
    UNIQUE (device, job_key)
)
"""
#: Columns added in schema version 2 (migrated into version-1 files with ``ALTER TABLE``).
_V2_COLUMNS = ("idempotency_key", "transport", "owner", "lease_until", "result_sha256", "identity_sha256")
_V2_TYPES = {"lease_until": "REAL"}


def qphys_home() -> Path:
    """``$QPHYS_HOME`` if set, else the platform's user cache folder for qphys
    (``platformdirs.user_cache_path("qphys")``; on Linux ``$XDG_CACHE_HOME/qphys`` or ``~/.cache/qphys``)."""
    env = os.environ.get("QPHYS_HOME")
    if env:
        return Path(env).expanduser()
    return user_cache_path("qphys")


def default_path() -> Path:
    """Path of the default ledger file: ``qphys_home() / "jobs.sqlite"``."""
    return qphys_home() / "jobs.sqlite"


def new_idempotency_key() -> str:
    """A fresh client-side idempotency key: ``"qphys-"`` and 32 hex digits (a random UUID)."""
    return f"qphys-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class JobRecord:
    """One ledger row (the result blob is loaded separately by :meth:`Ledger.result`)."""

    id: int
    device: str
    job_key: str
    structure: str | None
    params: str | None
    num_circuits: int | None
    job_id: str | None
    status: str
    attempts: int
    error: str | None
    created: float
    updated: float
    has_result: bool
    idempotency_key: str | None = None
    transport: str | None = None
    owner: str | None = None
    lease_until: float | None = None
    result_sha256: str | None = None
    identity_sha256: str | None = None

    @property
    def transport_spec(self) -> dict | None:
        """The recorded transport description (``{"factory": ..., "kwargs": {...}}``), if any."""
        if not self.transport:
            return None
        try:
            spec = json.loads(self.transport)
        except ValueError:
            return None
        return spec if isinstance(spec, dict) else None


@dataclass(frozen=True)
class Claim:
    """What :meth:`Ledger.claim` found: the row, whether this process now owns it, and whether
    the row was created by this claim (so it cannot have been submitted before)."""

    record: JobRecord
    owned: bool
    created: bool


class DamagedResultError(LedgerError):
    """A stored result fails its checksum or cannot be decoded (a :class:`LedgerError`)."""


def encode_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """``.npz`` bytes of numeric arrays (object arrays are refused)."""
    buf = io.BytesIO()
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            raise ConfigError(f"result array {k!r} has dtype object; the ledger stores numeric arrays only")
        clean[k] = a
    np.savez_compressed(buf, **clean)
    return buf.getvalue()


def decode_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """Inverse of :func:`encode_arrays` (``allow_pickle=False``).

    Raises:
        ValueError: ``blob`` is not an ``.npz`` archive of numeric arrays.
    """
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not an .npz archive of numeric arrays ({type(exc).__name__}: {exc})") from None


def _sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def identity_checksum(device: str, job_key: str, idempotency_key: str | None) -> str:
    """SHA-256 of a row's identity (device, job key, idempotency key)."""
    return _sha(device, job_key, idempotency_key or "")


def result_checksum(device: str, job_key: str, job_id: str | None, blob: bytes) -> str:
    """SHA-256 binding a result blob to its job (device, job key, job id)."""
    return _sha(device, job_key, job_id or "", blob)


class Ledger:
    """The job ledger in one SQLite file.

    Args:
        path: file path (default :func:`default_path`); parent folders are created.
        timeout: seconds a write waits for another process's transaction (SQLite busy timeout).
        lease: seconds an owner's claim on a row lasts without renewal (matters for owners on
            other hosts; a dead owner on this host is recognised at once).

    Raises:
        LedgerError: the file or its folder cannot be created, opened or read (the message names
            the file and the fix).
    """

    _COLUMNS = (
        "id, device, job_key, structure, params, num_circuits, job_id, status, attempts, error, "
        "created, updated, result IS NOT NULL, idempotency_key, transport, owner, lease_until, "
        "result_sha256, identity_sha256"
    )

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 30.0, lease: float = 120.0):
        self.path = Path(path) if path is not None else default_path()
        if not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ConfigError(f"ledger timeout must be a non-negative number of seconds, got {timeout!r}")
        if not (isinstance(lease, (int, float)) and lease > 0):
            raise ConfigError(f"ledger lease must be a positive number of seconds, got {lease!r}")
        self.timeout = float(timeout)
        self.lease = float(lease)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"cannot create the folder of the job ledger {self.path} ({type(exc).__name__}: {exc}); "
                "set QPHYS_HOME to a writable folder, pass ledger=<path> to the device, or ledger=False"
            ) from None
        if self.path.is_dir():
            raise LedgerError(f"the job ledger path {self.path} is a folder; give a file path (e.g. {self.path / 'jobs.sqlite'})")
        self._init_schema()

    def __repr__(self):
        return f"Ledger({str(self.path)!r})"

    # ---- connections and error translation ---------------------------------------------------
    def _fix_for(self, exc: BaseException) -> str:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return (
                f"another process held the ledger longer than {self.timeout:g} s; re-run (finished and "
                "submitted jobs are kept), or give concurrent scripts their own QPHYS_HOME"
            )
        if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
            return (
                "make the file and its folder writable, or set QPHYS_HOME to a writable folder (or pass "
                "ledger=False to run without a ledger)"
            )
        if "unable to open" in text or isinstance(exc, FileNotFoundError):
            return (
                "the file or its folder vanished while in use: restore it, or set QPHYS_HOME to an existing "
                f"folder; jobs the provider accepted meanwhile are listed in {self.side_log_path}"
            )
        if "no such table" in text or "no such column" in text:
            return (
                "the ledger's table was dropped or altered; move the file aside (it starts afresh) — jobs the "
                f"provider accepted are listed in {self.side_log_path} and at the provider"
            )
        return (
            f"the file is damaged or not a qphys ledger: move it aside (mv {self.path} {self.path}.damaged) "
            "and re-run; a fresh ledger is created"
        )

    def _error(self, what: str, exc: BaseException, cls: type[LedgerError] = LedgerError) -> LedgerError:
        return cls(f"job ledger {self.path}: {what} failed ({type(exc).__name__}: {exc}); {self._fix_for(exc)}")

    def _connect(self, *, create: bool = False) -> sqlite3.Connection:
        mode = "rwc" if create else "rw"
        uri = f"{self.path.resolve().as_uri()}?mode={mode}"
        con = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous=FULL")
        except BaseException:
            con.close()
            raise
        return con

    def _read(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            con = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise self._error(what, exc) from None
        try:
            return fn(con)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(what, exc) from None
        finally:
            con.close()

    def _write(self, op: str, fn: Callable[[sqlite3.Connection], T], *, what: str | None = None) -> T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction (kill points around the commit)."""
        what = what or op
        try:
            con = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise self._error(what, exc) from None
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                out = fn(con)
                kill_point(f"ledger.{op}.before_commit")
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            kill_point(f"ledger.{op}.committed")
            return out
        except (sqlite3.Error, OSError) as exc:
            raise self._error(what, exc) from None
        finally:
            con.close()

    def _init_schema(self) -> None:
        try:
            con = self._connect(create=True)
        except (sqlite3.Error, OSError) as exc:
            raise self._error("opening", exc) from None
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            has_table = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'").fetchone()
            if not has_table and version >= 1:
                raise LedgerError(
                    f"job ledger {self.path} has no jobs table although it was a ledger (schema version "
                    f"{version}): {self._fix_for(sqlite3.OperationalError('no such table: jobs'))}"
                )
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"job ledger {self.path} has schema version {version}, newer than this qphys "
                    f"({SCHEMA_VERSION}); upgrade qphys or set QPHYS_HOME to another folder"
                )
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.debug("job ledger %s: journal mode %s (WAL not available)", self.path, mode)
            con.execute("BEGIN IMMEDIATE")
            con.execute(_TABLE)
            cols = {r[1] for r in con.execute("PRAGMA table_info(jobs)")}
            for col in _V2_COLUMNS:
                if col not in cols:
                    con.execute(f"ALTER TABLE jobs ADD COLUMN {col} {_V2_TYPES.get(col, 'TEXT')}")
            con.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status)")
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            con.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise self._error("opening", exc) from None
        finally:
            con.close()

    # ---- reading ------------------------------------------------------------------------
    def _rows(self, sql: str, args=(), *, what="reading") -> list[JobRecord]:
        rows = self._read(what, lambda con: con.execute(sql, args).fetchall())
        return [JobRecord(*r[:12], bool(r[12]), *r[13:]) for r in rows]

    def find(self, device: str, job_key: str) -> JobRecord | None:
        """The row of ``device``'s job with identity ``job_key``, if any."""
        rows = self._rows(f"SELECT {self._COLUMNS} FROM jobs WHERE device=? AND job_key=?", (device, job_key))
        return rows[0] if rows else None

    def get(self, row_id: int) -> JobRecord:
        """The row with primary key ``row_id``.

        Raises:
            LedgerError: there is no such row (deleted, or the file was replaced).
        """
        rows = self._rows(f"SELECT {self._COLUMNS} FROM jobs WHERE id=?", (row_id,))
        if not rows:
            raise LedgerError(
                f"job ledger {self.path} has no row {row_id} (deleted or the file was replaced while in use); "
                "re-run: finished jobs still in the ledger are reused"
            )
        return rows[0]

    def records(self, *, status: str | None = None, device: str | None = None, limit: int | None = None) -> list[JobRecord]:
        """Rows, newest first, optionally filtered by ``status`` and ``device``."""
        where, args = [], []
        if status is not None:
            if status not in STATUSES:
                raise ConfigError(f"unknown job status {status!r}; use one of {', '.join(STATUSES)}")
            where.append("status=?")
            args.append(status)
        if device is not None:
            where.append("device=?")
            args.append(device)
        sql = f"SELECT {self._COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._rows(sql, args)

    def check_identity(self, row: JobRecord) -> None:
        """Raise :class:`LedgerError` if ``row``'s identity checksum does not match its fields."""
        if row.identity_sha256 is None:  # a row of a version-1 ledger
            return
        if row.identity_sha256 != identity_checksum(row.device, row.job_key, row.idempotency_key):
            raise LedgerError(
                f"job ledger {self.path}: row {row.id} ({row.device}, job id {row.job_id or 'none'}) fails its "
                "identity checksum: the row was edited or damaged; remove it with `qphys jobs forget "
                f"{row.id}` (look the job id up at the provider first if it was paid for)"
            )

    def result(self, row_id: int) -> dict[str, np.ndarray]:
        """The stored result arrays of a ``done`` row, checked against the row's checksum.

        Raises:
            DamagedResultError: no result, a result that fails its checksum, or one that cannot be
                decoded.
        """
        def fetch(con):
            return con.execute(
                "SELECT device, job_key, job_id, result, result_sha256 FROM jobs WHERE id=?", (row_id,)
            ).fetchone()

        row = self._read("reading a result", fetch)
        if row is None or row[3] is None:
            raise DamagedResultError(
                f"job ledger {self.path}: row {row_id} has no stored result; re-run to compute it"
            )
        device, job_key, job_id, blob, checksum = row
        if checksum is not None and checksum != result_checksum(device, job_key, job_id, blob):
            raise DamagedResultError(
                f"job ledger {self.path}: the stored result of row {row_id} ({device}, job {job_id}) fails its "
                "checksum (the file was modified or damaged); it is not used. Fetch it again from the "
                f"provider (re-run), or remove the row with `qphys jobs forget {row_id}` to recompute"
            )
        try:
            return decode_arrays(blob)
        except ValueError as exc:
            raise DamagedResultError(
                f"job ledger {self.path}: the stored result of row {row_id} cannot be decoded ({exc}); remove the "
                f"row with `qphys jobs forget {row_id}` to recompute"
            ) from None

    # ---- claiming ---------------------------------------------------------------------------
    def claim(self, device: str, job_key: str, *, structure: str = "", params: str = "", num_circuits: int = 0,
              transport: str | None = None, owner: str | None = None) -> Claim:
        """Create the row of a job, or take it over when its owner is gone, in one transaction.

        Returns a :class:`Claim`: ``owned`` is ``True`` when this process may now submit, re-attach
        or look the job up (a new row, a row it owns, or one whose owner died or whose lease
        expired); ``False`` when the row is ``done`` or another live process owns it.

        Args:
            transport: JSON description of the transport (see
                :meth:`qphys.jobs.Transport.rebuild_spec`), recorded for ``qphys jobs resume``.
            owner: the claiming process (default :func:`qphys.jobs.lease.this_process`).
        """
        me = owner or this_process()
        now = time.time()
        key = new_idempotency_key()

        def run(con):
            cur = con.execute(
                "INSERT INTO jobs (device, job_key, structure, params, num_circuits, status, created, updated, "
                "idempotency_key, transport, owner, lease_until, identity_sha256) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, job_key) DO NOTHING",
                (device, job_key, structure, params, num_circuits, now, now, key, transport, me, now + self.lease,
                 identity_checksum(device, job_key, key)),
            )
            created = cur.rowcount == 1
            row = con.execute(f"SELECT {self._COLUMNS} FROM jobs WHERE device=? AND job_key=?",
                              (device, job_key)).fetchone()
            rec = JobRecord(*row[:12], bool(row[12]), *row[13:])
            if created or rec.owner == me:
                return rec, True, created
            if rec.status == "done" and rec.has_result:
                return rec, False, False
            if owner_alive(rec.owner, rec.lease_until, now=now):
                return rec, False, False
            # the owner is gone (or there is none): take the row over, keeping its idempotency key
            idem = rec.idempotency_key or key
            con.execute(
                "UPDATE jobs SET owner=?, lease_until=?, idempotency_key=?, identity_sha256=?, "
                "transport=COALESCE(?, transport), updated=? WHERE id=?",
                (me, now + self.lease, idem, identity_checksum(device, job_key, idem) if rec.idempotency_key is None
                 else rec.identity_sha256, transport, now, rec.id),
            )
            if rec.owner:
                logger.info("%s: taking over ledger row %d from %s (gone)", device, rec.id, describe(rec.owner))
            row = con.execute(f"SELECT {self._COLUMNS} FROM jobs WHERE id=?", (rec.id,)).fetchone()
            return JobRecord(*row[:12], bool(row[12]), *row[13:]), True, False

        rec, owned, created = self._write("claim", run, what="claiming a job")
        if not created:
            self.check_identity(rec)
        return Claim(rec, owned, created)

    def take(self, row_id: int, *, owner: str | None = None) -> JobRecord:
        """Make this process the owner of row ``row_id`` (to re-fetch a damaged result)."""
        me = owner or this_process()
        self._write("take", lambda con: con.execute(
            "UPDATE jobs SET owner=?, lease_until=?, updated=? WHERE id=?",
            (me, time.time() + self.lease, time.time(), row_id)))
        return self.get(row_id)

    def renew(self, owner: str | None = None) -> int:
        """Push the lease of every unfinished row ``owner`` holds ``lease`` seconds ahead; returns
        how many rows."""
        me = owner or this_process()
        return self._write("renew", lambda con: con.execute(
            "UPDATE jobs SET lease_until=? WHERE owner=? AND status IN ('pending', 'submitted', 'lost')",
            (time.time() + self.lease, me)).rowcount)

    def restart(self, row_id: int, message: str | None = None) -> JobRecord:
        """Make a ``lost``/``failed`` row ``pending`` again under a new idempotency key (the old job
        is gone; a new one will be submitted)."""
        row = self.get(row_id)
        key = new_idempotency_key()

        def run(con):
            con.execute(
                "UPDATE jobs SET status='pending', job_id=NULL, idempotency_key=?, identity_sha256=?, "
                "error=COALESCE(?, error), updated=? WHERE id=?",
                (key, identity_checksum(row.device, row.job_key, key), message, time.time(), row_id),
            )

        self._write("restart", run)
        return self.get(row_id)

    # ---- writing ------------------------------------------------------------------------
    def create(self, device: str, job_key: str, *, structure: str = "", params: str = "", num_circuits: int = 0) -> JobRecord:
        """Insert a ``pending`` row owned by this process (or reset a ``failed``/``lost`` one) and
        return it. :meth:`claim` is what the runner uses; this is kept for scripts and tests."""
        claim = self.claim(device, job_key, structure=structure, params=params, num_circuits=num_circuits)
        if claim.record.status in ("failed", "lost"):
            return self.restart(claim.record.id)
        return claim.record

    def add_attempt(self, row_id: int, error: str | None = None) -> None:
        """Count one submission attempt (``error``: why it failed, if it did)."""
        self._write("attempt", lambda con: con.execute(
            "UPDATE jobs SET attempts=attempts+1, error=?, updated=? WHERE id=?", (error, time.time(), row_id)))

    def set_error(self, row_id: int, message: str) -> None:
        """Record ``message`` on the row without changing its status."""
        self._write("error", lambda con: con.execute(
            "UPDATE jobs SET error=?, updated=? WHERE id=?", (message, time.time(), row_id)))

    def mark_submitted(self, row_id: int, job_id: str, *, attempts: int = 3, count_attempt: bool = False) -> None:
        """The provider accepted the job under ``job_id`` (``count_attempt``: this was a new
        submission attempt, counted in the same write).

        This write must not be lost: a busy or failing ledger is retried ``attempts`` times; if it
        still fails, the job id goes to the side log (:attr:`side_log_path`) and the raised
        :class:`LedgerError` names it, so the next run (or a person) can re-attach instead of
        paying again.
        """
        last: LedgerError | None = None
        for k in range(attempts):
            try:
                self._write("submitted", lambda con: con.execute(
                    "UPDATE jobs SET status='submitted', job_id=?, error=NULL, attempts=attempts+?, lease_until=?, "
                    "updated=? WHERE id=?",
                    (str(job_id), int(count_attempt), time.time() + self.lease, time.time(), row_id)),
                    what="recording a submitted job")
                return
            except LedgerError as exc:
                last = exc
                time.sleep(min(0.05 * 2**k, 1.0))
        row = None
        try:
            row = self.get(row_id)
        except LedgerError:
            pass
        where = self.write_side_log({
            "row": row_id, "device": row.device if row else None, "job_key": row.job_key if row else None,
            "idempotency_key": row.idempotency_key if row else None, "job_id": str(job_id),
        })
        raise LedgerError(
            f"{last} — the provider ACCEPTED job {job_id} (ledger row {row_id}) but the ledger could not record it; "
            f"the job id is kept in {where}: re-run once the ledger is writable and it is re-attached without "
            "paying again"
        ) from None

    def mark_done(self, row_id: int, arrays: dict[str, np.ndarray]) -> None:
        """Store the result with its checksum, mark the row ``done`` and release it."""
        blob = encode_arrays(arrays)

        def run(con):
            row = con.execute("SELECT device, job_key, job_id FROM jobs WHERE id=?", (row_id,)).fetchone()
            if row is None:
                raise sqlite3.OperationalError(f"row {row_id} vanished")
            con.execute(
                "UPDATE jobs SET status='done', result=?, result_sha256=?, error=NULL, owner=NULL, lease_until=NULL, "
                "updated=? WHERE id=?",
                (blob, result_checksum(row[0], row[1], row[2], blob), time.time(), row_id),
            )

        self._write("done", run, what="storing a result")

    def mark_failed(self, row_id: int, message: str) -> None:
        """Permanent failure with the provider's ``message`` (the row is released; its
        idempotency key is kept, so a later attempt looks the job up before submitting)."""
        self._write("failed", lambda con: con.execute(
            "UPDATE jobs SET status='failed', error=?, owner=NULL, lease_until=NULL, updated=? WHERE id=?",
            (message, time.time(), row_id)))

    def mark_lost(self, row_id: int, message: str) -> None:
        """The job cannot be re-attached (its provider forgot it, or kept it only in a dead
        process); the next run submits it again under a new idempotency key."""
        self._write("lost", lambda con: con.execute(
            "UPDATE jobs SET status='lost', error=?, updated=? WHERE id=?", (message, time.time(), row_id)))

    def release(self, row_id: int) -> None:
        """Give up ownership of an unfinished row (another process may take it at once)."""
        self._write("release", lambda con: con.execute(
            "UPDATE jobs SET owner=NULL, lease_until=NULL WHERE id=?", (row_id,)))

    def delete(self, *, status: str | None = None, device: str | None = None) -> int:
        """Delete rows (filtered like :meth:`records`); returns how many."""
        rows = self.records(status=status, device=device)
        self.forget([r.id for r in rows])
        return len(rows)

    def forget(self, row_ids) -> int:
        """Delete the rows ``row_ids``; returns how many existed."""
        ids = [(int(i),) for i in row_ids]
        return self._write("forget", lambda con: sum(
            con.execute("DELETE FROM jobs WHERE id=?", i).rowcount for i in ids))

    # ---- the side log ----------------------------------------------------------------------
    @property
    def side_log_path(self) -> Path:
        """``<ledger>.accepted.jsonl``: job ids the provider accepted that the ledger could not record."""
        return self.path.with_name(self.path.name + ".accepted.jsonl")

    def _fallback_side_log(self) -> Path:
        return Path(tempfile.gettempdir()) / "qphys-accepted-jobs.jsonl"

    def write_side_log(self, entry: dict) -> str:
        """Append ``entry`` (with the ledger path and the time) to the side log, fsync'd; falls back
        to a file in the temporary folder, then to the log. Returns where it went."""
        entry = dict(entry, ledger=str(self.path), time=time.time())
        line = json.dumps(entry, sort_keys=True) + "\n"
        for target in (self.side_log_path, self._fallback_side_log()):
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line.encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                logger.error("job %s was accepted but not recorded in %s; kept in %s", entry.get("job_id"),
                             self.path, target)
                return str(target)
            except OSError:
                continue
        logger.error("job %s was accepted but could not be recorded anywhere: %s", entry.get("job_id"), line.strip())
        return "the log (no side log file could be written)"

    def side_log_job_id(self, idempotency_key: str | None) -> str | None:
        """The job id the side log holds for ``idempotency_key`` (the latest), if any."""
        if not idempotency_key:
            return None
        found = None
        for target in (self.side_log_path, self._fallback_side_log()):
            try:
                text = target.read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if (isinstance(entry, dict) and entry.get("idempotency_key") == idempotency_key
                        and entry.get("ledger") == str(self.path) and entry.get("job_id")):
                    found = str(entry["job_id"])
        return found


__all__ = [
    "STATUSES", "SCHEMA_VERSION", "JobRecord", "Claim", "Ledger", "DamagedResultError", "qphys_home",
    "default_path", "encode_arrays", "decode_arrays", "new_idempotency_key", "identity_checksum",
    "result_checksum",
]
