"""An offline stand-in for Quandela Cloud: a folder that plays the cloud's side of Perceval's
remote protocol, with injectable faults.

Perceval's own tests fake the HTTP layer under its RPC handler. Here the seam is one level up,
as Perceval 1.3 intends: :class:`FakeQuandelaCommunicationLayer` *is* Perceval's
``RPCBasedCommunicationLayer`` (the class ``QuandelaCommunicationLayer`` derives from), so every
payload is serialized, every status and result is parsed, and every error is wrapped by
Perceval's real code; only the RPC handler underneath (:class:`FakeRPCHandler`, duck-typed like
Perceval's ``RPCHandler``) is replaced by a server living in a folder:

- ``create_job`` stores the serialized job (``jobs/<uuid>.json``) and appends one line to
  ``submissions.log`` (what the provider would bill);
- ``get_job_status`` moves a job from ``waiting`` to ``running`` to ``completed`` over a few polls;
  on completion the server deserializes the Perceval computation and runs it with Perceval's
  ``SimulatedComputer("SLOS")`` (optionally with a ``NoiseModel``), seeded by the job's content;
- ``get_job_results`` returns the serialized Perceval results.

Any process can re-attach to a job by its id, as with the real cloud. :class:`Faults` scripts
failures per endpoint: ``"http503"``/``"http500"``/``"http429"`` (an error answer; nothing done),
``"connect"`` (the connection could not be opened; nothing done), ``"lost"`` (the server did the
work, then the connection dropped before the answer arrived: for ``create_job``, a job that was
created and billed but whose id the client never saw), and ``fail_jobs`` (the next jobs end in
error with the given message).

The fake platforms are modelled on Quandela's QPUs (``fake:belenos``: 24 modes, 12 photons;
``fake:ascella``: 12 modes, 6 photons; at most one photon per input mode, samples only, the
``sample_count`` and ``samples`` commands) with photon-number-resolving detection and, by
default, no noise.

Examples:
    >>> import math, tempfile, qphys
    >>> cloud = FakeQuandelaCloud(tempfile.mkdtemp())
    >>> dev = qphys.device("quandela.fake:ascella", cloud=cloud, shots=200, ledger=False, poll_interval=0)
    >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).counts()
    >>> counts = qphys.execute(c, dev).values[0]
    >>> sorted(counts), sum(counts.values()), len(cloud.submissions())
    ([(0, 2), (2, 0)], 200, 1)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import perceval as pcvl
import requests
from perceval.backends import BackendFactory
from perceval.providers.rpc_based_communication_layer import RPCBasedCommunicationLayer
from perceval.runtime import CommandFactory, PlatformSpecs, SimulatedComputer
from perceval.serialization import serialize
from perceval.serialization.library.archive import InputArchive
from perceval.utils import ProcessorType

from qphys.errors import ConfigError, DeviceNotFoundError
from qphys_perceval.transport import FastSerializing

#: The fake platforms and their constraints (Perceval ``PlatformSpecs.constraints``).
FAKE_PLATFORMS = {
    "fake:belenos": {"max_mode_count": 24, "min_mode_count": 1, "max_photon_count": 12, "min_photon_count": 1,
                     "support_multi_photon": False},
    "fake:ascella": {"max_mode_count": 12, "min_mode_count": 1, "max_photon_count": 6, "min_photon_count": 1,
                     "support_multi_photon": False},
}
FAULT_KINDS = ("http503", "http500", "http429", "connect", "lost")
_URL = "https://fake.cloud.quandela.invalid"


@dataclass
class Faults:
    """Scripted faults: each list is consumed in order, one entry per call of its endpoint
    (``None`` entries let a call through).

    Attributes:
        create_job, get_job_status, get_job_results: fault kinds (:data:`FAULT_KINDS`).
        fail_jobs: messages; each new job takes the next one and ends in error with it.
    """

    create_job: list = field(default_factory=list)
    get_job_status: list = field(default_factory=list)
    get_job_results: list = field(default_factory=list)
    fail_jobs: list = field(default_factory=list)

    def __post_init__(self):
        for name in ("create_job", "get_job_status", "get_job_results"):
            bad = [k for k in getattr(self, name) if k is not None and k not in FAULT_KINDS]
            if bad:
                raise ConfigError(f"unknown fault(s) {bad} for {name}; use {FAULT_KINDS}")


def platform_specs(platform: str) -> PlatformSpecs:
    """The ``PlatformSpecs`` of a fake platform.

    Raises:
        DeviceNotFoundError: not a fake platform.
    """
    if platform not in FAKE_PLATFORMS:
        raise DeviceNotFoundError(f"no fake Quandela platform {platform!r}; available: {', '.join(FAKE_PLATFORMS)}")
    specs = PlatformSpecs()
    specs.commands = [CommandFactory.sample_count, CommandFactory.samples]
    specs.constraints = dict(FAKE_PLATFORMS[platform])
    specs.type = ProcessorType.PHYSICAL
    specs.description = f"qphys offline fake of a Quandela QPU ({platform})"
    return specs


def _http_error(code: int, url: str) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = code
    response.url = url
    reason = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}.get(code, "Error")
    return requests.HTTPError(f"{code} Server Error: {reason} for url: {url}", response=response)


class FakeQuandelaCloud:
    """The server side: jobs, results and the billing log in ``root`` (see the module docstring).

    Args:
        root: the cloud's folder (created).
        faults: scripted :class:`Faults` for the RPC handlers this object makes (in this process).
        noise: a Perceval ``NoiseModel`` the simulated QPU applies (default: none).
        seed: varies the samples of every job (each job is seeded by its content and this).
        polls_to_finish: status requests before a job completes.
    """

    def __init__(self, root: str | os.PathLike, *, faults: Faults | None = None, noise=None, seed: int = 0,
                 polls_to_finish: int = 2):
        self.root = Path(root)
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self.faults = faults or Faults()
        self.noise = noise
        self.seed = seed
        self.polls_to_finish = polls_to_finish
        self._lock = threading.Lock()

    def __repr__(self):
        return f"FakeQuandelaCloud({str(self.root)!r})"

    # ---- what the provider's console shows ---------------------------------------------------------
    def submissions(self) -> list[dict]:
        """Every job the cloud accepted (and would bill), oldest first, from all processes."""
        log = self.root / "submissions.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def jobs_named(self, name: str) -> list[str]:
        """Ids of the jobs with this name (what a user finds in the cloud's job list)."""
        return [s["id"] for s in self.submissions() if s["name"] == name]

    def job(self, job_id: str) -> dict:
        """The stored job record (status, name, platform, polls)."""
        path = self.root / "jobs" / f"{job_id}.json"
        if not path.exists():
            raise KeyError(job_id)
        return json.loads(path.read_text())

    # ---- clients -----------------------------------------------------------------------------------------
    def rpc_handler(self, platform: str) -> FakeRPCHandler:
        platform_specs(platform)
        return FakeRPCHandler(self, platform)

    def communication_layer(self, platform: str) -> FakeQuandelaCommunicationLayer:
        """Perceval's communication layer on this fake cloud (what ``QuandelaCommunicationLayer``
        is on the real one)."""
        return FakeQuandelaCommunicationLayer(self.rpc_handler(platform))

    # ---- server ------------------------------------------------------------------------------------------
    def _path(self, job_id: str) -> Path:
        return self.root / "jobs" / f"{job_id}.json"

    def _write(self, record: dict) -> None:
        path = self._path(record["id"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)

    def _create(self, platform: str, cloud_data: dict) -> str:
        job_id = str(uuid.uuid4())
        fail = self.faults.fail_jobs.pop(0) if self.faults.fail_jobs else None
        record = {"id": job_id, "name": cloud_data.get("job_name"), "platform": platform, "created": time.time(),
                  "status": "waiting", "polls": 0, "fail": fail, "data": cloud_data}
        with self._lock:
            self._write(record)
            with open(self.root / "submissions.log", "a") as fh:
                fh.write(json.dumps({"id": job_id, "name": record["name"], "platform": platform,
                                     "time": record["created"], "pid": os.getpid()}) + "\n")
        return job_id

    def _poll(self, job_id: str) -> dict:
        with self._lock:
            if not self._path(job_id).exists():
                raise _http_error(404, f"{_URL}/api/job/status/{job_id}")
            record = self.job(job_id)
            if record["status"] in ("waiting", "running"):
                record["polls"] += 1
                if record["polls"] >= self.polls_to_finish:
                    if record["fail"]:
                        record["status"], record["message"] = "error", record["fail"]
                    else:
                        record["results"] = self._run(record)
                        record["status"] = "completed"
                else:
                    record["status"] = "running"
                self._write(record)
        return record

    def _run(self, record: dict) -> str:
        payload = record["data"]["payload"]
        computation = InputArchive.from_text(payload["computation"]).create(0)
        digest = hashlib.sha256(payload["computation"].encode() + str(self.seed).encode()).digest()
        seed = int.from_bytes(digest[:4], "little")
        base = getattr(computation, "base_computation", computation)
        if self.noise is None and base.command.name == "sample_count":
            results = _sample_counts(computation, seed)
        else:  # Perceval's own simulated QPU (noise models, other commands); slower: it copies the
            # experiment for every iteration
            computer = SimulatedComputer("SLOS")
            if self.noise is not None:
                computer.noise = self.noise
            base.command = computer.get_command(base.command.name)
            pcvl.random_seed(seed)
            results = computer.execute(computation)
        return json.dumps(serialize(results))


def _sample_counts(computation, seed: int) -> dict:
    """``sample_count`` of a noiseless platform: per iteration, ``max_samples`` patterns drawn from
    Perceval's SLOS probabilities (what ``SimulatedComputer`` returns without noise, without copying
    the experiment per iteration)."""
    base = getattr(computation, "base_computation", computation)
    iterations = list(getattr(computation, "iterations", [])) or [{}]
    experiment = base.experiment
    params = experiment.get_circuit_parameters()
    state = experiment.input_state
    n_min = experiment.min_photons_filter or 0
    rng = np.random.default_rng(seed)
    engine = BackendFactory.get_backend("SLOS")
    out = []
    for it in iterations:
        for name, value in it.get("circuit_params", {}).items():
            params[name].set_value(value)
        engine.set_circuit(pcvl.Unitary(pcvl.Matrix(np.array(experiment.unitary_circuit().compute_unitary()))))
        engine.set_input_state(state)
        dist = engine.prob_distribution()
        states = [s for s in dist.keys() if s.n >= n_min]
        p = np.array([float(dist[s]) for s in states])
        draws = rng.multinomial(int(base.parameters["max_samples"]), p / p.sum())
        counts = pcvl.BSCount()
        for s, k in zip(states, draws):
            if k:
                counts[s] = int(k)
        out.append({"results": counts, "global_perf": float(p.sum()), "iteration": it})
    return {"results_list": out} if hasattr(computation, "iterations") else out[0]


class FakeRPCHandler:
    """Perceval's RPC handler interface (``name``, ``fetch_platform_details``, ``create_job``,
    ``get_job_status``, ``get_job_results``, ``cancel_job``, ``rerun_job``, ``get_job_availability``)
    answered by a :class:`FakeQuandelaCloud`, with its scripted faults."""

    def __init__(self, cloud: FakeQuandelaCloud, platform: str):
        self.cloud = cloud
        self.name = platform
        self.url = _URL
        self.calls: list[tuple[str, str]] = []

    def _fault(self, endpoint: str, url: str) -> str | None:
        script = getattr(self.cloud.faults, endpoint)
        kind = script.pop(0) if script else None
        self.calls.append((endpoint, kind or "ok"))
        if kind in ("http503", "http500", "http429"):
            raise _http_error(int(kind[4:]), url)
        if kind == "connect":
            raise requests.ConnectionError(
                f"HTTPSConnectionPool(host='fake.cloud.quandela.invalid', port=443): Max retries exceeded with url: "
                f"{url} (Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] "
                "Connection refused'))"
            )
        return kind

    @staticmethod
    def _lost(url: str) -> requests.ConnectionError:
        return requests.ConnectionError(
            f"('Connection aborted.', RemoteDisconnected('Remote end closed connection without response')) ({url})"
        )

    def fetch_platform_details(self) -> dict:
        return {"name": self.name, "status": "available", "type": "qpu",
                "specs": serialize(platform_specs(self.name)), "perfs": {}}

    def create_job(self, cloud_data: dict) -> str:
        url = f"{self.url}/api/job"
        kind = self._fault("create_job", url)
        job_id = self.cloud._create(self.name, cloud_data)
        if kind == "lost":
            raise self._lost(url)
        return job_id

    def get_job_status(self, job_id: str) -> dict:
        url = f"{self.url}/api/job/status/{job_id}"
        kind = self._fault("get_job_status", url)
        record = self.cloud._poll(job_id)
        if kind == "lost":
            raise self._lost(url)
        done = record["status"] in ("completed", "error")
        return {
            "status": record["status"], "progress": 1.0 if done else 0.5 * (record["status"] == "running"),
            "progress_message": record["status"], "creation_datetime": record["created"],
            "start_time": record["created"], "duration": 1 if done else 0,
            "status_message": record.get("message", ""),
        }

    def get_job_results(self, job_id: str) -> dict:
        url = f"{self.url}/api/job/result/{job_id}"
        kind = self._fault("get_job_results", url)
        try:
            record = self.cloud.job(job_id)
        except KeyError:
            raise _http_error(404, url) from None
        if record["status"] != "completed":
            raise requests.HTTPError(f"400 Client Error: job {job_id} is {record['status']} for url: {url}")
        if kind == "lost":
            raise self._lost(url)
        return {"results": record["results"], "job_id": job_id}

    def cancel_job(self, job_id: str) -> None:
        record = self.cloud.job(job_id)
        record["status"], record["message"] = "canceled", "canceled by the user"
        self.cloud._write(record)

    def rerun_job(self, job_id: str) -> str:
        return self.cloud._create(self.name, self.cloud.job(job_id)["data"])

    def get_job_availability(self) -> dict:
        return {"max_jobs_in_queue": 100, "num_jobs_in_queue": 0}


class FakeQuandelaCommunicationLayer(FastSerializing, RPCBasedCommunicationLayer):
    """Perceval's ``RPCBasedCommunicationLayer`` on a :class:`FakeRPCHandler` (availability as
    ``QuandelaCommunicationLayer`` reads it; payloads serialized as the real devices serialize
    them, :class:`~qphys_perceval.transport.FastSerializing`)."""

    def get_availability(self) -> int:
        availability = self._rpc_handler.get_job_availability()
        return availability["max_jobs_in_queue"] - availability["num_jobs_in_queue"]


__all__ = ["FakeQuandelaCloud", "FakeRPCHandler", "FakeQuandelaCommunicationLayer", "Faults", "FAKE_PLATFORMS",
           "FAULT_KINDS", "platform_specs"]
