"""Conversion between :class:`qphys.Circuit` and Qiskit ``QuantumCircuit`` / OpenQASM 3.

Wire ``w`` of a qphys circuit becomes qubit ``w`` of the Qiskit circuit (labels are kept), but
the two frameworks order basis states differently: qphys makes wire 0 the most significant bit,
Qiskit makes qubit 0 the least significant. So gates map one to one, while every basis index,
bitstring, probability vector, state vector and matrix acting on several wires is converted
(bit-reversed) at the boundary. :func:`to_sparse_pauli_op` and the devices of this plugin do
that for you.

Every numeric gate parameter becomes an element of one ``ParameterVector`` (``"p"``), in the
order the operations appear, so that one (transpiled) Qiskit circuit binds the parameter values
of many qphys circuits of the same structure: :func:`parameter_values` returns them as a
``(rows, P)`` array (one row per batch element).

Examples:
    >>> import qphys
    >>> from qphys_qiskit import to_qiskit, from_qiskit
    >>> c = qphys.Circuit(wires=2).h(0).cx(0, 1).ry(0.3, 1)
    >>> qc = to_qiskit(c)
    >>> qc.num_parameters
    1
    >>> [op.name for op in from_qiskit(to_qiskit(c, bind=True)).operations]
    ['h', 'cx', 'ry']
"""

from __future__ import annotations

import cmath
import logging
import math

import numpy as np
import torch
from qiskit import QuantumCircuit, qasm3, transpile
from qiskit.circuit import ParameterExpression, ParameterVector
from qiskit.circuit.library import StatePreparation, UnitaryGate
from qiskit.quantum_info import Operator, SparsePauliOp

import qphys
from qphys.errors import ParameterError, UnsupportedOperationError
from qphys.observables import Hermitian, Observable, Pauli

logger = logging.getLogger(__name__)

#: qphys operation name -> QuantumCircuit method name (same semantics, parameters in order).
GATE_METHODS = {
    "i": "id", "x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "sdg", "t": "t",
    "tdg": "tdg", "sx": "sx", "rx": "rx", "ry": "ry", "rz": "rz", "p": "p", "u": "u",
    "cx": "cx", "cy": "cy", "cz": "cz", "swap": "swap", "iswap": "iswap", "crx": "crx",
    "cry": "cry", "crz": "crz", "cp": "cp", "rxx": "rxx", "ryy": "ryy", "rzz": "rzz",
    "ccx": "ccx", "cswap": "cswap",
}
#: Qiskit instruction name -> qphys operation name.
QISKIT_NAMES = {v: k for k, v in GATE_METHODS.items()}
QISKIT_NAMES.update({"cnot": "cx", "phase": "p", "u3": "u", "cphase": "cp", "toffoli": "ccx", "fredkin": "cswap"})
#: qphys operations converted through a decomposition instead of one Qiskit gate (none today;
#: ``tests/backends/test_gate_mappings.py`` fails for a registered op neither mapped nor listed).
DECOMPOSED: frozenset[str] = frozenset()
#: Operations every device of this plugin accepts.
SUPPORTED_OPS = frozenset(GATE_METHODS) | {"unitary", "state_prep"} | DECOMPOSED
_IGNORED = {"barrier", "delay"}


# ---- qphys -> qiskit ------------------------------------------------------------------------
def parameter_slots(circuit: qphys.Circuit) -> list[tuple[int, int]]:
    """``(op_index, param_index)`` of every numeric parameter, in ParameterVector order."""
    return [
        (i, j)
        for i, op in enumerate(circuit.operations)
        if not op.spec.matrix_param
        for j in range(len(op.params))
    ]


def _check_convertible(circuit: qphys.Circuit) -> None:
    if circuit.family != "qubit":
        raise UnsupportedOperationError(
            "only qubit circuits convert to Qiskit; photonic (CV) circuits need a CV device "
            "such as torch.fock or sf.fock"
        )
    for op in circuit.operations:
        if op.name not in SUPPORTED_OPS:
            raise UnsupportedOperationError(
                f"operation {op.name!r} has no Qiskit equivalent here; supported: "
                f"{', '.join(sorted(SUPPORTED_OPS))}"
            )
        if op.spec.matrix_param and torch.is_tensor(op.params[0]) and op.params[0].ndim == (
            3 if op.name == "unitary" else 2
        ):
            raise UnsupportedOperationError(
                f"{op.name} with a batch of matrices/vectors cannot become one Qiskit circuit; "
                "split the batch (the qiskit devices do this automatically)"
            )


