"""``torch.qubit``: the default device, a thin driver over :mod:`qphys.sim.statevector`."""

from __future__ import annotations

import functools

import torch

from qphys._random import seeded_generator
from qphys.circuit import Circuit
from qphys.devices.base import Capabilities, Device, Result, RunConfig, detached_with_trainable
from qphys.devices.options import (
    available_memory,
    fmt_bytes,
    parse_dtype,
    parse_max_memory,
    parse_torch_device,
)
from qphys.errors import DifferentiationError, ResourceError
from qphys.measurements import check_sampled, estimate, plan
from qphys.ops import registered_names
from qphys.sim.statevector import measure as M
from qphys.sim.statevector.adjoint import adjoint_vjp
from qphys.sim.statevector.apply import run_circuit
from qphys.sim.statevector.plan import make_plan


class TorchQubitDevice(Device):
    """Batched state-vector simulator in pure torch (CPU or CUDA), differentiable by backprop
    and adjoint.

    Args:
        shots: default number of shots (``None``: exact).
        seed: seed of the sampling generator.
        dtype: ``"complex64"`` (default) or ``"complex128"``.
        torch_device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        max_memory: bytes the simulation may use (default: what is free now).

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

    def __init__(self, *, shots=None, seed=None, dtype="complex64", torch_device="cpu", max_memory=None):
        super().__init__(shots=shots, seed=seed)
        self.dtype = parse_dtype(dtype)
        self.torch_device = parse_torch_device(torch_device)
        self.max_memory = parse_max_memory(max_memory)

    def memory_estimate(self, circuit: Circuit, *, backprop: bool = False) -> int:
        """Bytes needed to simulate ``circuit``: the state vector times the workspace factor.

        With ``backprop=True`` it also counts what autograd keeps for the backward pass: about one
        state per fused step of the execution plan (:mod:`qphys.sim.statevector.plan`), so the
        memory grows with depth (adjoint differentiation's does not).

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
        factor = self.WORKSPACE_FACTOR + (len(make_plan(circuit.operations)) if backprop else 0)
        return (circuit.batch_size or 1) * 2**circuit.num_wires * itemsize * factor

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        if config.shots is not None:
            for c in circuits:
                check_sampled(c.with_measurements([m for m in c.measurements if m.kind != "state"]))
        limit = self.max_memory or available_memory(self.torch_device)
        for c in circuits:
            need = self.memory_estimate(c)
            if need > limit:
                raise ResourceError(
                    f"simulating {c.num_wires} qubits (batch {c.batch_size or 1}, {self.dtype}) "
                    f"needs about {fmt_bytes(need)} ({need} bytes) but only {fmt_bytes(limit)} is "
                    f"available; {self._memory_fix(c, limit)}"
                )
        return circuits

    def _memory_fix(self, circuit: Circuit, limit: int) -> str:
        """The fixes that would help ``circuit`` fit in ``limit`` bytes (only those that apply)."""
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
            if m.kind == "state":
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
        return Result(tuple(out), tuple(circuit.measurements), {"device": self.name}), psi

    def _sampled(self, circuit: Circuit, measurements, psi, shots, gen) -> list:
        """Values of ``measurements`` estimated from ``shots`` samples per measurement setting."""
        n = circuit.num_wires
        sp = plan(circuit.with_measurements(measurements))
        bits = [M.sample_bits(psi, s.rotations(), n, shots, gen) for s in sp.settings]
        real = self.dtype.to_real()
        out = []
        for m, dec in zip(measurements, sp.decoders):
            v = estimate(dec, bits)
            if m.kind == "counts":
                out.append(v)
            elif m.kind == "sample":
                out.append(torch.as_tensor(v, device=self.torch_device))
            else:
                out.append(torch.as_tensor(v, dtype=real, device=self.torch_device))
        return out


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
