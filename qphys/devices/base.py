"""The Device contract: one abstract method, optional features detected by override.

A device implements :meth:`Device.execute`. It may override :meth:`Device.preprocess`
(validate and decompose before anything is spent; the default checks circuits against
:attr:`Device.capabilities`) and :meth:`Device.vjp` (adjoint gradients). Run settings travel in
the frozen :class:`RunConfig`; change one with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from qphys.circuit import Circuit, Measurement
from qphys.errors import ConfigError, UnsupportedOperationError, WireError


@dataclass(frozen=True)
class RunConfig:
    """Settings of one execution.

    Attributes:
        shots: ``None`` for exact results, else a positive number of samples per circuit.
        seed: seed of the sampling generator; the same seed reproduces the same samples.
        executor: an executor for devices that fan work out (DESIGN.md §7); passed through
            untouched — none of the built-in devices uses one yet.
        progress: show progress bars on long work.
        fd_step: step of central finite differences.

    Raises:
        ConfigError: ``shots`` is not a positive integer, or ``seed`` not an integer.
    """

    shots: int | None = None
    seed: int | None = None
    executor: Any = None
    progress: bool = False
    fd_step: float = 1e-4

    def __post_init__(self):
        if self.shots is not None:
            if isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots <= 0:
                raise ConfigError(
                    f"shots must be a positive integer or None (exact), got {self.shots!r}"
                )
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ConfigError(f"seed must be an integer or None, got {self.seed!r}")
        if not self.fd_step > 0:
            raise ConfigError(f"fd_step must be positive, got {self.fd_step!r}")


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
        native_diff: ``"backprop"`` and/or ``"adjoint"``.
        batching: executes a batched circuit natively (else it is split).
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
        for c in circuits:
            if not isinstance(c, Circuit):
                raise TypeError(f"expected a qphys.Circuit, got {type(c).__name__}")
            if c.family not in caps.families:
                raise UnsupportedOperationError(
                    f"device {self.name!r} runs {'/'.join(sorted(caps.families))} circuits, got a "
                    f"{c.family} circuit; pick a device for it (qphys devices lists them)"
                )
            if caps.max_wires is not None and c.num_wires > caps.max_wires:
                raise WireError(
                    f"circuit has {c.num_wires} wires but device {self.name!r} has at most "
                    f"{caps.max_wires}"
                )
            for op in c.operations:
                if op.name not in caps.operations:
                    raise UnsupportedOperationError(
                        f"device {self.name!r} does not support operation {op.name!r}; "
                        f"supported: {', '.join(sorted(caps.operations))}"
                    )
            if not c.measurements:
                raise UnsupportedOperationError(
                    "circuit has no measurements; add one, e.g. circuit.expval(qphys.Z(0))"
                )
            for m in c.measurements:
                if m.kind not in caps.measurements:
                    raise UnsupportedOperationError(
                        f"device {self.name!r} does not support measurement {m.kind!r}; "
                        f"supported: {', '.join(sorted(caps.measurements))}"
                    )
                if m.kind in ("sample", "counts", "homodyne") and config.shots is None:
                    raise UnsupportedOperationError(
                        f"measurement {m.kind!r} needs shots; pass shots=N to the device or execute"
                    )
                if m.obs is not None:
                    for _, factors in m.obs.terms():
                        for f in factors:
                            kind = type(f).__name__
                            if kind not in caps.observables:
                                raise UnsupportedOperationError(
                                    f"device {self.name!r} does not support observable {kind}; "
                                    f"supported: {', '.join(sorted(caps.observables))}"
                                )
        return list(circuits)

    def vjp(self, circuits, trainable, grad_outputs, config):  # pragma: no cover - optional
        """Optional adjoint vector-Jacobian product.

        Args:
            circuits: detached circuits (as passed to :meth:`execute`).
            trainable: per circuit, the ``(op_index, param_index)`` pairs to differentiate.
            grad_outputs: per circuit, one cotangent per measurement (``None`` where unused).
            config: the run configuration.

        Returns:
            Per circuit, one gradient per trainable parameter, shaped like that parameter.
        """
        raise NotImplementedError

    @classmethod
    def supports_vjp(cls) -> bool:
        """True when the device overrides :meth:`vjp` (adjoint differentiation)."""
        return cls.vjp is not Device.vjp
