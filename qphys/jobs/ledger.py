"""The SQLite job ledger: one row per remote job.

A row holds the device name, the job's identity (``job_key``: a digest of the circuit structures,
parameter values and run options), the structural hashes and parameter digest for people to read,
the provider's job id, the status, timestamps, attempts, the provider's error message and the
result as an ``.npz`` blob (numeric arrays only, loaded with ``allow_pickle=False``).
Credentials never reach the ledger: rows hold no payloads, options or tokens.

The file lives at ``$QPHYS_HOME/jobs.sqlite`` (default: the platform's user cache folder from
``platformdirs.user_cache_path("qphys")``: ``~/.cache/qphys`` on Linux, ``~/Library/Caches/qphys``
on macOS, ``%LOCALAPPDATA%\\qphys\\Cache`` on Windows). Python's built-in :mod:`sqlite3` is the storage.

Examples:
    >>> import tempfile, numpy as np
    >>> from qphys.jobs import Ledger
    >>> led = Ledger(tempfile.mktemp(suffix=".sqlite"))
    >>> row = led.create("aer.statevector", "key1", structure="ab12", params="cd34", num_circuits=3)
    >>> led.mark_submitted(row.id, "job-1")
    >>> led.mark_done(row.id, {"evs": np.ones(2)})
    >>> led.find("aer.statevector", "key1").status
    'done'
"""

from __future__ import annotations

import io
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from platformdirs import user_cache_path

from qphys.errors import ConfigError

#: Row states: ``pending`` (created, not yet accepted by the provider), ``submitted`` (the
#: provider has it; job id known), ``done`` (result stored), ``failed`` (permanent error),
#: ``lost`` (submitted to a provider that cannot re-attach, e.g. a local simulator that died).
STATUSES = ("pending", "submitted", "done", "failed", "lost")

_SCHEMA = """
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
    UNIQUE (device, job_key)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""


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
    """Inverse of :func:`encode_arrays` (``allow_pickle=False``)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


class Ledger:
    """The job ledger in one SQLite file.

    Args:
        path: file path (default :func:`default_path`); parent folders are created.
    """

    _COLUMNS = (
        "id, device, job_key, structure, params, num_circuits, job_id, status, attempts, error, "
        "created, updated, result IS NOT NULL"
    )

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    def __repr__(self):
        return f"Ledger({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0)
        return con

    def _exec(self, sql: str, args=()) -> None:
        con = self._connect()
        try:
            with con:
                con.execute(sql, args)
        finally:
            con.close()

    def _rows(self, sql: str, args=()) -> list[JobRecord]:
        con = self._connect()
        try:
            rows = con.execute(sql, args).fetchall()
        finally:
            con.close()
        return [JobRecord(*r[:12], bool(r[12])) for r in rows]

    # ---- reading ------------------------------------------------------------------------
    def find(self, device: str, job_key: str) -> JobRecord | None:
        """The row of ``device``'s job with identity ``job_key``, if any."""
        rows = self._rows(f"SELECT {self._COLUMNS} FROM jobs WHERE device=? AND job_key=?", (device, job_key))
        return rows[0] if rows else None

    def get(self, row_id: int) -> JobRecord:
        """The row with primary key ``row_id``."""
        rows = self._rows(f"SELECT {self._COLUMNS} FROM jobs WHERE id=?", (row_id,))
        if not rows:
            raise KeyError(f"no ledger row {row_id} in {self.path}")
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

    def result(self, row_id: int) -> dict[str, np.ndarray]:
        """The stored result arrays of a ``done`` row."""
        con = self._connect()
        try:
            row = con.execute("SELECT result FROM jobs WHERE id=?", (row_id,)).fetchone()
        finally:
            con.close()
        if row is None or row[0] is None:
            raise KeyError(f"ledger row {row_id} has no stored result")
        return decode_arrays(row[0])

    # ---- writing ------------------------------------------------------------------------
    def create(self, device: str, job_key: str, *, structure: str = "", params: str = "", num_circuits: int = 0) -> JobRecord:
        """Insert a ``pending`` row (or reset an existing failed/lost one) and return it."""
        now = time.time()
        existing = self.find(device, job_key)
        if existing is not None:
            self._exec(
                "UPDATE jobs SET status='pending', job_id=NULL, error=NULL, updated=? WHERE id=?",
                (now, existing.id),
            )
            return self.get(existing.id)
        self._exec(
            "INSERT INTO jobs (device, job_key, structure, params, num_circuits, status, created, updated) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (device, job_key, structure, params, num_circuits, now, now),
        )
        return self.find(device, job_key)

    def add_attempt(self, row_id: int, error: str | None = None) -> None:
        """Count one submission attempt (``error``: why it failed, if it did)."""
        self._exec(
            "UPDATE jobs SET attempts=attempts+1, error=?, updated=? WHERE id=?", (error, time.time(), row_id)
        )

    def mark_submitted(self, row_id: int, job_id: str) -> None:
        """The provider accepted the job under ``job_id``."""
        self._exec(
            "UPDATE jobs SET status='submitted', job_id=?, error=NULL, updated=? WHERE id=?",
            (str(job_id), time.time(), row_id),
        )

    def mark_done(self, row_id: int, arrays: dict[str, np.ndarray]) -> None:
        """Store the result and mark the row ``done``."""
        self._exec(
            "UPDATE jobs SET status='done', result=?, error=NULL, updated=? WHERE id=?",
            (encode_arrays(arrays), time.time(), row_id),
        )

    def mark_failed(self, row_id: int, message: str) -> None:
        """Permanent failure with the provider's ``message``."""
        self._exec("UPDATE jobs SET status='failed', error=?, updated=? WHERE id=?", (message, time.time(), row_id))

    def mark_lost(self, row_id: int, message: str) -> None:
        """The job cannot be re-attached (its provider kept it only in a dead process)."""
        self._exec("UPDATE jobs SET status='lost', error=?, updated=? WHERE id=?", (message, time.time(), row_id))

    def delete(self, *, status: str | None = None, device: str | None = None) -> int:
        """Delete rows (filtered like :meth:`records`); returns how many."""
        rows = self.records(status=status, device=device)
        con = self._connect()
        try:
            with con:
                con.executemany("DELETE FROM jobs WHERE id=?", [(r.id,) for r in rows])
        finally:
            con.close()
        return len(rows)
