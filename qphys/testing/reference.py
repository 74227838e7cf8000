"""An independent dense-matrix reference simulator for qubit circuits (numpy, complex128).

The conformance suite checks devices against this module, so it deliberately shares no code
with the simulators it checks: every gate matrix is written out here from its textbook
(Qiskit-convention) definition, never taken from :mod:`qphys.ops`, and every gate is applied as
a full ``2**n x 2**n`` unitary built with Kronecker products and an axis permutation. It is
slow on purpose (clarity over speed) and meant for circuits of a few qubits. Observable matrices
are built here too (:func:`observable_matrix`), from the observable's structure (Pauli names,
Hermitian matrices, products, sums), never from qphys' ``Observable.matrix``.

Why hand-written rather than Qiskit's ``Statevector``: the conformance suite ships inside qphys
and must run wherever qphys runs, while Qiskit is a plugin-only dependency (DESIGN.md §1).
``tests/sim/test_vs_qiskit.py`` checks ``torch.qubit`` against Qiskit separately.

Wire 0 is the most significant bit of every basis index, as everywhere in qphys.

Examples:
    >>> import qphys
    >>> from qphys.testing import reference
    >>> c = qphys.Circuit(wires=2).h(0).cx(0, 1).probs()
    >>> reference.probs(reference.final_state(c), None, 2).round(3).tolist()
    [0.5, 0.0, 0.0, 0.5]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "GATES",
    "observable_matrix",
    "gate_matrix",
    "embed",
    "embed_state",
    "final_state",
    "probs",
    "expval",
    "var",
    "measure",
    "phase_distance",
]

_I2 = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.array([[1, 0], [0, -1]], dtype=complex)
_H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)


def _controlled(u: np.ndarray, num_controls: int = 1) -> np.ndarray:
    """``|1..1><1..1| ⊗ U + (I - |1..1><1..1|) ⊗ I``: controls are the leading (most significant) wires."""
    d = u.shape[0]
    total = (2**num_controls) * d
    out = np.eye(total, dtype=complex)
    out[total - d :, total - d :] = u
    return out


def _rot(pauli: np.ndarray, theta: float) -> np.ndarray:
    """``exp(-i theta P / 2) = cos(theta/2) I - i sin(theta/2) P`` for an involutory ``P``."""
    eye = np.eye(pauli.shape[0], dtype=complex)
    return math.cos(theta / 2) * eye - 1j * math.sin(theta / 2) * pauli


def _u(theta: float, phi: float, lam: float) -> np.ndarray:
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return np.array(
        [[c, -np.exp(1j * lam) * s], [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c]], dtype=complex
    )


def _phase(lam: float) -> np.ndarray:
    return np.diag([1, np.exp(1j * lam)]).astype(complex)


#: name -> (number of wires, number of real parameters, matrix function of the parameters)
GATES: dict[str, tuple[int, int, Any]] = {
    "i": (1, 0, lambda: _I2),
    "x": (1, 0, lambda: _X),
    "y": (1, 0, lambda: _Y),
    "z": (1, 0, lambda: _Z),
    "h": (1, 0, lambda: _H),
    "s": (1, 0, lambda: np.diag([1, 1j]).astype(complex)),
    "sdg": (1, 0, lambda: np.diag([1, -1j]).astype(complex)),
    "t": (1, 0, lambda: np.diag([1, np.exp(1j * math.pi / 4)]).astype(complex)),
    "tdg": (1, 0, lambda: np.diag([1, np.exp(-1j * math.pi / 4)]).astype(complex)),
    "sx": (1, 0, lambda: 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=complex)),
    "rx": (1, 1, lambda t: _rot(_X, t)),
    "ry": (1, 1, lambda t: _rot(_Y, t)),
    "rz": (1, 1, lambda t: _rot(_Z, t)),
    "p": (1, 1, _phase),
    "u": (1, 3, _u),
    "cx": (2, 0, lambda: _controlled(_X)),
    "cy": (2, 0, lambda: _controlled(_Y)),
    "cz": (2, 0, lambda: _controlled(_Z)),
    "swap": (2, 0, lambda: _SWAP),
    "iswap": (2, 0, lambda: np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]], dtype=complex)),
    "crx": (2, 1, lambda t: _controlled(_rot(_X, t))),
    "cry": (2, 1, lambda t: _controlled(_rot(_Y, t))),
    "crz": (2, 1, lambda t: _controlled(_rot(_Z, t))),
    "cp": (2, 1, lambda t: _controlled(_phase(t))),
    "rxx": (2, 1, lambda t: _rot(np.kron(_X, _X), t)),
    "ryy": (2, 1, lambda t: _rot(np.kron(_Y, _Y), t)),
    "rzz": (2, 1, lambda t: _rot(np.kron(_Z, _Z), t)),
    "ccx": (3, 0, lambda: _controlled(_X, 2)),
    "cswap": (3, 0, lambda: _controlled(_SWAP, 1)),
}


def gate_matrix(name: str, params=()) -> np.ndarray:
    """The ``2**k x 2**k`` matrix of gate ``name`` for real ``params`` (wire 0 = MSB).

    Examples:
        >>> from qphys.testing.reference import gate_matrix
        >>> gate_matrix("cx").real.astype(int).tolist()
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    """
    if name not in GATES:
        raise KeyError(f"the reference simulator has no gate {name!r}")
    _, num_params, fn = GATES[name]
    if len(params) != num_params:
        raise ValueError(f"{name} takes {num_params} parameter(s), got {len(params)}")
    return np.asarray(fn(*[float(p) for p in params]), dtype=complex)


def _to_order(t: np.ndarray, current: list[int], n: int, operator: bool) -> np.ndarray:
    """Permute the tensor axes of a vector/operator given on wire order ``current`` to ``0..n-1``."""
    perm = [current.index(w) for w in range(n)]
    if operator:
        t = t.reshape([2] * (2 * n)).transpose(perm + [p + n for p in perm])
        return t.reshape(2**n, 2**n)
    return t.reshape([2] * n).transpose(perm).reshape(2**n)


def embed(matrix: np.ndarray, wires, n: int) -> np.ndarray:
    """The full ``2**n x 2**n`` operator of ``matrix`` acting on ``wires`` (in that order)."""
    wires = [int(w) for w in wires]
    rest = [w for w in range(n) if w not in wires]
    full = np.kron(np.asarray(matrix, dtype=complex), np.eye(2 ** len(rest), dtype=complex))
    return _to_order(full, wires + rest, n, operator=True)


def embed_state(vector: np.ndarray, wires, n: int) -> np.ndarray:
    """``vector`` on ``wires`` (in that order) tensored with ``|0>`` on every other wire."""
    wires = [int(w) for w in wires]
    rest = [w for w in range(n) if w not in wires]
    zero = np.zeros(2 ** len(rest), dtype=complex)
    zero[0] = 1
    full = np.kron(np.asarray(vector, dtype=complex), zero)
    return _to_order(full, wires + rest, n, operator=False)


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if value.is_complex():
            value = value.to(dtype=__import__("torch").complex128)
        elif value.is_floating_point():
            value = value.double()
        value = value.numpy()
    return np.asarray(value)


def _at(value, b: int | None, batched_ndim: int):
    """Batch element ``b`` of ``value`` when it carries a batch axis, else ``value``."""
    arr = _numpy(value)
    if b is not None and arr.ndim == batched_ndim:
        return arr[b]
    return arr


def final_state(circuit) -> np.ndarray:
    """Final state of a qubit ``circuit``: ``(2**n,)``, or ``(B, 2**n)`` when batched."""
    if circuit.family != "qubit":
        raise ValueError("the reference simulator runs qubit circuits only")
    batch = circuit.batch_size
    if batch is None:
        return _run(circuit, None)
    return np.stack([_run(circuit, b) for b in range(batch)])


def _run(circuit, b: int | None) -> np.ndarray:
    n = circuit.num_wires
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = 1
    for k, op in enumerate(circuit.operations):
        if op.name == "state_prep":
            if k != 0:
                raise ValueError("state_prep must be the first operation")
            psi = embed_state(_at(op.params[0], b, 2).astype(complex), op.wires, n)
            continue
        if op.name == "unitary":
            u = _at(op.params[0], b, 3).astype(complex)
        else:
            params = [float(_at(p, b, 1)) for p in op.params]
            u = gate_matrix(op.name, params)
        psi = embed(u, op.wires, n) @ psi
    return psi


def probs(state: np.ndarray, wires, n: int) -> np.ndarray:
    """Marginal probabilities of ``wires`` (in the given order; ``None`` = all) of ``state``."""
    p = np.abs(np.asarray(state)) ** 2
    batched = p.ndim == 2
    p2 = p if batched else p[None]
    if wires is None:
        return p
    wires = [int(w) for w in wires]
    rest = [w for w in range(n) if w not in wires]
    t = p2.reshape([p2.shape[0]] + [2] * n)
    t = t.transpose([0] + [1 + w for w in wires + rest])
    out = t.reshape(p2.shape[0], 2 ** len(wires), 2 ** len(rest)).sum(-1)
    return out if batched else out[0]


_PAULIS = {"I": _I2, "X": _X, "Y": _Y, "Z": _Z}


def observable_matrix(obs, n: int) -> np.ndarray:
    """The ``2**n x 2**n`` matrix of a qphys qubit observable, built from its structure.

    Reads only the observable's data (``Pauli``: ``name``/``wire``; ``Hermitian``:
    ``numpy_matrix``/``wires``; ``Prod``: ``factors``; ``Sum``: ``summands``) and embeds each
    factor with :func:`embed`.

    Examples:
        >>> import qphys
        >>> observable_matrix(qphys.Z(0) @ qphys.X(1), 2).real.astype(int).tolist()
        [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, -1], [0, 0, -1, 0]]
    """
    kind = type(obs).__name__
    if kind == "Pauli":
        return embed(_PAULIS[obs.name], [obs.wire], n)
    if kind == "Hermitian":
        return embed(np.asarray(obs.numpy_matrix, dtype=complex), list(obs.wires), n)
    if kind == "Prod":
        out = np.eye(2**n, dtype=complex)
        for f in obs.factors:  # factors act on disjoint wires: their embeddings commute
            out = out @ observable_matrix(f, n)
        return out
    if kind == "Sum":
        return sum(c * observable_matrix(o, n) for c, o in obs.summands)
    raise ValueError(f"the reference simulator has no observable {kind!r}")


def expval(state: np.ndarray, obs, n: int) -> np.ndarray:
    """``<psi|O|psi>`` (real); batched states give a ``(B,)`` array."""
    m = observable_matrix(obs, n)
    s = np.asarray(state)
    return np.einsum("...i,ij,...j->...", s.conj(), m, s).real


def var(state: np.ndarray, obs, n: int) -> np.ndarray:
    """``<O^2> - <O>^2``."""
    m = observable_matrix(obs, n)
    s = np.asarray(state)
    o_psi = np.einsum("ij,...j->...i", m, s)
    mean = np.einsum("...i,...i->...", s.conj(), o_psi).real
    return np.einsum("...i,...i->...", o_psi.conj(), o_psi).real - mean**2


def measure(circuit) -> list[np.ndarray]:
    """Reference values aligned with ``circuit.measurements``.

    ``expval``/``var``/``probs``/``state`` give their exact values; ``sample`` and ``counts``
    give the probability distribution of the measured wires that the samples follow.
    """
    n = circuit.num_wires
    psi = final_state(circuit)
    out = []
    for m in circuit.measurements:
        if m.kind == "expval":
            out.append(expval(psi, m.obs, n))
        elif m.kind == "var":
            out.append(var(psi, m.obs, n))
        elif m.kind in ("probs", "sample", "counts"):
            out.append(probs(psi, m.wires, n))
        elif m.kind == "state":
            out.append(psi)
        else:
            raise ValueError(f"the reference simulator has no measurement {m.kind!r}")
    return out


def phase_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest entry of ``|a - e^{i phi} b|`` for the global phase ``phi`` aligning ``b`` with ``a``.

    0 when the two state vectors agree up to a global phase.
    """
    a, b = np.asarray(a, dtype=complex), np.asarray(b, dtype=complex)
    overlap = np.vdot(b, a)
    phase = overlap / abs(overlap) if abs(overlap) > 1e-12 else 1.0
    return float(np.abs(a - phase * b).max())
