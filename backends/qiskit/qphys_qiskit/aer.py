"""Qiskit Aer devices: ``aer.statevector``, ``aer.density_matrix``, ``aer.matrix_product_state``.

Exact runs (``shots=None``) append Aer save instructions (expectation values, variances,
probabilities, the state vector) to each structure's circuit and run every structure of an
``execute`` call, with all its parameter bindings, as ONE ``AerSimulator.run`` job (Aer binds
parameters in C++). Runs with shots measure each measurement setting
(:mod:`qphys_qiskit.sampling`) through ``qiskit_aer.primitives.SamplerV2``, which also puts all
PUBs into one simulator job. Aer's ``EstimatorV2`` is not used: it runs one simulator job per
PUB and, with a precision, only adds Gaussian noise to exact values instead of sampling.

With ``RunConfig.executor`` (``qphys.execute(..., executor=)``, :mod:`qphys.parallel`) one job's
bindings are spread over the executor's workers: every Aer run of at most
:data:`AER_RUN_EXPERIMENTS` experiments becomes a task (exact values equal the single-process
ones); with shots, every PUB is cut into chunks of that many rows, and chunk ``k`` samples with
seed ``k`` of ``SeedSequence(seed).spawn(chunks)`` (reproducible, and the same whatever the number
of workers, though not the samples of a run without executor). Gradients stay on the caller's
side: the shifted circuits of a parameter-shift gradient are bindings like any other.

Examples:
    >>> import qphys
    >>> dev = qphys.device("aer.statevector")
    >>> c = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1))
    >>> round(float(qphys.execute(c, dev).expvals[0]), 6)
    1.0
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

import numpy as np
import torch
from qiskit import transpile

from qphys import measurements
from qphys.devices.options import fmt_bytes
from qphys.errors import DeviceOptionError, JobError, ResourceError, UnsupportedOperationError, WireError
from qphys.jobs import JobNotFoundError, Transport
from qphys.parallel import run_tasks, spawn_seeds
from qphys_qiskit import sampling
from qphys_qiskit._base import Payload, Pub, QiskitDevice, Template, _concat, base_capabilities
from qphys_qiskit.convert import reverse_bits_axis, to_sparse_pauli_op

logger = logging.getLogger(__name__)


_CONTROLLED = ("crx", "cry", "crz", "cp")


def rewrite_controlled_rotations(qc):
    """Replace parametrized ``crx``/``cry``/``crz``/``cp`` by exact decompositions into
    single-qubit rotations and CNOTs (no global phase introduced).

    Qiskit Aer 0.17-0.18 binds parameters of controlled rotations wrongly when they are given
    as ``parameter_binds`` (qiskit-aer issues #2323, #2391, #2403: the bound gate acts as if the
    angle were different or zero), while binding the same values with ``assign_parameters`` is
    right. The decompositions keep one transpiled circuit per structure and give exact results.
    """
    from qiskit.circuit import ParameterExpression

    if not any(
        inst.operation.name in _CONTROLLED
        and any(isinstance(p, ParameterExpression) for p in inst.operation.params)
        for inst in qc.data
    ):
        return qc
    out = qc.copy_empty_like()
    for inst in qc.data:
        op = inst.operation
        if op.name not in _CONTROLLED or not any(isinstance(p, ParameterExpression) for p in op.params):
            out.append(inst)
            continue
        theta = op.params[0]
        c, t = inst.qubits
        if op.name == "cp":
            out.p(theta / 2, c)
            out.cx(c, t)
            out.p(-theta / 2, t)
            out.cx(c, t)
            out.p(theta / 2, t)
            continue
        if op.name == "crx":
            out.h(t)
        rot = out.ry if op.name == "cry" else out.rz
        rot(theta / 2, t)
        out.cx(c, t)
        rot(-theta / 2, t)
        out.cx(c, t)
        if op.name == "crx":
            out.h(t)
    return out


def _aligned(values: np.ndarray, circuit) -> np.ndarray:
    """Columns of ``values`` (ParameterVector order) in ``circuit.parameters`` order (the
    transpiler may drop parameters of removed gates)."""
    return np.ascontiguousarray(values[:, [p.index for p in circuit.parameters]])


#: Most experiments (parameter bindings) per ``AerSimulator.run`` call. Aer's cost per binding
#: grows with the number of bindings in one run (measured for a 10-qubit, 80-parameter circuit:
#: 0.63 ms at 1 000, 0.74 ms at 4 000, 1.58 ms at 16 000); one qphys job is therefore split into
#: Aer runs of at most this many experiments, which keeps the cost flat.
AER_RUN_EXPERIMENTS = 1024


def _aer_runs(pubs):
    """Split ``pubs`` into Aer runs: lists of ``(circuit, binds)`` of at most
    :data:`AER_RUN_EXPERIMENTS` experiments, in order."""
    runs, current, size = [], [], 0
    for p in pubs:
        params = list(p.circuit.parameters)
        rows = p.values.shape[0] if params else 1
        for start in range(0, rows, AER_RUN_EXPERIMENTS):
            stop = min(rows, start + AER_RUN_EXPERIMENTS)
            n = stop - start
            if current and size + n > AER_RUN_EXPERIMENTS:
                runs.append(current)
                current, size = [], 0
            binds = {par: p.values[start:stop, j] for j, par in enumerate(params)}
            current.append((p.circuit, binds))
            size += n
    if current:
        runs.append(current)
    return runs


def _worker_options(backend_options: dict) -> dict:
    """Aer options inside an executor task: one experiment at a time, the worker's threads."""
    opts = dict(backend_options)
    opts["max_parallel_experiments"] = 1
    opts["max_parallel_threads"] = torch.get_num_threads()
    return opts


