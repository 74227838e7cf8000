"""Remote Perceval platforms as qphys devices: ``quandela.<platform>`` (Quandela Cloud:
``quandela.qpu:belenos``, ``quandela.sim:ascella``...), ``scaleway.<platform>`` (Scaleway QaaS:
``scaleway.QPU-BELENOS-12PQ``, ``scaleway.EMU-SAMPLING-L4``...) and the offline
``quandela.fake:belenos`` / ``quandela.fake:ascella`` (:mod:`qphys_perceval.fake_cloud`).

They return samples only (``shots`` samples of ``n`` detected photons per circuit), through
Perceval 1.3's current remote runtime (``RemoteComputer`` on a ``CommunicationLayer``; the
legacy ``RemoteProcessor`` is not used). One ``execute`` call sends one job per circuit
structure: every batch row and every parameter-shifted circuit of a gradient is one iteration
of the same Perceval ``ComputationIterator`` (:mod:`qphys_perceval.transport`). Every job runs
through :class:`qphys.jobs.JobRunner`: the job id is recorded in the ledger before waiting, a
re-run after a crash re-attaches to it, finished results are reused, transient failures are
retried, permanent ones raise :class:`~qphys.errors.JobError` with the provider's message.

**Credentials** come only from Perceval's own mechanism: ``RemoteConfig`` for Quandela
(``PCVL_CLOUD_TOKEN`` or a token saved with ``RemoteConfig().set_token(...); .save()``),
``ScalewayConfig`` for Scaleway (``SCALEWAY_CLOUD_TOKEN`` or a saved one); qphys never reads,
logs or stores the token itself. Missing credentials raise
:class:`~qphys.errors.CredentialsError` when the device is built, before anything else.

**Exactly once.** Perceval's cloud API (1.3.1) has no lookup of a job by a client-side key:
``create_job`` returns the id, and nothing lists jobs by name. qphys sends each job under the
name ``qphys-<idempotency key>`` (visible in the Quandela/Scaleway console) and:

- a crash after the id is recorded re-attaches on the next run (no second payment);
- a connection lost after the request left (the provider may have created the job) is never
  retried automatically: the ledger row is marked ``failed`` with "submission outcome unknown",
  later runs refuse to resubmit it, and :meth:`PercevalRemoteDevice.resume_job` attaches the job
  found in the console by its name (or ``resubmit_unknown=True`` pays again deliberately);
- a crash between the provider's acceptance and the ledger's record of the id (one SQLite write)
  cannot be detected: the next run resubmits that job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from qphys import linear_optics as lo
from qphys.devices import Capabilities, Device, Result, RunConfig
from qphys.errors import (
    ConfigError,
    CredentialsError,
    DeviceNotFoundError,
    DeviceOptionError,
    JobError,
    ParameterError,
    UnsupportedOperationError,
    WireError,
)
from qphys.jobs import JobRunner, JobSpec, Ledger, RetryPolicy, Transport, qphys_home
from qphys_perceval.convert import parameter_rows, parametrized_circuit
from qphys_perceval.fake_cloud import FAKE_PLATFORMS, FakeQuandelaCloud
from qphys_perceval.local import linear_optics_capabilities
from qphys_perceval.transport import OUTCOME_UNKNOWN, FastSerializing, PercevalCloudTransport, RemotePayload

logger = logging.getLogger(__name__)

#: What remote platforms measure (samples only).
REMOTE_MEASUREMENTS = frozenset({"probs", "sample", "counts", "photon_numbers"})
#: Public Quandela Cloud and Scaleway platform names (Perceval's documentation); any other name is
#: accepted too and checked by the provider.
QUANDELA_PLATFORMS = ("qpu:belenos", "qpu:ascella", "sim:belenos", "sim:ascella", "sim:slos")
SCALEWAY_PLATFORMS = ("QPU-BELENOS-12PQ", "QPU-ASCELLA-6PQ", "EMU-SAMPLING-L4", "EMU-SAMPLING-2L4")


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()[:32]


def _structure(circuit) -> tuple:
    """What makes one Perceval circuit: modes, input state, operations (matrices by value)."""
    ops = []
    for op in circuit.operations:
        if op.name == "interferometer":
            u = torch.as_tensor(op.params[0]).detach().cpu().numpy()
            ops.append((op.name, op.wires, _digest(u)))
        else:
            ops.append((op.name, op.wires))
    return (circuit.num_wires, circuit.photons, tuple(ops))


@dataclass
class _Job:
    structure: tuple
    template: object
    names: list
    members: list = field(default_factory=list)  # (circuit index, first row, rows)
    rows: list = field(default_factory=list)


class PercevalRemoteDevice(Device):
    """A remote Perceval platform (see the module docstring); build it with
    ``qphys.device("quandela.qpu:belenos", shots=2000)``.

    Args:
        shots: samples of ``n`` detected photons per circuit (per batch row); default 1000.
        seed: seeds the order in which counted samples are listed by ``sample()`` (and is part of
            a job's identity); hardware is not seedable.
        max_shots_per_call: shot budget per circuit (Perceval's ``max_shots``; lossy hardware needs
            several shots per ``n``-photon sample); default ``20 * shots``.
        max_circuits_per_job: most circuits (rows) per job (default: no limit).
        ledger: ``True`` (the ledger in ``$QPHYS_HOME``, default), a path, a
            :class:`qphys.jobs.Ledger`, or ``False``.
        transport: a :class:`qphys.jobs.Transport`, or a callable wrapping the device's own.
        retry: a :class:`qphys.jobs.RetryPolicy` for transient failures.
        poll_interval: seconds between status requests while a job runs.
        resubmit_unknown: resubmit a job whose earlier submission may have been created at the
            provider (it may be paid twice; see the module docstring).
        interferometers: ``"mesh"`` (default) sends every ``interferometer(U)`` as its Clements
            mesh of MZIs and phase shifters (:func:`qphys.linear_optics.mesh_interferometers`:
            the form a chip's programmable interferometer implements; a batch of matrices then
            travels as the rows of one job); ``"unitary"`` sends Perceval ``Unitary`` blocks and
            leaves the compilation to the platform (batched matrices are refused).
    """

    capabilities = linear_optics_capabilities(exact=False, shots=True, measurements=REMOTE_MEASUREMENTS)

    def __init__(self, name: str, platform: str, make_layer, *, shots=1000, seed=None, max_shots_per_call=None,
                 max_circuits_per_job=None, ledger=True, transport=None, retry=None, poll_interval=1.0,
                 resubmit_unknown=False, session: bool = False, interferometers: str = "mesh"):
        super().__init__(shots=shots, seed=seed)
        if interferometers not in ("mesh", "unitary"):
            raise DeviceOptionError(f"{name}: interferometers must be 'mesh' or 'unitary', got {interferometers!r}")
        self.interferometers = interferometers
        self.name = name
        self.platform = platform
        for label, value in (("max_shots_per_call", max_shots_per_call), ("max_circuits_per_job", max_circuits_per_job)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise DeviceOptionError(f"{name}: {label} must be a positive integer or None, got {value!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise DeviceOptionError(f"{name}: retry must be a qphys.jobs.RetryPolicy, got {type(retry).__name__}")
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval < 0:
            raise DeviceOptionError(f"{name}: poll_interval must be a number of seconds >= 0, got {poll_interval!r}")
        self.max_shots_per_call = max_shots_per_call
        self.max_circuits_per_job = max_circuits_per_job
        self.resubmit_unknown = bool(resubmit_unknown)
        self._cloud = PercevalCloudTransport(make_layer, platform, poll_interval=float(poll_interval), session=session)
        self._ledger_option, self._transport_option, self._retry = ledger, transport, retry
        self._runner: JobRunner | None = None
        self._templates: dict = {}

    def __repr__(self):
        return f"<PercevalRemoteDevice {self.name!r} shots={self.shots}>"

    # ---- jobs ---------------------------------------------------------------------------------------
    def job_transport(self) -> Transport:
        """The device's own transport (no wrappers); ``qphys jobs resume`` fetches through it."""
        return self._cloud

    @property
    def runner(self) -> JobRunner:
        """The :class:`qphys.jobs.JobRunner` of this device (built on first use)."""
        if self._runner is None:
            transport, opt = self._cloud, self._transport_option
            if isinstance(opt, Transport):
                transport = opt
            elif callable(opt):
                transport = opt(transport)
                if not isinstance(transport, Transport):
                    raise DeviceOptionError(f"{self.name}: transport= must return a qphys.jobs.Transport")
            elif opt is not None:
                raise DeviceOptionError(f"{self.name}: transport must be a qphys.jobs.Transport or a callable wrapping one")
            led = self._ledger_option
            ledger = Ledger() if led is True else None if led in (False, None) else led if isinstance(led, Ledger) else Ledger(led)
            self._runner = JobRunner(self.name, transport, ledger=ledger, retry=self._retry)
        return self._runner

    @property
    def jobs_submitted(self) -> int:
        """Jobs the provider accepted through this device."""
        return self._runner.stats.submitted if self._runner is not None else 0

    def job_stats(self) -> dict:
        """Counters of the runner (submitted, reused, re-attached, retries)."""
        return self._runner.stats.as_dict() if self._runner is not None else {}

    def platform_specs(self):
        """The platform's Perceval ``PlatformSpecs`` (fetched from the provider once)."""
        return self._cloud.computer.specs

    def close(self) -> None:
        """Release the provider session, if one was opened (Scaleway)."""
        self._cloud.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- validation ---------------------------------------------------------------------------------
    def preprocess(self, circuits, config):
        """Check every circuit against the platform's specification before anything is sent.

        Raises:
            UnsupportedOperationError: exact results asked, the platform lacks ``sample_count``,
                a batched interferometer matrix (with ``interferometers="unitary"``), or
                photon-number measurements on a platform with threshold detectors.
            WireError: more (or fewer) modes than the platform has.
            ParameterError: more (or fewer) photons than the platform takes, or several photons
                in one input mode where the platform allows one.
        """
        circuits = super().preprocess(circuits, config)
        if self.interferometers == "mesh":
            # a trainable matrix stays as it is: execute then names the gradient it lacks
            circuits = [c if any(op.name == "interferometer" and torch.is_tensor(op.params[0]) and op.params[0].requires_grad
                                 for op in c.operations) else lo.mesh_interferometers(c) for c in circuits]
        specs = self.platform_specs()
        commands = [getattr(c, "name", c) for c in specs.commands] or list(specs.get("available_commands", []))
        if "sample_count" not in commands:
            raise UnsupportedOperationError(
                f"{self.name}: the platform offers {commands}, not sample_count; qphys needs sampled counts"
            )
        k = specs.constraints
        arch = specs.architecture
        threshold = arch is not None and getattr(getattr(arch, "detection_type", None), "name", "").upper() == "THRESHOLD"
        for c in circuits:
            m, n = c.num_wires, c.num_photons
            if m > k.get("max_mode_count", m) or m < k.get("min_mode_count", m):
                raise WireError(
                    f"{self.name}: the circuit has {m} modes; the platform takes {k.get('min_mode_count', 1)} to "
                    f"{k.get('max_mode_count', '?')}"
                )
            if n > k.get("max_photon_count", n) or n < k.get("min_photon_count", n):
                raise ParameterError(
                    f"{self.name}: the input state has {n} photons; the platform takes {k.get('min_photon_count', 1)} "
                    f"to {k.get('max_photon_count', '?')}"
                )
            if k.get("support_multi_photon") is False and max(c.photons) > 1:
                raise ParameterError(
                    f"{self.name}: the input state {c.photons} puts several photons in one mode; the platform's "
                    "sources send at most one photon per mode"
                )
            if "max_sample_count" in k and config.shots > k["max_sample_count"]:
                raise ParameterError(f"{self.name}: shots={config.shots} exceeds the platform's {k['max_sample_count']}")
            for op in c.operations:
                u = op.params[0] if op.name == "interferometer" else None
                if torch.is_tensor(u) and u.ndim == 3 and u.shape[0] > 1:
                    raise UnsupportedOperationError(
                        f"{self.name}: a batched interferometer matrix cannot travel as job parameters; use "
                        "interferometers='mesh' (the default: Clements meshes with batched phases), or run one "
                        "circuit per matrix"
                    )
            if threshold and any(m.kind in ("photon_numbers",) or m.detection == "pnr" for m in c.measurements):
                raise UnsupportedOperationError(
                    f"{self.name}: the platform has threshold detectors; measure with detection='threshold'"
                )
        return circuits

    # ---- execution ----------------------------------------------------------------------------------
    def _plan(self, circuits, config: RunConfig) -> tuple[list[JobSpec], list[tuple[_Job, int, int]]]:
        jobs: dict[tuple, _Job] = {}
        for ci, c in enumerate(circuits):
            key = _structure(c)
            job = jobs.get(key)
            if job is None:
                cached = self._templates.get(key)
                if cached is None:
                    cached = self._templates[key] = parametrized_circuit(c)
                job = jobs[key] = _Job(key, *cached)
            rows = parameter_rows(c)
            job.members.append((ci, sum(len(r) for r in job.rows), len(rows)))
            job.rows.append(rows)
        shots = int(config.shots)
        max_shots = self.max_shots_per_call or 20 * shots
        specs, chunks = [], []
        for job in jobs.values():
            rows = np.concatenate(job.rows, axis=0)
            limit = self.max_circuits_per_job or len(rows)
            photons = job.structure[1]
            for start in range(0, len(rows), limit):
                part = rows[start:start + limit]
                key = _digest(self.name, self.platform, job.structure, part, shots, max_shots, config.seed)
                payload = RemotePayload(f"qphys-{key}", job.template, job.names, part, photons, shots, max_shots)
                specs.append(JobSpec(key=key, payload=payload, structure=_digest(job.structure)[:16],
                                     params=_digest(part)[:16], num_circuits=len(part)))
                chunks.append((job, start, len(part)))
        return specs, chunks

    def _refuse_unknown(self, specs: list[JobSpec]) -> None:
        ledger = self.runner.ledger
        if ledger is None or self.resubmit_unknown:
            return
        for spec in specs:
            row = ledger.find(self.name, spec.key)
            if row is not None and row.status == "failed" and OUTCOME_UNKNOWN in (row.error or ""):
                raise JobError(
                    f"{self.name}: an earlier submission of job {spec.payload.name} (ledger row {row.id}) lost its "
                    "connection after the request left, so the provider may have created it; Perceval's cloud API "
                    "cannot look a job up by name, so qphys does not resubmit it on its own (that could pay twice). "
                    f"Find the job named {spec.payload.name} in the provider's console and attach it with "
                    "device.resume_job(job_id, circuits), or build the device with resubmit_unknown=True to pay again"
                )

    def execute(self, circuits, config: RunConfig) -> list[Result]:
        specs, chunks = self._plan(circuits, config)
        self._refuse_unknown(specs)
        arrays = self.runner.run_many(specs)
        return self._assemble(circuits, config, specs, chunks, arrays)

    def _assemble(self, circuits, config, specs, chunks, arrays) -> list[Result]:
        per_job: dict[int, list] = {}
        for (job, start, size), spec, out in zip(chunks, specs, arrays):
            counts = np.asarray(out["counts"])
            n = sum(job.structure[1])
            expected = lo.num_patterns(job.structure[0], n)
            if counts.shape != (size, expected):
                raise JobError(
                    f"{self.name}: job {spec.payload.name} returned counts of shape {counts.shape}, expected "
                    f"({size}, {expected}) ({n} photons in {job.structure[0]} modes)"
                )
            per_job.setdefault(id(job), []).append((start, counts, np.asarray(out.get("other", np.zeros(size)))))
        gen = torch.Generator().manual_seed(config.seed if config.seed is not None else int(torch.seed() % 2**62))
        results: list[Result | None] = [None] * len(circuits)
        seen = set()
        for job, _, _ in chunks:
            if id(job) in seen:
                continue
            seen.add(id(job))
            parts = sorted(per_job[id(job)], key=lambda t: t[0])
            counts = np.concatenate([p[1] for p in parts])
            other = np.concatenate([p[2] for p in parts])
            for ci, first, rows in job.members:
                c = circuits[ci]
                sub = torch.as_tensor(counts[first:first + rows])
                values, meta = lo.values_from_counts(c, sub, generator=gen)
                meta["samples"] = sub.sum(-1)
                meta["discarded"] = torch.as_tensor(other[first:first + rows])
                values, meta = lo.unbatch(c, values, meta)
                if c.batch_size is None:
                    meta["samples"], meta["discarded"] = int(meta["samples"][0]), int(meta["discarded"][0])
                meta.update(device=self.name, platform=self.platform)
                results[ci] = Result(tuple(values), tuple(c.measurements), meta)
        return results

    def resume_job(self, job_id: str, circuits, config: RunConfig | None = None) -> list[Result]:
        """Attach provider job ``job_id`` (found in the provider's console, e.g. after a lost
        submission) to ``circuits`` and return their results, recording the job in the ledger.

        Args:
            job_id: the provider's job id.
            circuits: the circuits the job ran (one job's worth: same structure and values).
            config: the run configuration (default: the device's).

        Raises:
            ConfigError: the circuits make more than one job.
            JobError: the job failed, or its results do not fit the circuits.
        """
        from qphys.circuit import Circuit

        config = config or self.default_config
        circuits = [circuits] if isinstance(circuits, Circuit) else list(circuits)
        circuits = self.preprocess(circuits, config)
        specs, chunks = self._plan(circuits, config)
        if len(specs) != 1:
            raise ConfigError(f"{self.name}: these circuits make {len(specs)} jobs; attach one job's circuits at a time")
        ledger = self.runner.ledger
        if ledger is None:
            arrays = [self.runner.transport.result(str(job_id))]
        else:
            spec = specs[0]
            row = ledger.find(self.name, spec.key) or ledger.create(
                self.name, spec.key, structure=spec.structure, params=spec.params, num_circuits=spec.num_circuits)
            ledger.mark_submitted(row.id, str(job_id))
            arrays = self.runner.run_many(specs)
        return self._assemble(circuits, config, specs, chunks, arrays)


# ---- families -------------------------------------------------------------------------------------------
_COMMON = ("shots", "seed", "max_shots_per_call", "max_circuits_per_job", "ledger", "transport", "retry",
           "poll_interval", "resubmit_unknown", "interferometers")


def _check_options(name: str, options: dict, allowed) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DeviceOptionError(f"device {name!r} got unknown option(s) {', '.join(unknown)}; its options are: "
                                f"{', '.join(allowed)}")


def _capabilities(max_modes: int | None = None) -> Capabilities:
    return dataclasses.replace(PercevalRemoteDevice.capabilities, max_wires=max_modes)


class QuandelaFamily:
    """``quandela.*``: Quandela Cloud platforms (``quandela.qpu:belenos``...) and the offline fakes
    (``quandela.fake:belenos``, ``quandela.fake:ascella``; option ``cloud``: a
    :class:`~qphys_perceval.fake_cloud.FakeQuandelaCloud` or its folder, default
    ``$QPHYS_HOME/fake_quandela_cloud``).

    Examples:
        >>> QuandelaFamily.available_names()
        ['quandela.fake:belenos', 'quandela.fake:ascella']
    """

    PREFIX = "quandela."

    @classmethod
    def available_names(cls) -> list[str]:
        """The offline fakes (real platforms need a token: ``quandela.<platform>``, e.g.
        ``quandela.qpu:belenos``; see :data:`QUANDELA_PLATFORMS`)."""
        return [cls.PREFIX + p for p in FAKE_PLATFORMS]

    @classmethod
    def capabilities_for(cls, name: str) -> Capabilities:
        platform = name[len(cls.PREFIX):]
        return _capabilities(FAKE_PLATFORMS.get(platform, {}).get("max_mode_count"))

    @classmethod
    def create(cls, name: str, **options) -> PercevalRemoteDevice:
        """Build ``quandela.<platform>``.

        Raises:
            DeviceNotFoundError: no platform name, or an unknown fake.
            DeviceOptionError: an unknown option.
            CredentialsError: a real platform without a Quandela Cloud token.
        """
        platform = name[len(cls.PREFIX):]
        if not platform:
            raise DeviceNotFoundError("give a platform after 'quandela.', e.g. quandela.qpu:belenos or quandela.fake:belenos")
        if platform.startswith("fake:"):
            _check_options(name, options, _COMMON + ("cloud",))
            if platform not in FAKE_PLATFORMS:
                raise DeviceNotFoundError(f"no fake platform {platform!r}; available: {', '.join(FAKE_PLATFORMS)}")
            cloud = options.pop("cloud", None)
            if cloud is None:
                cloud = qphys_home() / "fake_quandela_cloud"
            if not isinstance(cloud, FakeQuandelaCloud):
                if not isinstance(cloud, (str, os.PathLike)):
                    raise DeviceOptionError(f"{name}: cloud must be a FakeQuandelaCloud or a folder, got {cloud!r}")
                cloud = FakeQuandelaCloud(cloud)
            device = PercevalRemoteDevice(name, platform, lambda: cloud.communication_layer(platform), **options)
            device.cloud = cloud
            device.job_transport().rebuild = {"device": name, "options": {"cloud": str(cloud.root)}}
            return device
        _check_options(name, options, _COMMON)
        from perceval.providers.quandela import QuandelaCommunicationLayer, RemoteConfig

        class Layer(FastSerializing, QuandelaCommunicationLayer):
            """Quandela's layer, payloads serialized in linear time."""

        if not RemoteConfig().get_token():
            raise CredentialsError(
                f"{name}: no Quandela Cloud token; set PCVL_CLOUD_TOKEN in the environment, or save one once with "
                "perceval's RemoteConfig().set_token(...) then .save(); for an offline run use quandela.fake:belenos"
            )
        device = PercevalRemoteDevice(name, platform, lambda: Layer(platform), **options)
        device.job_transport().rebuild = {"device": name}
        return device


class ScalewayFamily:
    """``scaleway.*``: Quandela platforms through Scaleway QaaS (``scaleway.QPU-BELENOS-12PQ``...).

    Options beyond the common ones: ``project_id`` (the Scaleway project; default
    ``$SCW_DEFAULT_PROJECT_ID``), ``max_idle_duration_s``, ``max_duration_s``. A session is opened
    on the first job and closed by ``device.close()`` (or a ``with`` block).

    Examples:
        >>> ScalewayFamily.available_names()
        []
    """

    PREFIX = "scaleway."

    @classmethod
    def available_names(cls) -> list[str]:
        """None without an account (real platforms: ``scaleway.<platform>``; see :data:`SCALEWAY_PLATFORMS`)."""
        return []

    @classmethod
    def capabilities_for(cls, name: str) -> Capabilities:
        return _capabilities()

    @classmethod
    def create(cls, name: str, **options) -> PercevalRemoteDevice:
        """Build ``scaleway.<platform>``.

        Raises:
            DeviceNotFoundError: no platform name.
            DeviceOptionError: an unknown option, or no project id.
            CredentialsError: no Scaleway secret key.
        """
        platform = name[len(cls.PREFIX):]
        if not platform:
            raise DeviceNotFoundError("give a platform after 'scaleway.', e.g. scaleway.QPU-BELENOS-12PQ")
        _check_options(name, options, _COMMON + ("project_id", "max_idle_duration_s", "max_duration_s"))
        from perceval.providers.scaleway import ScalewayCommunicationLayer, ScalewayConfig

        class Layer(FastSerializing, ScalewayCommunicationLayer):
            """Scaleway's layer, payloads serialized in linear time."""

        if not ScalewayConfig().get_token():
            raise CredentialsError(
                f"{name}: no Scaleway secret key; set SCALEWAY_CLOUD_TOKEN in the environment, or save one once with "
                "perceval's ScalewayConfig().set_token(...) then .save()"
            )
        project_id = options.pop("project_id", None) or os.environ.get("SCW_DEFAULT_PROJECT_ID")
        if not project_id:
            raise DeviceOptionError(f"{name}: give project_id= (your Scaleway project) or set SCW_DEFAULT_PROJECT_ID")
        session = {k: options.pop(k) for k in ("max_idle_duration_s", "max_duration_s") if k in options}
        device = PercevalRemoteDevice(
            name, platform, lambda: Layer(platform, project_id, **session), session=True, **options
        )
        device.job_transport().rebuild = {"device": name, "options": {"project_id": project_id, **session}}
        return device


__all__ = ["PercevalRemoteDevice", "QuandelaFamily", "ScalewayFamily", "REMOTE_MEASUREMENTS", "QUANDELA_PLATFORMS",
           "SCALEWAY_PLATFORMS"]
