"""The Device contract: one abstract method, optional features detected by override.

A device implements :meth:`Device.execute`. It may override :meth:`Device.preprocess`
(validate and decompose before anything is spent; the default checks circuits against
:attr:`Device.capabilities`) and :meth:`Device.execute_and_vjp` (results plus a
vector-Jacobian-product function; the default runs shifted circuits, devices with native
adjoint gradients override it). Run settings travel in the frozen :class:`RunConfig`; change
one with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from qphys._validate import is_integer
from qphys.circuit import Circuit
from qphys.devices.shift import shift_vjp
from qphys.errors import CircuitError, ConfigError, DifferentiationError, UnsupportedOperationError, WireError
from qphys.ir import Measurement
from qphys.parallel import as_executor

#: ``(op_index, param_index)`` of every parameter to differentiate, per circuit.
Trainable = Sequence[Sequence[tuple[int, int]]]
#: ``vjp_fn(grad_outputs) -> grads``: ``grad_outputs[c][m]`` is the cotangent of measurement
#: ``m`` of circuit ``c`` (shaped like its value, ``None`` where unused); ``grads[c][t]`` is the
#: gradient of trainable parameter ``t`` of circuit ``c`` (``(B,)`` for a batched parameter, a
#: scalar otherwise; ``None`` where no cotangent reaches it).
VJPFunction = Callable[[Sequence[Sequence[Any]]], list[list[Any]]]
#: Gradient methods every device supports through :meth:`Device.execute_and_vjp`.
SHIFT_METHODS = ("parameter-shift", "finite-diff")


@dataclass(frozen=True)
class RunConfig:
    """Settings of one execution.

    Attributes:
        shots: ``None`` for exact results, else a positive number of samples per measurement
            setting: the terms of all ``expval``/``var`` observables of a circuit are grouped
            into qubit-wise commuting settings (:mod:`qphys.measurements`), and each setting
            is measured ``shots`` times; ``probs``/``sample``/``counts`` share the
            computational-basis setting. Every qubit device means the same by it.
            A ``state()`` measurement is exact by definition: every device refuses it when
            ``shots`` is set (run it with ``shots=None``).
        seed: seed of the sampling generator, an integer ``0 <= seed < 2**63``; the same seed
            reproduces the same samples.
        executor: where :func:`qphys.execute` runs the circuits: ``None`` (here), or a
            :mod:`qphys.parallel` executor (a ``distributed.Client`` or any
            :class:`concurrent.futures.Executor` is converted to one by
            :func:`qphys.parallel.as_executor`). The circuits' batch elements are split into
            shards that run on the workers (:mod:`qphys.diff.sharded`); devices with
            ``Capabilities.executor`` spread their own work over it instead (Aer: bindings).
        fd_step: step of central finite differences; ``None`` (default) picks ``1e-4`` for
            exact runs and a shot-noise-suited step with shots
            (:func:`qphys.devices.shift.finite_diff_step`).
        job_timeout: most seconds a remote device waits for the jobs of one execution
            (``None``: no limit); on expiry :class:`~qphys.errors.JobTimeoutError` names the
            job ids, which stay recorded and re-attachable. Local simulators ignore it.

    Raises:
        ConfigError: ``shots`` is not a positive integer, ``seed`` not an integer in
            ``[0, 2**63)``, ``fd_step`` not positive, ``job_timeout`` not a positive number,
            or ``executor`` not an executor.

    Examples:
        >>> from qphys import RunConfig
        >>> RunConfig(shots=100, seed=0, job_timeout=600).shots
        100
    """

    shots: int | None = None
    seed: int | None = None
    executor: Any = None
    fd_step: float | None = None
    job_timeout: float | None = None

    def __post_init__(self):
        if self.shots is not None:
            if not is_integer(self.shots) or self.shots <= 0:
                raise ConfigError(
                    f"shots must be a positive integer or None (exact), got {self.shots!r}; e.g. shots=1000"
                )
            if self.shots >= SHOTS_LIMIT:
                raise ConfigError(
                    f"shots={self.shots!r} is not representable as a 64-bit count (shots must be below 2**63); use "
                    "fewer shots, or shots=None for exact results"
                )
            object.__setattr__(self, "shots", int(self.shots))
        if self.seed is not None:
            if not is_integer(self.seed):
                raise ConfigError(f"seed must be an integer or None, got {self.seed!r}; e.g. seed=1234")
            if not 0 <= self.seed < SEED_LIMIT:
                raise ConfigError(
                    f"seed must be in [0, 2**63), got {self.seed!r}; use a smaller non-negative integer "
                    "(e.g. seed % 2**63)"
                )
            object.__setattr__(self, "seed", int(self.seed))
        if self.fd_step is not None and (
            isinstance(self.fd_step, bool) or not isinstance(self.fd_step, (int, float)) or not self.fd_step > 0
            or not math.isfinite(self.fd_step)
        ):
            raise ConfigError(f"fd_step must be a positive number or None (automatic), got {self.fd_step!r}")
        if self.job_timeout is not None and (
            isinstance(self.job_timeout, bool) or not isinstance(self.job_timeout, (int, float))
            or not self.job_timeout > 0
        ):
            raise ConfigError(
                f"job_timeout must be a positive number of seconds or None (no limit), got {self.job_timeout!r}"
            )
        if self.executor is not None:
            object.__setattr__(self, "executor", as_executor(self.executor))


#: Seeds are integers in ``[0, SEED_LIMIT)`` (what torch, numpy and Aer all accept).
SEED_LIMIT = 2**63
#: Shots are integers in ``[1, SHOTS_LIMIT)`` (a 64-bit count).
SHOTS_LIMIT = 2**63


@dataclass(frozen=True)
class Capabilities:
    """What a device can do; :meth:`Device.preprocess` checks circuits against it.

    Attributes:
        families: ``{"qubit"}``, ``{"cv"}`` or both.
        operations: names of supported operations.
        observables: names of supported observable kinds (``"Pauli"``, ``"Hermitian"``, ``"Sum"``...).
        measurements: supported measurement kinds.
        max_wires: largest number of wires (``None``: limited by memory only).
        exact: can return exact (shots=None) results.
        shots: can sample.
        native_diff: ``"backprop"`` (the device computes in torch) and/or ``"adjoint"`` (the
            device overrides :meth:`Device.execute_and_vjp` for ``method="adjoint"``).
        batching: executes a batched circuit natively (else it is split).
        executor: the device spreads its own work over ``RunConfig.executor`` (Aer: the
            bindings of a job); :func:`qphys.execute` then hands it the executor instead of
            splitting the circuits into shards.
    """

    families: frozenset = frozenset({"qubit"})
    operations: frozenset = frozenset()
    observables: frozenset = frozenset({"Pauli", "Hermitian", "Prod", "Sum"})
    measurements: frozenset = frozenset({"expval", "var", "probs", "sample", "counts", "state"})
    max_wires: int | None = None
    exact: bool = True
    shots: bool = True
    native_diff: tuple[str, ...] = ()
    batching: bool = False
    executor: bool = False


@dataclass
class Result:
    """The outcome of one circuit: ``values`` aligned with the circuit's measurements.

    ``expval``/``var`` values are ``(B,)`` (or ``()`` unbatched), ``probs`` ``(B, 2**k)``,
    ``sample`` ``(B, shots, k)`` integers, ``counts`` a dict (a list of dicts when batched),
    ``state`` ``(B, 2**n)``. The batch axis is present only when the circuit is batched.
    """

    values: tuple
    measurements: tuple[Measurement, ...]
    metadata: dict = field(default_factory=dict)

    def __getitem__(self, i):
        return self.values[i]

    def __len__(self):
        return len(self.values)

    def _first(self, kind):
        for m, v in zip(self.measurements, self.values):
            if m.kind == kind:
                return v
        raise KeyError(f"the circuit has no {kind!r} measurement")

    @property
    def expvals(self) -> torch.Tensor:
        """All ``expval``/``var`` values stacked on the last axis: ``(B, n_obs)`` or ``(n_obs,)``."""
        vals = [v for m, v in zip(self.measurements, self.values) if m.kind in ("expval", "var")]
        if not vals:
            raise KeyError("the circuit has no expval/var measurement")
        return torch.stack(vals, dim=-1)

    @property
    def probs(self):
        return self._first("probs")

    @property
    def samples(self):
        return self._first("sample")

    @property
    def counts(self):
        return self._first("counts")

    @property
    def state(self):
        return self._first("state")


class Device(abc.ABC):
    """Abstract device. Subclasses set :attr:`name` and :attr:`capabilities` and implement
    :meth:`execute`; options are keyword-only constructor arguments.

    Examples:
        >>> import qphys
        >>> dev = qphys.device("torch.qubit", shots=1000, seed=7)
        >>> dev.name
        'torch.qubit'
    """

    name: str = "device"
    capabilities: Capabilities = Capabilities()

    def __init__(self, *, shots: int | None = None, seed: int | None = None):
        self.default_config = RunConfig(shots=shots, seed=seed)

    @property
    def shots(self):
        return self.default_config.shots

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} shots={self.shots}>"

    @abc.abstractmethod
    def execute(self, circuits: Sequence[Circuit], config: RunConfig) -> list[Result]:
        """Run ``circuits`` and return one :class:`Result` each."""

    def preprocess(self, circuits: Sequence[Circuit], config: RunConfig) -> list[Circuit]:
        """Validate ``circuits`` before anything is spent; return what :meth:`execute` runs.

        Raises:
            UnsupportedOperationError: an operation, observable or measurement the device lacks.
            WireError: more wires than the device has.
        """
        caps = self.capabilities
        if config.shots is None and not caps.exact:
            raise UnsupportedOperationError(
                f"device {self.name!r} cannot compute exact results; pass shots=N"
            )
        if config.shots is not None and not caps.shots:
            raise UnsupportedOperationError(
                f"device {self.name!r} is exact only; drop shots={config.shots}"
            )
        for i, c in enumerate(circuits):
            if not isinstance(c, Circuit):
                raise CircuitError(
                    f"item {i} of the circuits is a {type(c).__name__}, not a qphys.Circuit; pass a Circuit or a "
                    "list of Circuits"
                )
            if c.family not in caps.families:
                raise UnsupportedOperationError(
                    f"device {self.name!r} runs {'/'.join(sorted(caps.families))} circuits, got a "
                    f"{c.family} circuit; pick a device for it (qphys devices lists them)"
                )
            if caps.max_wires is not None and c.num_wires > caps.max_wires:
                raise WireError(
                    f"circuit has {c.num_wires} wires but device {self.name!r} has at most "
                    f"{caps.max_wires}; use fewer wires or a larger device (qphys devices lists them)"
                )
            for op in c.operations:
                if op.name not in caps.operations:
                    raise UnsupportedOperationError(
                        f"device {self.name!r} does not support operation {op.name!r}; "
                        f"supported: {', '.join(sorted(caps.operations))}; use those, or a device that supports it (qphys "
                        "devices lists them)"
                    )
            if not c.measurements:
                raise UnsupportedOperationError(
                    "circuit has no measurements; add one, e.g. circuit.expval(qphys.Z(0))"
                )
            c.check_finite()
            for m in c.measurements:
                if m.kind not in caps.measurements:
                    raise UnsupportedOperationError(
                        f"device {self.name!r} does not support measurement {m.kind!r}; "
                        f"supported: {', '.join(sorted(caps.measurements))}; use one of those, or a device that supports "
                        "it (qphys devices lists them)"
                    )
                if m.kind in ("sample", "counts", "homodyne") and config.shots is None:
                    raise UnsupportedOperationError(
                        f"measurement {m.kind!r} needs shots; pass shots=N to the device or execute"
                    )
                if m.kind == "state" and config.shots is not None:
                    raise UnsupportedOperationError(
                        f"device {self.name!r}: state() is the exact state and is not available with "
                        f"shots={config.shots}; run it with shots=None (execute(..., shots=None)), or measure "
                        "probs()/counts() from samples"
                    )
                if m.obs is not None:
                    for _, factors in m.obs.terms():
                        for f in factors:
                            kind = type(f).__name__
                            if kind not in caps.observables:
                                raise UnsupportedOperationError(
                                    f"device {self.name!r} does not support observable {kind}; "
                                    f"supported: {', '.join(sorted(caps.observables))}; use one of those, or a device that "
                                    "supports it"
                                )
        return list(circuits)

    def execute_and_vjp(
        self,
        circuits: Sequence[Circuit],
        config: RunConfig,
        *,
        trainable: Trainable | None = None,
        method: str = "parameter-shift",
    ) -> tuple[list[Result], VJPFunction]:
        """Run ``circuits`` and return their results with a vector-Jacobian-product function.

        The default (every device): ``execute`` now; the returned ``vjp_fn`` runs every shifted
        circuit of every trainable parameter of every circuit in ONE :meth:`execute` call
        (parameter shift, or central finite differences). Devices with native gradients
        (``"adjoint"`` in :attr:`Capabilities.native_diff`) override this and keep what their
        backward pass needs (``torch.qubit``: the final state) in the closure, nowhere else.

        Nothing here is hidden state: ``vjp_fn`` holds the device, detached copies of the
        circuits, ``config`` and ``trainable``, never the results, so dropping the results and
        ``vjp_fn`` frees everything. :func:`execute_and_compute_vjp` is the one-call form for
        executors that run a shard of circuits in another process.

        Args:
            circuits: circuits to run, already :meth:`preprocess`-ed. Tensor parameters may
                require grad; they are detached here.
            config: the run configuration.
            trainable: per circuit, the ``(op_index, param_index)`` pairs to differentiate
                (default: every tensor parameter that requires grad).
            method: ``"parameter-shift"`` or ``"finite-diff"`` (every device), ``"adjoint"``
                (devices with ``"adjoint"`` in ``capabilities.native_diff``).

        Returns:
            ``(results, vjp_fn)``: ``results`` as :meth:`execute` returns them, and
            ``vjp_fn(grad_outputs) -> grads`` (see :data:`VJPFunction`).

        Raises:
            DifferentiationError: a method this device does not implement.

        Examples:
            >>> import torch, qphys
            >>> dev = qphys.device("torch.qubit", dtype="complex128")
            >>> c = qphys.Circuit(wires=1).rx(torch.tensor(0.3), 0).expval(qphys.Z(0))
            >>> results, vjp_fn = dev.execute_and_vjp([c], dev.default_config, trainable=[[(0, 0)]])
            >>> round(float(results[0].values[0]), 4), round(float(vjp_fn([[torch.tensor(1.0)]])[0][0]), 4)
            (0.9553, -0.2955)
        """
        circuits, trainable = detached_with_trainable(circuits, trainable)
        if method not in SHIFT_METHODS:
            raise DifferentiationError(
                f"device {self.name!r} computes gradients by {' or '.join(SHIFT_METHODS)} only, not {method!r}"
            )
        results = self.execute(circuits, config)
        return results, functools.partial(shift_vjp, self, circuits, trainable, config=config, method=method)


def detached_with_trainable(circuits, trainable=None):
    """Detached copies of ``circuits`` and, unless given, their trainable positions (for
    overrides of :meth:`Device.execute_and_vjp`).

    Raises:
        DifferentiationError: ``trainable`` does not list one entry per circuit.
    """
    if trainable is None:
        trainable = [c.trainable_params() for c in circuits]
    trainable = [list(t) for t in trainable]
    if len(trainable) != len(circuits):
        raise DifferentiationError(
            f"trainable lists {len(trainable)} circuit(s) but {len(circuits)} circuit(s) were given"
        )
    return [c.detached() for c in circuits], trainable


def execute_and_compute_vjp(
    device: Device,
    circuits: Sequence[Circuit],
    grad_outputs: Sequence[Sequence[Any]],
    config: RunConfig,
    *,
    trainable: Trainable | None = None,
    method: str = "parameter-shift",
) -> tuple[list[Result], list[list[Any]]]:
    """Results and vector-Jacobian products of ``circuits`` in one call.

    A pure function of picklable inputs (a device, circuits with CPU tensor parameters, a
    :class:`RunConfig`, cotangent tensors, plain lists): an executor can run it on a shard of
    circuits in another process and send back the results and gradients, where the
    ``vjp_fn`` closure of :meth:`Device.execute_and_vjp` would not travel. Values come back on
    the device's torch device; call ``.cpu()`` before shipping them.

    Examples:
        >>> import torch, qphys
        >>> from qphys.devices.base import execute_and_compute_vjp
        >>> c = qphys.Circuit(wires=1).ry(torch.tensor(0.3), 0).expval(qphys.Z(0))
        >>> dev = qphys.device("torch.qubit", dtype="complex128")
        >>> _, grads = execute_and_compute_vjp(dev, [c], [[torch.tensor(1.0)]], dev.default_config,
        ...                                    trainable=[[(0, 0)]], method="adjoint")
        >>> round(float(grads[0][0]), 4)
        -0.2955
    """
    results, vjp_fn = device.execute_and_vjp(circuits, config, trainable=trainable, method=method)
    return results, vjp_fn(grad_outputs)
