"""Running jobs through a transport with the ledger: exactly once, re-attachable, with retries.

:class:`JobRunner` is what a remote device calls. For each :class:`JobSpec` it

1. claims the job's ledger row atomically (:meth:`~qphys.jobs.Ledger.claim`): one process owns a
   job at a time; another process running the same job waits for the owner's result (or takes
   the row over when the owner died);
2. reuses the stored result when the row is ``done`` (checked against its checksum and the
   shapes the device expects; a damaged result is fetched again by job id where the provider can
   re-attach, else a :class:`~qphys.errors.LedgerError` says how to recompute);
3. re-attaches by job id when the row is ``submitted`` (a crash or kill happened after the job id
   was recorded) instead of paying for it again;
4. when the row is ``pending`` from an earlier attempt (a crash between the provider's acceptance
   and the ledger write), looks the job up at the provider by its idempotency key, and in the
   ledger's side log, before submitting;
5. otherwise submits with the row's idempotency key — made durable before the call — and records
   the job id before waiting, so that a process killed while waiting can re-attach;
6. retries transient failures with jittered exponential backoff (submission refused: look the key
   up, then submit again; fetch failed: fetch again, never resubmit an accepted job);
7. gives up waiting after ``timeout`` seconds with :class:`~qphys.errors.JobTimeoutError` (the job
   stays recorded and re-attachable);
8. turns permanent failures into :class:`~qphys.errors.JobError` with the provider's message, and
   any other exception a transport raises into a ``JobError`` that keeps its text (the row is
   marked, never left in a state that would make the next run pay again blindly).

Logs carry device names, job ids, statuses and counts — never payloads or credentials.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from qphys.errors import ConfigError, JobError, JobTimeoutError, LedgerError, TransientJobError
from qphys.jobs.faults import kill_point
from qphys.jobs.lease import describe, owner_alive, this_process
from qphys.jobs.ledger import DamagedResultError, JobRecord, Ledger, new_idempotency_key
from qphys.jobs.transport import JobNotFoundError, Transport, encode_rebuild_spec

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: retry ``k`` (0-based) waits a random time in
    ``[(1 - jitter) * d, d]`` with ``d = min(base_delay * factor**k, max_delay)``.

    Jitter spreads the retries of many clients that failed together (a provider outage) instead of
    sending them back in lockstep; ``jitter=0`` gives the plain exponential schedule.

    Attributes:
        max_retries: retries after the first attempt (of one submission or one fetch).
        base_delay: seconds before the first retry (before jitter).
        factor: growth of the delay per retry.
        max_delay: cap of one delay.
        jitter: fraction of each delay drawn at random, in ``[0, 1]``.
        seed: seed of the jitter (``None``: fresh randomness).
        sleep: the sleep function (tests pass a recorder).

    Examples:
        >>> from qphys.jobs import RetryPolicy
        >>> [RetryPolicy(base_delay=1.0).delay(k) for k in range(4)]
        [1.0, 2.0, 4.0, 8.0]
        >>> waits = RetryPolicy(base_delay=1.0, jitter=0.5, seed=0).waits(4)
        >>> all(0.5 * d <= w <= d for w, d in zip(waits, [1.0, 2.0, 4.0, 8.0]))
        True
    """

    max_retries: int = 6
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.5
    seed: int | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self):
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries must be a non-negative integer, got {self.max_retries!r}")
        for label in ("base_delay", "factor", "max_delay", "jitter"):
            v = getattr(self, label)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                raise ConfigError(f"RetryPolicy {label} must be a number, got {v!r}")
        if self.base_delay < 0 or self.factor < 1 or self.max_delay < 0:
            raise ConfigError(
                "RetryPolicy needs base_delay >= 0, factor >= 1 and max_delay >= 0, got "
                f"{self.base_delay}, {self.factor}, {self.max_delay}"
            )
        if not 0.0 <= self.jitter <= 1.0:
            raise ConfigError(f"RetryPolicy jitter must be in [0, 1], got {self.jitter!r}")

    def delay(self, attempt: int) -> float:
        """The longest wait before retry number ``attempt + 1`` (the exponential schedule)."""
        return min(self.base_delay * self.factor**attempt, self.max_delay)

    def waits(self, count: int | None = None, rng: random.Random | None = None) -> list[float]:
        """The jittered waits before retries ``1 .. count`` (default: ``max_retries``)."""
        rng = rng or random.Random(self.seed)
        return [self._wait(k, rng) for k in range(self.max_retries if count is None else count)]

    def _wait(self, attempt: int, rng: random.Random) -> float:
        d = self.delay(attempt)
        return d * (1.0 - self.jitter * rng.random())


