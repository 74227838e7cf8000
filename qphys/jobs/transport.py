"""Transports: how a device hands a job to its provider and gets the result back.

The transport protocol (what a provider plugin implements; :class:`qphys.jobs.JobRunner` adds the
ledger, ownership, re-attachment, look-ups and retries on top, so a transport stays a thin adapter):

``submit(payload, idempotency_key) -> job_id``
    Hand ``payload`` to the provider together with ``idempotency_key``, a client-side key the
    runner made durable in the ledger *before* calling. The transport sends the key with the job
    in whatever form the provider keeps and can search (IBM Runtime: a job tag; an HTTP API: an
    ``Idempotency-Key`` header or a job name/metadata field; a folder: a log line), so that a
    client that crashed before hearing the job id can find the job again. Raise
    :class:`~qphys.errors.TransientJobError` when retrying may succeed, :class:`~qphys.errors.JobError`
    with the provider's message when it refused the job.
``result(job_id, timeout=None) -> dict[str, numpy.ndarray]``
    Wait at most ``timeout`` seconds (``None``: as long as it takes) and return numeric arrays.
    Raise :class:`~qphys.errors.JobTimeoutError` on expiry (the job stays re-attachable),
    :class:`JobNotFoundError` when the provider does not know ``job_id``,
    :class:`~qphys.errors.TransientJobError` when fetching failed but the job is fine,
    :class:`~qphys.errors.JobError` when the job failed.
``lookup(idempotency_key) -> job_id | None`` (only where ``can_lookup = True``)
    The job submitted with this key, or ``None`` when the provider has none. The runner calls it
    before (re)submitting a job whose earlier submission may have been accepted (a crash, a
    connection lost after the request was sent). A transport without a look-up keeps
    ``can_lookup = False``: then a crash between the provider's acceptance and the ledger write
    (one fsync'd SQLite commit) can make the next run submit the job again — say so in the
    device's documentation.
``rebuild_spec() -> {"factory": "module:callable", "kwargs": {...}} | None``
    What ``qphys jobs resume`` needs to build an equivalent transport in another process: an
    importable factory decorated with :func:`transport_factory` and JSON keyword arguments —
    never credentials (keys that look like tokens, passwords or secrets are refused); the
    rebuilt transport gets them from the provider's own mechanism (saved account, environment).
    ``None``: the transport cannot be rebuilt (in-process simulators).

Attributes ``name`` (for logs), ``can_reattach`` (a job id from another process can be fetched)
and ``can_lookup`` complete the protocol; ``status(job_id)`` and ``describe()`` are optional.

The parts only a real server exercises — job ids that outlive a process, transient failures,
responses lost after the provider accepted a job, re-attachment after a crash — are tested
through the wrappers here instead of being skipped:

- :class:`FaultInjectingTransport` fails a seeded fraction of submissions (before or after the
  provider accepted them) and of result fetches;
- :class:`RecordingTransport` records every call (what was submitted, fetched, looked up);
- :class:`LocalServerTransport` keeps jobs and results in a folder, like a provider's server:
  jobs outlive the process that submitted them, can be found by idempotency key and re-attached
  by id from a new process, and every accepted submission (what would be paid) is one line of
  ``submissions.log``.
"""

from __future__ import annotations

import abc
import importlib
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qphys.errors import ConfigError, JobError, JobTimeoutError, QphysError, TransientJobError
from qphys.jobs.faults import kill_point
from qphys.jobs.ledger import decode_arrays, encode_arrays


class JobNotFoundError(JobError):
    """The provider does not know the job id (expired, or held by a process that died)."""


