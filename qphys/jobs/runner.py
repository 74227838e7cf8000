"""Running jobs through a transport with the ledger, re-attachment and retries.

:class:`JobRunner` is what a remote device calls. For each :class:`JobSpec` it

1. reuses the stored result when the ledger has the same job (same device and ``key``) done;
2. re-attaches by job id when the ledger has it submitted (a crash or kill happened after
   submission) instead of paying for it again;
3. otherwise submits, recording the job id *before* waiting, so that a process killed while
   waiting can re-attach on the next run;
4. retries transient failures with jittered exponential backoff (submission refused: submit
   again; fetch failed: fetch again, never resubmit an accepted job) up to
   ``RetryPolicy.max_retries`` — one retry loop serves both;
5. turns permanent failures into :class:`~qphys.errors.JobError` with the provider's message.

Logs carry device names, job ids, statuses and counts — never payloads or credentials.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from qphys.errors import ConfigError, JobError, TransientJobError
from qphys.jobs.ledger import Ledger
from qphys.jobs.transport import JobNotFoundError, Transport

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
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries must be a non-negative integer, got {self.max_retries!r}")
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
    """

    key: str
    payload: Any
    structure: str = ""
    params: str = ""
    num_circuits: int = 0


@dataclass
class JobStats:
    """Counters of one runner: jobs ``submitted`` (accepted by the provider), ``attempts``
    (submission tries, failed ones included), ``reused`` (served from the ledger),
    ``reattached`` (fetched by id after a restart), ``retries`` (transient failures survived)."""

    submitted: int = 0
    attempts: int = 0
    reused: int = 0
    reattached: int = 0
    retries: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class JobRunner:
    """Run :class:`JobSpec` s of one device through ``transport``, with an optional ledger.

    Args:
        device: the qphys device name (ledger rows are keyed by it).
        transport: the provider adapter.
        ledger: a :class:`Ledger` (or ``None``: no persistence, retries only).
        retry: the :class:`RetryPolicy`.

    Examples:
        >>> import numpy as np, tempfile
        >>> from qphys.jobs import JobRunner, JobSpec, Ledger, Transport
        >>> class Square(Transport):
        ...     name = "square"
        ...     def submit(self, payload):
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

    def __init__(self, device: str, transport: Transport, *, ledger: Ledger | None = None, retry: RetryPolicy | None = None):
        self.device = device
        self.transport = transport
        self.ledger = ledger
        self.retry = retry or RetryPolicy()
        self.stats = JobStats()
        self._rng = random.Random(self.retry.seed)

    # ---- public -----------------------------------------------------------------------------
    def run(self, spec: JobSpec) -> dict[str, np.ndarray]:
        """Run one job (see the module docstring for the steps)."""
        return self.run_many([spec])[0]

    def run_many(self, specs: Sequence[JobSpec]) -> list[dict[str, np.ndarray]]:
        """Submit every job first (they queue side by side), then collect the results in order."""
        handles = [self._start(s) for s in specs]
        return [self._finish(s, h) for s, h in zip(specs, handles)]

    # ---- steps ------------------------------------------------------------------------------
    def _start(self, spec: JobSpec):
        """Returns ``("result", arrays)`` or ``("job", row_id or None, job_id, reattached)``."""
        row = self.ledger.find(self.device, spec.key) if self.ledger is not None else None
        if row is not None and row.status == "done" and row.has_result:
            self.stats.reused += 1
            logger.info("%s: reusing finished job %s (ledger row %d)", self.device, row.job_id, row.id)
            return ("result", self.ledger.result(row.id))
        if row is not None and row.status == "submitted" and row.job_id:
            if self.transport.can_reattach:
                logger.info("%s: re-attaching to submitted job %s (ledger row %d)", self.device, row.job_id, row.id)
                return ("job", row.id, row.job_id, True)
            self.ledger.mark_lost(
                row.id, f"{self.transport.name} cannot re-attach job {row.job_id} from another process; resubmitted"
            )
        row_id = None
        if self.ledger is not None:
            row_id = self.ledger.create(
                self.device, spec.key, structure=spec.structure, params=spec.params, num_circuits=spec.num_circuits
            ).id
        job_id = self._submit(spec, row_id)
        return ("job", row_id, job_id, False)

    def _retrying(self, action: Callable[[], T], *, what: str, on_transient: Callable[[Exception], None] | None,
                  exhausted: Callable[[int, Exception], str]) -> T:
        """Run ``action`` until it succeeds, retrying :class:`TransientJobError` with the policy's
        jittered backoff; after the last retry, raise ``TransientJobError(exhausted(attempts, exc))``."""
        for attempt in range(self.retry.max_retries + 1):
            try:
                return action()
            except TransientJobError as exc:
                if on_transient is not None:
                    on_transient(exc)
                if attempt == self.retry.max_retries:
                    raise TransientJobError(exhausted(attempt + 1, exc)) from exc
                self.stats.retries += 1
                delay = self.retry._wait(attempt, self._rng)
                logger.warning("%s: transient failure %s (%s); retry %d in %.2fs", self.device, what, exc, attempt + 1,
                               delay)
                self.retry.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _submit(self, spec: JobSpec, row_id: int | None) -> str:
        recording = self.ledger is not None and row_id is not None

        def submit_once() -> str:
            self.stats.attempts += 1
            return self.transport.submit(spec.payload)

        try:
            job_id = self._retrying(
                submit_once,
                what="submitting",
                on_transient=(lambda exc: self.ledger.add_attempt(row_id, f"transient: {exc}")) if recording else None,
                exhausted=lambda n, exc: (
                    f"{self.device}: submission still failing after {n} attempts (last error: {exc}); the job was "
                    "not submitted — check the provider's status, then re-run (finished jobs are reused from the ledger)"
                ),
            )
        except TransientJobError:
            raise
        except JobError as exc:
            if recording:
                self.ledger.add_attempt(row_id, str(exc))
                self.ledger.mark_failed(row_id, str(exc))
            raise JobError(f"{self.device}: the provider refused the job: {exc}") from exc
        self.stats.submitted += 1
        if recording:
            self.ledger.add_attempt(row_id)
            self.ledger.mark_submitted(row_id, job_id)
        logger.info("%s: submitted job %s", self.device, job_id)
        return job_id

    def _finish(self, spec: JobSpec, handle) -> dict[str, np.ndarray]:
        if handle[0] == "result":
            return handle[1]
        _, row_id, job_id, reattached = handle
        while True:
            try:
                arrays = self._retrying(
                    lambda job_id=job_id: self.transport.result(job_id),
                    what=f"fetching job {job_id}",
                    on_transient=None,
                    exhausted=lambda n, exc, job_id=job_id: (
                        f"{self.device}: could not fetch the result of job {job_id} after {n} attempts (last error: "
                        f"{exc}); the job is recorded — run `qphys jobs resume` or re-run the script to re-attach "
                        "without paying again"
                    ),
                )
                break
            except JobNotFoundError as exc:
                if not reattached:
                    raise JobError(f"{self.device}: job {job_id} vanished at the provider: {exc}") from exc
                # the provider forgot it (expired / local process gone): submit afresh, then fetch that one
                logger.warning("%s: job %s is unknown to the provider (%s); resubmitting", self.device, job_id, exc)
                if self.ledger is not None and row_id is not None:
                    self.ledger.mark_lost(row_id, str(exc))
                    row_id = self.ledger.create(self.device, spec.key, structure=spec.structure, params=spec.params,
                                                num_circuits=spec.num_circuits).id
                job_id, reattached = self._submit(spec, row_id), False
            except TransientJobError:
                raise
            except JobError as exc:
                if self.ledger is not None and row_id is not None:
                    self.ledger.mark_failed(row_id, str(exc))
                raise JobError(f"{self.device}: job {job_id} failed: {exc}") from exc
        if reattached:
            self.stats.reattached += 1
        if self.ledger is not None and row_id is not None:
            self.ledger.mark_done(row_id, arrays)
        return arrays
