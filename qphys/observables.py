"""Observables: Pauli words, tensor products, Hermitian matrices and their linear combinations.

Build them with ``X(0) @ Z(1)``, ``0.5 * Z(0) + X(1)``, ``Hermitian(M, wires=[0, 1])``.
Every observable can be expanded into terms (``coefficient, factors``) and turned into a dense
matrix on a given wire order, which simulators and plugins use.

Examples:
    >>> from qphys import X, Z
    >>> H = 0.5 * Z(0) @ Z(1) + X(2)
    >>> H.wires
    (0, 1, 2)
"""

from __future__ import annotations

import math
from functools import reduce
from numbers import Number

import numpy as np

from qphys._validate import describe, index_tuple, is_integer, numeric_tensor
from qphys.errors import MatrixError, ObservableError, WireError

_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


class Observable:
    """Base class. Subclasses: :class:`Pauli`, :class:`Hermitian`, :class:`Prod`, :class:`Sum`."""

    family = "qubit"

    @property
    def wires(self) -> tuple[int, ...]:
        raise NotImplementedError  # pragma: no cover - abstract

    def terms(self) -> list[tuple[float, tuple[Observable, ...]]]:
        """Expand into ``[(coefficient, (factor, ...)), ...]`` with single-wire-set factors."""
        return [(1.0, (self,))]

    def matrix(self, wire_order=None) -> np.ndarray:
        """Dense matrix (numpy, complex128) on ``wire_order`` (default: ``self.wires``)."""
        order = tuple(self.wires if wire_order is None else wire_order)
        total = np.zeros((2 ** len(order),) * 2, dtype=complex)
        for coeff, factors in self.terms():
            total += coeff * _embed_product(factors, order)
        return total

    def is_pauli_word(self) -> bool:
        """True when this is a single product of Pauli operators with coefficient 1."""
        t = self.terms()
        return len(t) == 1 and t[0][0] == 1.0 and all(isinstance(f, Pauli) for f in t[0][1])

    def __matmul__(self, other):
        if not isinstance(other, Observable):
            raise ObservableError(
                f"{self!r} @ {describe(other)}: @ builds tensor products of observables; multiply by a number "
                "with * instead"
            )
        # `*` and `@` bind equally tightly, so `0.5 * Z(0) @ Z(1)` is `(0.5 * Z(0)) @ Z(1)`:
        # distribute products over sums.
        if isinstance(self, Sum):
            return Sum([(c, o @ other) for c, o in self.summands])
        if isinstance(other, Sum):
            return Sum([(c, self @ o) for c, o in other.summands])
        return Prod(self, other)

    def __add__(self, other):
        if isinstance(other, Number) and not isinstance(other, (bool, complex)) and other == 0:
            return self
        if not isinstance(other, Observable):
            raise ObservableError(
                f"cannot add {describe(other)} to the observable {self!r}; add observables, and write a constant "
                "c as c * qphys.I(0)"
            )
        return Sum([(1.0, self), (1.0, other)])

    __radd__ = __add__

    def __sub__(self, other):
        if not isinstance(other, Observable):
            raise ObservableError(
                f"cannot subtract {describe(other)} from the observable {self!r}; subtract observables, and write "
                "a constant c as c * qphys.I(0)"
            )
        return self + (-1.0) * other

    def __rsub__(self, other):
        return (-1.0) * self + other

    def __mul__(self, scalar):
        return Sum([(coefficient(scalar, self), self)])

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        c = coefficient(scalar, self)
        if c == 0:
            raise ObservableError(f"{self!r} / 0: division by zero; divide by a non-zero number")
        return Sum([(1.0 / c, self)])

    def __neg__(self):
        return (-1.0) * self

    def check_wires(self, num_wires: int) -> None:
        """Raise :class:`WireError` if any wire is outside ``range(num_wires)``."""
        for w in self.wires:
            if not 0 <= w < num_wires:
                raise WireError(
                    f"observable {self!r} acts on wire {w}, but the circuit has wires "
                    f"0..{num_wires - 1}; use a wire index below {num_wires}"
                )


def coefficient(value, obs=None) -> float:
    """``value`` as the real coefficient of an observable.

    Raises:
        ObservableError: a complex, boolean, non-numeric or non-finite value (observables are
            Hermitian: their coefficients are finite real numbers).
    """
    what = f" of {obs!r}" if obs is not None else ""
    if isinstance(value, (complex, np.complexfloating)):
        raise ObservableError(
            f"coefficient {value!r}{what} is complex; observables are Hermitian, so coefficients must be real "
            "(for a non-Hermitian combination, measure its Hermitian parts separately)"
        )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Number):
        raise ObservableError(
            f"coefficient {describe(value)}{what} is not a real number; multiply observables by floats "
            "(e.g. 0.5 * qphys.Z(0)), and use float(t) for a 0-d tensor"
        )
    try:
        c = float(value)
    except (OverflowError, TypeError, ValueError):
        raise ObservableError(f"coefficient {describe(value)}{what} is not representable as a float") from None
    if not math.isfinite(c):
        raise ObservableError(f"coefficient {c}{what} is not finite; use a finite real number")
    return c