def _matrix_np(value) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=complex)


def to_qiskit(circuit: qphys.Circuit, *, bind: bool = False, measure: bool = False) -> QuantumCircuit:
    """Convert a qphys qubit circuit into a Qiskit ``QuantumCircuit``.

    Args:
        circuit: the circuit; its measurements are not converted (see ``measure``).
        bind: substitute the parameter values (unbatched circuits only) instead of leaving
            ``ParameterVector("p")`` elements; use :func:`parameter_values` for batches.
        measure: append a measurement of every wire ``w`` into classical bit ``w``.

    Returns:
        The circuit on ``circuit.num_wires`` qubits; wire ``w`` is qubit ``w``.

    Raises:
        UnsupportedOperationError: a photonic circuit, an operation without Qiskit equivalent,
            or a batched ``unitary``/``state_prep``.
        ParameterError: ``bind=True`` on a batched circuit.

    Examples:
        >>> import qphys
        >>> from qphys_qiskit import to_qiskit, parameter_values
        >>> c = qphys.Circuit(wires=1).rx(0.5, 0)
        >>> qc = to_qiskit(c)
        >>> qc.assign_parameters(parameter_values(c)[0]).data[0].operation.params[0]
        0.5
    """
    _check_convertible(circuit)
    slots = parameter_slots(circuit)
    if bind and circuit.batch_size is not None:
        raise ParameterError(
            f"cannot bind a batched circuit (batch {circuit.batch_size}) into one Qiskit circuit; "
            "use to_qiskit(c) with parameter_values(c) (one row per batch element)"
        )
    vec = ParameterVector("p", len(slots))
    index = {slot: k for k, slot in enumerate(slots)}
    values = parameter_values(circuit)[0] if bind else None
    qc = QuantumCircuit(circuit.num_wires, circuit.num_wires if measure else 0)
    for i, op in enumerate(circuit.operations):
        if op.name == "unitary":
            # qphys: wires[0] is the most significant bit of the local index; Qiskit: qargs[0]
            # is the least significant, hence the reversed qubit list.
            qc.append(UnitaryGate(_matrix_np(op.params[0]), check_input=False), list(reversed(op.wires)))
        elif op.name == "state_prep":
            qc.append(StatePreparation(_matrix_np(op.params[0])), list(reversed(op.wires)))
        else:
            args = [
                float(values[index[(i, j)]]) if bind else vec[index[(i, j)]]
                for j in range(len(op.params))
            ]
            getattr(qc, GATE_METHODS[op.name])(*args, *op.wires)
    if measure:
        qc.measure(range(circuit.num_wires), range(circuit.num_wires))
    return qc


def parameter_values(circuit: qphys.Circuit) -> np.ndarray:
    """Numeric parameter values as a ``(rows, P)`` float64 array, columns in ParameterVector
    order; ``rows`` is the batch size (1 when unbatched).

    Examples:
        >>> import torch, qphys
        >>> from qphys_qiskit import parameter_values
        >>> c = qphys.Circuit(wires=1).rx(torch.tensor([0.1, 0.2]), 0).rz(0.3, 0)
        >>> parameter_values(c).shape
        (2, 2)
    """
    slots = parameter_slots(circuit)
    rows = circuit.batch_size or 1
    out = np.empty((rows, len(slots)), dtype=np.float64)
    for k, (i, j) in enumerate(slots):
        p = circuit.operations[i].params[j]
        if torch.is_tensor(p):
            out[:, k] = p.detach().cpu().to(torch.float64).numpy()
        else:
            out[:, k] = float(p)
    return out


