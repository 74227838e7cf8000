"""Transports: how a device hands a job to its provider and gets the result back.

A :class:`Transport` has three verbs: ``submit(payload) -> job_id``, ``result(job_id) -> arrays``
and ``status(job_id)``. Devices of remote providers implement one around their SDK (the Qiskit
plugin wraps qiskit-ibm-runtime's primitives); :class:`qphys.jobs.JobRunner` adds the ledger,
re-attachment and retries on top, so a transport stays a thin adapter.

The parts only a real server exercises — job ids that outlive a process, transient failures,
re-attachment after a crash — are tested through the wrappers here instead of being skipped:

- :class:`FaultInjectingTransport` fails a seeded fraction of submissions (and optionally of
  result fetches) with :class:`~qphys.errors.TransientJobError`;
- :class:`RecordingTransport` records every call (what was submitted, fetched, failed);
- :class:`LocalServerTransport` keeps jobs and results in a folder, like a provider's server:
  a job submitted by a process that then dies can be re-attached by id from a new process,
  and every accepted submission is counted in ``submissions.log``.
"""

from __future__ import annotations

import abc
import json
import os
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from qphys.errors import JobError, TransientJobError
from qphys.jobs.ledger import decode_arrays, encode_arrays


class JobNotFoundError(JobError):
    """The provider does not know the job id (expired, or held by a process that died)."""


