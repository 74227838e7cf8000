"""Measurement settings: what ``shots=N`` means on every qubit device.

A device that samples measures every wire in the computational basis after a basis change. The
terms of all ``expval``/``var`` observables of a circuit are grouped greedily, in order, into
qubit-wise commuting *settings* (one basis per wire: ``X``, ``Y``, ``Z``, or the eigenbasis of a
Hermitian factor); ``probs``/``sample``/``counts`` share the computational-basis (``Z``)
setting. Each setting is one measured variant of the circuit, run ``shots`` times, so

    **shots is the number of samples per measurement setting**

on ``torch.qubit``, the Qiskit devices (``aer.*``; the IBM runtime estimator groups qubit-wise
commuting terms the same way on its side) and the PennyLane-device bridge (``pennylane.*``).
Terms measured in the same setting share their shots, so their estimates are correlated:
``<Z0> + <Z0 Z1>`` from one setting has variance ``Var(Z0 + Z0 Z1) / shots``, not
``(Var(Z0) + Var(Z0 Z1)) / shots``.

Estimators work on bit arrays ``(rows, shots, n)`` (column ``w`` = wire ``w``), vectorized over
the batch. A ``var`` with shots needs all terms of its observable in one setting.

Examples:
    >>> import qphys
    >>> from qphys.measurements import plan
    >>> c = qphys.Circuit(wires=2).h(0).expval(qphys.Z(0) + qphys.Z(0) @ qphys.Z(1) + qphys.X(1))
    >>> [s.bases for s in plan(c).settings]
    [{0: 'Z', 1: 'Z'}, {1: 'X'}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qphys.errors import UnsupportedOperationError
from qphys.observables import Pauli, eigvals_and_rotation

#: Measurement kinds a sampling device estimates from settings.
SAMPLED_KINDS = ("expval", "var", "probs", "sample", "counts")
_S2 = 1 / math.sqrt(2)
#: Rotation taking each Pauli's eigenbasis to the computational basis (eigenvalue +1 -> |0>).
PAULI_ROTATIONS = {
    "X": np.array([[_S2, _S2], [_S2, -_S2]], dtype=complex),  # H
    "Y": np.array([[_S2, -1j * _S2], [_S2, 1j * _S2]], dtype=complex),  # H S^dagger
}


@dataclass
class Setting:
    """One measurement basis per wire: ``"X"``/``"Y"``/``"Z"`` or ``("H", k)`` for Hermitian
    factor ``k`` of :attr:`hermitians` (which holds its wires, eigenvalues and rotation)."""

    bases: dict = field(default_factory=dict)
    hermitians: list = field(default_factory=list)

    def _hermitian_index(self, f, ev, rot) -> int | None:
        for k, (wires, ev2, rot2) in enumerate(self.hermitians):
            if wires == tuple(f.wires) and np.allclose(rot, rot2) and np.allclose(ev, ev2):
                return k
        return None

    def fits(self, factors) -> bool:
        """Whether the product ``factors`` can be measured in this setting."""
        for f in factors:
            if isinstance(f, Pauli):
                if f.name == "I":
                    continue
                b = self.bases.get(f.wire)
                if b is not None and b != f.name:
                    return False
            else:
                k = self._hermitian_index(f, *eigvals_and_rotation(f))
                if k is None:
                    if any(w in self.bases for w in f.wires):
                        return False
                elif any(self.bases.get(w) != ("H", k) for w in f.wires):
                    return False
        return True

    def add(self, factors) -> list:
        """Adopt the bases of ``factors`` (which must fit); return per-factor decode info:
        ``("P", wire)`` for a Pauli, ``("H", wires, eigenvalues)`` for a Hermitian factor."""
        info = []
        for f in factors:
            if isinstance(f, Pauli):
                if f.name == "I":
                    continue
                self.bases[f.wire] = f.name
                info.append(("P", f.wire))
            else:
                ev, rot = eigvals_and_rotation(f)
                k = self._hermitian_index(f, ev, rot)
                if k is None:
                    k = len(self.hermitians)
                    self.hermitians.append((tuple(f.wires), ev, rot))
                for w in f.wires:
                    self.bases[w] = ("H", k)
                info.append(("H", tuple(f.wires), np.asarray(ev, dtype=float)))
        return info

    def rotations(self) -> list[tuple[np.ndarray, tuple[int, ...]]]:
        """The basis change as ``(matrix, wires)`` pairs (wire order of the matrix: ``wires[0]``
        most significant), applied before measuring every wire in the computational basis."""
        out = []
        for w in sorted(self.bases):
            b = self.bases[w]
            if b in PAULI_ROTATIONS:
                out.append((PAULI_ROTATIONS[b], (w,)))
        for wires, _, rot in self.hermitians:
            out.append((np.asarray(rot, dtype=complex), tuple(wires)))
        return out


@dataclass
class SamplingPlan:
    """The settings of one circuit and, per measurement, how to estimate it from their bits.

    A decoder is ``(kind, terms, constant)`` for ``expval``/``var`` with ``terms`` a list of
    ``(coefficient, setting index, factor info)``, or ``(kind, setting index, wires)`` for
    ``probs``/``sample``/``counts``.
    """

    settings: list[Setting]
    decoders: list


def check_sampled(circuit) -> None:
    """Raise before anything runs if ``circuit``'s measurements cannot be estimated from shots.

    Raises:
        UnsupportedOperationError: a measurement kind without a sampled estimate, or a ``var``
            whose terms do not all fit one qubit-wise commuting setting.
    """
    plan(circuit)


def plan(circuit) -> SamplingPlan:
    """The settings and decoders for ``circuit``'s measurements (see the module docstring).

    Raises:
        UnsupportedOperationError: as :func:`check_sampled`.
    """
    settings: list[Setting] = []

    def place(factors) -> tuple[int, list]:
        for k, s in enumerate(settings):
            if s.fits(factors):
                return k, s.add(factors)
        s = Setting()
        settings.append(s)
        return len(settings) - 1, s.add(factors)

    decoders = []
    n = circuit.num_wires
    for m in circuit.measurements:
        if m.kind in ("expval", "var"):
            terms, const = [], 0.0
            for coeff, factors in m.obs.terms():
                if all(isinstance(f, Pauli) and f.name == "I" for f in factors):
                    const += coeff
                    continue
                k, info = place(factors)
                terms.append((coeff, k, info))
            if m.kind == "var" and len({k for _, k, _ in terms}) > 1:
                raise UnsupportedOperationError(
                    f"var({m.obs!r}) with shots needs all terms measurable in one basis (qubit-wise "
                    "commuting); use shots=None or measure the var of each term separately"
                )
            decoders.append((m.kind, terms, const))
        elif m.kind in ("probs", "sample", "counts"):
            wires = tuple(range(n)) if m.wires is None else tuple(m.wires)
            k, _ = place([Pauli("Z", w) for w in wires])
            decoders.append((m.kind, k, wires))
        else:
            raise UnsupportedOperationError(
                f"measurement {m.kind!r} has no estimate from shots; use shots=None for it"
            )
    if not settings:  # only identity observables: still run one setting for the bookkeeping
        settings.append(Setting())
    return SamplingPlan(settings, decoders)


def indices_to_bits(indices: np.ndarray, num_bits: int) -> np.ndarray:
    """Basis indices ``(...)`` (wire 0 the most significant bit) -> bits ``(..., num_bits)``.

    Examples:
        >>> indices_to_bits(np.array([5]), 3).tolist()
        [[1, 0, 1]]
    """
    shifts = np.arange(num_bits - 1, -1, -1, dtype=np.int64)
    return ((np.asarray(indices, dtype=np.int64)[..., None] >> shifts) & 1).astype(np.uint8)


def _term_values(bits: np.ndarray, info) -> np.ndarray:
    val = np.ones(bits.shape[:-1], dtype=float)
    for item in info:
        if item[0] == "P":
            val = val * (1.0 - 2.0 * bits[..., item[1]])
        else:
            _, wires, ev = item
            idx = np.zeros(bits.shape[:-1], dtype=np.int64)
            for w in wires:
                idx = (idx << 1) | bits[..., w]
            val = val * ev[idx]
    return val


def probs_from_bits(bits: np.ndarray, wires) -> np.ndarray:
    """``(rows, 2**k)`` frequencies of ``wires`` (``wires[0]`` most significant) from
    ``(rows, shots, n)`` bits."""
    rows, shots = bits.shape[:2]
    k = len(wires)
    idx = np.zeros((rows, shots), dtype=np.int64)
    for w in wires:
        idx = (idx << 1) | bits[..., w]
    flat = idx + (np.arange(rows)[:, None] << k)
    counts = np.bincount(flat.ravel(), minlength=rows << k).reshape(rows, 1 << k)
    return counts / shots


def counts_from_bits(bits: np.ndarray, wires) -> list[dict[str, int]]:
    """Per row, ``{"0101": count}`` of ``wires`` (wire order left to right), sorted by key."""
    sub = bits[..., list(wires)]
    out = []
    for row in sub:
        strings, counts = np.unique(row, axis=0, return_counts=True)
        out.append({"".join(map(str, s)): int(c) for s, c in zip(strings.tolist(), counts)})
    return out


def estimate(decoder, bits_by_setting: list[np.ndarray]):
    """Value of one measurement from per-setting ``(rows, shots, n)`` bits: a ``(rows, ...)``
    numpy array (float, or int64 samples), or a list of count dicts.

    ``var`` is the population variance (``ddof=0``) of the per-shot values.
    """
    kind = decoder[0]
    if kind in ("expval", "var"):
        _, terms, const = decoder
        rows = bits_by_setting[0].shape[0]
        if kind == "expval":
            total = np.full(rows, const, dtype=float)
            for coeff, k, info in terms:
                total = total + coeff * _term_values(bits_by_setting[k], info).mean(axis=1)
            return total
        if not terms:
            return np.zeros(rows)
        k = terms[0][1]
        per_shot = sum(coeff * _term_values(bits_by_setting[k], info) for coeff, _, info in terms)
        return per_shot.var(axis=1)
    _, k, wires = decoder
    bits = bits_by_setting[k]
    if kind == "probs":
        return probs_from_bits(bits, wires)
    if kind == "sample":
        return bits[..., list(wires)].astype(np.int64)
    return counts_from_bits(bits, wires)


__all__ = [
    "Setting", "SamplingPlan", "plan", "check_sampled", "estimate", "indices_to_bits",
    "probs_from_bits", "counts_from_bits", "PAULI_ROTATIONS", "SAMPLED_KINDS",
]
