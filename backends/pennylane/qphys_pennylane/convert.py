"""Circuit conversion between qphys and PennyLane: :func:`to_pennylane` and :func:`from_pennylane`.

Both frameworks put wire 0 at the most significant bit, so wires map one to one without any
reordering. Gates map by name (``cx`` <-> ``CNOT``, ``p`` <-> ``PhaseShift``, ``u`` <-> ``U3``,
``rzz`` <-> ``IsingZZ``...; the matrices agree exactly, which ``tests/backends/pennylane``
checks gate by gate). A PennyLane operation without a qphys counterpart is decomposed with
PennyLane's own :func:`pennylane.devices.preprocess.decompose`; one that has no decomposition
but a matrix becomes a qphys ``unitary``.

Parameters keep their type: torch tensors stay torch tensors (so gradients flow through the
conversion in both directions), floats stay floats, numpy values become floats or tensors.

Examples:
    >>> import qphys
    >>> from qphys_pennylane import to_pennylane, from_pennylane
    >>> c = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1))
    >>> tape = to_pennylane(c)
    >>> [op.name for op in tape.operations]
    ['Hadamard', 'CNOT']
    >>> [op.name for op in from_pennylane(tape).operations]
    ['h', 'cx']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from numbers import Number
from typing import Any

import numpy as np
import pennylane as qml
import torch

from qphys.circuit import Circuit, Measurement
from qphys.errors import ObservableError, UnsupportedOperationError, WireError
from qphys.observables import Hermitian, Observable, Pauli, Prod, Sum

log = logging.getLogger(__name__)

#: qphys gate name -> PennyLane operation name (plain one-to-one mappings).
QPHYS_TO_PL = {
    "i": "Identity",
    "x": "PauliX",
    "y": "PauliY",
    "z": "PauliZ",
    "h": "Hadamard",
    "s": "S",
    "sdg": "Adjoint(S)",
    "t": "T",
    "tdg": "Adjoint(T)",
    "sx": "SX",
    "rx": "RX",
    "ry": "RY",
    "rz": "RZ",
    "p": "PhaseShift",
    "u": "U3",
    "cx": "CNOT",
    "cy": "CY",
    "cz": "CZ",
    "swap": "SWAP",
    "iswap": "ISWAP",
    "crx": "CRX",
    "cry": "CRY",
    "crz": "CRZ",
    "cp": "ControlledPhaseShift",
    "rxx": "IsingXX",
    "ryy": "IsingYY",
    "rzz": "IsingZZ",
    "ccx": "Toffoli",
    "cswap": "CSWAP",
    "unitary": "QubitUnitary",
    "state_prep": "StatePrep",
}
#: PennyLane operation name -> qphys gate name.
PL_TO_QPHYS = {v: k for k, v in QPHYS_TO_PL.items()}
#: qphys operations converted through a decomposition instead of one PennyLane operation (none
#: today; ``tests/backends/test_gate_mappings.py`` fails for a registered op neither mapped nor listed).
DECOMPOSED: frozenset[str] = frozenset()

#: PennyLane operations converted specially (not by name).
_SPECIAL = {"GlobalPhase", "BasisState"}


def _pl_class(name: str):
    return getattr(qml, name)


# ---- parameters ---------------------------------------------------------------------------------
def _to_qphys_param(p) -> Any:
    """A PennyLane parameter as a qphys parameter (float or torch tensor)."""
    if torch.is_tensor(p):
        return p
    if isinstance(p, Number) and not isinstance(p, complex):
        return float(p)
    arr = np.asarray(qml.math.unwrap(p))
    if arr.ndim == 0 and not np.iscomplexobj(arr):
        return float(arr)
    return torch.as_tensor(arr)


def _to_pl_param(p, keep_torch: bool) -> Any:
    if torch.is_tensor(p):
        return p if keep_torch else p.detach().cpu().numpy()
    return p


# ---- observables ---------------------------------------------------------------------------------
def observable_to_pennylane(obs: Observable, wire_map=None):
    """A qphys observable as a PennyLane operator (``wire_map`` renames wires, default identity).

    Examples:
        >>> import qphys
        >>> from qphys_pennylane.convert import observable_to_pennylane
        >>> observable_to_pennylane(0.5 * qphys.Z(0) @ qphys.Z(1) + qphys.X(1))
        0.5 * (Z(0) @ Z(1)) + 1.0 * X(1)
    """
    wmap = (lambda w: w) if wire_map is None else (lambda w: wire_map[w])

    def factor(f):
        if isinstance(f, Pauli):
            return {"X": qml.X, "Y": qml.Y, "Z": qml.Z, "I": qml.Identity}[f.name](wmap(f.wire))
        if isinstance(f, Hermitian):
            return qml.Hermitian(f.numpy_matrix, wires=[wmap(w) for w in f.wires])
        raise ObservableError(f"cannot convert observable factor {f!r} to PennyLane")

    def product(factors):
        ops = [factor(f) for f in factors]
        return ops[0] if len(ops) == 1 else qml.prod(*ops)

    if isinstance(obs, Sum):
        terms = obs.terms()
        if len(terms) == 1:  # a scaled product stays a product (PennyLane samples those)
            c, f = terms[0]
            return product(f) if c == 1.0 else qml.s_prod(c, product(f))
        return qml.Hamiltonian([c for c, _ in terms], [product(f) for _, f in terms])
    if isinstance(obs, Prod):
        return product(obs.factors)
    return factor(obs)


def _static_data(op) -> bool:
    """True when the operator's data are plain numbers (no tensors under differentiation)."""
    return all(qml.math.get_interface(d) in ("numpy", "scipy") or isinstance(d, Number) for d in op.data)