def aer_run_task(backend_options: dict, run: list, seed: int | None) -> list[dict]:
    """Task: one Aer run (``[(circuit, binds), ...]``) on a worker; per experiment, its saved data."""
    from qiskit_aer import AerSimulator

    opts = {} if seed is None else {"seed_simulator": seed}
    result = AerSimulator(**_worker_options(backend_options)).run(
        [c for c, _ in run], parameter_binds=[b for _, b in run], **opts
    ).result()
    if not result.success:
        raise JobError(f"Aer simulation failed on a worker: {result.status}")
    return [{k: np.asarray(v) for k, v in result.data(i).items()} for i in range(len(result.results))]


def aer_sampler_task(backend_options: dict, circuit, values: np.ndarray, shots: int, seed: int | None) -> np.ndarray:
    """Task: sample one chunk of a PUB's bindings on a worker; the packed bit array."""
    from qiskit_aer.primitives import SamplerV2

    sampler = SamplerV2(seed=seed, options={"backend_options": _worker_options(backend_options)})
    return np.asarray(sampler.run([(circuit, values)], shots=shots).result()[0].data.c.array)


def _sampler_chunks(pubs) -> list[tuple[int, int, int]]:
    """``(pub index, first row, rows)`` of every chunk of at most :data:`AER_RUN_EXPERIMENTS` rows."""
    return [(k, a, min(p.rows, a + AER_RUN_EXPERIMENTS) - a)
            for k, p in enumerate(pubs) for a in range(0, p.rows, AER_RUN_EXPERIMENTS)]


