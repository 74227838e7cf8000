"""The qphys exception hierarchy.

Every error qphys raises on purpose derives from :class:`QphysError`. Messages name what was wrong,
where, and how to fix it. Most classes also derive from the matching built-in exception so that
generic ``except ValueError`` code keeps working.
"""

from __future__ import annotations


class QphysError(Exception):
    """Base class of every qphys error."""


class WireError(QphysError, ValueError):
    """A wire (qubit) or mode index is out of range or repeated within one operation."""


class BatchSizeError(QphysError, ValueError):
    """Batched parameters or inputs disagree on the batch size."""


class ParameterError(QphysError, ValueError):
    """A gate parameter is non-finite, of the wrong shape, or of the wrong type."""


class MatrixError(QphysError, ValueError):
    """A matrix has the wrong shape, or is not unitary / Hermitian where it must be."""


class ObservableError(QphysError, ValueError):
    """An observable or measurement is malformed (wrong wires, wrong kind)."""


class DeviceNotFoundError(QphysError, LookupError):
    """No installed device has the requested name."""


class DeviceOptionError(QphysError, TypeError):
    """A device was given an option it does not know, or an invalid option value."""


class ConfigError(QphysError, ValueError):
    """A run configuration value is invalid (for example ``shots <= 0``)."""


class UnsupportedOperationError(QphysError, ValueError):
    """The device (or differentiation method) does not support an operation or measurement."""


class DifferentiationError(QphysError, ValueError):
    """The requested differentiation method cannot differentiate this circuit on this device."""


class ResourceError(QphysError, MemoryError):
    """The simulation would need more memory than is available."""


class CredentialsError(QphysError, PermissionError):
    """Credentials for a remote provider are missing or invalid."""


class JobError(QphysError, RuntimeError):
    """A remote job failed permanently; the message carries the provider's text."""


class TransientJobError(JobError):
    """A remote job failed in a way that may succeed if retried (network, queue limits)."""


class MissingDependencyError(QphysError, ImportError):
    """An optional feature needs a package that is not installed; the message names the extra."""


class JobTimeoutError(JobError, TimeoutError):
    """A remote job did not finish within ``job_timeout``; it stays recorded and re-attachable."""


class LedgerError(QphysError, RuntimeError):
    """The job ledger cannot be read or written (damaged, locked, read-only or vanished file).

    The message names the file and the fix; when a job the provider already accepted could not
    be recorded, its job id is in the message and in the ledger's side log.
    """


class CircuitError(QphysError, TypeError):
    """Something that is not a :class:`qphys.Circuit` was given where circuits are expected."""


class ClusterError(QphysError, ConnectionError):
    """A Dask scheduler cannot be reached or went away; the message names its address."""


__all__ = [
    "QphysError",
    "WireError",
    "BatchSizeError",
    "ParameterError",
    "MatrixError",
    "ObservableError",
    "DeviceNotFoundError",
    "DeviceOptionError",
    "ConfigError",
    "UnsupportedOperationError",
    "DifferentiationError",
    "ResourceError",
    "CredentialsError",
    "JobError",
    "TransientJobError",
    "MissingDependencyError",
    "JobTimeoutError",
    "LedgerError",
    "CircuitError",
    "ClusterError",
]