def unbatch_matrices(circuit: qphys.Circuit) -> list[qphys.Circuit]:
    """Split a circuit whose ``unitary``/``state_prep`` carries a batch of matrices into one
    unbatched circuit per batch element (other batched parameters are sliced alongside);
    any other circuit is returned as ``[circuit]``."""
    batched = any(
        op.spec.matrix_param and torch.is_tensor(op.params[0])
        and op.params[0].ndim == (3 if op.name == "unitary" else 2)
        for op in circuit.operations
    )
    if not batched:
        return [circuit]
    out = []
    for b in range(circuit.batch_size):
        c = circuit.copy()
        c._batch = None
        ops = []
        for op in circuit.operations:
            params = []
            for p in op.params:
                if torch.is_tensor(p):
                    nd = (3 if op.name == "unitary" else 2) if op.spec.matrix_param else 1
                    p = p[b] if p.ndim == nd else p
                params.append(p)
            ops.append(qphys.Operation(op.name, op.wires, tuple(params)))
        c.operations = ops
        out.append(c)
    return out


# ---- observables ---------------------------------------------------------------------------
def _factor_op(f: Observable, n: int) -> SparsePauliOp:
    if isinstance(f, Pauli):
        label = ["I"] * n
        label[n - 1 - f.wire] = f.name  # Qiskit labels: qubit 0 is the rightmost character
        return SparsePauliOp("".join(label))
    if isinstance(f, Hermitian):
        local = SparsePauliOp.from_operator(Operator(f.numpy_matrix))
        # local qubit 0 (least significant) is the factor's last wire
        return local.apply_layout(list(reversed(f.wires)), n)
    raise UnsupportedOperationError(f"observable factor {f!r} has no Qiskit equivalent")


def to_sparse_pauli_op(obs: Observable, num_wires: int) -> SparsePauliOp:
    """The observable as a Qiskit ``SparsePauliOp`` on ``num_wires`` qubits (wire w = qubit w).

    Examples:
        >>> import qphys
        >>> from qphys_qiskit import to_sparse_pauli_op
        >>> to_sparse_pauli_op(qphys.Z(0) @ qphys.X(2), 3).paulis[0].to_label()
        'XIZ'
    """
    total = None
    for coeff, factors in obs.terms():
        term = SparsePauliOp("I" * num_wires, coeffs=[coeff])
        for f in factors:
            term = term.compose(_factor_op(f, num_wires))
        total = term if total is None else total + term
    return total.simplify(atol=0.0)


def reverse_bits_axis(values: np.ndarray, num_bits: int, axis: int = -1) -> np.ndarray:
    """Permute an axis of length ``2**num_bits`` from Qiskit to qphys basis order (or back)."""
    values = np.moveaxis(np.asarray(values), axis, -1)
    lead = values.shape[:-1]
    t = values.reshape(*lead, *([2] * num_bits))
    k = len(lead)
    t = t.transpose(*range(k), *reversed(range(k, k + num_bits)))
    return np.moveaxis(t.reshape(*lead, 2**num_bits), -1, axis)


# ---- qiskit -> qphys -----------------------------------------------------------------------
def _param_value(expr, values: dict, where: str):
    """Value of a gate parameter: a float, or a torch tensor for linear expressions of one
    parameter bound to a tensor."""
    if not isinstance(expr, ParameterExpression):
        return float(expr)
    if not expr.parameters:
        return float(expr)
    missing = [p.name for p in expr.parameters if p not in values]
    if missing:
        raise ParameterError(
            f"{where}: no value for Qiskit parameter(s) {', '.join(sorted(missing))}; pass "
            "params={parameter: value} (or a sequence in QuantumCircuit.parameters order)"
        )
    if all(not torch.is_tensor(values[p]) for p in expr.parameters):
        return float(expr.bind({p: float(values[p]) for p in expr.parameters}))
    if len(expr.parameters) != 1:
        raise ParameterError(
            f"{where}: expression {expr} mixes several parameters with tensor values; bind "
            "floats, or use one parameter per gate"
        )
    (p,) = expr.parameters
    slope_expr = expr.gradient(p)
    if isinstance(slope_expr, ParameterExpression) and slope_expr.parameters:
        raise ParameterError(
            f"{where}: expression {expr} is not linear in {p.name}; tensor values need a "
            "linear expression such as 2*theta + 1"
        )
    slope = float(slope_expr)
    offset = float(expr.bind({p: 0.0}))
    v = values[p]
    return v * slope + offset if (slope != 1.0 or offset != 0.0) else v