class Transport(abc.ABC):
    """Submit jobs to a provider and fetch their results.

    Attributes:
        name: the provider, for logs and the ledger listing.
        can_reattach: whether a job id from an earlier process can be fetched again
            (``False`` for in-process simulators).

    Examples:
        >>> import numpy as np
        >>> from qphys.jobs import Transport
        >>> class Echo(Transport):
        ...     name = "echo"
        ...     def submit(self, payload):
        ...         self.last = payload
        ...         return "job-0"
        ...     def result(self, job_id, timeout=None):
        ...         return {"x": np.asarray(self.last)}
        >>> t = Echo(); t.result(t.submit([1, 2]))["x"].tolist()
        [1, 2]
    """

    name: str = "transport"
    can_reattach: bool = True

    @abc.abstractmethod
    def submit(self, payload: Any) -> str:
        """Hand ``payload`` to the provider; return its job id.

        Raises:
            TransientJobError: nothing was accepted; retrying may succeed.
            JobError: the provider refused the job (message from the provider).
        """

    @abc.abstractmethod
    def result(self, job_id: str, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Wait for job ``job_id`` and return its result as numeric arrays.

        Raises:
            TransientJobError: the result could not be fetched now (the job itself is fine).
            JobNotFoundError: the provider does not know ``job_id``.
            JobError: the job failed (message from the provider).
        """

    def status(self, job_id: str) -> str:
        """Provider status of ``job_id`` (``"unknown"`` unless the transport can tell)."""
        return "unknown"

    def describe(self) -> str:
        """One line for logs (never credentials)."""
        return self.name


class WrappingTransport(Transport):
    """Base of transports that wrap another one (``inner``)."""

    def __init__(self, inner: Transport):
        self.inner = inner
        self.name = inner.name
        self.can_reattach = inner.can_reattach

    def submit(self, payload):
        return self.inner.submit(payload)

    def result(self, job_id, timeout=None):
        return self.inner.result(job_id, timeout)

    def status(self, job_id):
        return self.inner.status(job_id)


class FaultInjectingTransport(WrappingTransport):
    """Fail a seeded random fraction of calls with :class:`~qphys.errors.TransientJobError`.

    A failed submission never reaches ``inner`` (like a request refused before the provider
    created a job, so nothing is paid); a failed fetch happens after the job exists, so a
    correct client must fetch again rather than resubmit.

    Args:
        inner: the transport that does the real work.
        submit_failure_rate: probability that one ``submit`` fails.
        result_failure_rate: probability that one ``result`` fetch fails.
        seed: seed of the failure pattern.

    Examples:
        >>> import qphys
        >>> from qphys.jobs import FaultInjectingTransport, RetryPolicy
        >>> dev = qphys.device("aer.statevector", retry=RetryPolicy(base_delay=0.0),
        ...                    transport=lambda t: FaultInjectingTransport(t, submit_failure_rate=0.5))
        >>> c = qphys.Circuit(wires=1).x(0).expval(qphys.Z(0))
        >>> float(qphys.execute(c, dev).expvals[0]), dev.jobs_submitted
        (-1.0, 1)
    """

    def __init__(self, inner: Transport, *, submit_failure_rate: float = 0.3, result_failure_rate: float = 0.0, seed: int = 0):
        super().__init__(inner)
        for label, rate in (("submit_failure_rate", submit_failure_rate), ("result_failure_rate", result_failure_rate)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {rate!r}")
        self.submit_failure_rate = submit_failure_rate
        self.result_failure_rate = result_failure_rate
        self._rng = random.Random(seed)
        self.injected_submit_failures = 0
        self.injected_result_failures = 0

    def submit(self, payload):
        if self._rng.random() < self.submit_failure_rate:
            self.injected_submit_failures += 1
            raise TransientJobError("injected transient failure: 503 Service Unavailable (submission refused)")
        return self.inner.submit(payload)

    def result(self, job_id, timeout=None):
        if self._rng.random() < self.result_failure_rate:
            self.injected_result_failures += 1
            raise TransientJobError(f"injected transient failure while fetching {job_id}: connection reset")
        return self.inner.result(job_id, timeout)


class RecordingTransport(WrappingTransport):
    """Record every call as ``(verb, job_id or None, outcome)`` in :attr:`calls`."""

    def __init__(self, inner: Transport):
        super().__init__(inner)
        self.calls: list[tuple[str, str | None, str]] = []

    @property
    def submissions(self) -> int:
        """Accepted submissions (jobs the provider created)."""
        return sum(1 for verb, _, outcome in self.calls if verb == "submit" and outcome == "ok")

    def submit(self, payload):
        try:
            job_id = self.inner.submit(payload)
        except JobError as exc:
            self.calls.append(("submit", None, f"{type(exc).__name__}: {exc}"))
            raise
        self.calls.append(("submit", job_id, "ok"))
        return job_id

    def result(self, job_id, timeout=None):
        try:
            out = self.inner.result(job_id, timeout)
        except JobError as exc:
            self.calls.append(("result", job_id, f"{type(exc).__name__}: {exc}"))
            raise
        self.calls.append(("result", job_id, "ok"))
        return out


class LocalServerTransport(WrappingTransport):
    """A folder standing in for a provider's job server.

    ``submit`` runs the job on ``inner`` right away (as a server would, whatever happens to the
    client) and keeps the result under a fresh job id in ``root``; ``result`` reads it back, from
    any process. Each accepted submission appends one line to ``root/submissions.log``, so tests
    count what would have been paid.

    Args:
        root: the server's folder (created).
        inner: the transport that computes results.
    """

    def __init__(self, root: str | os.PathLike, inner: Transport):
        super().__init__(inner)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.can_reattach = True
        self.name = f"local-server[{inner.name}]"
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.root / "submissions.log"

    def submissions(self) -> list[dict]:
        """Every accepted submission (from all processes), oldest first."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def submit(self, payload):
        inner_id = self.inner.submit(payload)
        job_id = f"srv-{uuid.uuid4().hex[:12]}"
        arrays = self.inner.result(inner_id)
        (self.root / f"{job_id}.npz").write_bytes(encode_arrays(arrays))
        with self._lock, open(self.log_path, "a") as fh:
            fh.write(json.dumps({"job_id": job_id, "time": time.time(), "pid": os.getpid()}) + "\n")
        return job_id

    def result(self, job_id, timeout=None):
        path = self.root / f"{job_id}.npz"
        if not path.exists():
            raise JobNotFoundError(f"server {self.root} has no job {job_id!r}")
        return decode_arrays(path.read_bytes())

    def status(self, job_id):
        return "done" if (self.root / f"{job_id}.npz").exists() else "unknown"
