"""qphys linear-optical circuits (and component lists) -> Perceval circuits, states and processors.

Operations already follow Perceval's conventions, so each maps to one Perceval element:
``ps`` -> ``PS(phi)``, ``bs``/``bs_ry``/``bs_h`` -> ``BS(theta)`` in the ``Rx``/``Ry``/``H``
convention, ``mzi`` -> ``PS(phi_a)``, ``BS()``, ``PS(phi_b)``, ``BS()`` (Perceval's catalog
``"mzi phase first"``), ``interferometer`` -> ``Unitary(Matrix(U))``. Perceval places components
on consecutive modes; an operation on other modes (``bs(theta, 0, 2)``, ``bs(theta, 1, 0)``) is
routed with a ``PERM`` before and its inverse after.

:func:`perceval_circuit` gives numeric circuits (one per batch element); :func:`parametrized_circuit`
gives one circuit with a Perceval parameter per operation angle and :func:`parameter_rows` the
values of every batch element, which remote devices send as the iterations of one job.

The phase-1 functions on :class:`qphys.linear_optics.Component` lists
(:func:`to_perceval_circuit`) remain: they build the references of the torch simulator's tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import perceval as pcvl
import torch

from qphys import linear_optics as lo
from qphys.errors import BatchSizeError, UnsupportedOperationError, WireError
from qphys.ops.linear_optics import BS_OPS

_CONVENTIONS = {"Rx": pcvl.BSConvention.Rx, "Ry": pcvl.BSConvention.Ry, "H": pcvl.BSConvention.H}
_BS_CONVENTION = {name: _CONVENTIONS[conv] for conv, name in BS_OPS.items()}
#: qphys operations with a Perceval component (``tests/backends/test_gate_mappings.py`` checks
#: that every registered linear-optical operation is here or in :data:`DECOMPOSED`).
GATES = ("ps", *BS_OPS.values(), "mzi", "interferometer")
#: Registered operations this plugin builds from others (none).
DECOMPOSED: tuple[str, ...] = ()


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


def _add(circuit: pcvl.Circuit, modes: Sequence[int], component) -> None:
    """Add ``component`` (on ``len(modes)`` consecutive ports) acting on ``modes``, routing with
    ``PERM`` when they are not consecutive and increasing."""
    modes = list(modes)
    lo_mode = min(modes)
    if modes == list(range(lo_mode, lo_mode + len(modes))):
        circuit.add(lo_mode, component, merge=False)
        return
    span = max(modes) - lo_mode + 1
    perm = [0] * span  # input port i -> output port perm[i]; modes[j] -> j
    rest = iter(range(len(modes), span))
    for i in range(span):
        mode = lo_mode + i
        perm[i] = modes.index(mode) if mode in modes else next(rest)
    inverse = [0] * span
    for i, j in enumerate(perm):
        inverse[j] = i
    circuit.add(lo_mode, pcvl.PERM(perm))
    circuit.add(lo_mode, component, merge=False)
    circuit.add(lo_mode, pcvl.PERM(inverse))


def _mzi(phi_a, phi_b) -> pcvl.Circuit:
    return (pcvl.Circuit(2, name="MZI").add(0, pcvl.PS(phi_a)).add((0, 1), pcvl.BS())
            .add(0, pcvl.PS(phi_b)).add((0, 1), pcvl.BS()))


def _component(name: str, params: Sequence) -> object:
    if name == "ps":
        return pcvl.PS(params[0])
    if name in _BS_CONVENTION:
        return pcvl.BS(theta=params[0], convention=_BS_CONVENTION[name])
    if name == "mzi":
        return _mzi(*params)
    raise UnsupportedOperationError(f"no Perceval component for {name!r}")  # pragma: no cover


def perceval_circuit(circuit, *, batch_index: int = 0) -> pcvl.Circuit:
    """The numeric ``pcvl.Circuit`` of a linear-optical :class:`qphys.Circuit` at ``batch_index``.

    Raises:
        UnsupportedOperationError: not a linear-optical circuit.
        BatchSizeError: ``batch_index`` outside the batch.

    Examples:
        >>> import math, qphys
        >>> c = qphys.Circuit(modes=3, photons=(1, 1, 0)).ps(0.5, 1).bs(math.pi / 2, 0, 2)
        >>> [type(comp).__name__ for _, comp in perceval_circuit(c)]
        ['PS', 'PERM', 'BS', 'PERM']
    """
    lo.check_circuit(circuit)
    batch = circuit.batch_size or 1
    if not 0 <= batch_index < batch:
        raise BatchSizeError(f"batch_index {batch_index} is outside the batch of {batch} circuit(s)")
    out = pcvl.Circuit(circuit.num_wires)
    for op in circuit.operations:
        if op.name == "interferometer":
            _add(out, op.wires, pcvl.Unitary(pcvl.Matrix(_matrix(op.params[0], batch_index))))
        else:
            _add(out, op.wires, _component(op.name, [_value(p, batch_index) for p in op.params]))
    return out


def parametrized_circuit(circuit) -> tuple[pcvl.Circuit, list[str]]:
    """One ``pcvl.Circuit`` for the structure of ``circuit``: every angle of every operation is a
    Perceval parameter ``p0, p1, ...`` (in operation order); matrices are constants.

    Raises:
        UnsupportedOperationError: a batched ``interferometer`` matrix (no Perceval parameter can
            hold it; use a mesh of ``mzi`` with batched phases).

    Examples:
        >>> import qphys
        >>> pc, names = parametrized_circuit(qphys.Circuit(modes=2, photons=(1, 0)).mzi(0.1, 0.2, 0, 1))
        >>> names, sorted(p.name for p in pc.get_parameters())
        (['p0', 'p1'], ['p0', 'p1'])
    """
    lo.check_circuit(circuit)
    out = pcvl.Circuit(circuit.num_wires)
    names: list[str] = []
    for op in circuit.operations:
        if op.name == "interferometer":
            u = op.params[0]
            if torch.is_tensor(u) and u.ndim == 3 and u.shape[0] > 1:
                raise UnsupportedOperationError(
                    "a batched interferometer matrix cannot be a parameter of a remote job; build a mesh of "
                    "mzi with batched phases, or run one circuit per matrix"
                )
            _add(out, op.wires, pcvl.Unitary(pcvl.Matrix(_matrix(u, 0))))
            continue
        params = []
        for _ in op.params:
            names.append(f"p{len(names)}")
            params.append(pcvl.P(names[-1]))
        _add(out, op.wires, _component(op.name, params))
    return out, names


def parameter_rows(circuit) -> np.ndarray:
    """``(B, P)`` float64 values of :func:`parametrized_circuit`'s parameters, one row per batch
    element (``B = 1`` unbatched).

    Examples:
        >>> import torch, qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 0)).ps(torch.tensor([0.1, 0.2], dtype=torch.float64), 0).bs(0.3, 0, 1)
        >>> parameter_rows(c).tolist()
        [[0.1, 0.3], [0.2, 0.3]]
    """
    batch = circuit.batch_size or 1
    cols = []
    for op in circuit.operations:
        if op.name == "interferometer":
            continue
        for p in op.params:
            v = p.detach().cpu().double().numpy() if torch.is_tensor(p) else np.float64(p)
            cols.append(np.broadcast_to(v, (batch,)) if np.ndim(v) else np.full(batch, float(v)))
    return np.stack(cols, axis=1) if cols else np.zeros((batch, 0))


# ---- component lists (phase 1; the torch simulator's references) -----------------------------------
def mzi_circuit(phi_a: float, phi_b: float) -> pcvl.Circuit:
    """Perceval's catalog MZI ``"mzi phase first"`` with fixed phases (what ``mzi`` components are).

    Examples:
        >>> mzi_circuit(0.1, 0.2).m
        2
    """
    return pcvl.catalog["mzi phase first"].build_circuit(phi_a=float(phi_a), phi_b=float(phi_b))


def to_perceval_circuit(components: Sequence[lo.Component], m: int, *, batch_index: int = 0) -> pcvl.Circuit:
    """The ``pcvl.Circuit`` of ``components`` on ``m`` modes, at batch element ``batch_index``.

    Raises:
        UnsupportedOperationError, WireError, ParameterError, MatrixError: a malformed component
            (the checks of :func:`qphys.linear_optics.check_components`).
        BatchSizeError: ``batch_index`` is outside the batch.

    Examples:
        >>> from qphys import linear_optics as lo
        >>> c = to_perceval_circuit([lo.Component("ps", (1,), (0.5,)), lo.Component("bs", (0, 1), (1.0, 0, 0, 0, 0))], 2)
        >>> [type(comp).__name__ for _, comp in c]
        ['PS', 'BS']
    """
    batch = lo.check_components(components, m) or 1
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
        else:  # pragma: no cover - check_components rejects unknown kinds
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
    return pcvl.BasicState(list(lo.validate_photons(photons)))


def to_processor(
    circuit: pcvl.Circuit, photons, *, backend: str = "SLOS", heralds: Mapping[int, int] | None = None,
    threshold: bool = False,
) -> pcvl.Processor:
    """A local ``pcvl.Processor`` running ``circuit`` on ``photons`` with Perceval's ``backend``.

    Args:
        circuit: from :func:`perceval_circuit`, :func:`to_perceval_circuit` or :func:`unitary_circuit`.
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
    s = lo.validate_photons(photons)
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


__all__ = [
    "GATES", "DECOMPOSED", "perceval_circuit", "parametrized_circuit", "parameter_rows", "to_perceval_circuit", "unitary_circuit",
    "mzi_circuit", "to_basic_state", "to_processor",
]