def observable_from_pennylane(op, wire_map) -> Observable | None:
    """A PennyLane observable as a qphys observable, or ``None`` when qphys has no equivalent.

    ``wire_map`` maps PennyLane wire labels to qphys wire indices. Observables whose
    coefficients or matrices carry gradients (torch/autograd tensors) return ``None``: qphys
    observables are constants, so the caller must evaluate those in PennyLane instead.
    """
    if not _static_data(op):
        return None
    name = op.name
    try:
        if name in ("PauliX", "PauliY", "PauliZ") and len(op.wires) == 1:
            return Pauli(name[-1], wire_map[op.wires[0]])
        if name == "Identity":
            if len(op.wires) == 0:
                return None
            return Pauli("I", wire_map[op.wires[0]]) if len(op.wires) == 1 else None
        if name == "Prod":
            factors = [observable_from_pennylane(f, wire_map) for f in op.operands]
            if any(f is None or isinstance(f, Sum) for f in factors):
                return None
            return Prod(*factors)
        if name == "SProd":
            base = observable_from_pennylane(op.base, wire_map)
            scalar = complex(np.asarray(op.scalar))
            if base is None or abs(scalar.imag) > 1e-12:
                return None
            return Sum([(scalar.real, base)])
        if name in ("Sum", "LinearCombination"):
            terms = []
            for term in op.operands:
                conv = observable_from_pennylane(term, wire_map)
                if conv is None:
                    return None
                terms.append((1.0, conv))
            return Sum(terms)
        if name in ("Hermitian", "Hadamard", "Projector") and len(op.wires) > 0:
            m = np.asarray(qml.matrix(op, wire_order=op.wires))
            return Hermitian(m, [wire_map[w] for w in op.wires])
    except (ObservableError, WireError, KeyError, qml.exceptions.MatrixUndefinedError):
        return None
    return None