@dataclass
class JobSpec:
    """One job a device wants run.

    Attributes:
        key: the job's identity: a digest of structure, parameter values and run options.
            Two jobs with equal keys on one device give interchangeable results.
        payload: provider-specific content, handed to the transport untouched.
        structure: structural hash(es) of the circuits, for the listing.
        params: parameter digest, for the listing.
        num_circuits: bound circuits in the job, for the listing.
        expected: ``{array name: leading dimension}`` every result must have (``None``: not
            checked). A result from the ledger or the provider without these arrays, or with
            another leading dimension, is refused instead of being broadcast into a wrong answer.
    """

    key: str
    payload: Any
    structure: str = ""
    params: str = ""
    num_circuits: int = 0
    expected: dict[str, int] | None = None

    def shape_problem(self, arrays: dict[str, np.ndarray]) -> str | None:
        """``None`` when ``arrays`` matches :attr:`expected`, else what is wrong."""
        if self.expected is None:
            return None
        for name, rows in self.expected.items():
            if name not in arrays:
                return f"array {name!r} is missing"
            a = np.asarray(arrays[name])
            if a.ndim == 0 or a.shape[0] != rows:
                return f"array {name!r} has shape {a.shape}, expected {rows} row(s)"
        return None


@dataclass
class JobStats:
    """Counters of one runner: jobs ``submitted`` (accepted by the provider), ``attempts``
    (submission tries, failed ones included), ``reused`` (served from the ledger),
    ``reattached`` (fetched by id after a restart), ``recovered`` (found at the provider by
    idempotency key or in the side log after a crash, instead of being submitted again),
    ``waited`` (run by another process; its result reused), ``retries`` (transient failures
    survived)."""

    submitted: int = 0
    attempts: int = 0
    reused: int = 0
    reattached: int = 0
    recovered: int = 0
    waited: int = 0
    retries: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class TransportFailure(JobError):
    """A transport raised something other than a qphys ``JobError`` (an SDK exception or a bug);
    the message keeps its type and text."""


def _seconds(timeout: float | None) -> str:
    return "the job_timeout" if timeout is None else f"{timeout:g} s"


@dataclass
class _Job:
    row_id: int | None
    job_id: str
    reattached: bool
    key: str


