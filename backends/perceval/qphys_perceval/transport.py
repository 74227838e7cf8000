"""The :class:`qphys.jobs.Transport` of remote Perceval platforms (Quandela Cloud, Scaleway QaaS).

It speaks Perceval 1.3's current remote runtime: a :class:`perceval.runtime.CommunicationLayer`
(``QuandelaCommunicationLayer``, ``ScalewayCommunicationLayer``, or the offline
:class:`~qphys_perceval.fake_cloud.FakeQuandelaCloud`'s) wrapped by a ``RemoteComputer`` that
checks experiments against the platform and builds Perceval payloads. One qphys job is one
Perceval ``ComputationIterator`` of the ``sample_count`` command: one iteration per bound circuit
(batch rows and parameter-shifted circuits alike), sent with ``CommunicationLayer.send``; its
status and results are read with ``get_job_status``/``get_results`` by the job id, from any
process, so a run killed while waiting re-attaches (:class:`qphys.jobs.JobRunner`).

Failures become qphys errors with the provider's text:

- an HTTP 5xx/429/408 answer, or a connection that could not be opened, while submitting: the
  job was not created -> :class:`~qphys.errors.TransientJobError` (the runner retries);
- the connection lost after the request left (read timeout, connection reset): the job may exist
  -> :class:`SubmissionOutcomeUnknown` (never retried automatically: Perceval's cloud API offers
  no lookup of a job by a client key, so a retry could pay twice; the job is sent with the
  idempotency key as its name, visible in the provider's console);
- HTTP 5xx / connection errors while polling or fetching: transient (fetch again, never resubmit);
- 401/403: :class:`~qphys.errors.CredentialsError`; 404 on a job: :class:`~qphys.jobs.JobNotFoundError`;
- a job the platform ended in error or canceled: :class:`~qphys.errors.JobError` with its message.

Credentials never pass through here: the communication layer reads them from Perceval's own
configuration (``RemoteConfig``/``ScalewayConfig``: environment variable or saved token).
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import perceval as pcvl
import requests
from perceval.runtime import CommunicationLayer, Computation, ComputationIterator, RemoteComputer
from perceval.serialization.library.archive import OutputArchive
from perceval.serialization.library.class_registry import ClassRegistry
from perceval.serialization.library.serialization import Serialization

from qphys import linear_optics as lo
from qphys.errors import CredentialsError, JobError, TransientJobError
from qphys.jobs import JobNotFoundError, Transport, transport_factory

logger = logging.getLogger(__name__)

#: Marker of a submission whose outcome is unknown (in the ledger's error text).
OUTCOME_UNKNOWN = "submission outcome unknown"


class IndexedOutputArchive(OutputArchive):
    """Perceval's ``OutputArchive`` with a dictionary index of the recorded objects.

    Perceval 1.3.1 finds each object's position with ``list.index`` over every object recorded so
    far, so serializing a ``ComputationIterator`` costs time quadratic in its iterations (800 rows of
    32 angles: about 90 s here). This archive keeps the same list and memo, in the same order (the
    text is identical, a test checks it), and looks positions up in a dict.
    """

    def __init__(self, raise_on_unregistred_class: bool = True):
        super().__init__(raise_on_unregistred_class)
        self._position: dict[int, int] = {}

    def _record(self, i: int) -> int:
        pos = self._position.get(i)
        if pos is None:
            pos = self._position[i] = len(self.ids)
            self.ids.append(i)
        return pos

    def get_index(self, obj) -> int:
        return self._position[id(obj)]

    def add(self, obj):
        i = id(obj)
        pos = self._position.get(i)
        if pos is not None and self.memo[pos] is not self.NoValue:
            return
        try:
            serializer = ClassRegistry.get_by_class(type(obj))
        except Exception as exc:
            if self.raise_on_unregistred_class:
                raise
            warnings.warn(str(exc), stacklevel=2)
            return
        if pos is None:
            pos = self._record(i)
            self.memo.append(self.NoValue)
        record = serializer.write(obj, self)
        self.memo[pos] = (serializer.class_tag, record[0])
        for child in record[1]:
            self.add(child)

    def pre_record(self, children):
        for child in children:
            self._record(id(child))
        self.memo.extend([self.NoValue] * (len(self.ids) - len(self.memo)))


def serialize_payload_value(obj) -> str:
    """What ``RPCBasedCommunicationLayer._serialize`` returns, through :class:`IndexedOutputArchive`."""
    archive = IndexedOutputArchive()
    Serialization.serialize(obj, archive)
    return archive.to_text()


class FastSerializing:
    """Mixin for Perceval communication layers: payloads serialized through
    :class:`IndexedOutputArchive` (linear instead of quadratic in the number of iterations)."""

    _serialize = staticmethod(serialize_payload_value)


class SubmissionOutcomeUnknown(JobError):
    """The connection was lost after the job was sent: the provider may have created it."""


@dataclass
class RemotePayload:
    """One job: the parametrized circuit and one row of parameter values per bound circuit.

    Attributes:
        name: the job name sent to the provider (``qphys-<idempotency key>``).
        circuit: the Perceval circuit with parameters ``param_names``.
        param_names: Perceval parameter names, in the column order of ``rows``.
        rows: ``(R, P)`` parameter values, one row per bound circuit.
        photons: the input Fock state.
        shots: samples wanted per bound circuit (Perceval's ``max_samples``).
        max_shots: shot budget per bound circuit (Perceval's ``max_shots``; on lossy hardware
            several shots give one ``n``-photon sample).
        threshold: threshold (click) detectors instead of photon-number resolving ones.
    """

    name: str
    circuit: pcvl.Circuit
    param_names: list[str]
    rows: np.ndarray
    photons: tuple[int, ...]
    shots: int
    max_shots: int
    threshold: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def num_circuits(self) -> int:
        return int(self.rows.shape[0])


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a ``requests`` error (Perceval re-raises some as text only).

    Examples:
        >>> http_status(requests.HTTPError("Error while retrieving job results: 503 Server Error: x"))
        503
        >>> http_status(requests.HTTPError("Url: https://a/api/job answered with status code 401 [{}]"))
        401
    """
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None) is not None:
        return int(response.status_code)
    text = str(exc)
    for pattern in (r"status code (\d{3})", r"(?:^|: )(\d{3}) (?:Client|Server) Error"):
        match = re.search(pattern, text)
        if match:
            return int(match.group(1))
    return None


