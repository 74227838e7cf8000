"""Linear-optical components in Perceval's conventions, and the interferometer unitary they build.

The matrices are defined once, with the operations, in :mod:`qphys.ops.linear_optics`.

Every matrix acts on mode creation operators as ``a_j^dagger -> sum_i U[i, j] a_i^dagger``
(``U[out, in]``), which is what Perceval's ``Circuit.compute_unitary()`` returns; a component
placed after another multiplies from the left (Perceval's ``c // A // B`` has ``U = U_B @ U_A``).

- ``PS(phi)``, a phase shifter on one mode: ``[[exp(i phi)]]`` (Perceval's ``PS(phi)``).
- ``BS(theta, phi_tl, phi_bl, phi_tr, phi_br)``, a beam splitter on two modes (Perceval's
  ``BS``; the default ``theta = pi/2`` is 50:50, the default convention is ``Rx``). With
  ``c = cos(theta/2)``, ``s = sin(theta/2)`` and the phases ``tl``/``bl`` on the top/bottom input
  and ``tr``/``br`` on the top/bottom output:

  - ``Rx``: ``[[e^{i(tl+tr)} c, i e^{i(bl+tr)} s], [i e^{i(tl+br)} s, e^{i(bl+br)} c]]``
  - ``Ry``: ``[[e^{i(tl+tr)} c, -e^{i(bl+tr)} s], [e^{i(tl+br)} s, e^{i(bl+br)} c]]``
  - ``H``:  ``[[e^{i(tl+tr)} c, e^{i(bl+tr)} s], [e^{i(tl+br)} s, -e^{i(bl+br)} c]]``

  Reflectivity is ``cos(theta/2)**2`` (Perceval's ``BS.r_to_theta``).
- ``MZI(phi_a, phi_b)``, a Mach-Zehnder interferometer as Perceval's catalog item
  ``"mzi phase first"``: ``PS(phi_a)`` on the top mode, ``BS()``, ``PS(phi_b)`` on the top mode,
  ``BS()``; its matrix is ``i e^{i phi_b/2} [[e^{i phi_a} sin(phi_b/2), cos(phi_b/2)],
  [e^{i phi_a} cos(phi_b/2), -sin(phi_b/2)]]``. ``phi_b`` sets the splitting (``0``: swap the modes,
  ``pi``: pass straight), ``phi_a`` the relative input phase.

Parameters are floats or real tensors of shape ``()`` or ``(B,)``; a ``(B,)`` tensor batches the
interferometer. Everything is differentiable by autograd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from qphys.errors import BatchSizeError, MatrixError, ParameterError, UnsupportedOperationError, WireError
from qphys.ops.linear_optics import BS_OPS, bs_matrix, mzi_matrix, ps_matrix, real_dtype

#: Perceval's beam-splitter conventions (``perceval.BSConvention``).
BS_CONVENTIONS = tuple(BS_OPS)
#: Component kinds :func:`circuit_unitary` understands, with their number of modes and parameters.
COMPONENT_KINDS = {"ps": (1, 1), "bs": (2, 5), "mzi": (2, 2), "unitary": (None, 1)}


@dataclass(frozen=True)
class Component:
    """One linear-optical component: a description the simulator, Perceval and (in phase 2) the
    circuit IR share.

    Attributes:
        kind: ``"ps"`` (params ``(phi,)``), ``"bs"`` (``(theta, phi_tl, phi_bl, phi_tr, phi_br)``),
            ``"mzi"`` (``(phi_a, phi_b)``) or ``"unitary"`` (``(U,)``, a ``(k, k)`` or ``(B, k, k)``
            complex matrix on ``k`` modes).
        modes: the modes it acts on (consecutive for ``bs``/``mzi`` in a planar chip, but any
            distinct modes are accepted).
        params: floats or tensors (``(B,)`` batches).
        convention: beam-splitter convention (``"Rx"``, ``"Ry"``, ``"H"``), for ``bs`` only.
    """

    kind: str
    modes: tuple[int, ...]
    params: tuple = field(default=())
    convention: str = "Rx"

    def matrix(self, *, dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
        """The component's ``(..., k, k)`` matrix on its own modes."""
        if self.kind == "ps":
            return ps_matrix(*self.params, dtype=dtype, device=device)
        if self.kind == "bs":
            return bs_matrix(*self.params, convention=self.convention, dtype=dtype, device=device)
        if self.kind == "mzi":
            return mzi_matrix(*self.params, dtype=dtype, device=device)
        (u,) = self.params
        return torch.as_tensor(u).to(device=device, dtype=dtype)


def ps(phi, mode: int) -> Component:
    """A phase shifter ``PS(phi)`` on ``mode``.

    Examples:
        >>> ps(0.5, 2)
        Component(kind='ps', modes=(2,), params=(0.5,), convention='Rx')
    """
    return Component("ps", (mode,), (phi,))


def bs(mode: int, theta=math.pi / 2, phi_tl=0.0, phi_bl=0.0, phi_tr=0.0, phi_br=0.0, *, convention: str = "Rx") -> Component:
    """A beam splitter ``BS(theta, phi_tl, phi_bl, phi_tr, phi_br)`` on modes ``(mode, mode + 1)``.

    Examples:
        >>> bs(0).params[0] == math.pi / 2
        True
    """
    return Component("bs", (mode, mode + 1), (theta, phi_tl, phi_bl, phi_tr, phi_br), convention)