def _values_dict(qc: QuantumCircuit, params) -> dict:
    if params is None:
        return {}
    if isinstance(params, dict):
        out = {}
        by_name = {p.name: p for p in qc.parameters}
        for k, v in params.items():
            key = by_name.get(k) if isinstance(k, str) else k
            if key is None:
                raise ParameterError(f"circuit has no parameter named {k!r}; it has {sorted(by_name)}")
            out[key] = v
        return out
    seq = list(params) if not torch.is_tensor(params) else list(params.unbind(-1))
    if len(seq) != qc.num_parameters:
        raise ParameterError(
            f"got {len(seq)} parameter values for a circuit with {qc.num_parameters} parameters "
            f"({', '.join(p.name for p in qc.parameters)})"
        )
    return dict(zip(qc.parameters, seq))


def from_qiskit(qc: QuantumCircuit, *, params=None, measurements: str = "counts") -> qphys.Circuit:
    """Convert a Qiskit ``QuantumCircuit`` into a :class:`qphys.Circuit` (qubit ``q`` -> wire ``q``).

    Gates without a qphys equivalent are decomposed by Qiskit's transpiler into supported ones
    (or become exact ``unitary`` operations when they have no free parameters). A non-zero
    global phase becomes a ``unitary`` ``e^{i phase} I`` on wire 0, so states agree exactly.

    Args:
        qc: the circuit; only terminal measurements are allowed.
        params: values of free parameters: a dict ``{Parameter or name: value}`` or a sequence
            in ``qc.parameters`` order; values may be floats or torch tensors (``(B,)`` batches).
        measurements: what terminal ``measure`` instructions become: ``"counts"``, ``"sample"``,
            ``"probs"`` (on the measured qubits in classical-bit order), or ``"drop"``.

    Raises:
        UnsupportedOperationError: mid-circuit measurement, reset or classical control.
        ParameterError: a free parameter without a value.

    Examples:
        >>> from qiskit import QuantumCircuit
        >>> from qphys_qiskit import from_qiskit
        >>> qc = QuantumCircuit(2); _ = qc.h(0); _ = qc.cx(0, 1)
        >>> [op.name for op in from_qiskit(qc).operations]
        ['h', 'cx']
    """
    if measurements not in ("counts", "sample", "probs", "drop"):
        raise ParameterError(f"measurements must be counts, sample, probs or drop, got {measurements!r}")
    values = _values_dict(qc, params)
    qc = _decompose_unknown(qc)
    circuit = qphys.Circuit(wires=qc.num_qubits)
    measured: dict[int, int] = {}
    for k, inst in enumerate(qc.data):
        op = inst.operation
        name = op.name
        qubits = [qc.find_bit(q).index for q in inst.qubits]
        where = f"instruction {k} ({name})"
        if name in _IGNORED:
            continue
        if name == "measure":
            measured[qc.find_bit(inst.clbits[0]).index] = qubits[0]
            continue
        if measured and set(qubits) & set(measured.values()):
            raise UnsupportedOperationError(
                f"{where} acts after a measurement of the same qubit; mid-circuit measurements "
                "are not supported — measure at the end"
            )
        if getattr(op, "condition", None) is not None or name in ("reset", "if_else", "while_loop", "for_loop", "switch_case"):
            raise UnsupportedOperationError(f"{where}: resets and classical control are not supported")
        if name in QISKIT_NAMES:
            args = [_param_value(p, values, where) for p in op.params]
            circuit.append(QISKIT_NAMES[name], tuple(qubits), tuple(args))
        elif name == "unitary":
            circuit.unitary(np.asarray(op.to_matrix()), tuple(reversed(qubits)))
        elif name == "state_preparation" and not any(isinstance(p, ParameterExpression) for p in op.params):
            circuit.state_prep(np.asarray(op.params, dtype=complex), tuple(reversed(qubits)))
        else:  # pragma: no cover - _decompose_unknown leaves only the names above
            raise UnsupportedOperationError(f"{where}: no qphys equivalent for {name!r}")
    phase = float(qc.global_phase) if not isinstance(qc.global_phase, ParameterExpression) else None
    if phase is None:
        raise UnsupportedOperationError("a parametrized global phase cannot be converted; bind it first")
    if not math.isclose(math.remainder(phase, 2 * math.pi), 0.0, abs_tol=1e-12):
        circuit.unitary(cmath.exp(1j * phase) * np.eye(2), 0)
    if measured and measurements != "drop":
        wires = [measured[c] for c in sorted(measured)]
        getattr(circuit, measurements)(wires)
    return circuit


