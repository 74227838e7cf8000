"""IBM Quantum devices: ``ibm.fake_<name>`` (local testing mode) and ``ibm.<name>`` (real hardware).

Both run through qiskit-ibm-runtime's ``EstimatorV2`` (``expval``/``var``; a variance is
``<O²> - <O>²`` from the same PUB) and ``SamplerV2`` (``probs``/``sample``/``counts``). Each
circuit structure is transpiled to the device's ISA once (cached by the structural hash) and every
batch element and shifted parameter set of a gradient becomes one row of the PUB's bindings
array, so one ``execute`` call is one job per primitive (or as few as ``max_circuits_per_job``
allows). Jobs go through :class:`qphys.jobs.JobRunner`: the ledger (on by default) lets a
re-run after a crash re-attach to submitted jobs by id and reuse finished results.

``ibm.fake_<name>`` runs every fake backend of ``qiskit_ibm_runtime.fake_provider`` locally with
the primitives qiskit-ibm-runtime's local testing mode uses (Qiskit's ``BackendSamplerV2`` /
``BackendEstimatorV2`` on the fake backend, which simulates with that device's noise model and
coupling map), called directly so that ``seed=0`` is honoured (:func:`run_local`); local jobs
live only in the running process. Circuits are transpiled at ``optimization_level=2`` by default
(Qiskit's own default, with a noise-aware layout).

Exactly once on real hardware: every job carries the ledger's idempotency key as an IBM job tag,
so a run that crashed after IBM accepted a job finds it (``service.jobs(job_tags=[key])``) and
re-attaches instead of paying again; ``qphys jobs resume`` rebuilds the transport from the
backend name, channel, instance and saved-account name recorded in the ledger (never the token).
``ibm.<name>`` opens ``QiskitRuntimeService()`` with qiskit-ibm-runtime's own credentials
(``QISKIT_IBM_TOKEN``/``QISKIT_IBM_INSTANCE``/``QISKIT_IBM_CHANNEL`` or a saved account); qphys
never reads, stores or logs the token.

The runtime ``EstimatorV2`` is deprecated in qiskit-ibm-runtime 0.50 in favour of a client-side
executor estimator; it is still the documented primitive for resilience options, so it is used
here and its deprecation warning is silenced at the call site.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from functools import cache, lru_cache

import numpy as np
import torch

from qphys import measurements
from qphys.devices.base import Capabilities
from qphys.errors import (
    CredentialsError,
    DeviceNotFoundError,
    DeviceOptionError,
    JobError,
    JobTimeoutError,
    TransientJobError,
)
from qphys.jobs import JobNotFoundError, Transport, transport_factory
from qphys.observables import Pauli
from qphys_qiskit import sampling
from qphys_qiskit._base import Payload, Pub, QiskitDevice, Template, _concat, base_capabilities
from qphys_qiskit.aer import _aligned
from qphys_qiskit.convert import to_sparse_pauli_op

logger = logging.getLogger(__name__)

_CREDENTIALS_HELP = (
    "set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE, the CRN of your instance) in the environment, "
    "or save an account once with QiskitRuntimeService.save_account(token=..., instance=..., "
    "set_as_default=True); to run locally without an account use a fake device such as "
    "ibm.fake_manila (qphys devices lists them)"
)


# ---- fake backends ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def fake_backend_classes() -> dict[str, type]:
    """``{"fake_manila": FakeManilaV2, ...}``: every fake backend class (none instantiated)."""
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    out = {}
    for attr in dir(fake_provider):
        cls = getattr(fake_provider, attr)
        if isinstance(cls, type) and issubclass(cls, FakeBackendV2) and cls is not FakeBackendV2:
            name = getattr(cls, "backend_name", None)
            if name and name.startswith("fake_"):
                out.setdefault(name, cls)
    return dict(sorted(out.items()))


@cache
def fake_backend_num_qubits(short: str) -> int:
    """Qubits of the fake backend ``short`` (``"fake_manila"``), read from its configuration file.

    Instantiating a fake backend builds its whole ``Target`` from the properties file (about
    0.13 s and a calibration warning for some); listing devices only needs the qubit count.
    """
    cls = fake_backend_classes()[short]
    with open(os.path.join(cls.dirname, cls.conf_filename), encoding="utf-8") as fh:
        return int(json.load(fh)["n_qubits"])


def _classify(exc: Exception, what: str) -> Exception:
    """Map a qiskit-ibm-runtime / network exception to a qphys error (message kept, no secrets)."""
    from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError, RuntimeJobNotFound

    text = f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ in ("RuntimeJobTimeoutError", "TimeoutError") and "waiting" in what:
        return JobTimeoutError(f"timed out while {what}: {text}")
    if isinstance(exc, IBMNotAuthorizedError):
        return CredentialsError(f"IBM Quantum refused the credentials while {what} ({text}); {_CREDENTIALS_HELP}")
    if isinstance(exc, RuntimeJobNotFound):
        return JobNotFoundError(f"IBM Quantum does not know the job ({text})")
    status = getattr(exc, "status_code", None)
    transient_names = ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "RequestsApiError")
    if (isinstance(status, int) and (status >= 500 or status == 429)) or (
        type(exc).__name__ in transient_names and not isinstance(status, int)
    ) or isinstance(exc, (ConnectionError, TimeoutError)):
        return TransientJobError(f"transient failure while {what}: {text}")
    return JobError(f"IBM Quantum error while {what}: {text}")


def run_local(backend, payload: Payload):
    """Run ``payload`` on a fake backend with Qiskit's ``BackendSamplerV2``/``BackendEstimatorV2``:
    what qiskit-ibm-runtime's local testing mode runs (``default_shots`` and ``seed_simulator`` for
    the sampler; ``precision = 1/sqrt(shots)`` and ``seed_simulator`` for the estimator), called
    directly because local testing mode drops a seed of 0 (``if seed_simulator :=
    sim_options.pop("seed_simulator", None)`` in ``fake_provider/local_service.py``,
    qiskit-ibm-runtime 0.51), so ``seed=0`` ran unseeded. Returns the primitive job, finished: the
    primitives run jobs in background threads, and two jobs running at once on one fake backend (the
    estimator and sampler jobs of one ``execute``) share its simulator and do not reproduce their
    seeded results (about one run in ten differed), so each job completes before the next starts.
    """
    from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2

    if payload.primitive == "estimator":
        est = BackendEstimatorV2(backend=backend, options={"seed_simulator": payload.seed})
        pubs = [(p.circuit, [list(p.observables)], p.values[:, None, :]) for p in payload.pubs]
        job = est.run(pubs, precision=1 / math.sqrt(payload.shots))
    else:
        sampler = BackendSamplerV2(backend=backend, options={"seed_simulator": payload.seed,
                                                             "default_shots": payload.shots})
        job = sampler.run([(p.circuit, p.values) for p in payload.pubs])
    job.result()  # finish now (the result is kept by the job): no two local jobs overlap
    return job


class IBMTransport(Transport):
    """Submits payloads with qiskit-ibm-runtime ``EstimatorV2``/``SamplerV2`` in ``mode=backend``.

    Real hardware (with a ``service``): every job carries its idempotency key as a job tag
    (``options.environment.job_tags``), :meth:`lookup` finds it again with
    ``service.jobs(job_tags=[key])``, results of jobs from earlier processes are fetched by id with
    ``service.job(job_id)``, and :meth:`rebuild_spec` records the backend, channel, instance and
    saved-account name (never the token) for ``qphys jobs resume``. Local (fake-backend) jobs
    exist only in this process: nothing to look up or re-attach, nothing paid.
    """

    def __init__(self, backend, *, service=None, local: bool, service_options: dict | None = None):
        self.backend = backend
        self.service = service
        self.local = local
        self.can_reattach = not local
        self.can_lookup = not local and service is not None
        self.service_options = dict(service_options or {})
        self.name = f"ibm-runtime[{'local:' if local else ''}{backend.name}]"
        self._jobs: dict[str, object] = {}

    def rebuild_spec(self):
        if self.local:
            return None
        return {"factory": "qphys_qiskit.ibm:ibm_transport",
                "kwargs": {"backend": self.backend.name, **self.service_options}}

    def lookup(self, idempotency_key):
        try:
            jobs = self.service.jobs(job_tags=[idempotency_key], backend_name=self.backend.name, limit=2)
        except Exception as exc:
            raise _classify(exc, f"looking up job tag {idempotency_key}") from exc
        return str(jobs[0].job_id()) if jobs else None

    def submit(self, payload: Payload, idempotency_key: str) -> str:
        from qiskit_ibm_runtime import EstimatorV2, SamplerV2

        if self.local:
            try:
                job = run_local(self.backend, payload)
            except Exception as exc:
                raise _classify(exc, f"submitting to {self.backend.name}") from exc
            job_id = str(job.job_id())
            self._jobs[job_id] = job
            return job_id
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                if payload.primitive == "estimator":
                    prim = EstimatorV2(mode=self.backend)
                    pubs = [(p.circuit, [list(p.observables)], p.values[:, None, :]) for p in payload.pubs]
                    if payload.options.get("resilience_level") is not None:
                        prim.options.resilience_level = payload.options["resilience_level"]
                else:
                    prim = SamplerV2(mode=self.backend)
                    pubs = [(p.circuit, p.values) for p in payload.pubs]
                prim.options.default_shots = payload.shots
                prim.options.environment.job_tags = [idempotency_key]
                job = prim.run(pubs)
        except Exception as exc:
            raise _classify(exc, f"submitting to {self.backend.name}") from exc
        job_id = str(job.job_id())
        self._jobs[job_id] = job
        return job_id

    def status(self, job_id):
        job = self._jobs.get(job_id)
        if job is None:
            return "unknown"
        try:
            return str(job.status()).lower()
        except Exception:  # noqa: BLE001 - status is informational
            return "unknown"

    def result(self, job_id, timeout=None):
        job = self._jobs.get(job_id)
        if job is None:
            if self.service is None:
                raise JobNotFoundError(
                    f"local job {job_id!r} on {self.backend.name} is not held by this process (local testing "
                    "mode keeps jobs in memory)"
                )
            try:
                job = self.service.job(job_id)
            except Exception as exc:
                raise _classify(exc, f"looking up job {job_id}") from exc
        try:
            res = job.result(timeout=timeout) if timeout is not None else job.result()
        except Exception as exc:
            err = _classify(exc, f"waiting for job {job_id}")
            raise err from exc
        self._jobs.pop(job_id, None)
        arrays: dict[str, np.ndarray] = {}
        for k, pub_res in enumerate(res):
            data = pub_res.data
            if hasattr(data, "evs"):
                evs = np.asarray(data.evs, dtype=float)
                arrays[f"p{k}_evs"] = evs.reshape(evs.shape[0], -1) if evs.ndim else evs.reshape(1, 1)
                arrays[f"p{k}_stds"] = np.asarray(data.stds, dtype=float).reshape(arrays[f"p{k}_evs"].shape)
            else:
                field = next(iter(data.keys()))
                arrays[f"p{k}_bits"] = np.asarray(getattr(data, field).array)
        return arrays


@transport_factory
def ibm_transport(*, backend: str, instance: str | None = None, channel: str | None = None,
                  account: str | None = None) -> IBMTransport:
    """Rebuild the transport of a real IBM backend from a ledger row (``qphys jobs resume``):
    credentials come from qiskit-ibm-runtime's own discovery (environment or saved account)."""
    opts = {k: v for k, v in (("instance", instance), ("channel", channel), ("account", account)) if v is not None}
    service = _service(opts)
    try:
        be = service.backend(backend)
    except Exception as exc:  # noqa: BLE001
        raise _classify(exc, f"looking up backend {backend}") from exc
    return IBMTransport(be, service=service, local=False, service_options=opts)


