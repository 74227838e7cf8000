"""Born-machine ansätze: Liu & Wang's Chow-Liu-tree circuit and a hardware-efficient one.

An ansatz is a callable ``ansatz(circuit, weights)`` with ``num_params(n_qubits)``; ``weights`` is
a ``(P,)`` tensor, or ``(B, P)`` to build a batch of circuits with different parameters at once
(used for the shifted circuits of sample-based training).

The Chow-Liu tree (maximum spanning tree of the pairwise mutual information of the data) is
built with a few lines of Prim's algorithm rather than networkx, to keep the tie-breaking (lowest
wire first) deterministic and the dependency list short.
"""

from __future__ import annotations

import numpy as np
import torch

from qphys.errors import ParameterError, WireError


def mutual_information(target, n_bits: int) -> np.ndarray:
    """Pairwise mutual information (nats) of the bits of a distribution ``(2**n,)``."""
    p = torch.as_tensor(target, dtype=torch.float64).detach().cpu().numpy()
    if p.shape != (2**n_bits,):
        raise ParameterError(f"target has {p.shape[0]} entries but {n_bits} qubits need {2**n_bits}")
    pt = p.reshape([2] * n_bits)
    mi = np.zeros((n_bits, n_bits))
    for i in range(n_bits):
        for j in range(i + 1, n_bits):
            axes = tuple(a for a in range(n_bits) if a not in (i, j))
            pij = pt.sum(axis=axes)
            pi, pj = pij.sum(1), pij.sum(0)
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = pij * (np.log(pij) - np.log(pi)[:, None] - np.log(pj)[None, :])
            mi[i, j] = mi[j, i] = float(np.nansum(np.where(pij > 0, terms, 0.0)))
    return mi


def chow_liu_tree(target, n_bits: int, *, root: int = 0) -> list[tuple[int, int]]:
    """Edges ``(parent, child)`` of the Chow-Liu tree of ``target``, in breadth-first order from
    ``root`` (``n_bits - 1`` edges).

    Examples:
        >>> from qphys.generative import chow_liu_tree
        >>> from qphys.generative.datasets import bars_and_stripes_distribution
        >>> len(chow_liu_tree(bars_and_stripes_distribution(3, 3), 9))
        8
    """
    mi = mutual_information(target, n_bits)
    if not 0 <= root < n_bits:
        raise WireError(f"root {root} is not a wire of {n_bits}")
    in_tree = {root}
    edges = []
    while len(in_tree) < n_bits:
        best = None
        for a in sorted(in_tree):
            for b in range(n_bits):
                if b in in_tree:
                    continue
                if best is None or mi[a, b] > mi[best] + 1e-12:
                    best = (a, b)
        edges.append(best)
        in_tree.add(best[1])
    return edges


def _cols(weights: torch.Tensor, P: int, name: str):
    w = torch.as_tensor(weights)
    if w.ndim not in (1, 2) or w.shape[-1] != P:
        raise ParameterError(f"{name} needs weights of shape ({P},) or (B, {P}), got {tuple(w.shape)}")
    return [w[..., k] for k in range(P)]


