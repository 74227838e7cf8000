"""qphys linear-optical descriptions -> Perceval circuits, states and processors.

A description is what :mod:`qphys.sim.linear_optics` simulates: a list of
:class:`~qphys.sim.linear_optics.Component` (``ps``, ``bs``, ``mzi``, ``unitary``) on ``m``
modes, or an ``(m, m)`` unitary, plus an input Fock state. Components already follow Perceval's
conventions, so each maps to one Perceval element: ``ps`` -> ``PS(phi)``, ``bs`` -> ``BS(theta,
phi_tl, phi_bl, phi_tr, phi_br, convention)``, ``mzi`` -> the catalog's ``"mzi phase first"``,
``unitary`` -> ``Unitary(Matrix(U))``. Batched parameters (``(B,)`` tensors) give one circuit per
batch element: pick it with ``batch_index``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import perceval as pcvl
import torch

from qphys.errors import BatchSizeError, UnsupportedOperationError, WireError
from qphys.sim.linear_optics import Component, validate_photons
from qphys.sim.linear_optics.components import _validate

_CONVENTIONS = {"Rx": pcvl.BSConvention.Rx, "Ry": pcvl.BSConvention.Ry, "H": pcvl.BSConvention.H}


def _value(p, batch_index: int) -> float:
    if torch.is_tensor(p):
        p = p.detach().cpu()
        return float(p[batch_index if p.shape[0] > 1 else 0]) if p.ndim == 1 else float(p)
    return float(p)


def _matrix(u, batch_index: int) -> np.ndarray:
    u = u.detach().cpu().numpy() if torch.is_tensor(u) else np.asarray(u)
    if u.ndim == 3:
        u = u[batch_index if u.shape[0] > 1 else 0]
    return u.astype(np.complex128)


def mzi_circuit(phi_a: float, phi_b: float) -> pcvl.Circuit:
    """Perceval's catalog MZI ``"mzi phase first"`` with fixed phases (what ``mzi`` components are).

    Examples:
        >>> mzi_circuit(0.1, 0.2).m
        2
    """
    return pcvl.catalog["mzi phase first"].build_circuit(phi_a=float(phi_a), phi_b=float(phi_b))


def to_perceval_circuit(components: Sequence[Component], m: int, *, batch_index: int = 0) -> pcvl.Circuit:
    """The ``pcvl.Circuit`` of ``components`` on ``m`` modes, at batch element ``batch_index``.

    Raises:
        UnsupportedOperationError, WireError, ParameterError, MatrixError: a malformed component
            (the same checks as :func:`qphys.sim.linear_optics.circuit_unitary`).
        BatchSizeError: ``batch_index`` is outside the batch.

    Examples:
        >>> from qphys.sim import linear_optics as lo
        >>> c = to_perceval_circuit([lo.ps(0.5, 1), lo.bs(0)], 2)
        >>> [type(comp).__name__ for _, comp in c]
        ['PS', 'BS']
    """
    batch = _validate(components, m) or 1
    if not 0 <= batch_index < batch:
        raise BatchSizeError(f"batch_index {batch_index} is outside the batch of {batch} circuit(s)")
    circuit = pcvl.Circuit(m)
    for comp in components:
        first = min(comp.modes)
        if comp.kind == "ps":
            circuit.add(comp.modes[0], pcvl.PS(_value(comp.params[0], batch_index)))
            continue
        if comp.kind in ("bs", "mzi") and tuple(comp.modes) != (first, first + 1):
            raise WireError(
                f"Perceval places a {comp.kind} on adjacent modes (k, k + 1), got {comp.modes}; "
                "permute the modes around it or use a unitary component"
            )
        if comp.kind == "bs":
            values = [_value(p, batch_index) for p in comp.params]
            circuit.add(first, pcvl.BS(*values, convention=_CONVENTIONS[comp.convention]))
        elif comp.kind == "mzi":
            circuit.add(first, mzi_circuit(*(_value(p, batch_index) for p in comp.params)), merge=True)
        elif comp.kind == "unitary":
            u = _matrix(comp.params[0], batch_index)
            modes = list(comp.modes)
            if modes == list(range(first, first + len(modes))):
                circuit.add(first, pcvl.Unitary(pcvl.Matrix(u)))
            else:  # embed it in an m-mode unitary (Perceval places blocks on consecutive modes)
                full = np.eye(m, dtype=np.complex128)
                full[np.ix_(modes, modes)] = u
                circuit.add(0, pcvl.Unitary(pcvl.Matrix(full)))
        else:  # pragma: no cover - _validate rejects unknown kinds
            raise UnsupportedOperationError(f"unknown component kind {comp.kind!r}")
    return circuit


def unitary_circuit(U) -> pcvl.Circuit:
    """A Perceval circuit made of one ``Unitary`` block (``U[out, in]``, as Perceval's).

    Examples:
        >>> unitary_circuit(np.eye(3)).m
        3
    """
    u = U.detach().cpu().numpy() if torch.is_tensor(U) else np.asarray(U)
    return pcvl.Circuit(len(u)).add(0, pcvl.Unitary(pcvl.Matrix(u.astype(np.complex128))))


def to_basic_state(photons) -> pcvl.BasicState:
    """The Perceval ``BasicState`` of an input Fock state ``(1, 1, 0, 0)``.

    Examples:
        >>> str(to_basic_state((1, 0, 2)))
        '|1,0,2>'
    """
    return pcvl.BasicState(list(validate_photons(photons)))


def to_processor(
    circuit: pcvl.Circuit, photons, *, backend: str = "SLOS", heralds: Mapping[int, int] | None = None,
    threshold: bool = False,
) -> pcvl.Processor:
    """A local ``pcvl.Processor`` running ``circuit`` on ``photons`` with Perceval's ``backend``.

    Args:
        circuit: from :func:`to_perceval_circuit` or :func:`unitary_circuit`.
        photons: input photons on every mode of the circuit (heralded modes included).
        backend: a Perceval strong-simulation backend name (``"SLOS"``, ``"Naive"``...).
        heralds: ``{mode: count}``: Perceval heralds (``Processor.add_herald``): ``count`` photons
            enter the mode and ``count`` are detected there (post-selection; the mode leaves the
            results). ``photons`` must hold ``count`` on that mode.
        threshold: threshold (click) detectors on every mode instead of photon-number-resolving.

    Raises:
        WireError: ``photons`` does not cover the circuit's modes.
        UnsupportedOperationError: ``photons`` differs from a herald's count on its mode.

    Examples:
        >>> proc = to_processor(unitary_circuit(np.eye(2)), (1, 0))
        >>> proc.m
        2
    """
    s = validate_photons(photons)
    if len(s) != circuit.m:
        raise WireError(f"the input state has {len(s)} modes but the circuit has {circuit.m}")
    heralds = {int(k): int(v) for k, v in dict(heralds or {}).items()}
    if any(s[k] != v for k, v in heralds.items()):
        raise UnsupportedOperationError(
            "Perceval's heralds carry the same photon count at the input and at the output; give "
            f"photons that match the heralds {heralds} on those modes, or herald with qphys alone"
        )
    proc = pcvl.Processor(backend, circuit)
    if threshold:
        for k in range(circuit.m):
            proc.add(k, pcvl.Detector.threshold())
    for mode, count in heralds.items():
        proc.add_herald(mode, count)
    proc.with_input(pcvl.BasicState([s[k] for k in range(circuit.m) if k not in heralds]))
    return proc


__all__ = ["to_perceval_circuit", "unitary_circuit", "mzi_circuit", "to_basic_state", "to_processor"]
