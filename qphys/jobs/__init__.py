"""Remote jobs, exactly once: the SQLite ledger, transports, and a runner with re-attachment.

Remote devices run every job through :class:`JobRunner`: a job's ledger row is claimed by one
process at a time; finished jobs are reused from the :class:`Ledger`; every submission carries a
client-side idempotency key made durable before the call, so a job the provider accepted just
before a crash is found again (:meth:`Transport.lookup`) instead of being paid twice; submitted
ones are re-attached by id; transient failures retry with exponential backoff
(:class:`RetryPolicy`); a wait longer than ``job_timeout`` raises
:class:`~qphys.errors.JobTimeoutError` and leaves the job re-attachable; permanent failures raise
:class:`~qphys.errors.JobError` with the provider's message. ``qphys jobs`` lists the ledger and
``qphys jobs resume`` finishes submitted jobs through the transport each was submitted with
(rebuilt from its recorded description, never from credentials). No provider SDK is imported
here; plugins bring their own :class:`Transport` (the protocol is documented in
:mod:`qphys.jobs.transport`).

Examples:
    >>> import tempfile
    >>> from qphys.jobs import Ledger
    >>> Ledger(tempfile.mktemp()).records()
    []
"""

from qphys.jobs.faults import KILL_POINTS, kill_point
from qphys.jobs.ledger import (
    STATUSES,
    Claim,
    DamagedResultError,
    JobRecord,
    Ledger,
    default_path,
    new_idempotency_key,
    qphys_home,
)
from qphys.jobs.runner import JobRunner, JobSpec, JobStats, RetryPolicy, TransportFailure
from qphys.jobs.transport import (
    FaultInjectingTransport,
    JobNotFoundError,
    LocalServerTransport,
    RecordingTransport,
    Transport,
    WrappingTransport,
    rebuild_transport,
    transport_factory,
)

__all__ = [
    "Ledger",
    "JobRecord",
    "Claim",
    "DamagedResultError",
    "STATUSES",
    "default_path",
    "qphys_home",
    "new_idempotency_key",
    "JobRunner",
    "JobSpec",
    "JobStats",
    "RetryPolicy",
    "TransportFailure",
    "Transport",
    "WrappingTransport",
    "FaultInjectingTransport",
    "RecordingTransport",
    "LocalServerTransport",
    "JobNotFoundError",
    "transport_factory",
    "rebuild_transport",
    "KILL_POINTS",
    "kill_point",
]
