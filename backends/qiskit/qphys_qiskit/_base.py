"""Shared machinery of the Qiskit devices: group by structure, transpile once, bind many.

``execute(circuits)`` groups the circuits by :meth:`qphys.Circuit.structure_hash` (a batch of
inputs and all shifted circuits of a parameter-shift gradient share one structure), builds one
parametrized Qiskit circuit per structure (:func:`qphys_qiskit.convert.to_qiskit`), transpiles it
once (cached by the structural hash) and stacks every circuit's parameter values, one row per
batch element, into the bindings array of one PUB. PUBs are packed into as few jobs as
``max_circuits_per_job`` allows and run through :class:`qphys.jobs.JobRunner` (ledger,
re-attachment, retries). Subclasses say how a structure becomes PUBs (``_build``) and how
result arrays become qphys values (``_decode``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from qiskit import QuantumCircuit

import qphys
from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.errors import ConfigError, DeviceOptionError
from qphys.jobs import JobRunner, JobSpec, Ledger, RetryPolicy, Transport
from qphys_qiskit.convert import SUPPORTED_OPS, parameter_values, to_qiskit, unbatch_matrices

logger = logging.getLogger(__name__)


@dataclass
class Pub:
    """One primitive unified bloc: a transpiled circuit and a ``(rows, P)`` bindings array.

    ``ident`` names the structure and variant (``"<structure hash>/<variant>"``); ``labels``
    (Aer exact) are the saved results to collect; ``observables`` (estimator) are the
    ``SparsePauliOp`` s on the transpiled layout; ``num_bits`` (sampler) the measured bits.
    """

    ident: str
    circuit: QuantumCircuit
    values: np.ndarray
    labels: tuple[str, ...] = ()
    observables: tuple = ()
    num_bits: int = 0

    @property
    def rows(self) -> int:
        return self.values.shape[0]


@dataclass
class Payload:
    """What one job carries: ``primitive`` (``"aer"``, ``"aer_sampler"``, ``"sampler"``,
    ``"estimator"``), the PUBs, shots, seed and non-secret primitive options."""

    primitive: str
    pubs: list[Pub]
    shots: int | None = None
    seed: int | None = None
    options: dict = field(default_factory=dict)


@dataclass
class Template:
    """A structure: representative circuit, parametrized Qiskit circuit and built variants."""

    key: str
    circuit: qphys.Circuit
    qc: QuantumCircuit
    data: dict = field(default_factory=dict)


@dataclass
class _Group:
    template: Template
    members: list = field(default_factory=list)  # (unit index, row start, rows)
    values: list = field(default_factory=list)
    rows: int = 0

    def stacked(self) -> np.ndarray:
        return np.concatenate(self.values, axis=0)


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


class QiskitDevice(Device):
    """Base class of the Aer and IBM devices (see the module docstring).

    Common options (keyword-only):
        shots, seed: as for every device.
        optimization_level: Qiskit transpiler level (0-3), applied once per structure.
        max_circuits_per_job: most bound circuits (rows of all PUBs) per job; ``None``: the
            backend's own limit, if any.
        ledger: ``True`` (the default ledger in ``$QPHYS_HOME``), a path, a
            :class:`qphys.jobs.Ledger`, or ``False``.
        transport: a :class:`qphys.jobs.Transport`, or a callable that wraps the device's own
            transport (``lambda t: FaultInjectingTransport(t, submit_failure_rate=0.3)``).
        retry: a :class:`qphys.jobs.RetryPolicy` for transient failures.
        job_timeout: most seconds one ``execute`` waits for its jobs (``None``: no limit); on
            expiry a :class:`~qphys.errors.JobTimeoutError` names the job ids, which stay
            recorded and re-attachable. ``RunConfig(job_timeout=...)`` overrides it per call.
    """

    name = "qiskit"
    #: measurements this device family implements
    MEASUREMENTS = frozenset({"expval", "var", "probs", "sample", "counts"})

    def __init__(
        self,
        *,
        shots=None,
        seed=None,
        optimization_level: int = 1,
        max_circuits_per_job: int | None = None,
        ledger=False,
        transport=None,
        retry: RetryPolicy | None = None,
        job_timeout: float | None = None,
    ):
        super().__init__(shots=shots, seed=seed)
        try:
            self.default_config = replace(self.default_config, job_timeout=job_timeout)
        except ConfigError as exc:
            raise DeviceOptionError(f"{self.name}: {exc}") from None
        if optimization_level not in (0, 1, 2, 3):
            raise DeviceOptionError(
                f"{self.name}: optimization_level must be 0, 1, 2 or 3, got {optimization_level!r}"
            )
        if max_circuits_per_job is not None and (
            isinstance(max_circuits_per_job, bool) or not isinstance(max_circuits_per_job, int) or max_circuits_per_job < 1
        ):
            raise DeviceOptionError(
                f"{self.name}: max_circuits_per_job must be a positive integer or None, got {max_circuits_per_job!r}"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise DeviceOptionError(f"{self.name}: retry must be a qphys.jobs.RetryPolicy, got {type(retry).__name__}")
        self.optimization_level = optimization_level
        self.max_circuits_per_job = max_circuits_per_job
        self._templates: dict[str, Template] = {}
        self.transpilations = 0
        self.pubs_sent = 0
        self.circuits_sent = 0
        self._ledger_option = ledger
        self._transport_option = transport
        self._retry = retry
        self._runner: JobRunner | None = None

    # ---- jobs -------------------------------------------------------------------------------
    def job_transport(self) -> Transport:
        """The device's own transport to its provider (no wrappers)."""
        raise NotImplementedError  # pragma: no cover - subclasses

    @property
    def runner(self) -> JobRunner:
        """The :class:`qphys.jobs.JobRunner` that submits this device's jobs (built on first use)."""
        if self._runner is None:
            transport = self.job_transport()
            opt = self._transport_option
            if isinstance(opt, Transport):
                transport = opt
            elif callable(opt):
                transport = opt(transport)
                if not isinstance(transport, Transport):
                    raise DeviceOptionError(
                        f"{self.name}: transport= callable must return a qphys.jobs.Transport, got "
                        f"{type(transport).__name__}"
                    )
            elif opt is not None:
                raise DeviceOptionError(
                    f"{self.name}: transport must be a qphys.jobs.Transport or a callable wrapping one, "
                    f"got {type(opt).__name__}"
                )
            led = self._ledger_option
            if led is True:
                ledger = Ledger()
            elif led is False or led is None:
                ledger = None
            elif isinstance(led, Ledger):
                ledger = led
            else:
                ledger = Ledger(led)
            self._runner = JobRunner(self.name, transport, ledger=ledger, retry=self._retry)
        return self._runner

    @property
    def jobs_submitted(self) -> int:
        """Jobs accepted by the provider so far (retries of refused submissions not counted)."""
        return self._runner.stats.submitted if self._runner is not None else 0

    def job_stats(self) -> dict:
        """Counters: jobs (submitted, reused, re-attached, retries), PUBs, bound circuits, transpilations."""
        stats = self._runner.stats.as_dict() if self._runner is not None else {}
        stats.update(pubs=self.pubs_sent, circuits=self.circuits_sent, transpilations=self.transpilations)
        return stats

    def _job_limit(self) -> int | None:
        return self.max_circuits_per_job

    # ---- execution ----------------------------------------------------------------------------
    def template(self, circuit: qphys.Circuit) -> Template:
        """The cached :class:`Template` of ``circuit``'s structure (built on first use)."""
        key = circuit.structure_hash()
        tpl = self._templates.get(key)
        if tpl is None:
            tpl = Template(key, circuit, to_qiskit(circuit))
            self._templates[key] = tpl
        return tpl

    def execute(self, circuits, config: RunConfig) -> list[Result]:
        units: list[tuple[int, qphys.Circuit]] = []
        for ci, c in enumerate(circuits):
            for sub in unbatch_matrices(c):
                units.append((ci, sub))
        groups: dict[str, _Group] = {}
        for ui, (_, c) in enumerate(units):
            tpl = self.template(c)
            g = groups.setdefault(tpl.key, _Group(tpl))
            vals = parameter_values(c)
            g.members.append((ui, g.rows, vals.shape[0]))
            g.values.append(vals)
            g.rows += vals.shape[0]
        group_list = list(groups.values())
        # build PUBs per group: {job kind: [(group index, Pub), ...]}
        kinds: dict[str, list] = {}
        for gi, g in enumerate(group_list):
            for primitive, pub in self._build(g.template, g.stacked(), config):
                kinds.setdefault(primitive, []).append((gi, pub))
        specs, layout = [], []
        for primitive, items in kinds.items():
            for chunk in self._pack(items):
                pubs = [p for _, p, _ in chunk]
                payload = self._payload(primitive, pubs, config)
                key = _digest(self.name, primitive, config.shots, config.seed, sorted(payload.options.items()),
                              *[(p.ident, p.values) for p in pubs])
                specs.append(JobSpec(
                    key=key, payload=payload,
                    structure=",".join(sorted({p.ident.split("/")[0] for p in pubs})),
                    params=_digest(*[p.values for p in pubs])[:16],
                    num_circuits=sum(p.rows for p in pubs),
                    expected=expected_rows(primitive, pubs),
                ))
                layout.append(chunk)
                self.pubs_sent += len(pubs)
                self.circuits_sent += sum(p.rows for p in pubs)
        logger.debug("%s: %d circuits -> %d structures -> %d job(s)", self.name, len(circuits), len(group_list), len(specs))
        results = self.runner.run_many(specs, timeout=config.job_timeout)
        # reassemble per (group, ident): rows in order
        per_group: dict[int, dict[str, list]] = {}
        for chunk, arrays in zip(layout, results):
            for k, (gi, pub, row0) in enumerate(chunk):
                per_group.setdefault(gi, {}).setdefault(pub.ident, []).append((row0, k, arrays))
        out_units: list[Any] = [None] * len(units)
        for gi, g in enumerate(group_list):
            data = per_group.get(gi, {})
            values = self._decode(g.template, g.rows, data, config)
            for ui, start, rows in g.members:
                unit_circuit = units[ui][1]
                out_units[ui] = _slice_values(unit_circuit, values, start, rows)
        return self._assemble(circuits, units, out_units)

    def _pack(self, items):
        """Split PUBs (by rows) into jobs of at most the job limit; returns chunks of
        ``(group index, pub, first row)``."""
        limit = self._job_limit()
        chunks, current, used = [], [], 0
        for gi, pub in items:
            start = 0
            while start < pub.rows:
                room = pub.rows - start if limit is None else limit - used
                if room <= 0:
                    chunks.append(current)
                    current, used = [], 0
                    continue
                take = min(room, pub.rows - start)
                part = pub if (start == 0 and take == pub.rows) else _pub_rows(pub, start, take)
                current.append((gi, part, start))
                used += take
                start += take
        if current:
            chunks.append(current)
        return chunks

    # ---- subclass hooks -------------------------------------------------------------------------
    def _build(self, template: Template, values: np.ndarray, config: RunConfig) -> list[tuple[str, Pub]]:
        raise NotImplementedError  # pragma: no cover

    def _payload(self, primitive: str, pubs: list[Pub], config: RunConfig) -> Payload:
        return Payload(primitive, pubs, config.shots, config.seed)

    def _decode(self, template: Template, rows: int, data: dict, config: RunConfig) -> list:
        """Per measurement of the template, values with a leading axis of ``rows``."""
        raise NotImplementedError  # pragma: no cover

    # ---- assembly -----------------------------------------------------------------------------
    def _assemble(self, circuits, units, out_units) -> list[Result]:
        by_circuit: dict[int, list] = {}
        for (ci, _), vals in zip(units, out_units):
            by_circuit.setdefault(ci, []).append(vals)
        results = []
        for ci, c in enumerate(circuits):
            parts = by_circuit[ci]
            if len(parts) == 1:
                vals = parts[0]
            else:  # a batch of matrices was split into unbatched units: stack them back
                vals = []
                for mi, m in enumerate(c.measurements):
                    col = [p[mi] for p in parts]
                    vals.append(col if m.kind == "counts" else torch.stack(col))
            results.append(Result(tuple(vals), tuple(c.measurements), {"device": self.name}))
        return results