class Transport(abc.ABC):
    """Submit jobs to a provider and fetch their results (the protocol is in the module docstring).

    Attributes:
        name: the provider, for logs and the ledger listing.
        can_reattach: whether a job id from an earlier process can be fetched again
            (``False`` for in-process simulators).
        can_lookup: whether :meth:`lookup` finds a job by its idempotency key.

    Examples:
        >>> import numpy as np
        >>> from qphys.jobs import Transport
        >>> class Echo(Transport):
        ...     name = "echo"
        ...     def submit(self, payload, idempotency_key):
        ...         self.last = payload
        ...         return "job-0"
        ...     def result(self, job_id, timeout=None):
        ...         return {"x": np.asarray(self.last)}
        >>> t = Echo(); t.result(t.submit([1, 2], idempotency_key="qphys-0"))["x"].tolist()
        [1, 2]
    """

    name: str = "transport"
    can_reattach: bool = True
    can_lookup: bool = False

    @abc.abstractmethod
    def submit(self, payload: Any, idempotency_key: str) -> str:
        """Hand ``payload`` to the provider with ``idempotency_key``; return its job id.

        Raises:
            TransientJobError: nothing was accepted (or it is unknown whether it was); retrying
                may succeed.
            JobError: the provider refused the job (message from the provider).
        """

    @abc.abstractmethod
    def result(self, job_id: str, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Wait for job ``job_id`` (at most ``timeout`` seconds) and return its result as numeric arrays.

        Raises:
            JobTimeoutError: the job did not finish within ``timeout``.
            TransientJobError: the result could not be fetched now (the job itself is fine).
            JobNotFoundError: the provider does not know ``job_id``.
            JobError: the job failed (message from the provider).
        """

    def lookup(self, idempotency_key: str) -> str | None:
        """The id of the job submitted with ``idempotency_key``, or ``None`` if the provider has none.

        Only called when :attr:`can_lookup` is true.

        Raises:
            TransientJobError: the provider could not be asked now.
        """
        return None

    def status(self, job_id: str) -> str:
        """Provider status of ``job_id`` (``"unknown"`` unless the transport can tell)."""
        return "unknown"

    def describe(self) -> str:
        """One line for logs (never credentials)."""
        return self.name

    def rebuild_spec(self) -> dict | None:
        """``{"factory": "module:callable", "kwargs": {...}}`` that rebuilds an equivalent transport in
        another process (no credentials), or ``None`` when it cannot be rebuilt."""
        return None


class WrappingTransport(Transport):
    """Base of transports that wrap another one (``inner``); they look it up and rebuild as it does."""

    def __init__(self, inner: Transport):
        self.inner = inner
        self.name = inner.name
        self.can_reattach = inner.can_reattach
        self.can_lookup = inner.can_lookup

    def submit(self, payload, idempotency_key):
        return self.inner.submit(payload, idempotency_key)

    def result(self, job_id, timeout=None):
        return self.inner.result(job_id, timeout)

    def lookup(self, idempotency_key):
        return self.inner.lookup(idempotency_key)

    def status(self, job_id):
        return self.inner.status(job_id)

    def rebuild_spec(self):
        return self.inner.rebuild_spec()


class FaultInjectingTransport(WrappingTransport):
    """Fail a seeded random fraction of calls with :class:`~qphys.errors.TransientJobError`.

    A failed submission either never reaches ``inner`` (a request refused before the provider
    created a job, so nothing is paid) or, with ``lost_response_rate``, reaches it and loses the
    response (the provider accepted and will charge the job, the client hears a connection reset):
    a correct client then looks the job up by its idempotency key instead of paying again. A failed
    fetch happens after the job exists, so a correct client fetches again rather than resubmit.

    Args:
        inner: the transport that does the real work.
        submit_failure_rate: probability that one ``submit`` fails before reaching the provider.
        result_failure_rate: probability that one ``result`` fetch fails.
        lost_response_rate: probability that one ``submit`` reaches the provider and its response
            is lost.
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

    def __init__(self, inner: Transport, *, submit_failure_rate: float = 0.3, result_failure_rate: float = 0.0,
                 lost_response_rate: float = 0.0, seed: int = 0):
        super().__init__(inner)
        for label, rate in (("submit_failure_rate", submit_failure_rate), ("result_failure_rate", result_failure_rate),
                            ("lost_response_rate", lost_response_rate)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ConfigError(f"{label} must be a probability in [0, 1), got {rate!r}")
        self.submit_failure_rate = submit_failure_rate
        self.result_failure_rate = result_failure_rate
        self.lost_response_rate = lost_response_rate
        self._rng = random.Random(seed)
        self.injected_submit_failures = 0
        self.injected_result_failures = 0
        self.injected_lost_responses = 0

    def submit(self, payload, idempotency_key):
        if self._rng.random() < self.submit_failure_rate:
            self.injected_submit_failures += 1
            raise TransientJobError("injected transient failure: 503 Service Unavailable (submission refused)")
        job_id = self.inner.submit(payload, idempotency_key)
        if self._rng.random() < self.lost_response_rate:
            self.injected_lost_responses += 1
            raise TransientJobError("injected transient failure: connection reset after the request was sent")
        return job_id

    def result(self, job_id, timeout=None):
        if self._rng.random() < self.result_failure_rate:
            self.injected_result_failures += 1
            raise TransientJobError(f"injected transient failure while fetching {job_id}: connection reset")
        return self.inner.result(job_id, timeout)


class RecordingTransport(WrappingTransport):
    """Record every call as ``(verb, job_id or key, outcome)`` in :attr:`calls`."""

    def __init__(self, inner: Transport):
        super().__init__(inner)
        self.calls: list[tuple[str, str | None, str]] = []

    @property
    def submissions(self) -> int:
        """Accepted submissions (jobs the provider created and answered for)."""
        return sum(1 for verb, _, outcome in self.calls if verb == "submit" and outcome == "ok")

    def submit(self, payload, idempotency_key):
        try:
            job_id = self.inner.submit(payload, idempotency_key)
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

    def lookup(self, idempotency_key):
        found = self.inner.lookup(idempotency_key)
        self.calls.append(("lookup", idempotency_key, found or "none"))
        return found


def _fsync_append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class LocalServerTransport(Transport):
    """A folder standing in for a provider's job server.

    ``submit`` runs the job on ``inner`` right away (as a server would, whatever happens to the
    client), keeps the result under a fresh job id in ``root`` and appends one line
    ``{"job_id", "idempotency_key", "ready", "pid", "time"}`` to ``root/submissions.log``: that
    line is the provider's acceptance (what would be paid). ``result`` reads the result back from
    any process (after ``latency`` seconds, like a queue), and ``lookup`` finds a job by its
    idempotency key. A transport rebuilt from the ledger (:meth:`rebuild_spec`) has no ``inner``:
    it re-attaches and looks up, and refuses new submissions.

    Args:
        root: the server's folder (created).
        inner: the transport that computes results (``None``: re-attach only).
        latency: seconds between acceptance and the result being available.

    Examples:
        >>> import tempfile, numpy as np
        >>> from qphys.jobs import LocalServerTransport, Transport
        >>> class Double(Transport):
        ...     can_reattach = False
        ...     def submit(self, payload, idempotency_key):
        ...         self.x = payload
        ...         return "local-1"
        ...     def result(self, job_id, timeout=None):
        ...         return {"y": 2 * np.asarray(self.x)}
        >>> server = LocalServerTransport(tempfile.mkdtemp(), Double())
        >>> job = server.submit([1, 2], idempotency_key="qphys-abc")
        >>> server.lookup("qphys-abc") == job, server.result(job)["y"].tolist(), len(server.submissions())
        (True, [2, 4], 1)
    """

    can_reattach = True
    can_lookup = True

    def __init__(self, root: str | os.PathLike, inner: Transport | None = None, *, latency: float = 0.0):
        if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
            raise ConfigError(f"latency must be a non-negative number of seconds, got {latency!r}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.inner = inner
        self.latency = float(latency)
        self.name = f"local-server[{inner.name if inner is not None else 'rebuilt'}]"
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.root / "submissions.log"

    def submissions(self) -> list[dict]:
        """Every accepted submission (from all processes), oldest first."""
        try:
            text = self.log_path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line torn by a kill mid-write is no acceptance
                continue
        return out

    def submit(self, payload, idempotency_key):
        if self.inner is None:
            raise JobError(
                f"{self.name} was rebuilt from the ledger to re-attach only (it has no inner transport to "
                "compute new jobs); re-run the script to submit"
            )
        inner_id = self.inner.submit(payload, idempotency_key)
        arrays = self.inner.result(inner_id)
        job_id = f"srv-{uuid.uuid4().hex[:12]}"
        _atomic_write(self.root / f"{job_id}.npz", encode_arrays(arrays))
        now = time.time()
        entry = {"job_id": job_id, "idempotency_key": idempotency_key, "ready": now + self.latency,
                 "pid": os.getpid(), "time": now}
        with self._lock:
            _fsync_append(self.log_path, json.dumps(entry) + "\n")
        kill_point("server.accepted")
        return job_id

    def _entry(self, job_id: str) -> dict | None:
        for e in self.submissions():
            if e.get("job_id") == job_id:
                return e
        return None

    def lookup(self, idempotency_key):
        found = None
        for e in self.submissions():
            if e.get("idempotency_key") == idempotency_key and (self.root / f"{e['job_id']}.npz").exists():
                found = e["job_id"]
        return found

    def result(self, job_id, timeout=None):
        path = self.root / f"{job_id}.npz"
        entry = self._entry(job_id)
        if entry is None or not path.exists():
            raise JobNotFoundError(f"server {self.root} has no job {job_id!r}")
        wait = float(entry.get("ready", 0.0)) - time.time()
        if wait > 0:
            if timeout is not None and wait > timeout:
                time.sleep(max(timeout, 0.0))
                raise JobTimeoutError(f"job {job_id} on server {self.root} is still queued after {timeout:g} s")
            time.sleep(wait)
        return decode_arrays(path.read_bytes())

    def status(self, job_id):
        entry = self._entry(job_id)
        if entry is None or not (self.root / f"{job_id}.npz").exists():
            return "unknown"
        return "done" if float(entry.get("ready", 0.0)) <= time.time() else "queued"

    def rebuild_spec(self):
        return {"factory": "qphys.jobs.transport:local_server_transport",
                "kwargs": {"root": str(self.root.resolve()), "latency": self.latency}}


# ---- rebuilding transports from the ledger ------------------------------------------------------
_SECRET_WORDS = ("token", "password", "passwd", "secret", "apikey", "api_key", "credential", "auth")


def transport_factory(fn: Callable[..., Transport]) -> Callable[..., Transport]:
    """Mark ``fn`` as a factory that :func:`rebuild_transport` may call from a ledger row's
    description (nothing else named in a ledger file is ever called).

    Examples:
        >>> from qphys.jobs.transport import transport_factory
        >>> @transport_factory
        ... def my_transport(*, region):
        ...     ...
        >>> my_transport.__qphys_transport_factory__
        True
    """
    fn.__qphys_transport_factory__ = True
    return fn


@transport_factory
def local_server_transport(*, root: str, latency: float = 0.0) -> LocalServerTransport:
    """Factory of a re-attach-only :class:`LocalServerTransport` (what ``qphys jobs resume`` builds)."""
    return LocalServerTransport(root, None, latency=latency)


def _secret_keys(obj, prefix="") -> list[str]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            name = f"{prefix}{k}"
            if any(word in str(k).lower() for word in _SECRET_WORDS):
                out.append(name)
            out.extend(_secret_keys(v, name + "."))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.extend(_secret_keys(v, f"{prefix}{i}."))
    return out


def encode_rebuild_spec(transport: Transport) -> str | None:
    """JSON text of ``transport.rebuild_spec()`` for the ledger (``None`` when it has none).

    Raises:
        ConfigError: the description is not ``{"factory": "module:callable", "kwargs": {...}}`` of
            JSON values, or a keyword looks like a credential.
    """
    spec = transport.rebuild_spec()
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("factory"), str) or ":" not in spec["factory"] \
            or not isinstance(spec.get("kwargs", {}), dict):
        raise ConfigError(
            f"{transport.name}: rebuild_spec() must return {{'factory': 'module:callable', 'kwargs': {{...}}}} "
            f"or None, got {spec!r}"
        )
    secrets = _secret_keys(spec.get("kwargs", {}))
    if secrets:
        raise ConfigError(
            f"{transport.name}: rebuild_spec() has keyword(s) {', '.join(secrets)} that look like credentials; the "
            "ledger never stores credentials — let the factory read them from the provider's own mechanism"
        )
    try:
        return json.dumps({"factory": spec["factory"], "kwargs": spec.get("kwargs", {})}, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{transport.name}: rebuild_spec() keywords must be JSON values ({exc})") from None


def rebuild_transport(spec: dict) -> Transport:
    """Build the transport a ledger row recorded (``{"factory": "module:callable", "kwargs": {...}}``).

    Raises:
        JobError: the factory cannot be imported, is not marked with :func:`transport_factory`,
            or fails (the message says which plugin to install or what failed).
        QphysError: what the factory raised (e.g. :class:`~qphys.errors.CredentialsError`).

    Examples:
        >>> import tempfile
        >>> from qphys.jobs.transport import rebuild_transport
        >>> t = rebuild_transport({"factory": "qphys.jobs.transport:local_server_transport",
        ...                        "kwargs": {"root": tempfile.mkdtemp()}})
        >>> t.can_lookup, t.name
        (True, 'local-server[rebuilt]')
    """
    factory = spec.get("factory") if isinstance(spec, dict) else None
    if not isinstance(factory, str) or ":" not in factory:
        raise JobError(f"the ledger's transport description {spec!r} names no factory 'module:callable'")
    module_name, _, qualname = factory.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise JobError(
            f"cannot rebuild transport {factory!r} recorded in the ledger ({type(exc).__name__}: {exc}); install "
            "the plugin that submitted the job (e.g. pip install -e backends/qiskit)"
        ) from None
    if not getattr(obj, "__qphys_transport_factory__", False):
        raise JobError(
            f"{factory!r} recorded in the ledger is not a transport factory (not marked with "
            "qphys.jobs.transport.transport_factory); the row was not written by a qphys transport"
        )
    kwargs = spec.get("kwargs") or {}
    try:
        transport = obj(**kwargs)
    except QphysError:  # JobError, CredentialsError...: the plugin's own message
        raise
    except Exception as exc:  # noqa: BLE001 - the plugin's own message is what the user needs
        raise JobError(f"rebuilding transport {factory!r} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(transport, Transport):
        raise JobError(f"{factory!r} returned {type(transport).__name__}, not a qphys.jobs.Transport")
    return transport


__all__ = [
    "Transport", "WrappingTransport", "FaultInjectingTransport", "RecordingTransport", "LocalServerTransport",
    "JobNotFoundError", "transport_factory", "local_server_transport", "encode_rebuild_spec", "rebuild_transport",
]
