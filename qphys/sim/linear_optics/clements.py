"""Rectangular (Clements) meshes of Mach-Zehnder interferometers in Perceval's conventions.

Clements et al., "Optimal design for universal multiport interferometers", Optica 3, 1460 (2016):
any ``m x m`` unitary is a rectangular mesh of ``m (m - 1) / 2`` MZIs in ``m`` columns followed by
one phase shifter per mode. Here an MZI is Perceval's ``"mzi phase first"`` (see
:mod:`qphys.sim.linear_optics.components`): ``PS(phi_a)`` on the top mode, ``BS()``, ``PS(phi_b)`` on
the top mode, ``BS()``, and the output phases are ``PS(phase_k)`` on every mode ``k``, so a mesh
converts one to one into a Perceval circuit (and into the phase-2 circuit family).

**Layout.** Column ``c`` (``0 <= c < m``) holds the MZIs on modes ``(k, k + 1)`` for
``k = c % 2, c % 2 + 2, ...`` with ``k + 1 < m``. Parameters are listed column by column, top to
bottom (:func:`mesh_modes`), so ``phi_a[..., q]`` and ``phi_b[..., q]`` belong to the ``q``-th MZI
of that order.

The decomposition is hand-written numpy (about 50 lines): Perceval's own
``Circuit.decomposition`` is a numerical optimisation (slow, approximate), Strawberry Fields'
``decompositions.rectangular`` uses another MZI convention and lives in an archived package the
core may not import, and the maintained ``interferometer`` packages found on PyPI are not
installed here; ``qphys.ops.cv.clements`` is the same algorithm for Strawberry Fields' CV
beamsplitter convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from qphys.errors import MatrixError, ParameterError
from qphys.sim.linear_optics.components import Component, mzi_matrix, ps, ps_matrix

#: tolerance of the unitarity check on the input of :func:`clements_decomposition`
UNITARY_ATOL = 1e-8


@lru_cache(maxsize=64)
def _mesh_layout(m: int) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(range(c % 2, m - 1, 2)) for c in range(m))


def mesh_modes(m: int) -> list[int]:
    """Top mode of every MZI of the ``m``-mode rectangular mesh, in parameter order.

    Examples:
        >>> mesh_modes(4)
        [0, 2, 1, 0, 2, 1]
    """
    return [k for column in _mesh_layout(m) for k in column]


def num_mzis(m: int) -> int:
    """``m (m - 1) / 2``, the number of MZIs in a universal ``m``-mode mesh."""
    return m * (m - 1) // 2


@dataclass(frozen=True)
class ClementsMesh:
    """Angles of a rectangular MZI mesh plus output phases (numpy float64, radians).

    Attributes:
        phi_a: ``(m (m - 1) / 2,)`` first (input) phase of each MZI, in :func:`mesh_modes` order.
        phi_b: ``(m (m - 1) / 2,)`` internal phase of each MZI.
        phases: ``(m,)`` output phase shifters.
    """

    phi_a: np.ndarray
    phi_b: np.ndarray
    phases: np.ndarray

    @property
    def modes(self) -> int:
        return len(self.phases)

    def components(self) -> list[Component]:
        """The mesh as components (MZIs column by column, then the output phases)."""
        from qphys.sim.linear_optics.components import mzi

        comps = [mzi(k, float(a), float(b)) for k, a, b in zip(mesh_modes(self.modes), self.phi_a, self.phi_b)]
        return comps + [ps(float(p), k) for k, p in enumerate(self.phases)]


def _check_unitary(U) -> np.ndarray:
    u = U.detach().cpu().numpy() if torch.is_tensor(U) else np.asarray(U)
    u = u.astype(np.complex128)
    if u.ndim != 2 or u.shape[0] != u.shape[1] or u.shape[0] == 0:
        raise MatrixError(f"Clements decomposition needs a square (m, m) matrix, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise MatrixError("Clements decomposition: the matrix has non-finite entries (nan or inf)")
    err = float(np.abs(u @ u.conj().T - np.eye(len(u))).max())
    if err > UNITARY_ATOL:
        raise MatrixError(
            f"Clements decomposition needs a unitary matrix, but max |U U^dagger - I| = {err:.2e} "
            f"> {UNITARY_ATOL:g}; orthonormalise it first (e.g. the Q of a QR decomposition)"
        )
    return u


def _mzi_np(a: float, b: float) -> np.ndarray:
    s, c = math.sin(b / 2), math.cos(b / 2)
    ea = complex(math.cos(a), math.sin(a))
    return 1j * complex(math.cos(b / 2), math.sin(b / 2)) * np.array([[ea * s, c], [ea * c, -s]])


def _wrap(x: float) -> float:
    """``x`` in ``[0, 2 pi)`` (``%`` alone returns ``2 pi`` for tiny negative ``x``)."""
    r = float(x % (2 * math.pi))
    return 0.0 if r >= 2 * math.pi else r


def clements_decomposition(U) -> ClementsMesh:
    """Decompose a unitary into the rectangular MZI mesh of :func:`mesh_unitary`.

    Nulls the lower triangle of ``U`` alternately with MZIs acting on columns from the right and
    on rows from the left (Clements et al., Sec. 2), then moves the left ones through the diagonal
    that remains: ``M(a, b)^dagger diag(d1, d2) = diag(-e^{-i(a+b)} d2, -e^{-ib} d2) M(arg d1 - arg d2, b)``.

    Args:
        U: ``(m, m)`` unitary (numpy or torch), ``U[out, in]``.

    Returns:
        The mesh; ``mesh_unitary(mesh.phi_a, mesh.phi_b, mesh.phases)`` reproduces ``U``.

    Raises:
        MatrixError: ``U`` is not square, finite and unitary (to 1e-8).

    Examples:
        >>> from scipy.stats import unitary_group
        >>> U = unitary_group.rvs(5, random_state=1)
        >>> mesh = clements_decomposition(U)
        >>> V = mesh_unitary(torch.tensor(mesh.phi_a), torch.tensor(mesh.phi_b), torch.tensor(mesh.phases))
        >>> bool(np.abs(V.numpy() - U).max() < 1e-12)
        True
    """
    V = _check_unitary(U).copy()
    m = len(V)
    right: list[tuple[int, float, float]] = []
    left: list[tuple[int, float, float]] = []
    for i in range(m - 1):
        if i % 2 == 0:
            for j in range(i + 1):
                r, c = m - 1 - j, i - j  # null V[r, c]: V <- V M^dagger on columns (c, c + 1)
                x, y = V[r, c], V[r, c + 1]
                b = 2 * math.atan2(abs(y), abs(x))
                a = float(np.angle(x) - np.angle(y) + math.pi) if abs(x) > 0 and abs(y) > 0 else 0.0
                V[:, c : c + 2] = V[:, c : c + 2] @ _mzi_np(a, b).conj().T
                right.append((c, a, b))
        else:
            for j in range(1, i + 2):
                r, c = m + j - i - 2, j - 1  # null V[r, c]: V <- M V on rows (r - 1, r)
                u, v = V[r - 1, c], V[r, c]
                b = 2 * math.atan2(abs(u), abs(v))
                a = float(np.angle(v) - np.angle(u)) if abs(u) > 0 and abs(v) > 0 else 0.0
                V[r - 1 : r + 1, :] = _mzi_np(a, b) @ V[r - 1 : r + 1, :]
                left.append((r - 1, a, b))
    # L_K ... L_1 U R_1^dag ... R_Q^dag = D  =>  U = L_1^dag ... L_K^dag D R_Q ... R_1
    d = np.diag(V).copy()
    moved = []
    for k, a, b in reversed(left):
        d1, d2 = d[k], d[k + 1]
        new_a = float(np.angle(d1) - np.angle(d2))
        d[k] = -np.exp(-1j * (a + b)) * d2
        d[k + 1] = -np.exp(-1j * b) * d2
        moved.append((k, new_a, b))
    sequence = right + moved  # application order: R_1 .. R_Q, then the moved L's
    # place the sequence in the canonical column-by-column order: the q-th MZI on pair k of the
    # sequence is the q-th MZI on pair k of the layout (MZIs on one pair keep their order)
    slots: dict[int, list[int]] = {}
    for q, k in enumerate(mesh_modes(m)):
        slots.setdefault(k, []).append(q)
    phi_a = np.zeros(num_mzis(m))
    phi_b = np.zeros(num_mzis(m))
    taken = {k: 0 for k in slots}
    for k, a, b in sequence:
        q = slots[k][taken[k]]
        taken[k] += 1
        phi_a[q], phi_b[q] = _wrap(a), _wrap(b)
    return ClementsMesh(phi_a, phi_b, np.array([_wrap(float(np.angle(x))) for x in d]))


def mesh_unitary(phi_a, phi_b, phases=None, *, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The unitary of a rectangular MZI mesh, batched and differentiable.

    Args:
        phi_a, phi_b: ``(M,)`` or ``(B, M)`` real tensors, ``M = m (m - 1) / 2``, in
            :func:`mesh_modes` order.
        phases: ``(m,)`` or ``(B, m)`` output phases (``None``: no output phase layer).
        dtype: complex64 or complex128.

    Returns:
        ``(m, m)`` for unbatched angles, else ``(B, m, m)``. One batched ``matmul`` per column.

    Raises:
        ParameterError: ``M`` is not a triangular number ``m (m - 1) / 2`` with ``m >= 2``, or the
            shapes of the three arguments disagree.

    Examples:
        >>> U = mesh_unitary(torch.zeros(3), torch.full((3,), math.pi))  # every MZI straight
        >>> U.abs().round(decimals=6)
        tensor([[1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.]], dtype=torch.float64)
    """
    phi_a, phi_b = torch.as_tensor(phi_a), torch.as_tensor(phi_b)
    if phi_a.shape != phi_b.shape or phi_a.ndim not in (1, 2):
        raise ParameterError(
            f"phi_a and phi_b must both be (M,) or (B, M), got {tuple(phi_a.shape)} and {tuple(phi_b.shape)}"
        )
    count = phi_a.shape[-1]
    m = (1 + math.isqrt(1 + 8 * count)) // 2
    if m < 2 or num_mzis(m) != count:
        raise ParameterError(
            f"a rectangular mesh has m (m - 1) / 2 MZIs (1, 3, 6, 10, ...), got {count} angles"
        )
    batched = phi_a.ndim == 2
    a = phi_a if batched else phi_a.unsqueeze(0)
    b = phi_b if batched else phi_b.unsqueeze(0)
    blocks = mzi_matrix(a, b, dtype=dtype, device=a.device)  # (B, M, 2, 2)
    batch = blocks.shape[0]
    U = torch.eye(m, dtype=dtype, device=a.device).expand(batch, m, m)
    start = 0
    for column in _mesh_layout(m):
        if not column:
            continue
        p, top = len(column), column[0]
        block = blocks[:, start : start + p]
        start += p
        mid = U[:, top : top + 2 * p].reshape(batch, p, 2, m)
        mid = torch.matmul(block, mid).reshape(batch, 2 * p, m)
        U = torch.cat([U[:, :top], mid, U[:, top + 2 * p :]], dim=1)
    if phases is not None:
        phases = torch.as_tensor(phases, device=a.device)
        if phases.shape[-1] != m or phases.ndim > 2:
            raise ParameterError(f"phases must be (m,) or (B, m) with m = {m}, got {tuple(phases.shape)}")
        U = ps_matrix(phases, dtype=dtype, device=a.device).reshape(*phases.shape, 1) * U
        batched = batched or phases.ndim == 2
    return U if batched else U[0]


__all__ = ["ClementsMesh", "clements_decomposition", "mesh_unitary", "mesh_modes", "num_mzis"]