def _decompose_unknown(qc: QuantumCircuit) -> QuantumCircuit:
    """Rewrite instructions without a qphys equivalent (keeping known ones untouched)."""
    known = set(QISKIT_NAMES) | {"unitary", "measure", "state_preparation"} | _IGNORED
    unknown = {inst.operation.name for inst in qc.data} - known
    if not unknown:
        return qc
    logger.debug("decomposing Qiskit instructions without qphys equivalent: %s", sorted(unknown))
    out = qc.copy_empty_like()
    for inst in qc.data:
        op = inst.operation
        if op.name in known:
            out.append(inst)
            continue
        free = any(isinstance(p, ParameterExpression) and p.parameters for p in getattr(op, "params", []))
        if not free and op.num_clbits == 0 and op.name != "reset":
            try:
                out.append(UnitaryGate(Operator(op).data, check_input=False), inst.qubits)
                continue
            except Exception:  # noqa: BLE001 - no matrix: fall back to the transpiler below
                pass
        sub = QuantumCircuit(op.num_qubits, op.num_clbits)
        sub.append(op, range(op.num_qubits), range(op.num_clbits))
        basis = sorted(set(GATE_METHODS.values()) | {"measure", "reset"})
        sub = transpile(sub, basis_gates=basis, optimization_level=0)
        out.compose(sub, qubits=inst.qubits, clbits=inst.clbits, inplace=True)
    return out


# ---- OpenQASM 3 ---------------------------------------------------------------------------
def to_qasm3(circuit: qphys.Circuit, *, bind: bool = True, measure: bool | None = None) -> str:
    """OpenQASM 3 text of the circuit (Qiskit's exporter).

    Args:
        bind: write the parameter values (default) or ``input float[64]`` parameters.
        measure: append measurements of every wire; default: when the circuit has
            ``sample``/``counts``/``probs`` measurements.

    Examples:
        >>> import qphys
        >>> from qphys_qiskit import to_qasm3
        >>> print(to_qasm3(qphys.Circuit(wires=1).h(0)).splitlines()[0])
        OPENQASM 3.0;
    """
    if measure is None:
        measure = any(m.kind in ("sample", "counts", "probs") for m in circuit.measurements)
    return qasm3.dumps(to_qiskit(circuit, bind=bind, measure=measure))


def from_qasm3(text: str, *, params=None, measurements: str = "counts") -> qphys.Circuit:
    """Parse OpenQASM 3 (through ``qiskit.qasm3.loads``) into a :class:`qphys.Circuit`.

    ``params`` binds ``input`` parameters by name (``{"theta": 0.3}``); see :func:`from_qiskit`.

    Examples:
        >>> from qphys_qiskit import from_qasm3
        >>> c = from_qasm3('OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; h q[0]; cx q[0], q[1];')
        >>> [op.name for op in c.operations]
        ['h', 'cx']
    """
    qc = qasm3.loads(text)
    return from_qiskit(qc, params=params, measurements=measurements)


__all__ = [
    "to_qiskit",
    "from_qiskit",
    "to_qasm3",
    "from_qasm3",
    "parameter_values",
    "parameter_slots",
    "to_sparse_pauli_op",
    "reverse_bits_axis",
    "unbatch_matrices",
    "SUPPORTED_OPS",
]

