"""Execution plans: fuse runs of gates before touching the state.

Every gate application is a pass over the whole ``(B, 2**n)`` state, so the simulator is
bound by memory traffic. A plan groups the circuit's operations into steps:

- ``block``: consecutive one-qubit gates on one wire -> one 2x2 matrix (one pass);
- ``perm``: consecutive permutation gates (CNOT rings, SWAP networks) -> one composed index
  gather (one pass);
- ``op``: any other operation, applied as is.

Gates on disjoint wires commute, so a pending block is flushed only when a multi-qubit gate
touches its wire. Plans depend on the circuit's structure only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from qphys.ops import get_spec


@dataclass(frozen=True)
class Step:
    """One fused step: ``kind`` in ``{"op", "block", "perm"}``, the operation indices it covers
    (in application order) and, for blocks, the wire."""

    kind: str
    ops: tuple[int, ...]
    wire: int | None = None


def make_plan(operations, start: int = 0) -> list[Step]:
    """Fuse ``operations[start:]`` into steps (see module docstring)."""
    steps: list[Step] = []
    pending: dict[int, list[int]] = {}
    run: list[int] = []
    run_wires: set[int] = set()

    def flush_wires(wires):
        for w in wires:
            if w in pending:
                steps.append(Step("block", tuple(pending.pop(w)), w))

    def flush_run():
        if run:
            steps.append(Step("perm", tuple(run)))
            run.clear()
            run_wires.clear()

    for i in range(start, len(operations)):
        op = operations[i]
        spec = get_spec(op.name)
        if len(op.wires) == 1 and not spec.matrix_param:
            w = op.wires[0]
            if w in run_wires:
                flush_run()
            pending.setdefault(w, []).append(i)
        elif spec.structure == "permutation":
            flush_wires(op.wires)
            run.append(i)
            run_wires.update(op.wires)
        else:
            flush_wires(op.wires)
            flush_run()
            steps.append(Step("op", (i,)))
    flush_run()
    flush_wires(sorted(pending))
    return steps


@lru_cache(maxsize=256)
def gather_index(perm: tuple[int, ...], wires: tuple[int, ...], n: int, device: str):
    """Source index of every amplitude for permutation ``perm`` on ``wires``: ``new = old[index]``."""
    k = len(wires)
    idx = torch.arange(2**n, device=device)
    local = torch.zeros_like(idx)
    for i, w in enumerate(wires):
        local |= ((idx >> (n - 1 - w)) & 1) << (k - 1 - i)
    src_local = torch.tensor(perm, device=device)[local]
    src = idx.clone()
    for i, w in enumerate(wires):
        bit = (src_local >> (k - 1 - i)) & 1
        src = (src & ~(1 << (n - 1 - w))) | (bit << (n - 1 - w))
    return src


@lru_cache(maxsize=128)
def composed_index(gates: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], n: int, device: str):
    """Gather index of a run of permutation gates ``((perm, wires), ...)`` applied in order,
    and of its inverse.

    Only the composed pair is cached: the gates' own indices are built and dropped (each is as large
    as the state: caching the 28 of a 28-qubit CNOT ring would hold 56 GiB of GPU memory).
    """
    idx = None
    for perm, wires in gates:
        g = gather_index.__wrapped__(perm, wires, n, device)
        idx = g if idx is None else idx[g]
    inv = torch.empty_like(idx)
    inv[idx] = torch.arange(idx.numel(), device=idx.device)
    return idx, inv


def perm_run_key(operations, step: Step):
    return tuple((get_spec(operations[i].name).permutation, operations[i].wires) for i in step.ops)