# ---- circuits ----------------------------------------------------------------------------------
def to_pennylane(circuit: Circuit, *, shots: int | None = None, keep_torch: bool = True,
                 wire_labels: Sequence | None = None) -> qml.tape.QuantumScript:
    """Convert a qphys qubit circuit into a PennyLane :class:`~pennylane.tape.QuantumScript`.

    Args:
        circuit: a qubit :class:`qphys.Circuit`.
        shots: shots of the tape (``None``: analytic).
        keep_torch: keep torch tensor parameters as tensors (so PennyLane's torch interface
            can differentiate them); ``False`` turns them into numpy arrays.
        wire_labels: PennyLane wire label of each qphys wire (default ``0..n-1``).

    Returns:
        A tape with the same operations and measurements; a batched circuit becomes a
        broadcast tape.

    Raises:
        UnsupportedOperationError: a photonic circuit, or a measurement PennyLane lacks.

    Examples:
        >>> import qphys
        >>> from qphys_pennylane import to_pennylane
        >>> tape = to_pennylane(qphys.Circuit(wires=1).rx(0.3, 0).expval(qphys.Z(0)))
        >>> tape.operations
        [RX(0.3, wires=[0])]
    """
    if circuit.family != "qubit":
        raise UnsupportedOperationError(
            "to_pennylane converts qubit circuits only; photonic circuits have no PennyLane "
            "qubit tape (use a CV device such as torch.fock)"
        )
    labels = list(range(circuit.num_wires)) if wire_labels is None else list(wire_labels)
    if len(labels) != circuit.num_wires:
        raise WireError(
            f"wire_labels has {len(labels)} labels but the circuit has {circuit.num_wires} wires"
        )
    ops = []
    for op in circuit.operations:
        wires = [labels[w] for w in op.wires]
        params = [_to_pl_param(p, keep_torch) for p in op.params]
        if op.name == "i":
            ops.append(qml.Identity(wires))
        elif op.name == "sdg":
            ops.append(qml.adjoint(qml.S(wires)))
        elif op.name == "tdg":
            ops.append(qml.adjoint(qml.T(wires)))
        elif op.name == "unitary":
            ops.append(qml.QubitUnitary(params[0], wires=wires))
        elif op.name == "state_prep":
            ops.append(qml.StatePrep(params[0], wires=wires))
        else:
            cls = _pl_class(QPHYS_TO_PL[op.name])
            ops.append(cls(*params, wires=wires))
    meas = [_measurement_to_pl(m, labels) for m in circuit.measurements]
    return qml.tape.QuantumScript(ops, meas, shots=shots)


def _measurement_to_pl(m: Measurement, labels):
    all_wires = labels if m.wires is None else [labels[w] for w in m.wires]
    if m.kind == "expval":
        return qml.expval(observable_to_pennylane(m.obs, labels))
    if m.kind == "var":
        return qml.var(observable_to_pennylane(m.obs, labels))
    if m.kind == "probs":
        return qml.probs(wires=all_wires)
    if m.kind == "sample":
        return qml.sample(wires=all_wires)
    if m.kind == "counts":
        return qml.counts(wires=all_wires)
    if m.kind == "state":
        return qml.state()
    raise UnsupportedOperationError(f"measurement {m.kind!r} has no PennyLane qubit equivalent")


def native_operation(op) -> bool:
    """Stopping condition of decomposition: qphys runs ``op`` directly."""
    name = op.name
    if name in PL_TO_QPHYS:
        return name != "StatePrep"  # a StatePrep that is not the first op must be decomposed
    if name == "GlobalPhase":
        return True
    return bool(op.has_matrix and not op.has_decomposition and len(op.wires) > 0)


def _decomposed(tape):
    from pennylane.devices.preprocess import decompose

    (new,), _ = decompose(tape, stopping_condition=native_operation, name="qphys")
    return new


def append_pl_operation(circuit: Circuit, op, wire_map, *, first: bool) -> None:
    """Append one PennyLane operation (already in the native gate set) to ``circuit``."""
    name = op.name
    wires = [wire_map[w] for w in op.wires]
    params = [_to_qphys_param(p) for p in op.data]
    if name == "Identity":
        for w in wires:
            circuit.i(w)
        return
    if name == "GlobalPhase":
        phi = params[0]
        phase = torch.exp(-1j * torch.as_tensor(phi, dtype=torch.float64))
        eye = torch.eye(2, dtype=torch.complex128)
        m = phase[..., None, None] * eye if phase.ndim else phase * eye
        circuit.unitary(m, wires[0] if wires else 0)
        return
    if name == "BasisState":
        if not first:
            raise UnsupportedOperationError("BasisState must be the first operation")
        bits = np.asarray(qml.math.unwrap(op.data[0])).astype(int)
        if bits.ndim != 1:
            raise UnsupportedOperationError("a broadcast BasisState cannot be converted to qphys")
        for w, b in zip(wires, bits):
            if b:
                circuit.x(w)
        return
    if name == "StatePrep":
        if not first:
            raise UnsupportedOperationError(
                "StatePrep must be the first operation to convert to qphys state_prep"
            )
        circuit.state_prep(params[0], wires)
        return
    if name in PL_TO_QPHYS:
        qname = PL_TO_QPHYS[name]
        if qname == "unitary":
            circuit.unitary(params[0], wires)
        else:
            circuit.append(qname, wires, params)
        return
    # no decomposition but a matrix: run it as a dense unitary
    m = qml.matrix(op, wire_order=op.wires)
    circuit.unitary(torch.as_tensor(m) if not torch.is_tensor(m) else m, wires)