def mzi(mode: int, phi_a, phi_b) -> Component:
    """A Mach-Zehnder interferometer (Perceval's ``"mzi phase first"``) on ``(mode, mode + 1)``."""
    return Component("mzi", (mode, mode + 1), (phi_a, phi_b))


def unitary(U, modes: Sequence[int]) -> Component:
    """A fixed (or batched ``(B, k, k)``) unitary on ``modes``."""
    return Component("unitary", tuple(modes), (U,))


def _validate(components: Sequence[Component], m: int) -> int | None:
    """Check kinds, modes and parameter counts; return the batch size (``None``: unbatched)."""
    batch = None
    for idx, comp in enumerate(components):
        where = f"component {idx} ({comp.kind} on modes {comp.modes})"
        if comp.kind not in COMPONENT_KINDS:
            raise UnsupportedOperationError(
                f"{where}: unknown kind; linear-optical components are {sorted(COMPONENT_KINDS)}"
            )
        nmodes, nparams = COMPONENT_KINDS[comp.kind]
        if len(comp.params) != nparams:
            raise ParameterError(f"{where}: takes {nparams} parameter(s), got {len(comp.params)}")
        if comp.kind == "bs" and comp.convention not in BS_CONVENTIONS:
            raise UnsupportedOperationError(
                f"{where}: beam splitter convention {comp.convention!r} is not one of {BS_CONVENTIONS}"
            )
        modes = comp.modes
        if (nmodes is not None and len(modes) != nmodes) or len(set(modes)) != len(modes) or not modes:
            raise WireError(f"{where}: needs {nmodes or 'k >= 1'} distinct modes")
        for mode in modes:
            if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or not 0 <= mode < m:
                raise WireError(f"{where}: mode {mode!r} is not an integer in [0, {m})")
        sizes = []
        if comp.kind == "unitary":
            u = comp.params[0]
            shape = tuple(u.shape) if hasattr(u, "shape") else np.shape(u)
            k = len(modes)
            if len(shape) not in (2, 3) or shape[-2:] != (k, k):
                raise MatrixError(f"{where}: needs a ({k}, {k}) or (B, {k}, {k}) matrix, got shape {shape}")
            if len(shape) == 3:
                sizes.append(shape[0])
        else:
            for p in comp.params:
                if torch.is_tensor(p) and p.ndim > 1:
                    raise ParameterError(f"{where}: angles must be scalars or 1-D batches (B,), got shape {tuple(p.shape)}")
            sizes = [p.shape[0] for p in comp.params if torch.is_tensor(p) and p.ndim == 1]
        for size in sizes:
            if batch is None:
                batch = size
            elif size != batch and size != 1 and batch != 1:
                raise BatchSizeError(f"{where}: batch size {size} differs from an earlier batch size {batch}")
            else:
                batch = max(batch, size)
    return batch


def apply_component(U: torch.Tensor, matrix: torch.Tensor, modes: Sequence[int]) -> torch.Tensor:
    """``U`` followed by ``matrix`` on ``modes``: rows ``modes`` of ``U`` become ``matrix @ U[modes]``.

    ``U`` is ``(B, m, m)``; ``matrix`` is ``(k, k)`` or ``(B, k, k)``. Out of place, differentiable.

    Examples:
        >>> U = torch.eye(3, dtype=torch.complex128).unsqueeze(0)
        >>> apply_component(U, ps_matrix(math.pi), (1,))[0].real
        tensor([[ 1.,  0.,  0.],
                [ 0., -1.,  0.],
                [ 0.,  0.,  1.]], dtype=torch.float64)
    """
    idx = torch.as_tensor(list(modes), device=U.device)
    rows = U.index_select(1, idx)
    return U.index_copy(1, idx, torch.matmul(matrix, rows))


def circuit_unitary(
    components: Sequence[Component], m: int, *, dtype: torch.dtype = torch.complex128, device=None,
) -> torch.Tensor:
    """The ``(B, m, m)`` interferometer of ``components`` applied in order (``B = 1`` unbatched).

    Raises:
        UnsupportedOperationError, ParameterError, WireError, MatrixError, BatchSizeError: a
            malformed component, reported with its position before anything is computed.

    Examples:
        >>> U = circuit_unitary([ps(0.3, 0), bs(0)], 2)
        >>> U.shape
        torch.Size([1, 2, 2])
        >>> bool(torch.allclose(U[0], bs_matrix() @ torch.diag(torch.tensor([math.e ** 0.3j, 1], dtype=torch.complex128))))
        True
    """
    if dtype not in (torch.complex64, torch.complex128):
        raise ParameterError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    batch = _validate(components, m) or 1
    U = torch.eye(m, dtype=dtype, device=device).expand(batch, m, m)
    for comp in components:
        U = apply_component(U, comp.matrix(dtype=dtype, device=device), comp.modes)
    return U.expand(batch, m, m)


__all__ = [
    "Component", "ps", "bs", "mzi", "unitary", "ps_matrix", "bs_matrix", "mzi_matrix", "apply_component",
    "circuit_unitary", "BS_CONVENTIONS", "COMPONENT_KINDS", "real_dtype",
]
