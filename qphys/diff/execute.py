"""The :func:`execute` entry point and the autograd bridge for device-side gradients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from qphys.circuit import Circuit
from qphys.devices.base import Device, Result, RunConfig
from qphys.diff.shift import LINEAR_KINDS, has_recipes, shift_vjp
from qphys.errors import DifferentiationError

METHODS = ("best", "backprop", "adjoint", "parameter-shift", "finite-diff")
_ALIASES = {"parameter_shift": "parameter-shift", "finite_diff": "finite-diff", "ps": "parameter-shift", "fd": "finite-diff"}
_UNSET = object()


def _as_device(device) -> Device:
    if isinstance(device, Device):
        return device
    from qphys.devices.registry import device as make

    return make(device)


def resolve_method(diff_method: str, device: Device, circuits: Sequence[Circuit], config: RunConfig) -> str:
    """The concrete method ``diff_method`` means for these circuits on this device.

    Raises:
        DifferentiationError: unknown method, or one that cannot apply (the message says which
            methods can).
    """
    method = _ALIASES.get(diff_method, diff_method)
    if method not in METHODS:
        raise DifferentiationError(
            f"unknown diff_method {diff_method!r}; choose one of {', '.join(METHODS)}"
        )
    caps = device.capabilities
    exact = config.shots is None
    can_backprop = "backprop" in caps.native_diff and exact
    only_expval = all(m.kind == "expval" for c in circuits for m in c.measurements)
    can_adjoint = device.supports_vjp() and exact and only_expval and not any(
        c.operations[i].spec.matrix_param for c in circuits for i, _ in c.trainable_params()
    )
    can_shift = all(has_recipes(c, c.trainable_params()) for c in circuits)
    if method == "best":
        if can_backprop:
            return "backprop"
        if can_adjoint:
            return "adjoint"
        return "parameter-shift" if can_shift else "finite-diff"
    if method == "backprop" and not can_backprop:
        why = "it samples (shots set); use shots=None" if "backprop" in caps.native_diff else (
            "it does not compute in torch"
        )
        raise DifferentiationError(
            f"device {device.name!r} cannot backpropagate: {why}; use 'parameter-shift' or 'finite-diff'"
        )
    if method == "adjoint" and not can_adjoint:
        raise DifferentiationError(
            f"adjoint differentiation needs a device with vjp (got {device.name!r}: "
            f"{'yes' if device.supports_vjp() else 'no'}), exact results and expval measurements "
            "only; use 'backprop' or 'parameter-shift'"
        )
    if method == "parameter-shift" and not can_shift:
        bad = sorted({c.operations[i].name for c in circuits for i, j in c.trainable_params()
                      if not has_recipes(c, [(i, j)])})
        raise DifferentiationError(
            f"no parameter-shift rule for {', '.join(bad)}; use diff_method='finite-diff'"
        )
    return method


class _DeviceGradient(torch.autograd.Function):
    """Forward on the device; backward by ``Device.vjp`` or batched shifted circuits."""

    @staticmethod
    def forward(ctx, setup, *params):
        device, circuits, trainable, config, method = setup
        detached = [c.detached() for c in circuits]
        if method == "adjoint":
            for d in detached:
                d.keep_final_state = True
        results = device.execute(detached, config)
        slots, outs = [], []
        for ci, (c, r) in enumerate(zip(circuits, results)):
            for mi, (m, v) in enumerate(zip(c.measurements, r.values)):
                if m.kind in LINEAR_KINDS + ("var",) and torch.is_tensor(v):
                    slots.append((ci, mi))
                    outs.append(v)
        ctx.setup, ctx.detached, ctx.slots = setup, detached, slots
        ctx.results = results
        ctx.param_meta = [(p.shape, p.dtype) for p in params]
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        device, circuits, trainable, config, method = ctx.setup
        detached = ctx.detached
        gouts = [[None] * len(c.measurements) for c in detached]
        for (ci, mi), g in zip(ctx.slots, grads):
            if g is not None:
                gouts[ci][mi] = g
        if method == "adjoint":
            per_circuit = device.vjp(detached, trainable, gouts, config)
        else:
            per_circuit = shift_vjp(device, detached, trainable, gouts, config, method)
        flat = [g for gs in per_circuit for g in gs]
        out = []
        for g, (shape, dtype) in zip(flat, ctx.param_meta):
            out.append(None if g is None else torch.as_tensor(g).reshape(shape).to(dtype))
        return (None, *out)


def execute(
    circuits,
    device="torch.qubit",
    *,
    diff_method: str = "best",
    shots=_UNSET,
    seed=_UNSET,
    config: RunConfig | None = None,
):
    """Run ``circuits`` on ``device``; the returned tensors carry PyTorch gradients.

    Args:
        circuits: a :class:`~qphys.Circuit` or a sequence of them.
        device: a device name (``"torch.qubit"``) or a :class:`~qphys.devices.Device`.
        diff_method: one of ``best``, ``backprop``, ``adjoint``, ``parameter-shift``,
            ``finite-diff``.
        shots: override the device's shots (``None``: exact).
        seed: override the device's seed.
        config: a full :class:`RunConfig` (``shots``/``seed`` still override it).

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
    single = isinstance(circuits, Circuit)
    circuits = [circuits] if single else list(circuits)
    dev = _as_device(device)
    cfg = config or dev.default_config
    changes = {}
    if shots is not _UNSET:
        changes["shots"] = shots
    if seed is not _UNSET:
        changes["seed"] = seed
    if changes:
        cfg = replace(cfg, **changes)  # RunConfig validates (ConfigError for shots <= 0, ...)
    circuits = dev.preprocess(circuits, cfg)
    method = resolve_method(diff_method, dev, circuits, cfg)
    trainable = [c.trainable_params() for c in circuits]
    params = [circuits[ci].operations[i].params[j] for ci, tr in enumerate(trainable) for i, j in tr]
    differentiable = any(m.kind in LINEAR_KINDS + ("var",) for c in circuits for m in c.measurements)
    if method == "backprop" or not params or not differentiable or not torch.is_grad_enabled():
        results = dev.execute(circuits if method == "backprop" else [c.detached() for c in circuits], cfg)
    else:
        outs = _DeviceGradient.apply((dev, circuits, trainable, cfg, method), *params)
        results = _rebuild(circuits, outs)
    for r in results:
        r.metadata.setdefault("diff_method", method)
    return results[0] if single else results


def _rebuild(circuits, outs):
    ctx_results = None
    # the Function stores the raw results on its ctx; recover them through the outputs' grad_fn
    for o in outs:
        if o.grad_fn is not None:
            ctx_results = o.grad_fn.results
            slots = o.grad_fn.slots
            break
    if ctx_results is None:  # pragma: no cover - only when nothing is differentiable
        raise DifferentiationError("no differentiable outputs")
    values = [list(r.values) for r in ctx_results]
    for (ci, mi), o in zip(slots, outs):
        values[ci][mi] = o
    return [Result(tuple(v), r.measurements, dict(r.metadata)) for v, r in zip(values, ctx_results)]