class AerTransport(Transport):
    """Runs payloads on an in-process ``AerSimulator``, or on the workers of :attr:`executor`
    when the device sets one.

    Jobs cannot outlive the process, cannot be looked up and cost nothing: a job interrupted by
    a crash is simply computed again by the next run (its ledger row is marked ``lost``).
    """

    can_reattach = False

    def __init__(self, simulator, backend_options: dict):
        self.simulator = simulator
        self.backend_options = backend_options
        self.name = f"aer[{backend_options.get('method', 'automatic')}]"
        self._jobs: dict[str, tuple] = {}
        #: a qphys.parallel executor for the current execute call (set by the device), or None
        self.executor = None

    def _submit_to_executor(self, payload: Payload):
        opts = self.backend_options
        if payload.primitive == "aer":
            runs = _aer_runs(payload.pubs)
            return run_tasks(self.executor, aer_run_task, [(opts, run, payload.seed) for run in runs])
        chunks = _sampler_chunks(payload.pubs)
        seeds = spawn_seeds(payload.seed, len(chunks))
        bits = run_tasks(self.executor, aer_sampler_task, [
            (opts, payload.pubs[k].circuit, payload.pubs[k].values[a:a + n], payload.shots, s)
            for (k, a, n), s in zip(chunks, seeds)
        ])
        out: dict[int, list] = {}
        for (k, _, _), b in zip(chunks, bits):
            out.setdefault(k, []).append(b)
        return [np.concatenate(out[k], axis=0) for k in range(len(payload.pubs))]

    def submit(self, payload: Payload, idempotency_key: str) -> str:
        try:
            if self.executor is not None and payload.primitive in ("aer", "aer_sampler"):
                job = ("executor", self._submit_to_executor(payload))
            elif payload.primitive == "aer":
                opts = {} if payload.seed is None else {"seed_simulator": payload.seed}
                job = [
                    self.simulator.run([c for c, _ in run], parameter_binds=[b for _, b in run], **opts)
                    for run in _aer_runs(payload.pubs)
                ]
            elif payload.primitive == "aer_sampler":
                from qiskit_aer.primitives import SamplerV2

                sampler = SamplerV2(seed=payload.seed, options={"backend_options": dict(self.backend_options)})
                job = sampler.run([(p.circuit, p.values) for p in payload.pubs], shots=payload.shots)
            else:  # pragma: no cover - the device builds only the two kinds
                raise JobError(f"aer transport cannot run {payload.primitive!r} payloads")
        except JobError:
            raise
        except Exception as exc:  # Aer refuses the input: permanent
            raise JobError(f"Aer rejected the job: {type(exc).__name__}: {exc}") from exc
        job_id = f"aer-{uuid.uuid4().hex[:12]}"
        self._jobs[job_id] = (payload, job)
        return job_id

    def result(self, job_id, timeout=None):
        if job_id not in self._jobs:
            raise JobNotFoundError(f"Aer job {job_id!r} is not held by this process")
        payload, job = self._jobs.pop(job_id)
        if isinstance(job, tuple) and job[0] == "executor":
            return self._executor_arrays(payload, job[1])
        try:
            res = [j.result() for j in job] if payload.primitive == "aer" else job.result()
        except Exception as exc:
            raise JobError(f"Aer simulation failed: {type(exc).__name__}: {exc}") from exc
        if payload.primitive == "aer":
            for r in res:
                if not r.success:
                    raise JobError(f"Aer simulation failed: {r.status}")
            return _job_arrays(payload, [r.data(i) for r in res for i in range(len(r.results))])
        return _job_arrays(payload, [pub_res.data.c.array for pub_res in res])

    @staticmethod
    def _executor_arrays(payload: Payload, parts) -> dict[str, np.ndarray]:
        if payload.primitive == "aer":
            return _job_arrays(payload, [d for run in parts for d in run])
        return _job_arrays(payload, parts)


def _job_arrays(payload: Payload, data: list) -> dict[str, np.ndarray]:
    """A job's result arrays: ``data`` is, for ``"aer"`` payloads, the saved data of every
    experiment in order (one per binding of a parametrized PUB, one for a fixed circuit); for
    sampler payloads, the bit array of every PUB."""
    arrays: dict[str, np.ndarray] = {}
    if payload.primitive != "aer":
        for k, bits in enumerate(data):
            arrays[f"p{k}_bits"] = np.asarray(bits)
        return arrays
    idx = 0
    for k, pub in enumerate(payload.pubs):
        rows = pub.rows if pub.circuit.num_parameters else 1
        chunk = data[idx: idx + rows]
        idx += rows
        for label in pub.labels:
            arrays[f"p{k}_{label}"] = np.stack([np.asarray(d[label]) for d in chunk])
    return arrays


