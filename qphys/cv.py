"""Continuous-variable observables: quadratures, photon numbers and quadratic forms (hbar = 2).

Every CV observable here is a polynomial of degree <= 2 in the quadratures
``r = (x_{m_1}, ..., x_{m_k}, p_{m_1}, ..., p_{m_k})`` of its modes (``xxpp`` order), written in
symmetric (Weyl) order::

    O = r^T A r + d^T r + k,        A symmetric.

With hbar = 2, ``x = a + a^dagger`` and ``p = -i (a - a^dagger)``; the number operator is
``n = (x^2 + p^2) / 4 - 1/2``. Linear combinations of CV observables stay CV observables
(``0.5 * X(0) + N(1)``), so devices need only one evaluator. Products (``@``) of CV observables
are not quadratic in general and are rejected.

Examples:
    >>> import qphys
    >>> from qphys import cv
    >>> c = qphys.Circuit(modes=1).displacement(0.5, 0.0, 0).expval(cv.X(0)).expval(cv.N(0))
    >>> r = qphys.execute(c, qphys.device("torch.gaussian"))
    >>> [round(float(v), 6) for v in r.expvals]
    [1.0, 0.25]
"""

from __future__ import annotations

import hashlib
import math
from numbers import Number

import numpy as np

from qphys._validate import describe, index_tuple, is_integer, numeric_tensor, real_number
from qphys.errors import ObservableError, WireError
from qphys.observables import Observable, coefficient

HBAR = 2.0


class CVObservable(Observable):
    """A quadratic polynomial ``r^T A r + d^T r + k`` in the quadratures of ``modes``.

    Args:
        A: ``(2k, 2k)`` real symmetric matrix in ``xxpp`` order over ``modes`` (or ``None``).
        d: ``(2k,)`` real vector (or ``None``).
        k: real constant.
        modes: the modes, in the order the ``x`` and ``p`` blocks use.
        kind: ``"X"``, ``"P"``, ``"Quad"``, ``"N"`` or ``"PolyXP"`` (devices may use it to call
            a specialised routine).
        phi: the quadrature angle of a ``"Quad"`` observable.

    Raises:
        ObservableError: wrong shapes, non-symmetric or non-finite coefficients.
        WireError: negative or repeated modes.
    """

    family = "cv"

    def __init__(self, A=None, d=None, k=0.0, *, modes, kind: str = "PolyXP", phi: float | None = None):
        modes = index_tuple(modes, what="CV observable", unit="mode")
        if not modes:
            raise WireError("CV observable needs at least one mode; e.g. modes=[0]")
        for m in modes:
            if m < 0:
                raise WireError(f"CV observable: mode {m} is negative; modes are numbered 0, 1, 2, ...: use a mode >= 0")
        if len(set(modes)) != len(modes):
            raise WireError(f"CV observable: modes {modes} repeat a mode; give each mode once")
        n = 2 * len(modes)
        A = np.zeros((n, n)) if A is None else _real_array(A, "A")
        d = np.zeros(n) if d is None else _real_array(d, "d")
        if A.shape != (n, n):
            raise ObservableError(
                f"quadratic form on {len(modes)} mode(s) needs A of shape ({n}, {n}) in xxpp "
                f"order, got {A.shape}"
            )
        if d.shape != (n,):
            raise ObservableError(f"quadratic form on {len(modes)} mode(s) needs d of shape ({n},), got {d.shape}")
        if not np.allclose(A, A.T, rtol=0.0, atol=1e-12 * max(1.0, float(np.abs(A).max(initial=0.0)))):
            raise ObservableError("quadratic form: A must be symmetric; use (A + A.T) / 2")
        k = real_number(k, what="quadratic form: constant k", error=ObservableError)
        self.A, self.d, self.k = A, d, float(k)
        self.modes = modes
        self.kind, self.phi = kind, phi

    # ---- Observable interface --------------------------------------------------------------
    @property
    def wires(self):
        return self.modes

    @property
    def name(self) -> str:
        """A label that changes with the coefficients (used in structure hashes)."""
        h = hashlib.sha256(self.A.tobytes() + self.d.tobytes() + repr(self.k).encode()).hexdigest()[:10]
        return f"{self.kind}[{h}]"

    @property
    def wire(self):
        return self.modes

    @property
    def order(self) -> int:
        """Degree of the polynomial (0, 1 or 2)."""
        if np.any(self.A != 0):
            return 2
        return 1 if np.any(self.d != 0) else 0

    def matrix(self, wire_order=None):
        raise ObservableError(
            f"{self!r} is a continuous-variable observable and has no finite matrix; evaluate it "
            "on a CV device (torch.fock, torch.gaussian, sf.*)"
        )

    def check_wires(self, num_wires: int) -> None:
        for m in self.modes:
            if not 0 <= m < num_wires:
                raise WireError(
                    f"observable {self!r} acts on mode {m}, but the circuit has modes "
                    f"0..{num_wires - 1}; use a mode index below {num_wires}"
                )

    def __repr__(self):
        if self.kind in ("X", "P", "N"):
            return f"{self.kind}({self.modes[0]})"
        if self.kind == "Quad":
            return f"Quad({self.modes[0]}, phi={self.phi})"
        return f"PolyXP(modes={list(self.modes)})"

    # ---- algebra ------------------------------------------------------------------------------
    def on_modes(self, modes) -> tuple[np.ndarray, np.ndarray, float]:
        """``(A, d, k)`` embedded on ``modes`` (a superset of ``self.modes``), xxpp order."""
        modes = tuple(modes)
        n, k_ = len(modes), len(self.modes)
        idx = [modes.index(m) for m in self.modes]
        rows = idx + [i + n for i in idx]
        A = np.zeros((2 * n, 2 * n))
        d = np.zeros(2 * n)
        A[np.ix_(rows, rows)] = self.A
        d[rows] = self.d
        assert len(rows) == 2 * k_
        return A, d, self.k

    def __add__(self, other):
        if isinstance(other, Number) and not isinstance(other, (bool, np.bool_)):
            return CVObservable(self.A, self.d, self.k + coefficient(other, self), modes=self.modes)
        if not isinstance(other, CVObservable):
            if isinstance(other, Observable):
                raise ObservableError(
                    f"cannot add CV observable {self!r} and qubit observable {other!r}; a circuit measures one family"
                )
            raise ObservableError(
                f"cannot add {describe(other)} to the CV observable {self!r}; add CV observables or real constants"
            )
        modes = tuple(self.modes) + tuple(m for m in other.modes if m not in self.modes)
        A1, d1, k1 = self.on_modes(modes)
        A2, d2, k2 = other.on_modes(modes)
        return CVObservable(A1 + A2, d1 + d2, k1 + k2, modes=modes)

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-1.0) * other

    def __rsub__(self, other):
        return (-1.0) * self + other

    def __mul__(self, scalar):
        s = coefficient(scalar, self)
        if s == 1.0:
            return self
        return CVObservable(s * self.A, s * self.d, s * self.k, modes=self.modes)

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        s = coefficient(scalar, self)
        if s == 0:
            raise ObservableError(f"{self!r} / 0: division by zero; divide by a non-zero number")
        return self * (1.0 / s)

    def __neg__(self):
        return (-1.0) * self

    def __matmul__(self, other):
        raise ObservableError(
            "products (@) of CV observables are not quadratic in the quadratures; write the "
            "quadratic form directly with qphys.cv.PolyXP(A, modes=...)"
        )

    __rmatmul__ = __matmul__


