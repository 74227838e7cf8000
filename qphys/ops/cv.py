"""Continuous-variable (photonic) operations with Strawberry Fields' definitions, hbar = 2.

Gates (``a`` is the annihilation operator of a mode, ``n = a^dagger a``):

- ``displacement(r, phi)``: ``D(alpha) = exp(alpha a^dagger - alpha^* a)``, ``alpha = r e^{i phi}``;
- ``squeezing(r, phi)``: ``S(z) = exp((z^* a^2 - z a^{dagger 2}) / 2)``, ``z = r e^{i phi}``;
- ``rotation(theta)``: ``R(theta) = exp(i theta n)``;
- ``beamsplitter(theta, phi)``: ``BS = exp(theta (e^{i phi} a_1 a_2^dagger - e^{-i phi} a_1^dagger a_2))``;
- ``two_mode_squeezing(r, phi)``: ``S_2(z) = exp(z a_1^dagger a_2^dagger - z^* a_1 a_2)``;
- ``kerr(kappa)``: ``exp(i kappa n^2)``; ``cross_kerr(kappa)``: ``exp(i kappa n_1 n_2)``;
- ``cubic_phase(gamma)``: ``V(gamma) = exp(i gamma x^3 / (3 hbar))``;
- ``interferometer(U)``: the passive linear-optical unitary acting as ``a_i -> sum_j U_ij a_j``,
  decomposed with Clements et al.'s rectangular mesh (:func:`clements`) where a simulator needs
  gates.

The Gaussian gates carry parameter-shift rules that are *exact* when the gate is followed only by
Gaussian gates and the circuit measures expectation values of observables of degree <= 2 in the
quadratures (``qphys.cv.X``, ``P``, ``N``, quadratic forms): the Heisenberg-picture observable
is then a quadratic polynomial in the quadratures, so the expectation is a trigonometric (angles)
or hyperbolic (squeezing magnitudes) polynomial of degree 2, or a quadratic polynomial
(displacement magnitude), in the parameter. Each spec's ``shift_condition`` checks that
requirement, so the generic parameter-shift code falls back to finite differences otherwise.

The Clements decomposition is hand-written (some 60 lines of numpy) because the only maintained
implementation is inside Strawberry Fields, which the core may not import.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qphys.errors import MatrixError
from qphys.ops.spec import OpSpec, dagger_of_matrix, get_spec, negated, register, registered_names

# ---- shift rules ----------------------------------------------------------------------------
_C1 = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
_C2 = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
#: exact for trigonometric polynomials of degree 2 (frequencies 1 and 2)
TRIG_FOUR_TERM = (
    (2 * _C1, math.pi / 4), (-2 * _C1, -math.pi / 4), (-2 * _C2, 3 * math.pi / 4), (2 * _C2, -3 * math.pi / 4),
)


def _hyperbolic_rule(s1: float = 0.1, s2: float = 0.2):
    """Shift rule exact for ``f(r)`` in span{1, e^{+-r}, e^{+-2r}} (squeezing magnitudes)."""
    m = np.array([[2 * math.sinh(s1), 2 * math.sinh(s2)], [2 * math.sinh(2 * s1), 2 * math.sinh(2 * s2)]])
    c1, c2 = np.linalg.solve(m, np.array([1.0, 2.0]))
    return ((float(c1), s1), (float(-c1), -s1), (float(c2), s2), (float(-c2), -s2))


#: exact for f(r) = a + b e^{r} + c e^{-r} + d e^{2r} + e e^{-2r}
HYPERBOLIC_FOUR_TERM = _hyperbolic_rule()
_DISP_SHIFT = 0.1
#: exact for quadratic polynomials (displacement magnitude)
QUADRATIC_TWO_TERM = ((0.5 / _DISP_SHIFT, _DISP_SHIFT), (-0.5 / _DISP_SHIFT, -_DISP_SHIFT))


def gaussian_shift_condition(circuit, op_index: int) -> str | None:
    """``None`` when the Gaussian shift rules are exact for operation ``op_index`` of ``circuit``.

    Otherwise a sentence saying why not (a later non-Gaussian gate, or a measurement that is not
    the expectation of a degree-<=2 quadrature observable).
    """
    later = [op.name for op in circuit.operations[op_index + 1:] if not op.spec.gaussian]
    if later:
        return (
            f"non-Gaussian gate(s) {', '.join(sorted(set(later)))} follow it, so the Heisenberg "
            "observable is not quadratic"
        )
    for m in circuit.measurements:
        if m.kind in ("homodyne", "state", "sample", "counts"):
            continue
        if m.kind != "expval" or getattr(m.obs, "family", None) != "cv":
            return f"the circuit measures {m.kind!r}, which has no exact CV shift rule"
    return None


_M1, _M2 = ("mode",), ("m1", "m2")
_SPECS = {
    # name: (modes, parameter names, gaussian, recipe, index of the parameter negated by the inverse)
    "displacement": (_M1, ("r", "phi"), True, (QUADRATIC_TWO_TERM, TRIG_FOUR_TERM), 0),
    "squeezing": (_M1, ("r", "phi"), True, (HYPERBOLIC_FOUR_TERM, TRIG_FOUR_TERM), 0),
    "rotation": (_M1, ("theta",), True, (TRIG_FOUR_TERM,), 0),
    "beamsplitter": (_M2, ("theta", "phi"), True, (TRIG_FOUR_TERM, TRIG_FOUR_TERM), 0),
    "two_mode_squeezing": (_M2, ("r", "phi"), True, (HYPERBOLIC_FOUR_TERM, TRIG_FOUR_TERM), 0),
    "kerr": (_M1, ("kappa",), False, None, 0),
    "cross_kerr": (_M2, ("kappa",), False, None, 0),
    "cubic_phase": (_M1, ("gamma",), False, None, 0),
}

_TWO_PI = 2 * math.pi
#: Periods of the parameters (``None``: not periodic). Angles and phases enter as ``e^{i k θ}``
#: with integer ``k`` (photon numbers and their products), so ``2π``; amplitudes do not repeat.
_PERIODS = {
    "displacement": (None, _TWO_PI),
    "squeezing": (None, _TWO_PI),
    "rotation": (_TWO_PI,),
    "beamsplitter": (_TWO_PI, _TWO_PI),
    "two_mode_squeezing": (None, _TWO_PI),
    "kerr": (_TWO_PI,),
    "cross_kerr": (_TWO_PI,),
    "cubic_phase": (None,),
}

for _name, (_modes, _pnames, _g, _rec, _neg) in _SPECS.items():
    register(
        OpSpec(
            _name, "cv", len(_modes), len(_pnames), gaussian=_g, grad_recipe=_rec,
            shift_condition=gaussian_shift_condition if _rec is not None else None,
            param_names=_pnames, wire_names=_modes, inverse=negated(_name, (_neg,)),
            periods=_PERIODS[_name],
        )
    )
register(OpSpec("interferometer", "cv", None, 1, matrix_param=True, gaussian=True, param_names=("U",),
                wire_names=("modes",), inverse=dagger_of_matrix("interferometer"), also_in=("linear_optics",)))

#: Names of every CV operation (from the registry).
CV_GATES = tuple(registered_names("cv"))
#: The Gaussian ones (``torch.gaussian`` runs exactly these).
GAUSSIAN_GATES = tuple(n for n in CV_GATES if get_spec(n).gaussian)
NON_GAUSSIAN_GATES = tuple(n for n in CV_GATES if not get_spec(n).gaussian)


def non_gaussian_gates(circuit) -> list[str]:
    """Sorted names of the non-Gaussian gates ``circuit`` uses (for Gaussian-only devices)."""
    return sorted({op.name for op in getattr(circuit, "operations", ()) if op.name in NON_GAUSSIAN_GATES})


# ---- Clements decomposition -------------------------------------------------------------------
def check_unitary(U, *, what: str = "interferometer") -> np.ndarray:
    """``U`` as a complex128 numpy array, validated square and unitary.

    Raises:
        MatrixError: not square, non-finite, or not unitary (``max |U U^dagger - I| > 1e-7``).
    """
    if torch.is_tensor(U):
        U = U.detach().cpu().numpy()
    u = np.asarray(U, dtype=complex)
    if u.ndim != 2 or u.shape[0] != u.shape[1]:
        raise MatrixError(f"{what}: needs a square M x M matrix, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise MatrixError(f"{what}: matrix has non-finite entries (nan or inf); check how it was computed")
    err = float(np.abs(u @ u.conj().T - np.eye(len(u))).max())
    if err > 1e-7:
        raise MatrixError(
            f"{what}: matrix is not unitary (max |U U^dagger - I| = {err:.2e}); a passive "
            "linear-optical network must be unitary; orthonormalize it (e.g. with a QR "
            "decomposition) or use qphys.templates.clements_interferometer with angles"
        )
    return u


def _t_matrix(n, m, theta, phi):
    t = np.eye(n, dtype=complex)
    t[m, m] = np.exp(1j * phi) * np.cos(theta)
    t[m, m + 1] = -np.sin(theta)
    t[m + 1, m] = np.exp(1j * phi) * np.sin(theta)
    t[m + 1, m + 1] = np.cos(theta)
    return t


def clements(U) -> tuple[list[tuple[int, float, float]], np.ndarray]:
    """Clements et al. (Optica 3, 1460, 2016) rectangular decomposition of a unitary.

    Returns ``(mesh, phases)``: ``mesh`` is a list of ``(m, theta, phi)`` such that applying, in
    order, ``rotation(phi, m)`` then ``beamsplitter(theta, 0, m, m + 1)`` for every entry and
    finally ``rotation(angle(phases[k]), k)`` on every mode implements ``U`` (mode operators
    ``a_i -> sum_j U_ij a_j``). ``T(theta, phi) = BS(theta, 0) R_m(phi)`` has the 2x2 block
    ``[[e^{i phi} cos(theta), -sin(theta)], [e^{i phi} sin(theta), cos(theta)]]``.

    Raises:
        MatrixError: ``U`` is not unitary.

    Examples:
        >>> import numpy as np
        >>> mesh, phases = clements(np.eye(3))
        >>> len(mesh)
        3
    """
    V = check_unitary(U).copy()
    n = len(V)
    left, right = [], []
    for i in range(n - 1):
        if i % 2 == 0:
            for j in range(i + 1):
                r, c = n - 1 - j, i - j  # null V[r, c] with T^-1 on columns (c, c+1)
                a, b = V[r, c], V[r, c + 1]
                theta = math.atan2(abs(a), abs(b))
                phi = float(np.angle(a) - np.angle(b)) if abs(a) > 1e-15 else 0.0
                V = V @ _t_matrix(n, c, theta, phi).conj().T
                right.append((c, theta, phi))
        else:
            for j in range(1, i + 2):
                r, c = n + j - i - 2, j - 1  # null V[r, c] with T on rows (r-1, r)
                a, b = V[r, c], V[r - 1, c]
                theta = math.atan2(abs(a), abs(b))
                phi = float(math.pi + np.angle(a) - np.angle(b)) if abs(a) > 1e-15 else 0.0
                V = _t_matrix(n, r - 1, theta, phi) @ V
                left.append((r - 1, theta, phi))
    # now L_k ... L_1 U R_1^dag ... R_m^dag = D, so U = L_1^dag ... L_k^dag D R_m ... R_1;
    # move every L^dag through D: T(theta, phi)^dag D = D' T(theta, phi')
    d = np.diag(V).copy()
    moved = []
    for m, theta, phi in reversed(left):
        psi1, psi2 = np.angle(d[m]), np.angle(d[m + 1])
        new_phi = psi1 - psi2 + math.pi
        d[m] = np.exp(1j * (psi2 - phi - math.pi)) * abs(d[m])
        d[m + 1] = np.exp(1j * psi2) * abs(d[m + 1])
        moved.append((m, theta, float(new_phi)))
    # U = D' T'_1 ... T'_k R_m ... R_1: applied first are R_1..R_m, then T'_k..T'_1 (= moved)
    mesh = list(right) + moved
    return mesh, d


def interferometer_matrix(mesh, phases, n: int) -> np.ndarray:
    """The unitary a Clements ``mesh`` plus final ``phases`` implements (for checks)."""
    u = np.eye(n, dtype=complex)
    for m, theta, phi in mesh:
        u = _t_matrix(n, m, theta, phi) @ u
    return np.diag(phases) @ u


__all__ = [
    "clements", "interferometer_matrix", "check_unitary", "CV_GATES", "GAUSSIAN_GATES",
    "NON_GAUSSIAN_GATES", "non_gaussian_gates", "gaussian_shift_condition",
]
