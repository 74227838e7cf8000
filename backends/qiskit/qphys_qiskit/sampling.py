"""Shot-based measurements from bitstrings: measurement settings and estimators.

With shots, a device measures every wire in the computational basis after a basis change. The
terms of all ``expval``/``var`` observables of a circuit are grouped greedily into qubit-wise
commuting *settings* (one basis per wire: X, Y, Z, or the eigenbasis of a Hermitian factor);
``probs``/``sample``/``counts`` share the computational-basis setting. Each setting is one
measured variant of the circuit; estimators then work on ``(rows, shots, wires)`` bit arrays,
vectorized over the batch. (Aer's own EstimatorV2 only adds Gaussian noise of a given precision
to exact values; sampling here gives true shot statistics, as hardware does.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import UnitaryGate

from qphys.errors import UnsupportedOperationError
from qphys.observables import Pauli, eigvals_and_rotation


@dataclass
class Setting:
    """One measurement basis per wire: ``"X"``/``"Y"``/``"Z"`` or ``("H", k)`` for Hermitian
    factor ``k`` of :attr:`hermitians` (which also holds its wires, eigenvalues, rotation)."""

    bases: dict = field(default_factory=dict)
    hermitians: list = field(default_factory=list)

    def fits(self, factors) -> bool:
        for f in factors:
            if isinstance(f, Pauli):
                if f.name == "I":
                    continue
                b = self.bases.get(f.wire)
                if b is not None and b != f.name:
                    return False
            else:
                ev, rot = eigvals_and_rotation(f)
                key = None
                for k, (wires, ev2, rot2) in enumerate(self.hermitians):
                    if wires == tuple(f.wires) and np.allclose(rot, rot2) and np.allclose(ev, ev2):
                        key = ("H", k)
                if key is None:
                    if any(w in self.bases for w in f.wires):
                        return False
                elif any(self.bases.get(w) != key for w in f.wires):
                    return False
        return True

    def add(self, factors) -> list:
        """Adopt the bases of ``factors`` (which must fit); return per-factor decode info."""
        info = []
        for f in factors:
            if isinstance(f, Pauli):
                if f.name == "I":
                    continue
                self.bases[f.wire] = f.name
                info.append(("P", f.wire))
            else:
                ev, rot = eigvals_and_rotation(f)
                k = None
                for j, (wires, ev2, rot2) in enumerate(self.hermitians):
                    if wires == tuple(f.wires) and np.allclose(rot, rot2) and np.allclose(ev, ev2):
                        k = j
                if k is None:
                    k = len(self.hermitians)
                    self.hermitians.append((tuple(f.wires), ev, rot))
                for w in f.wires:
                    self.bases[w] = ("H", k)
                info.append(("H", tuple(f.wires), np.asarray(ev, dtype=float)))
        return info

    def name(self) -> str:
        parts = []
        for w in sorted(self.bases):
            b = self.bases[w]
            parts.append(f"{w}{b if isinstance(b, str) else 'H' + str(b[1])}")
        herm = ";".join(f"{w}:{np.round(ev, 12).tolist()}:{np.round(r, 12).tolist()}" for w, ev, r in self.hermitians)
        return ",".join(parts) + ("|" + herm if herm else "")

    def rotate(self, qc: QuantumCircuit) -> QuantumCircuit:
        """``qc`` followed by this setting's basis change and a measurement of every wire
        ``w`` into classical bit ``w``."""
        out = qc.copy()
        if out.num_clbits == 0:
            from qiskit.circuit import ClassicalRegister

            out.add_register(ClassicalRegister(qc.num_qubits, "c"))
        for w, b in sorted(self.bases.items(), key=lambda t: t[0]):
            if b == "X":
                out.h(w)
            elif b == "Y":
                out.sdg(w)
                out.h(w)
        for wires, _, rot in self.hermitians:
            out.append(UnitaryGate(rot, check_input=False), list(reversed(wires)))
        out.measure(range(qc.num_qubits), range(qc.num_qubits))
        return out


@dataclass
class SamplingPlan:
    """Settings of one structure and, per measurement, how to estimate it from their bits."""

    settings: list[Setting]
    decoders: list  # per measurement: ("expval", [(coeff, setting, info)], const) | ("bits", setting, wires) | ...


def plan(circuit) -> SamplingPlan:
    """The settings and decoders for ``circuit``'s measurements."""
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
                    "commuting); use shots=None or measure the terms separately"
                )
            decoders.append((m.kind, terms, const))
        elif m.kind in ("probs", "sample", "counts"):
            wires = tuple(range(n)) if m.wires is None else tuple(m.wires)
            k, _ = place([Pauli("Z", w) for w in wires])
            decoders.append((m.kind, k, wires))
        else:
            raise UnsupportedOperationError(f"measurement {m.kind!r} is not available with shots")
    if not settings:  # only identity observables: still run one setting for the bookkeeping
        settings.append(Setting())
    return SamplingPlan(settings, decoders)


def unpack_bits(packed: np.ndarray, num_bits: int) -> np.ndarray:
    """Qiskit ``BitArray`` bytes ``(..., shots, nbytes)`` -> ``(..., shots, num_bits)`` with
    column ``j`` = classical bit ``j``."""
    bits = np.unpackbits(packed, axis=-1, bitorder="big")  # last column = bit 0
    return bits[..., ::-1][..., :num_bits]


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
    """``(rows, 2**k)`` frequencies of ``wires`` (wires[0] most significant) from ``(rows, shots, n)`` bits."""
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
    float array, or a list of count dicts."""
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