class IBMDevice(QiskitDevice):
    """An IBM Quantum backend (real or fake) through qiskit-ibm-runtime's V2 primitives.

    Build it with ``qphys.device("ibm.fake_manila", shots=2000, seed=1)`` or
    ``qphys.device("ibm.ibm_brisbane")``.

    Exactly once on real hardware: every job carries the ledger's idempotency key as an IBM job
    tag; after a crash between IBM's acceptance and the ledger write, the next run finds the job
    with ``service.jobs(job_tags=[key])`` and re-attaches instead of paying again (the remaining
    window: a job IBM has created but not yet listed when the next run looks it up). Fake
    backends run in this process: a crash loses the job and the next run computes it again.

    Args:
        shots: shots per PUB (default 4096); exact results are not available.
        seed: simulator seed (fake backends only; real hardware is not seedable), ``seed=0``
            included (see :func:`run_local`); the seed also fixes the transpiler's random choices.
        optimization_level: transpiler level for the ISA transpilation (default 2, Qiskit's own
            default: a noise-aware layout (VF2Layout / VF2PostLayout scored with the backend's
            error rates) instead of the trivial one on physical qubits 0, 1, ...).
        resilience_level: the Estimator's error-mitigation level (real hardware; local testing
            mode ignores it).
        max_circuits_per_job: most bound circuits per job (``None``: no limit).
        ledger: default ``True`` (the ledger in ``$QPHYS_HOME``); see
            :class:`qphys_qiskit._base.QiskitDevice` for ``ledger``, ``transport``, ``retry``,
            ``job_timeout``.
    """

    #: default transpiler level (Qiskit's own default, noise-aware layout)
    DEFAULT_OPTIMIZATION_LEVEL = 2

    MEASUREMENTS = frozenset({"expval", "var", "probs", "sample", "counts"})

    def __init__(self, name: str, backend, *, service=None, local: bool, shots=4096, seed=None,
                 optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL, resilience_level: int | None = None,
                 max_circuits_per_job=None, ledger=True, transport=None, retry=None, job_timeout=None,
                 service_options: dict | None = None):
        self.name = name
        super().__init__(shots=shots, seed=seed, optimization_level=optimization_level,
                         max_circuits_per_job=max_circuits_per_job, ledger=ledger, transport=transport, retry=retry,
                         job_timeout=job_timeout)
        self.service_options = dict(service_options or {})
        if resilience_level is not None and resilience_level not in (0, 1, 2):
            raise DeviceOptionError(f"{name}: resilience_level must be 0, 1, 2 or None, got {resilience_level!r}")
        self.backend = backend
        self.service = service
        self.local = local
        self.resilience_level = resilience_level
        self.capabilities = base_capabilities(self.MEASUREMENTS, max_wires=backend.num_qubits, exact=False)
        self._pass_manager = None

    def job_transport(self):
        return IBMTransport(self.backend, service=self.service, local=self.local, service_options=self.service_options)

    def _payload(self, primitive, pubs, config):
        opts = {}
        if primitive == "estimator" and self.resilience_level is not None:
            opts["resilience_level"] = self.resilience_level
        return Payload(primitive, pubs, config.shots, config.seed if self.local else None, opts)

    def _isa(self, qc):
        if self._pass_manager is None:
            from qiskit.transpiler import generate_preset_pass_manager

            self._pass_manager = generate_preset_pass_manager(
                optimization_level=self.optimization_level, backend=self.backend,
                seed_transpiler=self.default_config.seed,
            )
        self.transpilations += 1
        return self._pass_manager.run(qc)

    def _build(self, template: Template, values, config):
        c = template.circuit
        n = c.num_wires
        if "ibm" not in template.data:
            est = samp = None
            ev_meas = [m for m in c.measurements if m.kind in ("expval", "var")]
            if ev_meas:
                isa = self._isa(template.qc)
                obs, index = [], []
                for m in c.measurements:
                    if m.kind not in ("expval", "var"):
                        index.append(None)
                        continue
                    op = to_sparse_pauli_op(m.obs, n)
                    index.append(len(obs))
                    obs.append(op.apply_layout(isa.layout))
                    if m.kind == "var":
                        obs.append(op.compose(op).simplify().apply_layout(isa.layout))
                est = (isa, tuple(obs), index)
            if any(m.kind in ("probs", "sample", "counts") for m in c.measurements):
                zset = measurements.Setting()
                zset.add([Pauli("Z", w) for w in range(n)])
                samp = self._isa(sampling.rotate(zset, template.qc))
            template.data["ibm"] = (est, samp)
        est, samp = template.data["ibm"]
        pubs = []
        if est is not None:
            pubs.append(("estimator", Pub(f"{template.key}/est", est[0], _aligned(values, est[0]), observables=est[1])))
        if samp is not None:
            pubs.append(("sampler", Pub(f"{template.key}/samp", samp, _aligned(values, samp), num_bits=n)))
        return pubs

    def _decode(self, template: Template, rows: int, data: dict, config):
        c = template.circuit
        n = c.num_wires
        est, samp = template.data["ibm"]
        evs = _concat(data[f"{template.key}/est"], "evs") if est is not None else None
        bits = sampling.unpack_bits(_concat(data[f"{template.key}/samp"], "bits"), n) if samp is not None else None
        out = []
        for i, m in enumerate(c.measurements):
            if m.kind == "expval":
                out.append(torch.as_tensor(evs[:, est[2][i]].astype(np.float64)))
            elif m.kind == "var":
                j = est[2][i]
                out.append(torch.as_tensor((evs[:, j + 1] - evs[:, j] ** 2).astype(np.float64)))
            else:
                wires = tuple(range(n)) if m.wires is None else tuple(m.wires)
                v = measurements.estimate((m.kind, 0, wires), [bits])
                out.append(v if isinstance(v, list) else torch.as_tensor(v))
        return out


