"""Shot-based measurements on Qiskit: measurement settings as Qiskit circuits, and bit unpacking.

The grouping of observable terms into qubit-wise commuting settings and the estimators are
qphys' own (:mod:`qphys.measurements`), shared with ``torch.qubit`` and the PennyLane devices,
so ``shots=N`` means N samples per measurement setting here as everywhere. This module only turns
a setting into a Qiskit circuit (basis change plus a measurement of every wire) and unpacks
``BitArray`` bytes into the ``(rows, shots, n)`` bit arrays the estimators read. (Aer's own
EstimatorV2 only adds Gaussian noise of a given precision to exact values; sampling here gives
true shot statistics, as hardware does.)
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister
from qiskit.circuit.library import UnitaryGate

from qphys.measurements import Setting

__all__ = ["rotate", "unpack_bits"]


def rotate(setting: Setting, qc: QuantumCircuit) -> QuantumCircuit:
    """``qc`` followed by ``setting``'s basis change and a measurement of every wire ``w`` into
    classical bit ``w``."""
    out = qc.copy()
    if out.num_clbits == 0:
        out.add_register(ClassicalRegister(qc.num_qubits, "c"))
    for w, b in sorted(setting.bases.items(), key=lambda t: t[0]):
        if b == "X":
            out.h(w)
        elif b == "Y":
            out.sdg(w)
            out.h(w)
    for wires, _, rot in setting.hermitians:
        # Qiskit: the first listed qubit is the least significant -> reversed wires
        out.append(UnitaryGate(rot, check_input=False), list(reversed(wires)))
    out.measure(range(qc.num_qubits), range(qc.num_qubits))
    return out


def unpack_bits(packed: np.ndarray, num_bits: int) -> np.ndarray:
    """Qiskit ``BitArray`` bytes ``(..., shots, nbytes)`` -> ``(..., shots, num_bits)`` with
    column ``j`` = classical bit ``j``."""
    bits = np.unpackbits(packed, axis=-1, bitorder="big")  # last column = bit 0
    return bits[..., ::-1][..., :num_bits]
