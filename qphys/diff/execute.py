"""The :func:`execute` entry point and the autograd bridge for device-side gradients.

The bridge holds no state of its own: the device's :meth:`~qphys.devices.Device.execute_and_vjp`
returns the results and a ``vjp_fn`` closure, and a :class:`torch.autograd.Function` connects
the differentiable values to the circuit parameters and calls ``vjp_fn`` on backward. The
closure never references the results, so dropping the results frees everything, with or
without the garbage collector.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from qphys.circuit import Circuit
from qphys.devices.base import Device, Result, RunConfig, VJPFunction
from qphys.devices.shift import DIFFERENTIABLE_KINDS, has_recipes
from qphys.diff.sharded import sharded_execute, sharded_execute_and_vjp
from qphys.errors import CircuitError, ConfigError, DifferentiationError

METHODS = ("best", "backprop", "adjoint", "parameter-shift", "finite-diff")
_ALIASES = {"parameter_shift": "parameter-shift", "finite_diff": "finite-diff", "ps": "parameter-shift", "fd": "finite-diff"}


class _Default(enum.Enum):
    """Sentinel type of :data:`DEVICE_DEFAULT`."""

    DEVICE_DEFAULT = "DEVICE_DEFAULT"

    def __repr__(self) -> str:
        return "DEVICE_DEFAULT"


#: Default of ``execute(shots=..., seed=...)``: keep the device's own setting.
DEVICE_DEFAULT = _Default.DEVICE_DEFAULT


def _as_circuits(circuits) -> tuple[list[Circuit], bool]:
    """``(list of circuits, whether one was given)``.

    Raises:
        CircuitError: ``circuits`` is neither a Circuit nor an iterable of them (each item is
            checked by the device's ``preprocess``).
    """
    if isinstance(circuits, Circuit):
        return [circuits], True
    if not isinstance(circuits, (str, bytes, dict)):
        try:
            return list(circuits), False
        except TypeError:
            pass
    raise CircuitError(
        f"execute needs a qphys.Circuit or a list of them, got {type(circuits).__name__}; build one with "
        "qphys.Circuit(wires=n) (or modes=m) and add a measurement"
    )


def _as_device(device) -> Device:
    if isinstance(device, Device):
        return device
    from qphys.devices.registry import device as make

    return make(device)


def _adjoint_blocker(device: Device, circuits: Sequence[Circuit], config: RunConfig) -> str | None:
    """``None`` when adjoint differentiation applies, else the one reason it does not."""
    caps = device.capabilities
    if "adjoint" not in caps.native_diff:
        return f"device {device.name!r} has no adjoint method (native_diff={caps.native_diff})"
    if config.shots is not None:
        return f"it needs exact results, but shots={config.shots}"
    for c in circuits:
        for m in c.measurements:
            if m.kind != "expval":
                return f"it supports expval measurements only, and the circuit measures {m.kind!r}"
        for i, _ in c.trainable_params():
            if c.operations[i].spec.matrix_param:
                return f"the matrix of {c.operations[i].name!r} (operation {i}) is trainable"
    return None


def _trainable_matrix(circuits: Sequence[Circuit]) -> str | None:
    for c in circuits:
        for i, _ in c.trainable_params():
            if c.operations[i].spec.matrix_param:
                return c.operations[i].name
    return None


def resolve_method(
    diff_method: str, device: Device, circuits: Sequence[Circuit], config: RunConfig, *, sharded: bool = False
) -> str:
    """The concrete method ``diff_method`` means for these circuits on this device.

    ``best`` picks, in order: ``backprop`` (torch devices, exact), ``adjoint`` (devices with a
    native adjoint, exact, expval only), ``parameter-shift`` (every trainable operation has an
    exact shift rule), and ``finite-diff`` for exact runs only: with shots, finite differences
    of sampled values are dominated by shot noise, so ``best`` never picks them. ``sharded``
    (the circuits run on an executor's workers) rules out ``backprop``: autograd graphs do not
    cross processes.

    Raises:
        DifferentiationError: unknown method, or one that cannot apply (the message says the one
            reason why, and which methods can).
    """
    method = _ALIASES.get(diff_method, diff_method) if isinstance(diff_method, str) else diff_method
    if not isinstance(method, str) or method not in METHODS:
        raise DifferentiationError(
            f"unknown diff_method {diff_method!r}; choose one of {', '.join(METHODS)}"
        )
    caps = device.capabilities
    exact = config.shots is None
    can_backprop = "backprop" in caps.native_diff and exact and not sharded
    adjoint_blocker = _adjoint_blocker(device, circuits, config)
    no_rule = sorted({c.operations[i].name for c in circuits for i, j in c.trainable_params()
                      if not has_recipes(c, [(i, j)])})
    matrix = _trainable_matrix(circuits)
    if method == "best":
        if can_backprop:
            return "backprop"
        if adjoint_blocker is None:
            return "adjoint"
        if not no_rule:
            return "parameter-shift"
        method = "finite-diff"
        if not exact and matrix is None:
            raise DifferentiationError(
                f"no exact shift rule for {', '.join(no_rule)}, and device {device.name!r} samples "
                f"(shots={config.shots}): finite differences of sampled values are dominated by shot "
                "noise, so diff_method='best' does not pick them; use shots=None, or ask for "
                "diff_method='finite-diff' explicitly (its step with shots is (3/sqrt(shots))**(1/3); "
                "set RunConfig(fd_step=...) to choose another)"
            )
    if method == "backprop" and sharded:
        works = [m for m in ("adjoint", "parameter-shift", "finite-diff")
                 if (m != "adjoint" or adjoint_blocker is None) and (m != "parameter-shift" or not no_rule)
                 and matrix is None]
        raise DifferentiationError(
            "diff_method='backprop' cannot run with an executor: autograd graphs do not cross processes; "
            f"use {' or '.join(repr(m) for m in works) or 'no executor'} (each worker then returns the "
            "vector-Jacobian product of its shard), or 'best'"
        )
    if method == "backprop" and not can_backprop:
        why = "it samples (shots set); use shots=None" if "backprop" in caps.native_diff else (
            "it does not compute in torch"
        )
        raise DifferentiationError(
            f"device {device.name!r} cannot backpropagate: {why}; use 'parameter-shift' or 'finite-diff'"
        )
    if method == "adjoint" and adjoint_blocker is not None:
        raise DifferentiationError(
            f"adjoint differentiation does not apply: {adjoint_blocker}; use "
            f"{'' if sharded else chr(39) + 'backprop' + chr(39) + ' or '}'parameter-shift'"
        )
    if method in ("parameter-shift", "finite-diff") and matrix is not None:
        raise DifferentiationError(
            f"the matrix of {matrix!r} is trainable, and shifting a matrix entry by entry is no gradient "
            "rule; differentiate it with diff_method='backprop' on a torch device (shots=None)"
        )
    if method == "parameter-shift" and no_rule:
        raise DifferentiationError(
            f"no parameter-shift rule for {', '.join(no_rule)}; use diff_method='finite-diff'"
        )
    return method


@dataclass(frozen=True)
class _Layout:
    """Where the differentiable values sit: ``slots[k] = (circuit, measurement)`` of output
    ``k``; ``num_measurements[c]``; shape, dtype and torch device of every parameter."""

    slots: tuple[tuple[int, int], ...]
    num_measurements: tuple[int, ...]
    params: tuple[tuple[torch.Size, torch.dtype, torch.device], ...]


class _VJPBridge(torch.autograd.Function):
    """Attach device-computed values to the circuit parameters; backward calls ``vjp_fn``."""

    @staticmethod
    def forward(ctx, vjp_fn: VJPFunction, layout: _Layout, values: tuple, *params):
        ctx.set_materialize_grads(False)
        ctx.vjp_fn, ctx.layout = vjp_fn, layout
        return tuple(values)

    @staticmethod
    def backward(ctx, *grads):
        layout: _Layout = ctx.layout
        gouts: list[list] = [[None] * n for n in layout.num_measurements]
        for (ci, mi), g in zip(layout.slots, grads):
            gouts[ci][mi] = g
        flat = [g for gs in ctx.vjp_fn(gouts) for g in gs]
        out = []
        for g, (shape, dtype, device) in zip(flat, layout.params):
            out.append(None if g is None else torch.as_tensor(g).reshape(shape).to(device=device, dtype=dtype))
        return (None, None, None, *out)


def execute(
    circuits,
    device="torch.qubit",
    *,
    diff_method: str = "best",
    shots: int | None | _Default = DEVICE_DEFAULT,
    seed: int | None | _Default = DEVICE_DEFAULT,
    config: RunConfig | None = None,
    executor=None,
):
    """Run ``circuits`` on ``device``; the returned tensors carry PyTorch gradients.

    Args:
        circuits: a :class:`~qphys.Circuit` or a sequence of them.
        device: a device name (``"torch.qubit"``) or a :class:`~qphys.devices.Device`.
        diff_method: one of ``best``, ``backprop``, ``adjoint``, ``parameter-shift``,
            ``finite-diff`` (see :func:`resolve_method`).
        shots: override the device's shots (``None``: exact; ``N``: samples per measurement
            setting, :mod:`qphys.measurements`); :data:`DEVICE_DEFAULT` keeps the device's.
        seed: override the device's seed; :data:`DEVICE_DEFAULT` keeps the device's.
        config: a full :class:`RunConfig` (``shots``/``seed``/``executor`` still override it).
        executor: run on an executor's workers (:mod:`qphys.parallel`; default: the config's
            ``executor``, normally none). The batch is split into shards (:mod:`qphys.diff.sharded`);
            values equal the unsharded run, and gradients flow by ``adjoint``, ``parameter-shift``
            or ``finite-diff`` computed on the workers (``backprop`` raises; ``best`` skips it).

    Returns:
        A :class:`Result` for a single circuit, else a list of them.

    Examples:
        >>> import torch, qphys
        >>> theta = torch.tensor(0.3, requires_grad=True)
        >>> c = qphys.Circuit(wires=1).rx(theta, 0).expval(qphys.Z(0))
        >>> r = qphys.execute(c, diff_method="parameter-shift")
        >>> r.expvals.sum().backward()
        >>> round(float(theta.grad), 4)  # -sin(0.3)
        -0.2955
    """
    circuits, single = _as_circuits(circuits)
    dev = _as_device(device)
    if config is not None and not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a qphys.RunConfig, got {type(config).__name__}; e.g. RunConfig(shots=1000)")
    cfg = config or dev.default_config
    changes = {}
    if shots is not DEVICE_DEFAULT:
        changes["shots"] = shots
    if seed is not DEVICE_DEFAULT:
        changes["seed"] = seed
    if executor is not None:
        changes["executor"] = executor
    if changes:
        cfg = replace(cfg, **changes)  # RunConfig validates (ConfigError for shots <= 0, ...)
    circuits = dev.preprocess(circuits, cfg)
    sharded = cfg.executor is not None and not dev.capabilities.executor
    method = resolve_method(diff_method, dev, circuits, cfg, sharded=sharded)
    trainable = [c.trainable_params() for c in circuits]
    params = [circuits[ci].operations[i].params[j] for ci, tr in enumerate(trainable) for i, j in tr]
    differentiable = any(m.kind in DIFFERENTIABLE_KINDS for c in circuits for m in c.measurements)
    if method == "backprop" or not params or not differentiable or not torch.is_grad_enabled():
        if sharded:
            results = sharded_execute(dev, circuits, cfg, cfg.executor)
        else:
            results = dev.execute(circuits if method == "backprop" else [c.detached() for c in circuits], cfg)
    else:
        if sharded:
            results, vjp_fn = sharded_execute_and_vjp(dev, circuits, cfg, cfg.executor, trainable=trainable,
                                                      method=method)
        else:
            results, vjp_fn = dev.execute_and_vjp(circuits, cfg, trainable=trainable, method=method)
        results = _attach(results, circuits, vjp_fn, params)
    for r in results:
        r.metadata.setdefault("diff_method", method)
    return results[0] if single else results


def _attach(results: list[Result], circuits: list[Circuit], vjp_fn: VJPFunction, params: list) -> list[Result]:
    """``results`` whose differentiable values are outputs of one :class:`_VJPBridge` node."""
    slots = tuple(
        (ci, mi)
        for ci, (c, r) in enumerate(zip(circuits, results))
        for mi, (m, v) in enumerate(zip(c.measurements, r.values))
        if m.kind in DIFFERENTIABLE_KINDS and torch.is_tensor(v)
    )
    layout = _Layout(
        slots=slots,
        num_measurements=tuple(len(c.measurements) for c in circuits),
        params=tuple((p.shape, p.dtype, p.device) for p in params),
    )
    values = tuple(results[ci].values[mi] for ci, mi in slots)
    outs = _VJPBridge.apply(vjp_fn, layout, values, *params)
    new = [list(r.values) for r in results]
    for (ci, mi), o in zip(slots, outs):
        new[ci][mi] = o
    return [Result(tuple(v), r.measurements, dict(r.metadata)) for v, r in zip(new, results)]
