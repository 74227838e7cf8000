"""Remote jobs: the SQLite ledger, transports, and a runner with re-attachment and retries.

Remote devices run every job through :class:`JobRunner`: finished jobs are reused from the
:class:`Ledger`, submitted ones are re-attached by id after a crash, transient failures retry with
exponential backoff (:class:`RetryPolicy`) and permanent ones raise
:class:`~qphys.errors.JobError` with the provider's message. ``qphys jobs`` lists the ledger and
``qphys jobs resume`` finishes submitted jobs. Credentials never enter the ledger or the logs.
No provider SDK is imported here; plugins bring their own :class:`Transport`.

Examples:
    >>> import tempfile
    >>> from qphys.jobs import Ledger
    >>> Ledger(tempfile.mktemp()).records()
    []
"""

from qphys.jobs.ledger import STATUSES, JobRecord, Ledger, default_path, qphys_home
from qphys.jobs.runner import JobRunner, JobSpec, JobStats, RetryPolicy
from qphys.jobs.transport import (
    FaultInjectingTransport,
    JobNotFoundError,
    LocalServerTransport,
    RecordingTransport,
    Transport,
    WrappingTransport,
)

__all__ = [
    "Ledger",
    "JobRecord",
    "STATUSES",
    "default_path",
    "qphys_home",
    "JobRunner",
    "JobSpec",
    "JobStats",
    "RetryPolicy",
    "Transport",
    "WrappingTransport",
    "FaultInjectingTransport",
    "RecordingTransport",
    "LocalServerTransport",
    "JobNotFoundError",
]