class IBMFamily:
    """Factory of the ``ibm.*`` device family (entry point ``ibm.*``).

    Examples:
        >>> from qphys_qiskit.ibm import IBMFamily
        >>> "ibm.fake_manila" in IBMFamily.available_names()
        True
    """

    OPTIONS = ("shots", "seed", "optimization_level", "resilience_level", "max_circuits_per_job", "ledger",
               "transport", "retry", "job_timeout")
    REAL_OPTIONS = ("instance", "channel", "account")

    @classmethod
    def available_names(cls) -> list[str]:
        """``ibm.fake_<name>`` for every fake backend (real backends need an account: ``ibm.<name>``)."""
        return [f"ibm.{n}" for n in fake_backend_classes()]

    @classmethod
    def _fake_name(cls, name: str) -> str:
        short = name[len("ibm."):]
        classes = fake_backend_classes()
        if short not in classes:
            raise DeviceNotFoundError(
                f"no fake IBM backend {short!r}; available: {', '.join(classes)}"
            )
        return short

    @classmethod
    def _fake(cls, name: str):
        return fake_backend_classes()[cls._fake_name(name)]()

    @classmethod
    def capabilities_for(cls, name: str) -> Capabilities:
        """Capabilities of ``name`` (fake backends: their qubit count, read from the backend's
        configuration file without building it; real ones: no network call)."""
        max_wires = fake_backend_num_qubits(cls._fake_name(name)) if name.startswith("ibm.fake_") else None
        return base_capabilities(IBMDevice.MEASUREMENTS, max_wires=max_wires, exact=False)

    @classmethod
    def create(cls, name: str, **options) -> IBMDevice:
        """Build ``ibm.fake_<name>`` (local) or ``ibm.<name>`` (QiskitRuntimeService).

        Raises:
            DeviceNotFoundError: unknown fake backend, or a backend the account cannot see.
            DeviceOptionError: an unknown option.
            CredentialsError: ``ibm.<name>`` without IBM Quantum credentials.
        """
        fake = name.startswith("ibm.fake_")
        allowed = cls.OPTIONS if fake else cls.OPTIONS + cls.REAL_OPTIONS
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise DeviceOptionError(
                f"device {name!r} got unknown option(s) {', '.join(unknown)}; its options are: {', '.join(allowed)}"
            )
        if fake:
            return IBMDevice(name, cls._fake(name), local=True, **options)
        short = name[len("ibm."):]
        if not short:
            raise DeviceNotFoundError("give a backend name after 'ibm.', e.g. ibm.ibm_brisbane or ibm.fake_manila")
        svc_opts = {k: options.pop(k) for k in cls.REAL_OPTIONS if k in options}
        service = _service(svc_opts)
        try:
            backend = service.backend(short)
        except Exception as exc:  # noqa: BLE001 - translate the provider's message
            from qiskit.providers.exceptions import QiskitBackendNotFoundError

            if isinstance(exc, QiskitBackendNotFoundError):
                raise DeviceNotFoundError(
                    f"IBM Quantum has no backend {short!r} for this account ({exc}); list yours with "
                    "QiskitRuntimeService().backends()"
                ) from exc
            raise _classify(exc, f"looking up backend {short}") from exc
        return IBMDevice(name, backend, service=service, local=False, service_options=svc_opts, **options)


def _service(opts: dict):
    """``QiskitRuntimeService`` from qiskit-ibm-runtime's own credential discovery."""
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts.exceptions import AccountsError

    kwargs = {}
    if "account" in opts:
        kwargs["name"] = opts["account"]
    for k in ("instance", "channel"):
        if k in opts:
            kwargs[k] = opts[k]
    try:
        return QiskitRuntimeService(**kwargs)
    except AccountsError as exc:
        raise CredentialsError(f"no usable IBM Quantum account ({exc}); {_CREDENTIALS_HELP}") from None
    except Exception as exc:  # noqa: BLE001
        raise _classify(exc, "connecting to IBM Quantum") from None