def expected_rows(primitive: str, pubs: list[Pub]) -> dict[str, int]:
    """The arrays a job's result must hold and their leading dimensions (checked by the job runner
    on fresh and stored results, so a damaged or truncated result is never broadcast)."""
    out: dict[str, int] = {}
    for k, p in enumerate(pubs):
        if primitive == "aer":
            rows = p.rows if p.circuit.num_parameters else 1
            out.update({f"p{k}_{label}": rows for label in p.labels})
        elif primitive == "estimator":
            out[f"p{k}_evs"] = out[f"p{k}_stds"] = p.rows
        else:
            out[f"p{k}_bits"] = p.rows
    return out


def _pub_rows(pub: Pub, start: int, take: int) -> Pub:
    return Pub(pub.ident, pub.circuit, pub.values[start:start + take], pub.labels, pub.observables, pub.num_bits)


def _concat(parts, key):
    """Concatenate ``arrays[key]`` of the chunks of one PUB in row order."""
    parts = sorted(parts, key=lambda t: t[0])
    return np.concatenate([arrays[f"p{k}_{key}"] for _, k, arrays in parts], axis=0)


def _slice_values(circuit: qphys.Circuit, values: list, start: int, rows: int) -> list:
    batched = circuit.batch_size is not None
    out = []
    for v in values:  # tensors and lists of count dicts slice alike
        part = v[start:start + rows]
        out.append(part if batched else part[0])
    return out


def base_capabilities(measurements, *, max_wires=None, exact=True, shots=True) -> Capabilities:
    return Capabilities(
        families=frozenset({"qubit"}),
        operations=frozenset(SUPPORTED_OPS),
        observables=frozenset({"Pauli", "Hermitian", "Prod", "Sum"}),
        measurements=frozenset(measurements),
        max_wires=max_wires,
        exact=exact,
        shots=shots,
        native_diff=(),
        batching=True,
    )
