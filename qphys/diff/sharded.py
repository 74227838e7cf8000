"""Sharded execution: a batch of circuits split over an executor's workers, with gradients.

The batch elements of all circuits of one :func:`qphys.execute` call are laid end to end and
cut into contiguous shards (:func:`qphys.parallel.plan_shards`: one per worker slot, or
``shard_size`` elements each); a batched circuit may be cut inside its batch. Each shard runs
``device.execute`` in a worker on detached CPU copies of its circuits; the values are put back
together in order, so they equal the unsharded run.

Gradients: the forward pass keeps nothing on the workers. On backward every shard is sent again
with its slice of the cotangents and the worker returns its vector-Jacobian product through
:func:`qphys.devices.execute_and_compute_vjp` (adjoint, parameter shift or finite differences:
the device recomputes its shard's forward pass, one more forward per backward, and nothing is
lost if a worker dies in between). Gradients of a parameter shared by several shards (a weight
of a batched circuit) are summed; those of a batched parameter are concatenated.

With shots, shard ``k`` samples with seed ``k`` of ``SeedSequence(config.seed).spawn(shards)``:
the values are reproducible, and independent of the number of workers when the executor's
``shard_size`` is fixed.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from qphys.circuit import Circuit
from qphys.devices.base import Device, Result, RunConfig, VJPFunction, execute_and_compute_vjp
from qphys.parallel import Executor, payload, plan_shards, run_tasks, spawn_seeds


@dataclass(frozen=True)
class Piece:
    """Batch elements ``start:stop`` of circuit ``circuit`` (``0:1`` for an unbatched circuit)."""

    circuit: int
    start: int
    stop: int


def _batched_param(op, p) -> bool:
    if not torch.is_tensor(p):
        return False
    if op.spec.matrix_param:
        return p.ndim == (2 if op.name == "state_prep" else 3)
    return p.ndim == 1


def portable(circuit: Circuit, start: int | None = None, stop: int | None = None) -> Circuit:
    """A detached CPU copy of ``circuit``, restricted to batch elements ``start:stop`` when given.

    Examples:
        >>> import torch, qphys
        >>> c = qphys.Circuit(wires=1).rx(torch.tensor([0.1, 0.2, 0.3]), 0).expval(qphys.Z(0))
        >>> portable(c, 1, 3).batch_size
        2
    """
    new = circuit.copy()
    sliced = start is not None and circuit.batch_size is not None and (start, stop) != (0, circuit.batch_size)
    ops = []
    for op in circuit.operations:
        params = []
        for p in op.params:
            if torch.is_tensor(p):
                p = p.detach()
                if sliced and _batched_param(op, p):
                    p = p[start:stop]
                p = p.cpu()
            params.append(p)
        ops.append(replace(op, params=tuple(params)))
    new.operations = ops
    if sliced:
        new._batch = stop - start
    return new


def _cpu(value):
    if torch.is_tensor(value):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


def execute_shard(device: bytes, circuits: list[Circuit], config: RunConfig) -> list[Result]:
    """Task: run ``circuits`` on the pickled ``device``; values come back on the CPU."""
    dev = pickle.loads(device)
    results = dev.execute(circuits, config)
    return [Result(tuple(_cpu(v) for v in r.values), r.measurements, dict(r.metadata)) for r in results]


def vjp_shard(device: bytes, circuits: list[Circuit], grad_outputs: list, config: RunConfig,
              trainable: list, method: str) -> list[list]:
    """Task: the vector-Jacobian product of a shard (its forward pass is recomputed); CPU tensors."""
    dev = pickle.loads(device)
    _, grads = execute_and_compute_vjp(dev, circuits, grad_outputs, config, trainable=trainable, method=method)
    return [[_cpu(g) for g in gs] for gs in grads]


def _home(device: Device) -> torch.device:
    where = getattr(device, "torch_device", None)
    if isinstance(where, torch.device) and (where.type == "cpu" or (where.type == "cuda" and torch.cuda.is_available())):
        return where
    return torch.device("cpu")


def _to(value, where: torch.device):
    if torch.is_tensor(value):
        return value.to(where)
    return value


class ShardedRun:
    """One sharded execution: the plan, the shipped device and circuits, and the assembly."""

    def __init__(self, device: Device, circuits: Sequence[Circuit], config: RunConfig, executor: Executor):
        self.device = device
        self.circuits = [c.detached() for c in circuits]
        self.executor = executor
        self.payload = payload(device, f"device {device.name!r}")
        sizes = [c.batch_size or 1 for c in self.circuits]
        offsets = [0]
        for s in sizes:
            offsets.append(offsets[-1] + s)
        self.shards: list[list[Piece]] = []
        for a, b in plan_shards(offsets[-1], executor):
            pieces = []
            for ci in range(len(sizes)):
                lo, hi = max(a, offsets[ci]), min(b, offsets[ci + 1])
                if lo < hi:
                    pieces.append(Piece(ci, lo - offsets[ci], hi - offsets[ci]))
            self.shards.append(pieces)
        base = replace(config, executor=None)
        if config.shots is None:
            self.configs = [base] * len(self.shards)
        else:
            self.configs = [replace(base, seed=s) for s in spawn_seeds(config.seed, len(self.shards))]
        self.shard_circuits = [
            [portable(self.circuits[p.circuit], p.start, p.stop) for p in pieces] for pieces in self.shards
        ]

    # ---- forward ---------------------------------------------------------------------------------
    def execute(self) -> list[Result]:
        outs = run_tasks(
            self.executor, execute_shard,
            [(self.payload, cs, cfg) for cs, cfg in zip(self.shard_circuits, self.configs)],
        )
        parts: list[list] = [[] for _ in self.circuits]
        for pieces, results in zip(self.shards, outs):
            for p, r in zip(pieces, results):
                parts[p.circuit].append(r)
        where = _home(self.device)
        results = []
        for c, rs in zip(self.circuits, parts):
            if len(rs) == 1:
                values = rs[0].values
            else:
                values = tuple(
                    [x for r in rs for x in r.values[mi]] if isinstance(rs[0].values[mi], list)
                    else torch.cat([r.values[mi] for r in rs], 0)
                    for mi in range(len(c.measurements))
                )
            metadata = dict(rs[0].metadata)
            metadata["shards"] = len(self.shards)
            results.append(Result(tuple(_to(v, where) for v in values), rs[0].measurements, metadata))
        return results

    # ---- backward --------------------------------------------------------------------------------
    def vjp(self, grad_outputs: Sequence[Sequence[Any]], trainable: list, method: str) -> list[list]:
        tasks, which = [], []
        for k, pieces in enumerate(self.shards):
            gouts = []
            for p in pieces:
                c = self.circuits[p.circuit]
                row = []
                for g in grad_outputs[p.circuit]:
                    if g is not None and torch.is_tensor(g):
                        g = g.detach()
                        if c.batch_size is not None:
                            g = g[p.start:p.stop]
                        g = g.cpu()
                    row.append(g)
                gouts.append(row)
            if all(g is None for row in gouts for g in row):
                continue
            tasks.append((self.payload, self.shard_circuits[k], gouts, self.configs[k],
                          [trainable[p.circuit] for p in pieces], method))
            which.append(k)
        outs = run_tasks(self.executor, vjp_shard, tasks)
        per_piece: dict[tuple[int, int], list] = {}
        for k, grads in zip(which, outs):
            for p, g in zip(self.shards[k], grads):
                per_piece[(k, p.circuit)] = (p, g)
        grads_out: list[list] = []
        for ci, c in enumerate(self.circuits):
            pieces = [(p, g) for (k, cj), (p, g) in sorted(per_piece.items()) if cj == ci]
            row = []
            for t, (i, j) in enumerate(trainable[ci]):
                op = c.operations[i]
                batched = c.batch_size is not None and _batched_param(op, op.params[j])
                got = [(p, g[t]) for p, g in pieces if g[t] is not None]
                if not got:
                    row.append(None)
                elif batched:
                    full = torch.zeros(c.batch_size, dtype=got[0][1].dtype)
                    for p, g in got:
                        full[p.start:p.stop] = g.reshape(-1)
                    row.append(full)
                else:
                    row.append(sum(torch.as_tensor(g) for _, g in got))
            grads_out.append(row)
        return grads_out


def sharded_execute(device: Device, circuits: Sequence[Circuit], config: RunConfig, executor: Executor) -> list[Result]:
    """``device.execute(circuits, config)`` split into shards over ``executor``'s workers.

    Examples:
        >>> import torch, qphys
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> ex = qphys.parallel.as_executor(ThreadPoolExecutor(2))
        >>> c = qphys.Circuit(wires=1).rx(torch.tensor([0.0, 3.14159265]), 0).expval(qphys.Z(0))
        >>> dev = qphys.device("torch.qubit")
        >>> sharded_execute(dev, [c], dev.default_config, ex)[0].values[0].round()
        tensor([ 1., -1.])
    """
    return ShardedRun(device, circuits, config, executor).execute()


def sharded_execute_and_vjp(
    device: Device,
    circuits: Sequence[Circuit],
    config: RunConfig,
    executor: Executor,
    *,
    trainable: list,
    method: str,
) -> tuple[list[Result], VJPFunction]:
    """Sharded :meth:`~qphys.devices.Device.execute_and_vjp`: results now, ``vjp_fn`` that sends
    every shard with its cotangents to the workers on backward."""
    run = ShardedRun(device, circuits, config, executor)
    results = run.execute()
    trainable = [list(t) for t in trainable]

    def vjp_fn(grad_outputs):
        return run.vjp(grad_outputs, trainable, method)

    return results, vjp_fn
