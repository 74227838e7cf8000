"""Templates of linear-optical circuits: a rectangular (Clements) mesh of MZIs and phase encoding.

Examples:
    >>> import torch, qphys
    >>> from qphys.templates import mzi_mesh, phase_encoding
    >>> c = qphys.Circuit(photons=(1, 0, 1, 0))
    >>> shapes = mesh_shapes(4)
    >>> w = {k: torch.zeros(s) for k, s in shapes.items()}
    >>> c = mzi_mesh(phase_encoding(mzi_mesh(c, **w), torch.rand(5, 4)), **w)
    >>> c.batch_size, sum(op.name == "mzi" for op in c.operations)
    (5, 12)
"""

from __future__ import annotations

import torch

from qphys.errors import ParameterError
from qphys.linear_optics import check_circuit, mesh_modes, num_mzis


def mesh_shapes(m: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the angles of an ``m``-mode rectangular mesh (:func:`mzi_mesh`).

    Examples:
        >>> mesh_shapes(3)
        {'phi_a': (3,), 'phi_b': (3,), 'phases': (3,)}
    """
    return {"phi_a": (num_mzis(m),), "phi_b": (num_mzis(m),), "phases": (m,)}


def mzi_mesh(circuit, phi_a, phi_b, phases=None):
    """Append Clements et al.'s rectangular mesh: ``m (m - 1) / 2`` MZIs (Perceval's ``"mzi phase
    first"``) column by column in :func:`qphys.linear_optics.mesh_modes` order, then a phase shifter
    per mode; with every angle free it reaches every ``m x m`` unitary
    (:func:`qphys.linear_optics.clements_decomposition` gives the angles of a given one).

    Args:
        circuit: a linear-optical circuit.
        phi_a, phi_b: ``(m (m - 1) / 2,)`` angles (tensors may require grad).
        phases: ``(m,)`` output phases, or ``None`` for none.

    Raises:
        ParameterError: angles of the wrong length.
    """
    check_circuit(circuit)
    m = circuit.num_wires
    modes = mesh_modes(m)
    for name, value, size in (("phi_a", phi_a, len(modes)), ("phi_b", phi_b, len(modes)),
                              ("phases", phases, m)):
        if value is not None and len(value) != size:
            raise ParameterError(f"mzi_mesh on {m} modes needs {size} values of {name}, got {len(value)}")
    for q, k in enumerate(modes):
        circuit.mzi(phi_a[q], phi_b[q], k, k + 1)
    if phases is not None:
        for k in range(m):
            circuit.ps(phases[k], k)
    return circuit


def phase_encoding(circuit, x, *, modes=None, scale: float = 1.0):
    """Encode features as phases: ``ps(scale * x[..., j], modes[j])`` (``(F,)`` or batched ``(B, F)``).

    Phases act on photon numbers, so a phase on an input mode that no splitter has mixed yet is
    a global phase: encode after a mesh.

    Raises:
        ParameterError: more features than modes.
    """
    check_circuit(circuit)
    x = torch.as_tensor(x)
    modes = list(range(x.shape[-1])) if modes is None else list(modes)
    if x.shape[-1] != len(modes) or len(modes) > circuit.num_wires:
        raise ParameterError(
            f"phase_encoding: {x.shape[-1]} feature(s) for {len(modes)} mode(s) of a {circuit.num_wires}-mode circuit"
        )
    for j, k in enumerate(modes):
        circuit.ps(scale * x[..., j], k)
    return circuit


__all__ = ["mzi_mesh", "phase_encoding", "mesh_shapes"]