def _embed_product(factors, order) -> np.ndarray:
    """Kronecker product of ``factors`` (disjoint wires) placed on ``order``."""
    mats = {}
    for f in factors:
        if isinstance(f, Pauli):
            mats[(f.wire,)] = _PAULI[f.name]
        else:
            mats[tuple(f.wires)] = f.numpy_matrix
    n = len(order)
    pos = {w: i for i, w in enumerate(order)}
    full = np.ones((1, 1), dtype=complex)
    covered = []
    for ws, m in mats.items():
        for w in ws:
            if w not in pos:
                raise WireError(f"observable wire {w} is not in wire order {order}")
        full = np.kron(full, m)
        covered.extend(ws)
    rest = [w for w in order if w not in covered]
    full = np.kron(full, np.eye(2 ** len(rest), dtype=complex))
    current = covered + rest
    # permute tensor axes from `current` order to `order`
    t = full.reshape([2] * (2 * n))
    perm = [current.index(w) for w in order]
    t = t.transpose(perm + [p + n for p in perm])
    return t.reshape(2**n, 2**n)


class Pauli(Observable):
    """A single Pauli operator ``X``, ``Y``, ``Z`` or ``I`` on one wire."""

    def __init__(self, name: str, wire: int):
        if not isinstance(name, str) or name not in _PAULI:
            raise ObservableError(f"unknown Pauli {describe(name)}; use one of 'I', 'X', 'Y', 'Z'")
        if not is_integer(wire):
            raise WireError(
                f"Pauli {name}: wire must be an integer (a Python int or numpy integer), got {describe(wire)}; "
                f"e.g. {name}(0)"
            )
        if wire < 0:
            raise WireError(f"Pauli {name}: wire {wire} is negative; wires are numbered 0, 1, 2, ...: use a wire >= 0")
        self.name, self.wire = name, int(wire)

    @property
    def wires(self):
        return (self.wire,)

    @property
    def numpy_matrix(self):
        return _PAULI[self.name]

    def __repr__(self):
        return f"{self.name}({self.wire})"

    def __eq__(self, other):
        return isinstance(other, Pauli) and (self.name, self.wire) == (other.name, other.wire)

    def __hash__(self):
        return hash((self.name, self.wire))


def X(wire: int) -> Pauli:
    """Pauli X on ``wire``."""
    return Pauli("X", wire)


def Y(wire: int) -> Pauli:
    """Pauli Y on ``wire``."""
    return Pauli("Y", wire)


def Z(wire: int) -> Pauli:
    """Pauli Z on ``wire``."""
    return Pauli("Z", wire)


def I(wire: int) -> Pauli:  # noqa: E743 - the conventional name
    """Identity on ``wire``."""
    return Pauli("I", wire)


class Hermitian(Observable):
    """A Hermitian matrix acting on ``wires`` (wire 0 of the list is the most significant bit).

    Raises:
        MatrixError: the matrix is not square of size ``2**len(wires)`` or not Hermitian.
    """

    def __init__(self, matrix, wires):
        wires = index_tuple(wires, what="Hermitian", unit="wire")
        if not wires:
            raise WireError("Hermitian needs at least one wire; e.g. Hermitian(M, wires=[0])")
        if any(w < 0 for w in wires):
            raise WireError(f"Hermitian wires {wires} include a negative wire; wires are numbered 0, 1, 2, ...: use wires >= 0")
        if len(set(wires)) != len(wires):
            raise WireError(f"Hermitian wires {wires} repeat a wire; give each wire once")
        t = numeric_tensor(matrix, what="Hermitian: matrix", error=MatrixError)
        src = t.detach().cpu().numpy()
        m = src.astype(complex)
        d = 2 ** len(wires)
        if m.shape != (d, d):
            raise MatrixError(
                f"Hermitian on {len(wires)} wire(s) needs a {d}x{d} matrix, got shape {m.shape}; give one row and "
                "column per basis state of the wires"
            )
        if not np.all(np.isfinite(m)):
            raise MatrixError("Hermitian matrix has non-finite entries (nan or inf); check how it was computed")
        # the anti-Hermitian part, measured against the matrix's own scale at the input's precision
        # (eps^0.75: ~2e-12 for float64, ~6e-6 for float32): a 1e3 entry is not rounding next to 1e12
        eps = np.finfo(src.dtype).eps if src.dtype.kind in "fc" else np.finfo(float).eps
        scale = max(1.0, float(np.abs(m).max()))
        asym = float(np.abs(m - m.conj().T).max())
        if asym > eps**0.75 * scale:
            raise MatrixError(
                f"Hermitian matrix is not Hermitian (max |M - M^dagger| = {asym:.3g} for entries up to {scale:.3g}); "
                "symmetrize it with (M + M.conj().T) / 2"
            )
        self.numpy_matrix = m
        self._wires = wires

    @property
    def wires(self):
        return self._wires

    def __repr__(self):
        return f"Hermitian(wires={list(self._wires)})"