def from_pennylane(tape, *, wire_order: Sequence | None = None) -> Circuit:
    """Convert a PennyLane tape (or QuantumScript) into a qphys :class:`~qphys.Circuit`.

    Operations qphys lacks are decomposed by PennyLane first. Supported measurements:
    ``expval``/``var`` of observables with a qphys equivalent (Pauli words, Hermitian,
    Hadamard, Projector, sums and products with real coefficients), ``probs``, ``sample``,
    ``counts`` (on wires) and ``state``.

    Args:
        tape: a :class:`pennylane.tape.QuantumScript`.
        wire_order: PennyLane wire labels in qphys wire order. Default: ``0..max`` when every
            label is a non-negative integer (wire ``k`` stays wire ``k``), else ``tape.wires``.

    Raises:
        UnsupportedOperationError: a measurement or observable qphys cannot express.
        WireError: a tape wire missing from ``wire_order``.

    Examples:
        >>> import pennylane as qml
        >>> from qphys_pennylane import from_pennylane
        >>> tape = qml.tape.QuantumScript([qml.Rot(0.1, 0.2, 0.3, wires=0)], [qml.expval(qml.Z(0))])
        >>> [op.name for op in from_pennylane(tape).operations]
        ['rz', 'ry', 'rz']
    """
    labels = default_wire_order(tape.wires) if wire_order is None else list(wire_order)
    wire_map = {w: i for i, w in enumerate(labels)}
    missing = [w for w in tape.wires if w not in wire_map]
    if missing:
        raise WireError(f"tape wires {missing} are not in wire_order {labels}")
    tape = _decomposed(tape)
    circuit = Circuit(wires=max(len(labels), 1))
    for k, op in enumerate(tape.operations):
        append_pl_operation(circuit, op, wire_map, first=(k == 0))
    for mp in tape.measurements:
        m = measurement_from_pl(mp, wire_map)
        if m is None:
            raise UnsupportedOperationError(
                f"measurement {mp!r} has no qphys equivalent; qphys measures expval/var of "
                "Pauli words, Hermitian matrices and their real linear combinations, probs, "
                "sample, counts and state"
            )
        circuit.measurements.append(m)
    return circuit


def default_wire_order(wires) -> list:
    labels = list(wires)
    if labels and all(isinstance(w, (int, np.integer)) and w >= 0 for w in labels):
        return list(range(max(labels) + 1))
    return labels


def measurement_from_pl(mp, wire_map) -> Measurement | None:
    """The qphys measurement equivalent to PennyLane measurement ``mp``, or ``None``."""
    kind = type(mp).__name__
    if getattr(mp, "mv", None) is not None:
        return None
    wires = tuple(wire_map[w] for w in mp.wires) if len(mp.wires) else None
    if kind in ("ExpectationMP", "VarianceMP"):
        obs = observable_from_pennylane(mp.obs, wire_map) if mp.obs is not None else None
        if obs is None:
            return None
        return Measurement("expval" if kind == "ExpectationMP" else "var", obs=obs)
    if mp.obs is not None:
        return None
    if kind == "ProbabilityMP":
        return Measurement("probs", wires=wires)
    if kind == "SampleMP":
        return Measurement("sample", wires=wires)
    if kind == "CountsMP" and not mp.all_outcomes:
        return Measurement("counts", wires=wires)
    if kind == "StateMP" and wires is None:
        return Measurement("state")
    return None


__all__ = [
    "to_pennylane",
    "from_pennylane",
    "observable_to_pennylane",
    "observable_from_pennylane",
    "QPHYS_TO_PL",
    "PL_TO_QPHYS",
]