class AerDevice(QiskitDevice):
    """Base of the Aer devices; ``METHOD`` picks the simulation method.

    Args:
        shots: ``None`` for exact results, else shots per measurement setting.
        seed: seed of Aer's sampler (``seed_simulator``).
        noise_model: a ``qiskit_aer.noise.NoiseModel`` (with ``shots=None`` only on
            ``aer.density_matrix``, which evolves the exact mixed state).
        backend_options: further ``AerSimulator`` options, e.g.
            ``{"matrix_product_state_max_bond_dimension": 64}``.
        optimization_level: transpiler level (default 0: Aer runs every gate natively).
        max_circuits_per_job, ledger, transport, retry, job_timeout: see
            :class:`qphys_qiskit._base.QiskitDevice`.

    ``preprocess`` refuses circuits wider than the simulator allows here
    (``AerSimulator(method=...).num_qubits``, which Aer derives from the free memory for the
    state-vector and density-matrix methods) before anything runs.
    """

    METHOD = "statevector"
    name = "aer"

    def __init__(self, *, shots=None, seed=None, noise_model=None, backend_options: dict | None = None,
                 optimization_level: int = 0, max_circuits_per_job=None, ledger=False, transport=None, retry=None,
                 job_timeout=None):
        super().__init__(shots=shots, seed=seed, optimization_level=optimization_level,
                         max_circuits_per_job=max_circuits_per_job, ledger=ledger, transport=transport, retry=retry,
                         job_timeout=job_timeout)
        from qiskit_aer import AerSimulator
        from qiskit_aer.noise import NoiseModel

        if noise_model is not None and not isinstance(noise_model, NoiseModel):
            raise DeviceOptionError(
                f"{self.name}: noise_model must be a qiskit_aer.noise.NoiseModel, got {type(noise_model).__name__}"
            )
        if backend_options is not None and not isinstance(backend_options, dict):
            raise DeviceOptionError(f"{self.name}: backend_options must be a dict, got {type(backend_options).__name__}")
        opts = dict(backend_options or {})
        if "method" in opts and opts["method"] != self.METHOD:
            raise DeviceOptionError(
                f"{self.name} simulates with method={self.METHOD!r}; pick the aer.* device of the method you want"
            )
        opts["method"] = self.METHOD
        # run independent experiments (bindings) on all cores unless the caller chose otherwise
        opts.setdefault("max_parallel_experiments", 0)
        if noise_model is not None:
            opts["noise_model"] = noise_model
        self.noise_model = noise_model
        try:
            self.simulator = AerSimulator(**opts)
        except Exception as exc:
            raise DeviceOptionError(f"{self.name}: AerSimulator rejected backend_options: {exc}") from exc
        self.backend_options = opts
        self.capabilities = dataclasses.replace(base_capabilities(self.MEASUREMENTS), executor=True)
        self._aer_transport: AerTransport | None = None

    def job_transport(self):
        self._aer_transport = AerTransport(self.simulator, self.backend_options)
        return self._aer_transport

    def execute(self, circuits, config):
        """Run ``circuits``; with ``config.executor`` the job's bindings run on its workers."""
        self.runner  # builds the transport  # noqa: B018
        transport = self._aer_transport
        if transport is None or config.executor is None:
            return super().execute(circuits, config)
        transport.executor = config.executor
        try:
            return super().execute(circuits, config)
        finally:
            transport.executor = None

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        limit = self.simulator.num_qubits
        for c in circuits:
            if c.num_wires > limit:
                if self.METHOD == "matrix_product_state":
                    raise WireError(
                        f"{self.name} simulates at most {limit} qubits, the circuit has {c.num_wires}; use fewer qubits"
                    )
                per_amplitude = 16 if self.METHOD == "statevector" else 16 * 2**c.num_wires
                raise ResourceError(
                    f"{self.name}: {c.num_wires} qubits need about {fmt_bytes(per_amplitude * 2**c.num_wires)} for the "
                    f"{self.METHOD.replace('_', ' ')}, and Aer allows at most {limit} qubits with the memory free "
                    "here; use fewer qubits, or aer.matrix_product_state for many weakly entangled qubits"
                )
        if config.shots is None and self.noise_model is not None and self.METHOD != "density_matrix":
            raise UnsupportedOperationError(
                f"{self.name} cannot give exact results under a noise model (it samples noise "
                "trajectories); use aer.density_matrix for exact noisy values, or pass shots=N"
            )
        return circuits

    # ---- building PUBs ----------------------------------------------------------------------------
    def _transpile(self, qc):
        self.transpilations += 1
        return transpile(qc, self.simulator, optimization_level=self.optimization_level)

    def _build(self, template: Template, values, config):
        if "aer_qc" not in template.data:
            template.data["aer_qc"] = rewrite_controlled_rotations(template.qc)
        if config.shots is None:
            if "exact" not in template.data:
                template.data["exact"] = self._exact_circuit(template)
            tqc, labels = template.data["exact"]
            vals = _aligned(values, tqc) if tqc.num_parameters else values[:1, :0]
            return [("aer", Pub(f"{template.key}/exact", tqc, vals, labels=labels))]
        if "plan" not in template.data:
            plan = measurements.plan(template.circuit)
            variants = [self._transpile(sampling.rotate(s, template.data["aer_qc"])) for s in plan.settings]
            template.data["plan"] = (plan, variants)
        plan, variants = template.data["plan"]
        return [
            ("aer_sampler", Pub(f"{template.key}/s{k}", v, _aligned(values, v), num_bits=template.circuit.num_wires))
            for k, v in enumerate(variants)
        ]

    def _exact_circuit(self, template: Template):
        c = template.circuit
        n = c.num_wires
        qc = template.data["aer_qc"].copy()
        labels = []
        for i, m in enumerate(c.measurements):
            label = f"m{i}"
            if m.kind == "expval":
                qc.save_expectation_value(to_sparse_pauli_op(m.obs, n), range(n), label=label)
            elif m.kind == "var":
                qc.save_expectation_value_variance(to_sparse_pauli_op(m.obs, n), range(n), label=label)
            elif m.kind == "probs":
                wires = tuple(range(n)) if m.wires is None else m.wires
                # Qiskit: first listed qubit is the least significant -> reversed wires
                qc.save_probabilities(list(reversed(wires)), label=label)
            elif m.kind == "state":
                if self.METHOD == "density_matrix":
                    raise UnsupportedOperationError(
                        f"{self.name} holds a density matrix, not a state vector; use aer.statevector"
                    )
                qc.save_statevector(label=label)
            else:
                raise UnsupportedOperationError(f"measurement {m.kind!r} needs shots; pass shots=N")
            labels.append(label)
        return self._transpile(qc), tuple(labels)

    # ---- decoding -------------------------------------------------------------------------------
    def _decode(self, template: Template, rows: int, data: dict, config):
        c = template.circuit
        n = c.num_wires
        out = []
        if config.shots is None:
            parts = data[f"{template.key}/exact"]
            for i, m in enumerate(c.measurements):
                arr = _concat(parts, f"m{i}")
                if arr.shape[0] != rows:  # parameter-free structure: computed once
                    arr = np.broadcast_to(arr[:1], (rows, *arr.shape[1:]))
                if m.kind == "expval":
                    out.append(torch.as_tensor(np.real(arr).astype(np.float64)))
                elif m.kind == "var":
                    out.append(torch.as_tensor(np.real(arr[:, 1]).astype(np.float64)))
                elif m.kind == "probs":
                    out.append(torch.as_tensor(np.asarray(arr, dtype=np.float64)))
                else:  # state
                    out.append(torch.as_tensor(reverse_bits_axis(np.asarray(arr, dtype=np.complex128), n)))
            return out
        plan, variants = template.data["plan"]
        bits = [
            sampling.unpack_bits(_concat(data[f"{template.key}/s{k}"], "bits"), n)
            for k in range(len(variants))
        ]
        for dec in plan.decoders:
            v = measurements.estimate(dec, bits)
            if isinstance(v, list):
                out.append(v)
            elif dec[0] == "sample":
                out.append(torch.as_tensor(v))
            else:
                out.append(torch.as_tensor(np.asarray(v, dtype=np.float64)))
        return out


