"""``torch.qubit``: the default device, a thin driver over :mod:`qphys.sim.statevector`."""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import torch

from qphys._random import seeded_generator
from qphys._warn import warn
from qphys.circuit import Circuit
from qphys.devices.base import Capabilities, Device, Result, RunConfig, detached_with_trainable
from qphys.devices.options import (
    available_memory,
    fmt_bytes,
    parse_dtype,
    parse_max_memory,
    parse_torch_device,
)
from qphys.errors import DeviceOptionError, DifferentiationError, ParameterError, ResourceError
from qphys.measurements import check_sampled, estimate, plan
from qphys.ops import registered_names
from qphys.sim.statevector import NormDriftWarning
from qphys.sim.statevector import measure as M
from qphys.sim.statevector.adjoint import adjoint_vjp
from qphys.sim.statevector.apply import run_circuit
from qphys.sim.statevector.plan import make_plan

log = logging.getLogger(__name__)

#: Most bytes of sampling workspace at a time: more shots than fit are drawn in chunks and their
#: estimates combined (expectation values, variances, probabilities, counts), so ``shots=10**9``
#: needs no more memory than the state (``sample()`` itself returns every shot and is counted by
#: the memory estimate).
SAMPLE_CHUNK_BYTES = 64 * 2**20


class TorchQubitDevice(Device):
    """Batched state-vector simulator in pure torch (CPU or CUDA), differentiable by backprop
    and adjoint.

    Args:
        shots: default number of shots (``None``: exact).
        seed: seed of the sampling generator.
        dtype: ``"complex64"`` (default) or ``"complex128"``.
        torch_device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        max_memory: bytes the simulation may use (default: what is free now).
        norm_tolerance: warn (:class:`~qphys.sim.statevector.NormDriftWarning`, once per device;
            later occurrences are logged) when the final state's squared norm differs from 1 by
            more than this (rounding accumulated over many gates; complex64 drifts by about
            ``1e-9`` per gate). ``Result.metadata["norm_drift"]`` always holds the largest
            ``|<psi|psi> - 1|`` of the batch.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(wires=1).h(0).expval(qphys.X(0))
        >>> round(float(qphys.execute(c, "torch.qubit").expvals[0]), 6)  # complex64: 0.99999994
        1.0
    """

    name = "torch.qubit"
    capabilities = Capabilities(
        families=frozenset({"qubit"}),
        operations=frozenset(registered_names("qubit")),
        native_diff=("backprop", "adjoint"),
        batching=True,
    )
    #: states plus temporaries a gate needs, in units of one state
    WORKSPACE_FACTOR = 4

    def __init__(self, *, shots=None, seed=None, dtype="complex64", torch_device="cpu", max_memory=None,
                 norm_tolerance=1e-5):
        super().__init__(shots=shots, seed=seed)
        self.dtype = parse_dtype(dtype)
        self.torch_device = parse_torch_device(torch_device)
        self.max_memory = parse_max_memory(max_memory)
        if isinstance(norm_tolerance, bool) or not isinstance(norm_tolerance, (int, float)) \
                or not 0 < norm_tolerance < 1:
            raise DeviceOptionError(
                f"norm_tolerance must be a number in (0, 1), got {norm_tolerance!r}; the default 1e-5 warns "
                "when complex64 rounding has accumulated"
            )
        self.norm_tolerance = float(norm_tolerance)
        self._warned_drift = False

    def memory_estimate(self, circuit: Circuit, shots: int | None = None, *, backprop: bool = False) -> int:
        """Bytes needed to simulate ``circuit``: the state vector times the workspace factor.

        With ``shots``, it adds what sampling needs (a bounded chunk of workspace, plus every shot
        of ``sample()``). With ``backprop=True`` it also counts what autograd keeps for the
        backward pass: about one state per fused step of the execution plan
        (:mod:`qphys.sim.statevector.plan`), so the memory grows with depth (adjoint
        differentiation's does not).

        Examples:
            >>> import qphys
            >>> dev = qphys.device("torch.qubit")
            >>> c = qphys.Circuit(wires=10).h(0).cx(0, 1).rx(0.1, 1).expval(qphys.Z(0))
            >>> dev.memory_estimate(c)  # 2**10 complex64 amplitudes x 4
            32768
            >>> dev.memory_estimate(c, backprop=True) > dev.memory_estimate(c)
            True
        """
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        rows = circuit.batch_size or 1
        factor = self.WORKSPACE_FACTOR + (len(make_plan(circuit.operations)) if backprop else 0)
        need = rows * 2**circuit.num_wires * itemsize * factor
        if shots is not None:
            per_shot = rows * M.sample_bytes_per_shot(circuit.num_wires)
            need += min(shots * per_shot, max(SAMPLE_CHUNK_BYTES, per_shot))
            for m in circuit.measurements:
                if m.kind == "sample":
                    k = circuit.num_wires if m.wires is None else len(m.wires)
                    need += rows * shots * k * 8
        return need

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        if config.shots is not None:
            for c in circuits:
                check_sampled(c)
        limit = self.max_memory or available_memory(self.torch_device)
        for c in circuits:
            need = self.memory_estimate(c, config.shots)
            if need > limit:
                sampled = "" if config.shots is None else f" with {config.shots} shots"
                raise ResourceError(
                    f"simulating {c.num_wires} qubits (batch {c.batch_size or 1}, {self.dtype}){sampled} "
                    f"needs about {fmt_bytes(need)} ({need} bytes) but only {fmt_bytes(limit)} is "
                    f"available; {self._memory_fix(c, limit, config.shots)}"
                )
        return circuits

    def _memory_fix(self, circuit: Circuit, limit: int, shots: int | None = None) -> str:
        """The fixes that would help ``circuit`` fit in ``limit`` bytes (only those that apply)."""
        if shots is not None and self.memory_estimate(circuit) <= limit:
            return ("use fewer shots, or measure counts()/probs()/expval() instead of sample() (they are "
                    "estimated in chunks and need no memory per shot)")
        fixes = ["fewer qubits"]
        if (circuit.batch_size or 1) > 1:
            fixes.append("a smaller batch")
        if self.dtype == torch.complex128:
            fixes.append("dtype='complex64' (half the memory)")
        fixes.append("a matrix-product-state device such as aer.matrix_product_state")
        return "use " + ", ".join(fixes[:-1]) + " or " + fixes[-1]

    def execute(self, circuits, config):
        if torch.is_grad_enabled():
            self._check_backprop_memory(circuits)
        gen = seeded_generator(config.seed) if config.shots is not None else None
        return [self._run_one(c, config, gen)[0] for c in circuits]

    def _check_backprop_memory(self, circuits) -> None:
        """Before autograd records a circuit with trainable parameters, check that the states it
        keeps for the backward pass fit (they grow with depth; adjoint's do not)."""
        limit = None
        for c in circuits:
            if not c.trainable_params():
                continue
            limit = limit or self.max_memory or available_memory(self.torch_device)
            need = self.memory_estimate(c, backprop=True)
            if need > limit:
                raise ResourceError(
                    f"backpropagating through {c.num_wires} qubits (batch {c.batch_size or 1}, {self.dtype}) "
                    f"keeps about one state per fused gate step for the backward pass: about {fmt_bytes(need)} "
                    f"({need} bytes) but only {fmt_bytes(limit)} is available; use diff_method='adjoint' "
                    "(its memory does not grow with depth), or " + self._memory_fix(c, limit)[4:]
                )

    def execute_and_vjp(self, circuits, config, *, trainable=None, method="parameter-shift"):
        """:meth:`Device.execute_and_vjp`; ``method="adjoint"`` keeps each circuit's final state
        in the returned ``vjp_fn`` (used by its first call, then released; a second call, after
        ``retain_graph=True``, re-runs the circuit).

        Raises:
            DifferentiationError: adjoint with shots, or on measurements other than ``expval``.
        """
        if method != "adjoint":
            return super().execute_and_vjp(circuits, config, trainable=trainable, method=method)
        circuits, trainable = detached_with_trainable(circuits, trainable)
        if config.shots is not None:
            raise DifferentiationError(
                f"adjoint differentiation needs exact results, but shots={config.shots}; use "
                "diff_method='parameter-shift' or shots=None"
            )
        check_adjoint(circuits, trainable)
        results, states = [], []
        for c in circuits:
            result, psi = self._run_one(c, config, None)
            results.append(result)
            states.append(psi)
        vjp_fn = functools.partial(
            _adjoint_vjps, circuits, trainable, states, dtype=self.dtype, device=self.torch_device
        )
        return results, vjp_fn

    def _run_one(self, circuit: Circuit, config: RunConfig, gen) -> tuple[Result, torch.Tensor]:
        n = circuit.num_wires
        psi = run_circuit(circuit, dtype=self.dtype, device=self.torch_device)
        batched = circuit.batch_size is not None
        shots = config.shots
        values: list = [None] * len(circuit.measurements)
        sampled = []
        for i, m in enumerate(circuit.measurements):
            if m.kind == "state":  # exact runs only (Device.preprocess refuses state() with shots)
                values[i] = psi
            elif shots is not None:
                sampled.append(i)
            elif m.kind == "probs":
                values[i] = M.probs(psi, m.wires, n)
            elif m.kind == "expval":
                values[i] = M.expval(psi, m.obs, n)
            elif m.kind == "var":
                values[i] = M.variance(psi, m.obs, n)
            else:  # pragma: no cover - preprocess rejects sample/counts without shots
                raise AssertionError(m.kind)
        if sampled:
            for i, v in zip(sampled, self._sampled(circuit, [circuit.measurements[i] for i in sampled], psi, shots, gen)):
                values[i] = v
        out = [v if batched else v[0] for v in values]
        meta = {"device": self.name, "norm_drift": self._norm_drift(psi)}
        return Result(tuple(out), tuple(circuit.measurements), meta), psi

    def _norm_drift(self, psi: torch.Tensor) -> float | None:
        """``max |<psi|psi> - 1|`` over the batch; warns past :attr:`norm_tolerance`. ``None`` for
        shape-only runs on the ``meta`` device, which have no values to read.

        Raises:
            ParameterError: the state has non-finite amplitudes (never a silent ``nan``).
        """
        if psi.device.type == "meta":
            return None
        with torch.no_grad():
            norms = psi.real.pow(2).sum(-1, dtype=torch.float64) + psi.imag.pow(2).sum(-1, dtype=torch.float64)
            drift = float((norms - 1).abs().max())
        if not math.isfinite(drift):
            raise ParameterError(
                "torch.qubit: the simulated state has non-finite amplitudes (an input overflowed the "
                f"{self.dtype} precision); check the circuit's parameters and matrices, or use dtype='complex128'"
            )
        if drift > self.norm_tolerance:
            text = (f"torch.qubit: the state's norm drifted by {drift:.2g} (norm_tolerance {self.norm_tolerance:g}) "
                    f"in {self.dtype}; results carry errors of that order — use dtype='complex128'")
            if self.dtype == torch.complex128:
                text = (f"torch.qubit: the state's norm drifted by {drift:.2g} (norm_tolerance "
                        f"{self.norm_tolerance:g}) even in complex128; check unitary() matrices for accuracy")
            if not self._warned_drift:
                self._warned_drift = True
                warn(text, NormDriftWarning)
            else:
                log.info(text)
        return drift

    def _sampled(self, circuit: Circuit, measurements, psi, shots, gen) -> list:
        """Values of ``measurements`` estimated from ``shots`` samples per measurement setting
        (drawn in chunks of at most :data:`SAMPLE_CHUNK_BYTES` of workspace)."""
        n = circuit.num_wires
        sp = plan(circuit.with_measurements(measurements))
        probs = [M.setting_probs(psi, s.rotations(), n) for s in sp.settings]
        per_shot = psi.shape[0] * M.sample_bytes_per_shot(n)
        chunk = max(1, SAMPLE_CHUNK_BYTES // per_shot)
        if shots <= chunk:
            bits = [M.bits_from_probs(p, n, shots, gen) for p in probs]
            raw = [estimate(dec, bits) for dec in sp.decoders]
        else:
            acc: list = [None] * len(sp.decoders)
            for start in range(0, shots, chunk):
                m = min(chunk, shots - start)
                bits = [M.bits_from_probs(p, n, m, gen) for p in probs]
                acc = [_accumulate(dec, bits, a, m) for dec, a in zip(sp.decoders, acc)]
            raw = [_finish(dec, a, shots) for dec, a in zip(sp.decoders, acc)]
        real = self.dtype.to_real()
        out = []
        for m, v in zip(measurements, raw):
            if m.kind == "counts":
                out.append(v)
            elif m.kind == "sample":
                out.append(torch.as_tensor(v, device=self.torch_device))
            else:
                out.append(torch.as_tensor(v, dtype=real, device=self.torch_device))
        return out


def _accumulate(dec, bits, acc, m: int):
    """Fold the estimate of decoder ``dec`` from ``m`` more shots (``bits``) into ``acc``."""
    kind = dec[0]
    v = estimate(dec, bits)
    if kind == "var":  # (shots, mean, M2): Chan et al.'s pairwise update of a variance
        mean = estimate(("expval", dec[1], 0.0), bits)
        if acc is None:
            return (m, mean, v * m)
        n_a, mean_a, m2_a = acc
        delta = mean - mean_a
        total = n_a + m
        return (total, mean_a + delta * m / total, m2_a + v * m + delta**2 * n_a * m / total)
    if kind in ("expval", "probs"):
        return v * m if acc is None else acc + v * m
    if kind == "sample":
        return [v] if acc is None else acc + [v]
    # counts: one dict per row
    if acc is None:
        return [dict(d) for d in v]
    for total, d in zip(acc, v):
        for key, c in d.items():
            total[key] = total.get(key, 0) + c
    return acc


def _finish(dec, acc, shots: int):
    """The estimate of decoder ``dec`` from its accumulated chunks."""
    kind = dec[0]
    if kind == "var":
        return acc[2] / acc[0]
    if kind in ("expval", "probs"):
        return acc / shots
    if kind == "sample":
        return np.concatenate(acc, axis=1)
    return [dict(sorted(d.items())) for d in acc]


def check_adjoint(circuits, trainable) -> None:
    """Raise :class:`DifferentiationError` naming the one thing that rules adjoint out."""
    for c, tr in zip(circuits, trainable):
        for m in c.measurements:
            if m.kind != "expval":
                raise DifferentiationError(
                    f"adjoint differentiation supports expval measurements only, the circuit measures "
                    f"{m.kind!r}; use diff_method='backprop' or 'parameter-shift'"
                )
        for i, _ in tr:
            if c.operations[i].spec.matrix_param:
                raise DifferentiationError(
                    f"adjoint cannot differentiate the matrix of {c.operations[i].name!r} (operation {i}); "
                    "use diff_method='backprop'"
                )


def _adjoint_vjps(circuits, trainable, states, grad_outputs, *, dtype, device):
    """Adjoint VJPs of ``circuits``; ``states[k]`` (the kept final state) is used once."""
    out = []
    for k, (c, t, g) in enumerate(zip(circuits, trainable, grad_outputs)):
        psi, states[k] = states[k], None
        out.append(adjoint_vjp(c, t, g, dtype=dtype, device=device, final_state=psi))
    return out