def _connect_failed(exc: BaseException) -> bool:
    """Whether a connection error happened before the request was sent (nothing reached the server)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = f"{exc!r} {exc}"
    return any(s in text for s in ("NewConnectionError", "Name or service not known", "Connection refused",
                                   "Failed to establish a new connection"))


def classify(exc: BaseException, what: str, *, submitting: bool = False) -> JobError:
    """A qphys error for a provider or network exception raised while doing ``what``."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, requests.HTTPError):
        status = http_status(exc)
        if status in (401, 403):
            return CredentialsError(
                f"the platform refused the credentials while {what} ({text}); set the token with Perceval's "
                "RemoteConfig (PCVL_CLOUD_TOKEN) or ScalewayConfig (SCALEWAY_CLOUD_TOKEN)"
            )
        if status == 404 and not submitting:
            return JobNotFoundError(f"the platform does not know the job ({text})")
        if status is not None and (status >= 500 or status in (408, 429)):
            return TransientJobError(f"transient failure while {what}: {text}")
        return JobError(f"the platform answered an error while {what}: {text}")
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        if submitting and not _connect_failed(exc):
            return SubmissionOutcomeUnknown(
                f"{OUTCOME_UNKNOWN}: the connection was lost after the job was sent while {what} ({text}); the "
                "provider may have created it"
            )
        return TransientJobError(f"transient failure while {what}: {text}")
    return JobError(f"error while {what}: {text}")