def _real_array(x, what):
    arr = numeric_tensor(x, what=f"quadratic form: {what}", error=ObservableError).detach().cpu().numpy()
    if np.iscomplexobj(arr):
        if np.any(np.imag(arr) != 0):
            raise ObservableError(f"quadratic form: {what} must be real; pass its real part")
        arr = np.real(arr)
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ObservableError(f"quadratic form: {what} has non-finite entries; check how it was computed")
    return arr


def _mode(mode):
    if not is_integer(mode):
        raise WireError(f"mode must be an integer (a Python int or numpy integer), got {describe(mode)}; e.g. X(0)")
    if mode < 0:
        raise WireError(f"mode {mode} is negative; modes are numbered 0, 1, 2, ...: use a mode >= 0")
    return int(mode)


def X(mode: int) -> CVObservable:
    """Position quadrature ``x = a + a^dagger`` (hbar = 2) of ``mode``.

    Examples:
        >>> X(0)
        X(0)
    """
    return CVObservable(d=[1.0, 0.0], modes=(_mode(mode),), kind="X", phi=0.0)


def P(mode: int) -> CVObservable:
    """Momentum quadrature ``p = -i (a - a^dagger)`` (hbar = 2) of ``mode``.

    Examples:
        >>> P(1)
        P(1)
    """
    return CVObservable(d=[0.0, 1.0], modes=(_mode(mode),), kind="P", phi=math.pi / 2)


def quad(mode: int, phi: float) -> CVObservable:
    """Rotated quadrature ``x cos(phi) + p sin(phi)`` of ``mode`` (what homodyne measures).

    Examples:
        >>> quad(0, 0.3)
        Quad(0, phi=0.3)
    """
    phi = real_number(phi, what="quad: phi", error=ObservableError)
    return CVObservable(d=[math.cos(phi), math.sin(phi)], modes=(_mode(mode),), kind="Quad", phi=phi)


def N(mode: int) -> CVObservable:
    """Photon number ``a^dagger a = (x^2 + p^2) / 4 - 1/2`` of ``mode``.

    Examples:
        >>> N(0)
        N(0)
    """
    q = 1.0 / (2 * HBAR)
    return CVObservable(A=np.diag([q, q]), k=-0.5, modes=(_mode(mode),), kind="N")


def PolyXP(A=None, d=None, k: float = 0.0, *, modes) -> CVObservable:
    """The quadratic form ``r^T A r + d^T r + k`` with ``r = (x_modes..., p_modes...)``.

    ``A`` must be symmetric; the operator is taken in symmetric (Weyl) order, so
    ``r^T A r`` with ``A = [[0, 1/2], [1/2, 0]]`` is ``(x p + p x) / 2``.

    Examples:
        >>> import numpy as np
        >>> PolyXP(np.eye(2), modes=[0])  # x^2 + p^2 = 4 n + 2
        PolyXP(modes=[0])
    """
    return CVObservable(A, d, k, modes=modes, kind="PolyXP")


quadratic_form = PolyXP

__all__ = ["CVObservable", "X", "P", "N", "quad", "PolyXP", "quadratic_form", "HBAR"]