class ChowLiuAnsatz:
    """Liu & Wang's circuit (PRA 98, 062324): ``depth + 1`` layers of ``Rz·Rx·Rz`` rotations on
    every qubit with CNOT entanglers along ``edges`` between them; the first layer's leading
    ``Rz`` and the last layer's trailing ``Rz`` are dropped (they act trivially on ``|0>`` and
    before a Z-basis measurement). ``P = n (3 depth + 1)`` parameters (279 for 9 qubits, depth 10).

    Args:
        depth: number of entangler layers ``d``.
        edges: ``(control, target)`` CNOT pairs, e.g. :func:`chow_liu_tree` of the data; default:
            a chain ``0-1-2-…``.

    Examples:
        >>> from qphys.generative import ChowLiuAnsatz
        >>> ChowLiuAnsatz(10).num_params(9)
        279
    """

    def __init__(self, depth: int, edges=None):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ParameterError(f"depth must be a non-negative integer, got {depth!r}")
        self.depth = depth
        self.edges = None if edges is None else [tuple(int(w) for w in e) for e in edges]

    @classmethod
    def from_data(cls, depth: int, target, n_bits: int) -> ChowLiuAnsatz:
        """The ansatz with the Chow-Liu tree of ``target`` as entangler."""
        return cls(depth, chow_liu_tree(target, n_bits))

    def num_params(self, n_qubits: int) -> int:
        if self.depth == 0:
            return n_qubits  # a single Rx layer
        return n_qubits * (3 * self.depth + 1)

    def _edges(self, n):
        edges = self.edges if self.edges is not None else [(i, i + 1) for i in range(n - 1)]
        for a, b in edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise WireError(f"entangler edge {(a, b)} is not a pair of distinct wires of {n}")
        return edges

    #: :class:`~qphys.generative.BornMachine` may call ``ansatz(circuit, weights, fuse=True)``
    supports_fusion = True

    def __call__(self, circuit, weights, *, fuse: bool = False):
        """Append the ansatz. ``fuse=True`` emits each qubit's ``Rz·Rx·Rz`` of a layer as one
        ``unitary`` gate (same state, about three times fewer gates — for backprop devices; the
        fused gates have no parameter-shift rule)."""
        n = circuit.num_wires
        cols = _cols(weights, self.num_params(n), "ChowLiuAnsatz")
        edges = self._edges(n)
        if fuse and self.depth > 0:
            return self._fused(circuit, torch.stack(cols, -1), n, edges)
        k = 0
        if self.depth == 0:
            for q in range(n):
                circuit.rx(cols[q], q)
            return circuit
        for layer in range(self.depth + 1):
            for q in range(n):
                if layer > 0:
                    circuit.rz(cols[k], q)
                    k += 1
                circuit.rx(cols[k], q)
                k += 1
                if layer < self.depth:
                    circuit.rz(cols[k], q)
                    k += 1
            if layer < self.depth:
                for a, b in edges:
                    circuit.cx(a, b)
        return circuit


    def _fused(self, circuit, w, n, edges):
        k = 0
        for layer in range(self.depth + 1):
            width = 2 if layer in (0, self.depth) else 3
            block = w[..., k : k + width * n].reshape(*w.shape[:-1], n, width)
            k += width * n
            zero = torch.zeros_like(block[..., 0])
            alpha = zero if layer == 0 else block[..., 0]
            beta = block[..., 0] if layer == 0 else block[..., 1]
            gamma = zero if layer == self.depth else block[..., -1]
            u = _rz_rx_rz(alpha, beta, gamma)  # (..., n, 2, 2)
            for q in range(n):
                circuit.unitary(u[..., q, :, :], q)
            if layer < self.depth:
                for a, b in edges:
                    circuit.cx(a, b)
        return circuit


def _rz_rx_rz(alpha, beta, gamma):
    """``Rz(γ) Rx(β) Rz(α)`` as ``(..., 2, 2)`` complex128 matrices."""
    c = torch.cos(beta / 2).to(torch.complex128)
    s = torch.sin(beta / 2).to(torch.complex128)
    plus = torch.polar(torch.ones_like(alpha), (alpha + gamma) / 2)
    minus = torch.polar(torch.ones_like(alpha), (alpha - gamma) / 2)
    m00 = plus.conj() * c
    m01 = -1j * minus * s
    m10 = -1j * minus.conj() * s
    m11 = plus * c
    return torch.stack((torch.stack((m00, m01), -1), torch.stack((m10, m11), -1)), -2)


class HardwareEfficientAnsatz:
    """``depth`` layers of ``Ry·Rz`` on every qubit followed by a CNOT ring (or chain), then a
    final ``Ry`` layer: ``P = n (2 depth + 1)``.

    Examples:
        >>> from qphys.generative import HardwareEfficientAnsatz
        >>> HardwareEfficientAnsatz(2).num_params(4)
        20
    """

    def __init__(self, depth: int, *, entangler: str = "ring"):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ParameterError(f"depth must be a non-negative integer, got {depth!r}")
        if entangler not in ("ring", "linear"):
            raise ParameterError(f"entangler must be 'ring' or 'linear', got {entangler!r}")
        self.depth = depth
        self.entangler = entangler

    def num_params(self, n_qubits: int) -> int:
        return n_qubits * (2 * self.depth + 1)

    def __call__(self, circuit, weights):
        n = circuit.num_wires
        cols = _cols(weights, self.num_params(n), "HardwareEfficientAnsatz")
        k = 0
        for _ in range(self.depth):
            for q in range(n):
                circuit.ry(cols[k], q).rz(cols[k + 1], q)
                k += 2
            for q in range(n - 1):
                circuit.cx(q, q + 1)
            if self.entangler == "ring" and n > 2:
                circuit.cx(n - 1, 0)
        for q in range(n):
            circuit.ry(cols[k], q)
            k += 1
        return circuit
