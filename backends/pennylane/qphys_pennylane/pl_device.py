"""``qphys.torch``: a PennyLane device that runs PennyLane tapes on qphys' ``torch.qubit``.

Registered under PennyLane's ``pennylane.plugins`` entry point, so::

    dev = qml.device("qphys.torch", wires=2)
    @qml.qnode(dev, interface="torch")
    def f(x): ...

works, with ``diff_method="backprop"`` (the default ``best``) flowing through torch.

How a tape runs:

* PennyLane's preprocessing decomposes operations qphys lacks (:func:`native_operation`),
  defers mid-circuit measurements and validates wires and measurements.
* Exact (``shots=None``): the tape becomes a :class:`qphys.Circuit` (broadcast parameters
  become a batched circuit, no splitting) and runs on qphys' ``torch.qubit`` device.
  ``expval``/``var`` of observables qphys can express, ``probs`` and ``state`` are qphys
  measurements; any other measurement (density matrices, entropies, trainable Hamiltonian
  coefficients, ...) is evaluated by PennyLane's own ``measure`` on the qphys state tensor, so
  it stays differentiable in torch.
* With shots: measurements are grouped on disjoint wires (``split_non_commuting``), their
  diagonalizing gates appended, and qphys samples bitstrings from its seeded generator;
  PennyLane's ``process_samples`` turns them into estimates (shot vectors included).
* Gradients: ``backprop`` through torch for the torch interface; for the autograd interface
  (``pennylane.numpy``) the torch computation is wrapped as an autograd primitive whose VJP is
  torch's reverse mode (:mod:`qphys_pennylane._autograd_bridge`), Hessians included. With shots,
  PennyLane falls back to its gradient transforms (parameter shift).

Examples:
    >>> import pennylane as qml, torch
    >>> dev = qml.device("qphys.torch", wires=1)
    >>> @qml.qnode(dev, interface="torch")
    ... def f(x):
    ...     qml.RX(x, 0)
    ...     return qml.expval(qml.Z(0))
    >>> x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    >>> f(x).backward()
    >>> round(float(x.grad), 6)  # -sin(0.3)
    -0.29552
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pennylane as qml
import torch
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.devices.preprocess import (
    decompose,
    no_sampling,
    validate_device_wires,
    validate_measurements,
)
from pennylane.exceptions import DeviceError
from pennylane.math import Interface
from pennylane.transforms import defer_measurements, split_non_commuting
from pennylane.transforms.core import CompilePipeline
from pennylane.wires import Wires

import qphys
from qphys.circuit import Circuit, Measurement
from qphys.devices.base import RunConfig
from qphys_pennylane.convert import append_pl_operation, measurement_from_pl, native_operation

log = logging.getLogger(__name__)

_BACKPROP_INTERFACES = {Interface.NUMPY, Interface.AUTOGRAD, Interface.TORCH, Interface.AUTO}
_QPHYS_EXACT_KINDS = ("expval", "var", "probs", "state")


def _is_box(p) -> bool:
    try:
        from autograd.tracer import Box
    except ImportError:  # pragma: no cover - autograd ships with PennyLane
        return False
    return isinstance(p, Box)


def _to_numpy(res):
    if isinstance(res, tuple):
        return tuple(_to_numpy(r) for r in res)
    if isinstance(res, list):
        return [_to_numpy(r) for r in res]
    if torch.is_tensor(res):
        return res.detach().cpu().numpy()
    return res


@simulator_tracking
@single_tape_support
class QphysTorchDevice(Device):
    """PennyLane device backed by qphys' ``torch.qubit`` state-vector simulator.

    Args:
        wires: number of wires or wire labels (``None``: the tape's wires).
        shots: default shots (deprecated in PennyLane on devices; prefer ``qml.set_shots``).
        seed: seed of the sampling generator (an int, or ``None`` for fresh entropy).
        dtype: ``"complex128"`` (default, PennyLane's precision) or ``"complex64"``.
        torch_device: torch device of the simulation (``"cpu"``, ``"cuda"``...).
        max_memory: memory limit in bytes for the simulation (default: what is free).

    Examples:
        >>> import pennylane as qml
        >>> dev = qml.device("qphys.torch", wires=2)
        >>> @qml.qnode(dev)
        ... def bell():
        ...     qml.Hadamard(0)
        ...     qml.CNOT([0, 1])
        ...     return qml.probs()
        >>> bell().round(3).tolist()
        [0.5, 0.0, 0.0, 0.5]
    """

    def __init__(self, wires=None, shots=None, seed=None, *, dtype="complex128", torch_device="cpu",
                 max_memory=None):
        super().__init__(wires=wires, shots=shots)
        if seed == "global":
            seed = int(np.random.randint(2**31))
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._qdev = qphys.device("torch.qubit", dtype=dtype, torch_device=torch_device, max_memory=max_memory)

    @property
    def name(self) -> str:
        return "qphys.torch"

    # ---- configuration -------------------------------------------------------------------------
    def supports_derivatives(self, execution_config=None, circuit=None) -> bool:
        """``backprop`` (and ``best``) in exact mode for numpy/autograd/torch interfaces."""
        if execution_config is None:
            return True
        if execution_config.gradient_method not in ("backprop", "best"):
            return False
        if execution_config.interface not in _BACKPROP_INTERFACES:
            return False
        return circuit is None or not circuit.shots

    def setup_execution_config(self, config: ExecutionConfig | None = None, circuit=None) -> ExecutionConfig:
        config = config or ExecutionConfig()
        for option in config.device_options:
            raise DeviceError(f"device option {option} not present on {self.name} (it has none)")
        updates = {}
        method = config.gradient_method
        if method == "best" and self.supports_derivatives(config, circuit):
            method = "backprop"
            updates["gradient_method"] = method
        if config.use_device_gradient is None:
            updates["use_device_gradient"] = method == "backprop"
        if config.use_device_jacobian_product is None:
            updates["use_device_jacobian_product"] = False
        if config.grad_on_execution is None:
            updates["grad_on_execution"] = False
        mcm = config.mcm_config
        if mcm.mcm_method not in (None, "deferred"):
            raise DeviceError(
                f"{self.name} handles mid-circuit measurements by deferring them; got "
                f"mcm_method={mcm.mcm_method!r}, use 'deferred'"
            )
        updates["mcm_config"] = replace(mcm, mcm_method="deferred")
        return replace(config, **updates)

    def preprocess_transforms(self, execution_config: ExecutionConfig | None = None) -> CompilePipeline:
        config = execution_config or ExecutionConfig()
        program = CompilePipeline()
        program.add_transform(defer_measurements, allow_postselect=False)
        program.add_transform(
            decompose, stopping_condition=native_operation, device_wires=self.wires, name=self.name
        )
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(validate_measurements, name=self.name)
        if config.gradient_method == "backprop":
            program.add_transform(no_sampling, name=f"backprop + {self.name}")
        return program

    # ---- execution ---------------------------------------------------------------------------------
    def execute(self, circuits, execution_config: ExecutionConfig | None = None):
        return tuple(self._execute_one(tape) for tape in circuits)

    def _labels(self, tape):
        labels = list(self.wires) if self.wires is not None else list(tape.wires)
        return labels, {w: i for i, w in enumerate(labels)}

    def _execute_one(self, tape):
        if tape.shots:
            return self._execute_sampled(tape)
        params = tape.get_parameters(trainable_only=False)
        if any(_is_box(p) for p in params):
            return self._execute_autograd(tape, params)
        res = self._execute_exact(tape)
        if any(torch.is_tensor(p) for p in params):
            return res
        return _to_numpy(res)

    def _circuit(self, tape, wire_map, n) -> Circuit:
        circuit = Circuit(wires=max(n, 1))
        for k, op in enumerate(tape.operations):
            append_pl_operation(circuit, op, wire_map, first=(k == 0))
        return circuit

    def _run(self, circuit, config: RunConfig):
        circuits = self._qdev.preprocess([circuit], config)
        return self._qdev.execute(circuits, config)[0]

    def _execute_exact(self, tape):
        from pennylane.devices.qubit.measure import measure

        labels, wire_map = self._labels(tape)
        n = len(labels)
        circuit = self._circuit(tape, wire_map, n)
        plan = []
        for mp in tape.measurements:
            m = measurement_from_pl(mp, wire_map)
            if m is not None and m.kind == "probs" and m.wires == tuple(range(n)):
                m = Measurement("probs")
            if m is None and type(mp).__name__ == "StateMP" and list(mp.wires) == labels:
                m = Measurement("state")
            if m is not None and m.kind in _QPHYS_EXACT_KINDS and n >= 1:
                plan.append(("qphys", len(circuit.measurements)))
                circuit.measurements.append(m)
            else:
                plan.append(("pennylane", mp))
        state_index = None
        if any(kind == "pennylane" for kind, _ in plan) or not circuit.measurements:
            state_index = len(circuit.measurements)
            circuit.measurements.append(Measurement("state"))
        result = self._run(circuit, RunConfig())
        batched = circuit.batch_size is not None
        out = []
        for kind, item in plan:
            if kind == "qphys":
                out.append(result.values[item])
                continue
            state = result.values[state_index]
            shape = ([state.shape[0]] if batched else []) + [2] * circuit.num_wires
            mp = item.map_wires(wire_map)
            out.append(measure(mp, state.reshape(shape), is_state_batched=batched))
        return out[0] if len(out) == 1 else tuple(out)

    def _execute_sampled(self, tape):
        tapes, postprocess = split_non_commuting(tape, grouping_strategy="wires")
        return postprocess([self._sample_group(t) for t in tapes])

    def _sample_group(self, tape):
        labels, wire_map = self._labels(tape)
        n = len(labels)
        diag = [g for mp in tape.measurements if mp.obs is not None for g in mp.obs.diagonalizing_gates()]
        full = qml.tape.QuantumScript(tape.operations + diag, [qml.sample(wires=labels)], shots=tape.shots)
        (full,), _ = decompose(full, stopping_condition=native_operation, name=self.name)
        circuit = self._circuit(full, wire_map, n)
        circuit.sample()
        config = RunConfig(shots=tape.shots.total_shots, seed=int(self._rng.integers(2**62)))
        samples = self._run(circuit, config).values[0].cpu().numpy()
        batched = circuit.batch_size is not None
        order = Wires(range(circuit.num_wires))
        mps = [mp.map_wires(wire_map) for mp in tape.measurements]
        per_bin = []
        for lower, upper in tape.shots.bins():
            vals = tuple(_process(mp, samples, order, (lower, upper), batched) for mp in mps)
            per_bin.append(vals[0] if len(vals) == 1 else vals)
        return tuple(per_bin) if tape.shots.has_partitioned_shots else per_bin[0]

    def _execute_autograd(self, tape, params):
        """Exact execution differentiable by autograd (torch computes the VJPs)."""
        import autograd.numpy as anp

        from qphys_pennylane._autograd_bridge import torch_primitive

        boxed = [i for i, p in enumerate(params) if _is_box(p)]
        shapes = [np.shape(params[i]) for i in boxed]
        complex_ = [np.iscomplexobj(params[i]._value) for i in boxed]
        parts = []
        for i, cplx in zip(boxed, complex_):
            flat = anp.ravel(params[i])
            parts.extend([anp.real(flat), anp.imag(flat)] if cplx else [flat])
        x = anp.concatenate(parts)
        static = [np.asarray(qml.math.unwrap(p)) if not _is_box(p) else None for p in params]
        meta = {}

        def torch_fn(xt):
            new, off = list(static), 0
            for i, shape, cplx in zip(boxed, shapes, complex_):
                size = int(np.prod(shape))
                v = xt[off : off + size]
                off += size
                if cplx:
                    v = torch.complex(v, xt[off : off + size])
                    off += size
                new[i] = v.reshape(shape)
            res = self._execute_exact(tape.bind_new_parameters(new, list(range(len(new)))))
            leaves = res if isinstance(res, tuple) else (res,)
            meta["single"] = not isinstance(res, tuple)
            meta["leaves"] = [(tuple(v.shape), v.is_complex()) for v in leaves]
            flat = []
            for v in leaves:
                v = v.reshape(-1)
                flat.extend([v.real, v.imag] if v.is_complex() else [v])
            return torch.cat([f.to(torch.float64) for f in flat])

        y = torch_primitive(torch_fn)(x)
        out, off = [], 0
        for shape, cplx in meta["leaves"]:
            size = int(np.prod(shape))
            v = y[off : off + size]
            off += size
            if cplx:
                v = v + 1j * y[off : off + size]
                off += size
            out.append(anp.reshape(v, shape))
        return out[0] if meta["single"] else tuple(out)


def _process(mp, samples, order, shot_range, batched):
    lower, upper = shot_range
    if not batched:
        return mp.process_samples(samples[lower:upper], order)
    vals = [mp.process_samples(s[lower:upper], order) for s in samples]
    if all(isinstance(v, dict) for v in vals):
        return tuple(vals)
    return np.stack([np.asarray(v) for v in vals])