class AerStatevectorDevice(AerDevice):
    """``aer.statevector``: Qiskit Aer's state-vector simulator (exact or shots, any noise model
    with shots).

    Examples:
        >>> import qphys
        >>> dev = qphys.device("aer.statevector", shots=1000, seed=1)
        >>> c = qphys.Circuit(wires=1).x(0).expval(qphys.Z(0))
        >>> float(qphys.execute(c, dev).expvals[0])
        -1.0
    """

    METHOD = "statevector"
    name = "aer.statevector"
    MEASUREMENTS = frozenset({"expval", "var", "probs", "sample", "counts", "state"})


class AerDensityMatrixDevice(AerDevice):
    """``aer.density_matrix``: exact mixed-state evolution, so noise models give exact noisy values.

    Examples:
        >>> import qphys
        >>> from qiskit_aer.noise import NoiseModel, depolarizing_error
        >>> nm = NoiseModel(); nm.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["x"])
        >>> c = qphys.Circuit(wires=1).x(0).expval(qphys.Z(0))
        >>> round(float(qphys.execute(c, qphys.device("aer.density_matrix", noise_model=nm)).expvals[0]), 4)
        -0.9
    """

    METHOD = "density_matrix"
    name = "aer.density_matrix"


class AerMatrixProductStateDevice(AerDevice):
    """``aer.matrix_product_state``: tensor-network simulation for many weakly entangled qubits.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(wires=40).h(0)
        >>> for w in range(39):
        ...     _ = c.cx(w, w + 1)
        >>> _ = c.expval(qphys.Z(0) @ qphys.Z(39))
        >>> round(float(qphys.execute(c, qphys.device("aer.matrix_product_state")).expvals[0]), 6)
        1.0
    """

    METHOD = "matrix_product_state"
    name = "aer.matrix_product_state"
    MEASUREMENTS = frozenset({"expval", "var", "probs", "sample", "counts", "state"})