class JobRunner:
    """Run :class:`JobSpec` s of one device through ``transport``, with an optional ledger.

    Args:
        device: the qphys device name (ledger rows are keyed by it).
        transport: the provider adapter (see :mod:`qphys.jobs.transport` for the protocol).
        ledger: a :class:`Ledger` (or ``None``: no persistence, retries only).
        retry: the :class:`RetryPolicy`.
        poll: longest pause (seconds) between checks while another process runs a job.

    Examples:
        >>> import numpy as np, tempfile
        >>> from qphys.jobs import JobRunner, JobSpec, Ledger, Transport
        >>> class Square(Transport):
        ...     name = "square"
        ...     def submit(self, payload, idempotency_key):
        ...         self.x = payload
        ...         return "j1"
        ...     def result(self, job_id, timeout=None):
        ...         return {"y": np.asarray(self.x) ** 2}
        >>> runner = JobRunner("demo", Square(), ledger=Ledger(tempfile.mktemp()))
        >>> runner.run(JobSpec("k", [3]))["y"].tolist(), runner.run(JobSpec("k", [3]))["y"].tolist()
        ([9], [9])
        >>> runner.stats.submitted, runner.stats.reused
        (1, 1)
    """

    def __init__(self, device: str, transport: Transport, *, ledger: Ledger | None = None,
                 retry: RetryPolicy | None = None, poll: float = 1.0):
        if not isinstance(transport, Transport):
            raise ConfigError(f"{device}: transport must be a qphys.jobs.Transport, got {type(transport).__name__}")
        self.device = device
        self.transport = transport
        self.ledger = ledger
        self.retry = retry or RetryPolicy()
        self.poll = float(poll)
        self.stats = JobStats()
        self._rng = random.Random(self.retry.seed)
        self._transport_desc = encode_rebuild_spec(transport) if ledger is not None else None

    # ---- public -----------------------------------------------------------------------------
    def run(self, spec: JobSpec, *, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Run one job (see the module docstring for the steps)."""
        return self.run_many([spec], timeout=timeout)[0]

    def run_many(self, specs: Sequence[JobSpec], *, timeout: float | None = None) -> list[dict[str, np.ndarray]]:
        """Submit every job first (they queue side by side), then collect the results in order.

        Args:
            specs: the jobs; specs with equal keys run once.
            timeout: most seconds to wait for the results of all of them (``None``: no limit).

        Raises:
            JobTimeoutError: ``timeout`` passed (jobs stay recorded and re-attachable).
            JobError, TransientJobError: see the module docstring.
            LedgerError: the ledger cannot be used (the message names the file and the fix).
        """
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not timeout > 0):
            raise ConfigError(f"job timeout must be a positive number of seconds or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        unique: dict[str, JobSpec] = {}
        for s in specs:
            unique.setdefault(s.key, s)
        self._owned: set[int] = set()
        try:
            with self._heartbeat():
                handles = {k: self._start(s) for k, s in unique.items()}
                results = {k: self._finish(unique[k], h, deadline, timeout) for k, h in handles.items()}
        except BaseException:
            self._release_unfinished()
            raise
        return [results[s.key] for s in specs]

    def _release_unfinished(self) -> None:
        """After an error, give up the rows this run owns but did not finish, so that another
        process (or a later call) can take them over at once; their state (idempotency key, job id)
        stays, so nobody pays for them twice."""
        for row_id in sorted(getattr(self, "_owned", ())):
            try:
                row = self.ledger.get(row_id)
                if row.status in ("pending", "submitted", "lost") and row.owner == this_process():
                    self.ledger.release(row_id)
            except LedgerError as exc:
                logger.warning("%s: could not release ledger row %d: %s", self.device, row_id, exc)

    # ---- ownership ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """Renew this process's leases while jobs run (owners on other hosts rely on them)."""
        if self.ledger is None:
            yield
            return
        stop = threading.Event()
        me = this_process()
        ledger = self.ledger

        def beat():
            while not stop.wait(ledger.lease / 4):
                try:
                    ledger.renew(me)
                except LedgerError as exc:  # the main thread will meet the same problem and raise
                    logger.warning("%s: could not renew job leases: %s", self.device, exc)

        thread = threading.Thread(target=beat, name="qphys-job-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=1.0)

    # ---- steps ------------------------------------------------------------------------------
    def _start(self, spec: JobSpec):
        """Returns ``("result", arrays)``, ``("job", _Job)`` or ``("wait", row_id)``."""
        if self.ledger is None:
            key = new_idempotency_key()
            return ("job", _Job(None, self._submit(spec, None, key), False, key))
        claim = self.ledger.claim(self.device, spec.key, structure=spec.structure, params=spec.params,
                                  num_circuits=spec.num_circuits, transport=self._transport_desc)
        row = claim.record
        if row.status == "done" and row.has_result:
            reused = self._stored(spec, row)
            if reused is not None:
                return ("result", reused)
            row = self.ledger.take(row.id)  # damaged but re-attachable: fetch it again
            return ("job", _Job(row.id, row.job_id, True, row.idempotency_key))
        if not claim.owned:
            logger.info("%s: job (ledger row %d) is being run by %s; waiting for its result", self.device, row.id,
                        describe(row.owner))
            return ("wait", row.id)
        self._owned.add(row.id)
        if row.status == "submitted" and row.job_id:
            if self.transport.can_reattach:
                logger.info("%s: re-attaching to submitted job %s (ledger row %d)", self.device, row.job_id, row.id)
                return ("job", _Job(row.id, row.job_id, True, row.idempotency_key))
            self.ledger.mark_lost(
                row.id, f"{self.transport.name} cannot re-attach job {row.job_id} from another process; resubmitted"
            )
            row = self.ledger.restart(row.id)
        elif row.status == "lost" or (row.status == "failed" and row.job_id):
            # the provider forgot the job, or ran it and it failed: a new attempt is a new job
            row = self.ledger.restart(row.id)
        if not claim.created and row.status in ("pending", "failed"):
            job_id = self._find_accepted(row)
            if job_id is not None:
                self.ledger.mark_submitted(row.id, job_id)
                self.stats.recovered += 1
                logger.info("%s: job %s was accepted before a crash (found by its idempotency key); re-attaching",
                            self.device, job_id)
                return ("job", _Job(row.id, job_id, True, row.idempotency_key))
        return ("job", _Job(row.id, self._submit(spec, row.id, row.idempotency_key), False, row.idempotency_key))

    def _stored(self, spec: JobSpec, row: JobRecord) -> dict[str, np.ndarray] | None:
        """The stored result of a done row, or ``None`` when it must be fetched again."""
        try:
            arrays = self.ledger.result(row.id)
            problem = spec.shape_problem(arrays)
            if problem is not None:
                raise DamagedResultError(
                    f"job ledger {self.ledger.path}: the stored result of row {row.id} does not fit the job "
                    f"({problem}); it is not used. Re-run to fetch it again, or remove the row with "
                    f"`qphys jobs forget {row.id}` to recompute"
                )
        except DamagedResultError as exc:
            if row.job_id and self.transport.can_reattach:
                logger.warning("%s: %s — fetching job %s again from the provider", self.device, exc, row.job_id)
                return None
            raise
        self.stats.reused += 1
        logger.info("%s: reusing finished job %s (ledger row %d)", self.device, row.job_id, row.id)
        return arrays

    def _find_accepted(self, row: JobRecord) -> str | None:
        """The job id of an earlier submission of ``row`` (provider look-up, then the side log)."""
        key = row.idempotency_key
        if not key:
            return None
        if self.transport.can_lookup:
            found = self._retrying(
                lambda: self._call("looking up", lambda: self.transport.lookup(key)),
                what=f"looking up idempotency key {key}", on_transient=None,
                exhausted=lambda n, exc: (
                    f"{self.device}: could not ask the provider whether job {key} (ledger row {row.id}) was already "
                    f"accepted after {n} attempts (last error: {exc}); it was not submitted again, to avoid paying "
                    "twice — re-run when the provider is reachable"
                ),
            )
            if found:
                return str(found)
        return self.ledger.side_log_job_id(key)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Call the transport; any exception that is not a qphys ``JobError`` becomes a
        :class:`TransportFailure` (a ``JobError``) keeping its text."""
        try:
            return fn()
        except JobError:
            raise
        except Exception as exc:  # noqa: BLE001 - a transport bug or an SDK's own exception
            raise TransportFailure(
                f"transport {self.transport.name} raised {type(exc).__name__} while {what}: {exc}"
            ) from exc

    def _retrying(self, action: Callable[[], T], *, what: str, on_transient: Callable[[Exception], None] | None,
                  exhausted: Callable[[int, Exception], str], deadline: float | None = None) -> T:
        """Run ``action`` until it succeeds, retrying :class:`TransientJobError` with the policy's
        jittered backoff; after the last retry, raise ``TransientJobError(exhausted(attempts, exc))``."""
        for attempt in range(self.retry.max_retries + 1):
            try:
                return action()
            except JobTimeoutError:
                raise
            except TransientJobError as exc:
                if on_transient is not None:
                    on_transient(exc)
                if attempt == self.retry.max_retries:
                    raise TransientJobError(exhausted(attempt + 1, exc)) from exc
                self.stats.retries += 1
                delay = self.retry._wait(attempt, self._rng)
                if deadline is not None:
                    delay = min(delay, max(deadline - time.monotonic(), 0.0))
                logger.warning("%s: transient failure %s (%s); retry %d in %.2fs", self.device, what, exc, attempt + 1,
                               delay)
                self.retry.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _submit(self, spec: JobSpec, row_id: int | None, key: str) -> str:
        recording = self.ledger is not None and row_id is not None

        def submit_once() -> str:
            self.stats.attempts += 1
            try:
                return self._call("submitting", lambda: self.transport.submit(spec.payload, key))
            except TransientJobError:
                # the request may have reached the provider (a response lost on the way back)
                if self.transport.can_lookup:
                    found = self._call("looking up", lambda: self.transport.lookup(key))
                    if found:
                        self.stats.recovered += 1
                        logger.info("%s: job %s was accepted although its response was lost", self.device, found)
                        return str(found)
                raise

        try:
            job_id = self._retrying(
                submit_once,
                what="submitting",
                on_transient=(lambda exc: self.ledger.add_attempt(row_id, f"transient: {exc}")) if recording else None,
                exhausted=lambda n, exc: (
                    f"{self.device}: submission still failing after {n} attempts (last error: {exc}); the job was "
                    "not accepted — check the provider's status, then re-run (finished jobs are reused from the "
                    "ledger)"
                ),
            )
        except TransientJobError:
            if recording:
                self.ledger.release(row_id)
            raise
        except JobError as exc:
            if recording:
                self.ledger.add_attempt(row_id, str(exc))
                self.ledger.mark_failed(row_id, str(exc))
            raise JobError(f"{self.device}: the provider refused the job: {exc}") from exc
        kill_point("runner.submitted")
        self.stats.submitted += 1
        if recording:
            self.ledger.mark_submitted(row_id, job_id, count_attempt=True)
        logger.info("%s: submitted job %s", self.device, job_id)
        return job_id

    def _wait_for_other(self, spec: JobSpec, row_id: int, deadline: float | None, timeout: float | None):
        """Poll the ledger until another process's job is done; take it over if that process dies."""
        pause = 0.02
        while True:
            row = self.ledger.get(row_id)
            if row.status == "done" and row.has_result:
                arrays = self._stored(spec, row)
                if arrays is not None:
                    self.stats.waited += 1
                    self.stats.reused -= 1
                    return ("result", arrays)
            if row.status == "failed" and not owner_alive(row.owner, row.lease_until):
                raise JobError(f"{self.device}: job {row.job_id or row.idempotency_key} (ledger row {row_id}), run by "
                               f"another process, failed: {row.error}")
            if not owner_alive(row.owner, row.lease_until):
                return self._start(spec)  # the owner is gone: claim the row and carry on
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeoutError(
                    f"{self.device}: waited {_seconds(timeout)} for job {row.job_id or '(not yet submitted)'} (ledger row "
                    f"{row_id}) run by {describe(row.owner)}; it stays recorded — re-run to pick up its result"
                )
            wait = pause if deadline is None else min(pause, max(deadline - time.monotonic(), 0.0))
            time.sleep(wait)
            pause = min(pause * 1.5, self.poll)

    def _finish(self, spec: JobSpec, handle, deadline: float | None, timeout: float | None) -> dict[str, np.ndarray]:
        while handle[0] == "wait":
            handle = self._wait_for_other(spec, handle[1], deadline, timeout)
        if handle[0] == "result":
            return handle[1]
        job: _Job = handle[1]
        reattachable = self.transport.can_reattach
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                arrays = self._retrying(
                    lambda job=job, remaining=remaining: self._call(
                        f"fetching job {job.job_id}", lambda: self.transport.result(job.job_id, remaining)),
                    what=f"fetching job {job.job_id}",
                    on_transient=None,
                    exhausted=lambda n, exc, job=job: self._fetch_advice(job, n, exc),
                    deadline=deadline,
                )
                problem = spec.shape_problem(arrays)
                if problem is not None:
                    raise JobError(f"the provider returned a result that does not fit the job ({problem})")
                break
            except JobTimeoutError as exc:
                if job.row_id is not None:
                    self.ledger.set_error(job.row_id, f"timed out: {exc}")
                if reattachable:
                    advice = ("it stays recorded as submitted: re-run the script (or `qphys jobs resume`) to "
                              "re-attach without paying again")
                else:
                    advice = (f"{self.transport.name} runs jobs in this process, so a later run cannot re-attach "
                              "to it; raise job_timeout")
                raise JobTimeoutError(
                    f"{self.device}: job {job.job_id} did not finish within {_seconds(timeout)} (job_timeout); {advice}"
                ) from exc
            except JobNotFoundError as exc:
                if not job.reattached:
                    if job.row_id is not None:
                        self.ledger.mark_failed(job.row_id, str(exc))
                    raise JobError(f"{self.device}: job {job.job_id} vanished at the provider: {exc}") from exc
                # the provider forgot it (expired / local process gone): submit afresh, then fetch that one
                logger.warning("%s: job %s is unknown to the provider (%s); resubmitting", self.device, job.job_id, exc)
                key = new_idempotency_key()
                row_id = job.row_id
                if self.ledger is not None and row_id is not None:
                    self.ledger.mark_lost(row_id, str(exc))
                    key = self.ledger.restart(row_id).idempotency_key
                job = _Job(row_id, self._submit(spec, row_id, key), False, key)
            except TransientJobError:
                if job.row_id is not None and not reattachable:
                    self.ledger.mark_lost(job.row_id, f"could not fetch job {job.job_id} from {self.transport.name}")
                raise
            except TransportFailure as exc:
                # the job itself may be fine: keep it re-attachable where the provider allows
                if job.row_id is not None and reattachable:
                    self.ledger.set_error(job.row_id, str(exc))
                    raise JobError(
                        f"{self.device}: fetching job {job.job_id} failed in the client: {exc}; the job stays recorded "
                        "as submitted — fix the cause and re-run to re-attach without paying again"
                    ) from exc
                if job.row_id is not None:
                    self.ledger.mark_failed(job.row_id, str(exc))
                raise JobError(f"{self.device}: fetching job {job.job_id} failed: {exc}") from exc
            except JobError as exc:
                if job.row_id is not None:
                    self.ledger.mark_failed(job.row_id, str(exc))
                raise JobError(f"{self.device}: job {job.job_id} failed: {exc}") from exc
        kill_point("runner.fetched")
        if job.reattached:
            self.stats.reattached += 1
        if self.ledger is not None and job.row_id is not None:
            self.ledger.mark_done(job.row_id, arrays)
        return arrays

    def _fetch_advice(self, job: _Job, attempts: int, exc: Exception) -> str:
        head = (f"{self.device}: could not fetch the result of job {job.job_id} after {attempts} attempts "
                f"(last error: {exc}); ")
        if self.transport.can_reattach and job.row_id is not None:
            return head + ("the job is recorded — run `qphys jobs resume` or re-run the script to re-attach without "
                           "paying again")
        if self.transport.can_reattach:
            return head + "the job exists at the provider; fetch it by id, or re-run with a ledger to re-attach"
        return head + (f"{self.transport.name} runs jobs in this process, so the job cannot be re-attached later; "
                       "re-run the script to compute it again")


__all__ = ["RetryPolicy", "JobSpec", "JobStats", "JobRunner", "TransportFailure"]
