"""Conversion of qphys photonic circuits to Strawberry Fields programs (one per batch element)."""

from __future__ import annotations

import numpy as np
import torch

from qphys.errors import UnsupportedOperationError
from qphys.ops.cv import clements
from qphys_strawberryfields._compat import import_strawberryfields

sf = import_strawberryfields()
ops = sf.ops

#: qphys operation name -> Strawberry Fields gate class
GATES = {
    "displacement": ops.Dgate,
    "squeezing": ops.Sgate,
    "rotation": ops.Rgate,
    "beamsplitter": ops.BSgate,
    "two_mode_squeezing": ops.S2gate,
    "kerr": ops.Kgate,
    "cross_kerr": ops.CKgate,
    "cubic_phase": ops.Vgate,
}
#: qphys operations converted otherwise: ``interferometer`` becomes ``ops.Interferometer`` or its
#: Clements mesh of ``Rgate``/``BSgate`` (``tests/backends/test_gate_mappings.py`` checks coverage).
DECOMPOSED: frozenset[str] = frozenset({"interferometer"})


def _value(p, b):
    if torch.is_tensor(p):
        p = p.detach().cpu()
        return float(p[b]) if p.ndim == 1 else float(p)
    return float(p)


def to_program(circuit, batch_index: int = 0, *, measure=None, rotate=None, decompose_interferometer=False):
    """The ``sf.Program`` of ``circuit``'s gates at batch element ``batch_index``.

    Args:
        circuit: a photonic :class:`qphys.Circuit`.
        batch_index: which element of a batched circuit.
        measure: optional ``(mode, phi)``: append ``MeasureHomodyne(phi)`` on ``mode``.
        rotate: optional ``(mode, theta)``: append ``Rgate(theta)`` on ``mode``.
        decompose_interferometer: emit ``interferometer`` as its Clements mesh of ``Rgate`` and
            ``BSgate`` (for backends whose compiler lacks ``Interferometer``, e.g. ``bosonic``).

    Raises:
        UnsupportedOperationError: a qubit circuit, or an operation without an SF equivalent.

    Examples:
        >>> import qphys
        >>> prog = to_program(qphys.Circuit(modes=2).beamsplitter(0.3, 0.1, 0, 1))
        >>> prog.num_subsystems
        2
    """
    if circuit.family != "cv":
        raise UnsupportedOperationError("Strawberry Fields runs photonic circuits; got a qubit circuit")
    prog = sf.Program(circuit.num_wires)
    with prog.context as q:
        for op in circuit.operations:
            regs = tuple(q[w] for w in op.wires)
            if op.name == "interferometer":
                U = op.params[0]
                U = U.detach().cpu().numpy() if torch.is_tensor(U) else np.asarray(U)
                if not decompose_interferometer:
                    ops.Interferometer(U) | regs
                    continue
                mesh, phases = clements(U)
                for k, theta, phi in mesh:
                    ops.Rgate(phi) | regs[k]
                    ops.BSgate(theta, 0.0) | (regs[k], regs[k + 1])
                for k, ph in enumerate(phases):
                    ops.Rgate(float(np.angle(ph))) | regs[k]
                continue
            if op.name == "beamsplitter" and op.wires[0] > op.wires[1]:
                # Strawberry Fields 0.23's fock backend applies BSgate on (q[j], q[i]), j > i, as if
                # it were on (q[i], q[j]) (its gaussian backend does not); BS(theta, phi) on (j, i)
                # equals BS(theta, pi - phi) on (i, j), so emit that.
                theta, phi = (_value(p, batch_index) for p in op.params)
                ops.BSgate(theta, np.pi - phi) | (regs[1], regs[0])
                continue
            gate = GATES.get(op.name)
            if gate is None:
                raise UnsupportedOperationError(f"no Strawberry Fields gate for {op.name!r}")
            gate(*(_value(p, batch_index) for p in op.params)) | (regs if len(regs) > 1 else regs[0])
        if rotate is not None:
            ops.Rgate(rotate[1]) | q[rotate[0]]
        if measure is not None:
            mode, phi = measure
            ops.MeasureHomodyne(phi) | q[mode]
    return prog