class PercevalCloudTransport(Transport):
    """Submit :class:`RemotePayload` s through a Perceval communication layer (see the module
    docstring); ``result`` returns ``{"counts": (R, N) int64, "other": (R,) int64}``: per bound
    circuit, how often each ``n``-photon pattern was detected, and how many samples held another
    photon number (discarded).

    Args:
        make_layer: builds the communication layer on first use (it reads credentials through
            Perceval's configuration and fetches the platform's specification).
        platform: the platform name, for logs.
        poll_interval: seconds between status requests while waiting.
        sleep: the sleep function (tests pass a recorder).
    """

    can_reattach = True

    def __init__(self, make_layer: Callable[[], CommunicationLayer], platform: str, *, poll_interval: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, session: bool = False):
        self._make_layer = make_layer
        self.session = session
        self.platform = platform
        self.name = f"perceval[{platform}]"
        self.poll_interval = poll_interval
        self.sleep = sleep
        self._layer: CommunicationLayer | None = None
        self._computer: RemoteComputer | None = None
        #: how ``qphys jobs resume`` rebuilds this transport: ``{"device": name, "options": {...}}``
        #: (set by the device families; never credentials), or ``None``: not rebuildable
        self.rebuild: dict | None = None

    def rebuild_spec(self) -> dict | None:
        if self.rebuild is None:
            return None
        return {"factory": "qphys_perceval.transport:perceval_transport", "kwargs": dict(self.rebuild)}

    @property
    def layer(self) -> CommunicationLayer:
        if self._layer is None:
            try:
                layer = self._make_layer()
                if self.session:  # Scaleway: jobs run inside a session, opened here and closed by close()
                    layer.start_session()
            except (CredentialsError, JobError):
                raise
            except Exception as exc:  # noqa: BLE001 - network and provider errors become qphys errors
                raise classify(exc, f"connecting to {self.platform}") from exc
            self._layer = layer
        return self._layer

    def close(self) -> None:
        """Stop the provider session this transport opened (jobs stay readable)."""
        if self.session and self._layer is not None:
            try:
                self._layer.stop_session()
            except Exception as exc:  # noqa: BLE001
                raise classify(exc, f"closing the session on {self.platform}") from exc
            self._layer, self._computer = None, None

    @property
    def computer(self) -> RemoteComputer:
        """Perceval's ``RemoteComputer`` on the layer (the platform's specs, payload building)."""
        if self._computer is None:
            try:
                self._computer = RemoteComputer(self.layer)
            except JobError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise classify(exc, f"reading the specification of {self.platform}") from exc
        return self._computer

    def computation(self, payload: RemotePayload) -> ComputationIterator:
        """The Perceval ``ComputationIterator`` of ``payload`` (validated against the platform)."""
        experiment = pcvl.Experiment(payload.circuit)
        if payload.threshold:
            for k in range(experiment.m):
                experiment.add(k, pcvl.Detector.threshold())
        experiment.with_input(pcvl.BasicState(list(payload.photons)))
        experiment.min_detected_photons_filter(sum(payload.photons))
        base = Computation(self.computer.get_command("sample_count"), experiment)
        base.add_params(max_samples=int(payload.shots), max_shots=int(payload.max_shots))
        base.job_name = payload.name
        iterator = ComputationIterator(base)
        rows = [{"circuit_params": {n: float(v) for n, v in zip(payload.param_names, row)}} for row in payload.rows]
        if rows:
            # add_iteration checks each parameter name against experiment.get_circuit_parameters(), rebuilt for
            # every parameter of every iteration (about 1.5 ms each: 48 ms per row of 32 angles); the rows
            # differ only in values, so the first row goes through that check and the others are appended.
            iterator.add_iteration(**rows[0])
            iterator.iterations.extend(rows[1:])
        return iterator

    def submit(self, payload: RemotePayload, idempotency_key: str | None = None) -> str:
        """Send ``payload`` under its name ``qphys-<job key>``.

        The name is derived from the job's content, not from the runner's per-claim
        ``idempotency_key``: it stays the same across re-runs, it is what a user searches for in
        the provider's console, and it seeds nothing on the real platforms (Perceval's API cannot
        look a job up by name, so :attr:`can_lookup` stays false).
        """
        iterator = self.computation(payload)
        try:
            iterator.validate()
            self.computer.validate_single(iterator.base_computation)
        except Exception as exc:  # noqa: BLE001 - Perceval raises ValueError/RuntimeError for bad experiments
            raise JobError(f"{self.platform} rejects the experiment: {type(exc).__name__}: {exc}") from exc
        if self.layer.get_availability() <= 0:
            raise TransientJobError(f"{self.platform}: the job queue is full (no job slot available now)")
        perceval_payload = self.computer.prepare_payload(iterator)
        try:
            job_id = self.layer.send(perceval_payload)
        except Exception as exc:  # noqa: BLE001
            raise classify(exc, f"submitting job {payload.name} to {self.platform}", submitting=True) from exc
        logger.info("%s: job %s accepted as %s (%d circuits)", self.platform, payload.name, job_id, payload.num_circuits)
        return str(job_id)

    def status(self, job_id: str) -> str:
        try:
            status = self.layer.get_job_status(job_id)
        except Exception:  # noqa: BLE001 - informational
            return "unknown"
        return "unknown" if status is None else status.status.name.lower()

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Poll until job ``job_id`` ends; raise if it did not succeed."""
        start, errors, last = time.monotonic(), 0, None
        while True:
            try:
                status = self.layer.get_job_status(job_id, errors)
            except Exception as exc:  # noqa: BLE001
                raise classify(exc, f"polling job {job_id}") from exc
            if status is None:  # Perceval's signal of a recoverable refresh failure
                errors += 1
                if errors > 6:
                    raise TransientJobError(f"{self.platform}: the status of job {job_id} could not be read {errors} times")
            else:
                errors = 0
                name = status.status.name
                if name != last:
                    logger.info("%s: job %s is %s", self.platform, job_id, name.lower())
                    last = name
                if status.completed:
                    if status.success:
                        return
                    raise JobError(
                        f"{self.platform}: job {job_id} ended {name.lower()}: {status.stop_message or status.message or 'no message'}"
                    )
            if timeout is not None and time.monotonic() - start > timeout:
                raise TransientJobError(f"{self.platform}: job {job_id} still {last or 'unknown'} after {timeout} s")
            self.sleep(self.poll_interval)

    def result(self, job_id: str, timeout: float | None = None) -> dict[str, np.ndarray]:
        self.wait(job_id, timeout)
        try:
            results = self.layer.get_results(job_id)
        except Exception as exc:  # noqa: BLE001
            raise classify(exc, f"fetching the results of job {job_id}") from exc
        return decode_results(results, job_id)


def decode_results(results: dict, job_id: str, photons: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """``{"counts": (R, N), "other": (R,)}`` from a Perceval ``sample_count`` iterator result.

    Raises:
        JobError: the result holds no ``results_list`` (the provider's text in the message).
    """
    listed = results.get("results_list") if isinstance(results, dict) else None
    if not listed:
        raise JobError(f"job {job_id}: the platform returned no results ({str(results)[:300]})")
    rows = []
    m = n = None
    for entry in listed:
        rows.append([(list(state), int(count)) for state, count in entry["results"].items()])
        for state, _ in rows[-1]:
            m = len(state)
            break
    # the photon number is the most frequent total (post-selection keeps n-photon samples)
    totals: dict[int, int] = {}
    for row in rows:
        for state, count in row:
            totals[sum(state)] = totals.get(sum(state), 0) + count
    if photons is not None:
        m, n = len(photons), sum(photons)
    elif totals:
        n = max(totals, key=totals.get)
    if m is None:
        raise JobError(f"job {job_id}: every iteration returned no sample; raise max_shots_per_call")
    size = lo.num_patterns(m, n)
    counts = np.zeros((len(rows), size), dtype=np.int64)
    other = np.zeros(len(rows), dtype=np.int64)
    for r, row in enumerate(rows):
        keep = [(s, c) for s, c in row if sum(s) == n]
        other[r] = sum(c for s, c in row if sum(s) != n)
        if keep:
            idx = lo.pattern_indices([s for s, _ in keep]).numpy()
            np.add.at(counts[r], idx, [c for _, c in keep])
    return {"counts": counts, "other": other}


@transport_factory
def perceval_transport(*, device: str, options: dict | None = None) -> Transport:
    """The transport of device ``device`` built by name (what ``qphys jobs resume`` calls);
    credentials come from Perceval's own configuration, as when the job was submitted."""
    import qphys

    return qphys.device(device, **(options or {})).job_transport()


__all__ = ["PercevalCloudTransport", "perceval_transport", "RemotePayload", "SubmissionOutcomeUnknown", "OUTCOME_UNKNOWN", "classify",
           "http_status", "decode_results", "IndexedOutputArchive", "FastSerializing", "serialize_payload_value"]