class Prod(Observable):
    """Tensor product of observables on disjoint wires (``A @ B``)."""

    def __init__(self, *factors: Observable):
        flat: list[Observable] = []
        for f in factors:
            if not isinstance(f, Observable):
                raise ObservableError(f"Prod factors must be observables such as qphys.Z(0), got {describe(f)}")
            flat.extend(f.factors if isinstance(f, Prod) else [f])
        if any(isinstance(f, Sum) for f in flat):
            raise ObservableError("tensor products of sums are not supported; expand the sum first")
        seen: set[int] = set()
        for f in flat:
            if seen & set(f.wires):
                raise WireError(
                    f"tensor product {' @ '.join(map(repr, flat))} uses wire(s) "
                    f"{sorted(seen & set(f.wires))} twice; factors must act on different wires"
                )
            seen |= set(f.wires)
        self.factors = tuple(flat)

    @property
    def wires(self):
        return tuple(w for f in self.factors for w in f.wires)

    def terms(self):
        return [(1.0, self.factors)]

    def __repr__(self):
        return " @ ".join(map(repr, self.factors))


class Sum(Observable):
    """Linear combination ``Σ c_k O_k`` with real coefficients."""

    def __init__(self, terms):
        flat: list[tuple[float, Observable]] = []
        try:
            items = list(terms)
        except TypeError:
            raise ObservableError(f"Sum needs a list of (coefficient, observable) pairs, got {describe(terms)}") from None
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ObservableError(f"Sum needs (coefficient, observable) pairs, got {describe(item)}")
            c, o = item
            c = coefficient(c)
            if not isinstance(o, Observable):
                raise ObservableError(f"Sum terms must be observables such as qphys.Z(0), got {describe(o)}")
            if isinstance(o, Sum):
                flat.extend((c * c2, o2) for c2, o2 in o.summands)
            else:
                flat.append((float(c), o))
        self.summands = tuple(flat)

    @property
    def wires(self):
        out: list[int] = []
        for _, o in self.summands:
            out.extend(w for w in o.wires if w not in out)
        return tuple(out)

    def terms(self):
        out = []
        for c, o in self.summands:
            out.extend((c * c2, f) for c2, f in o.terms())
        return out

    def __repr__(self):
        return " + ".join(f"{c}*({o!r})" for c, o in self.summands)


def pauli_word_string(factors, wire_order) -> str:
    """``'XIZ'``-style label of a Pauli product on ``wire_order`` (wire 0 leftmost)."""
    label = {w: "I" for w in wire_order}
    for f in factors:
        label[f.wire] = f.name
    return "".join(label[w] for w in wire_order)


def eigvals_and_rotation(factor: Observable):
    """Eigenvalues and the unitary rotating ``factor``'s eigenbasis to the computational basis.

    Returns ``(eigvals, U)`` as numpy arrays such that ``U @ M @ U^dagger = diag(eigvals)``.
    """
    m = factor.numpy_matrix
    if isinstance(factor, Pauli):
        rot = {
            "I": np.eye(2),
            "Z": np.eye(2),
            "X": np.array([[1, 1], [1, -1]]) / math.sqrt(2),
            "Y": np.array([[1, -1j], [1, 1j]]) / math.sqrt(2),
        }[factor.name].astype(complex)
        ev = np.array([1.0, 1.0]) if factor.name == "I" else np.array([1.0, -1.0])
        return ev, rot
    ev, vecs = np.linalg.eigh(m)
    return ev, vecs.conj().T


def product_matrix(factors) -> np.ndarray:
    """Dense matrix of a product of factors on the wires in the factors' own order."""
    return reduce(np.kron, [f.numpy_matrix for f in factors])


__all__ = ["Observable", "Pauli", "Hermitian", "Prod", "Sum", "X", "Y", "Z", "I"]
