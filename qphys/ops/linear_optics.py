"""Discrete-variable linear-optical operations (single photons through passive optics), in
Perceval's conventions.

Every matrix acts on mode creation operators as ``a_j^dagger -> sum_i U[i, j] a_i^dagger``
(``U[out, in]``, what Perceval's ``Circuit.compute_unitary()`` returns); a component placed after
another multiplies from the left.

- ``ps(phi, mode)``: Perceval's ``PS(phi)``, ``[[exp(i phi)]]``.
- ``bs(theta, m1, m2)``: Perceval's ``BS(theta)`` in its default ``Rx`` convention,
  ``[[c, i s], [i s, c]]`` with ``c = cos(theta/2)``, ``s = sin(theta/2)``: ``theta = pi/2`` is
  50:50 and the reflectivity is ``cos(theta/2)**2`` (Perceval's ``BS.r_to_theta``). ``m1`` is the
  top mode (row/column 0). ``bs_ry`` (``[[c, -s], [s, c]]``, ``BS.Ry``) and ``bs_h``
  (``[[c, s], [s, -c]]``, ``BS.H``) are Perceval's other conventions. Perceval's phases
  ``BS(theta, phi_tl, phi_bl, phi_tr, phi_br)`` are phase shifters around it:
  ``ps(phi_tl, m1)``, ``ps(phi_bl, m2)``, ``bs(theta)``, ``ps(phi_tr, m1)``, ``ps(phi_br, m2)``.
- ``mzi(phi_a, phi_b, m1, m2)``: Perceval's catalog ``"mzi phase first"``: ``PS(phi_a)`` on
  ``m1``, ``BS()``, ``PS(phi_b)`` on ``m1``, ``BS()``; matrix ``i e^{i phi_b/2}
  [[e^{i phi_a} sin(phi_b/2), cos(phi_b/2)], [e^{i phi_a} cos(phi_b/2), -sin(phi_b/2)]]``.
- ``interferometer(U, modes)``: any unitary on ``modes`` (the same op as the CV family's: both
  families mean ``U[out, in]`` on the creation operators).

**Parameter-shift rules** (Facelli et al., arXiv:2409.16369). A phase ``phi`` entering as
``e^{i phi}`` on one mode multiplies the component of the state with ``k`` photons in that mode
by ``e^{i k phi}``; with at most ``R`` photons able to be there, every output probability is a
trigonometric polynomial of degree ``R`` in ``phi``, and

    f'(phi) = sum_{mu=1}^{2R} (-1)^{mu-1} f(phi + x_mu) / (4 R sin^2(x_mu / 2)),
    x_mu = (2 mu - 1) pi / (2 R)

is exact (:func:`photonic_shift_rule`). ``R`` is not just the photon number: it is the number of
input photons whose modes are connected to the operation's modes by the operations before it
(its backward light cone, :func:`photons_reaching`), so a phase on a single-photon input mode
takes two shifts whatever the circuit's photon number.

A beam splitter is ``exp(i theta G)`` with ``G`` conserving the photon number ``k`` of its two
modes and having eigenvalues ``-k/2 .. k/2`` on that sector: ``theta`` enters as ``theta/2``.
When the pair's photon number is definite (its light cone holds only the pair) or nothing after
the splitter mixes the pair with other modes (detection counts photons, so it conserves it), only
eigenvalue differences within one sector appear, which are integers: probabilities are
trigonometric polynomials of degree ``R`` in ``theta`` and the rule above holds. Otherwise sectors
of different parity interfere, frequencies are half-integers, and the rule is applied in
``theta/2`` with degree ``2R`` (``4R`` shifted circuits, :func:`beam_splitter_rule`).

Examples:
    >>> [round(c, 3) for c, _ in photonic_shift_rule(1)]
    [0.5, -0.5]
    >>> bs_matrix(math.pi / 2).abs().square().tolist()  # 50:50
    [[0.5000000000000001, 0.4999999999999999], [0.4999999999999999, 0.5000000000000001]]
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from qphys.errors import ParameterError, UnsupportedOperationError
from qphys.ops.spec import OpSpec, ShiftRule, get_spec, negated, register, registered_names, self_inverse

FAMILY = "linear_optics"
#: Perceval's beam-splitter conventions and the op name of each.
BS_OPS = {"Rx": "bs", "Ry": "bs_ry", "H": "bs_h"}


# ---- matrices (the simulators and the Perceval plugin use these) --------------------------------
def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching a complex one (``complex64`` -> ``float32``)."""
    return torch.float64 if dtype == torch.complex128 else torch.float32


def _as_real(p, dtype: torch.dtype, device) -> torch.Tensor:
    if torch.is_tensor(p):
        if p.is_complex():
            raise ParameterError(f"component angles must be real, got a complex tensor {tuple(p.shape)}")
        return p.to(device=device, dtype=real_dtype(dtype))
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ParameterError(f"component angles must be real numbers or tensors, got {p!r}") from None
    if not math.isfinite(value):
        raise ParameterError(f"component angles must be finite, got {value}")
    return torch.tensor(value, dtype=real_dtype(dtype), device=device)


def _expi(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.polar(torch.ones_like(x), x).to(dtype)


def ps_matrix(phi, *, dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    """Perceval's ``PS(phi)``: ``[[exp(i phi)]]``, shape ``(..., 1, 1)``.

    Examples:
        >>> ps_matrix(math.pi / 2)
        tensor([[6.1232e-17+1.j]], dtype=torch.complex128)
    """
    return _expi(_as_real(phi, dtype, device), dtype)[..., None, None]


def bs_matrix(
    theta=math.pi / 2, phi_tl=0.0, phi_bl=0.0, phi_tr=0.0, phi_br=0.0, *, convention: str = "Rx",
    dtype: torch.dtype = torch.complex128, device=None,
) -> torch.Tensor:
    """Perceval's ``BS(theta, phi_tl, phi_bl, phi_tr, phi_br, convention)``: shape ``(..., 2, 2)``.

    With ``c = cos(theta/2)``, ``s = sin(theta/2)`` and the phases ``tl``/``bl`` on the top/bottom
    input and ``tr``/``br`` on the top/bottom output:

    - ``Rx``: ``[[e^{i(tl+tr)} c, i e^{i(bl+tr)} s], [i e^{i(tl+br)} s, e^{i(bl+br)} c]]``
    - ``Ry``: ``[[e^{i(tl+tr)} c, -e^{i(bl+tr)} s], [e^{i(tl+br)} s, e^{i(bl+br)} c]]``
    - ``H``:  ``[[e^{i(tl+tr)} c, e^{i(bl+tr)} s], [e^{i(tl+br)} s, -e^{i(bl+br)} c]]``

    Raises:
        UnsupportedOperationError: ``convention`` is not ``"Rx"``, ``"Ry"`` or ``"H"``.

    Examples:
        >>> torch.view_as_real(bs_matrix() * 2**0.5).round(decimals=12)  # Rx, 50:50: [[1, i], [i, 1]]
        tensor([[[1., 0.],
                 [0., 1.]],
        <BLANKLINE>
                [[0., 1.],
                 [1., 0.]]], dtype=torch.float64)
    """
    if convention not in BS_OPS:
        raise UnsupportedOperationError(
            f"beam splitter convention {convention!r} is not one of Perceval's {tuple(BS_OPS)}"
        )
    th, tl, bl, tr, br = (_as_real(p, dtype, device) for p in (theta, phi_tl, phi_bl, phi_tr, phi_br))
    th, tl, bl, tr, br = torch.broadcast_tensors(th, tl, bl, tr, br)
    c = torch.cos(th / 2).to(dtype)
    s = torch.sin(th / 2).to(dtype)
    template = {"Rx": (1, 1j, 1j, 1), "Ry": (1, -1, 1, 1), "H": (1, 1, 1, -1)}[convention]
    entries = (
        template[0] * _expi(tl + tr, dtype) * c,
        template[1] * _expi(bl + tr, dtype) * s,
        template[2] * _expi(tl + br, dtype) * s,
        template[3] * _expi(bl + br, dtype) * c,
    )
    return torch.stack(entries, dim=-1).reshape(*th.shape, 2, 2)


def mzi_matrix(phi_a, phi_b, *, dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    """Perceval's ``"mzi phase first"``: ``PS(phi_a)`` (top), ``BS()``, ``PS(phi_b)`` (top), ``BS()``.

    Shape ``(..., 2, 2)``; closed form in the module docstring.

    Examples:
        >>> m = mzi_matrix(0.0, math.pi)  # passes straight (up to a global phase)
        >>> m.abs().round(decimals=6)
        tensor([[1., 0.],
                [0., 1.]], dtype=torch.float64)
    """
    a, b = torch.broadcast_tensors(_as_real(phi_a, dtype, device), _as_real(phi_b, dtype, device))
    glob = 1j * _expi(b / 2, dtype)
    ea = _expi(a, dtype)
    s = torch.sin(b / 2).to(dtype)
    c = torch.cos(b / 2).to(dtype)
    entries = (glob * ea * s, glob * c, glob * ea * c, -glob * s)
    return torch.stack(entries, dim=-1).reshape(*a.shape, 2, 2)


# ---- the photonic parameter-shift rule ---------------------------------------------------------------
@lru_cache(maxsize=64)
def photonic_shift_rule(degree: int) -> ShiftRule:
    """Facelli et al.'s rule, exact for trigonometric polynomials of ``degree`` ``R >= 1``: ``2R``
    terms ``(coefficient, shift)`` with ``f'(x) = sum c_k f(x + s_k)``.

    Raises:
        ParameterError: ``degree < 1``.

    Examples:
        >>> [(round(c, 4), round(s, 4)) for c, s in photonic_shift_rule(2)]
        [(0.8536, 0.7854), (-0.1464, 2.3562), (0.1464, 3.927), (-0.8536, 5.4978)]
    """
    if degree < 1:
        raise ParameterError(f"the photonic shift rule needs degree >= 1, got {degree}")
    terms = []
    for mu in range(1, 2 * degree + 1):
        x = (2 * mu - 1) * math.pi / (2 * degree)
        terms.append(((-1) ** (mu - 1) / (4 * degree * math.sin(x / 2) ** 2), x))
    return tuple(terms)


def photons_reaching(circuit, op_index: int, modes) -> int:
    """Input photons that can be in ``modes`` just before operation ``op_index`` of ``circuit``:
    those of the input modes connected to ``modes`` by the operations before it.

    Examples:
        >>> class C:  # a stand-in circuit: photons and operations with wires
        ...     photons = (1, 1, 0)
        ...     operations = [type("Op", (), {"wires": (0, 1)})()]
        >>> photons_reaching(C, 0, (2,)), photons_reaching(C, 1, (1,))
        (0, 2)
    """
    feeds = [{k} for k in range(len(circuit.photons))]
    for op in circuit.operations[:op_index]:
        if len(op.wires) > 1:
            joined = set().union(*(feeds[w] for w in op.wires))
            for w in op.wires:
                feeds[w] = joined
    sources = set().union(*(feeds[w] for w in modes))
    return sum(circuit.photons[k] for k in sources)


@lru_cache(maxsize=64)
def beam_splitter_rule(degree: int, half_angle: bool) -> ShiftRule:
    """The shift rule of a beam-splitter angle with ``degree`` photons reaching it: the photonic
    rule in ``theta`` when only integer frequencies appear, else in ``theta/2`` with degree
    ``2 * degree`` (``f'(theta) = 1/2 sum c_k f(theta + 2 x_k)``).

    Examples:
        >>> len(beam_splitter_rule(1, False)), len(beam_splitter_rule(1, True))
        (2, 4)
    """
    if not half_angle:
        return photonic_shift_rule(degree)
    return tuple((c / 2, 2 * x) for c, x in photonic_shift_rule(2 * degree))


def _pair_mixes(circuit, op_index: int) -> bool:
    """Whether the photon number of operation ``op_index``'s modes can be indefinite before it and
    change after it (see the module docstring): then half-integer frequencies appear."""
    pair = set(circuit.operations[op_index].wires)
    feeds = [{k} for k in range(len(circuit.photons))]
    for op in circuit.operations[:op_index]:
        if len(op.wires) > 1:
            joined = set().union(*(feeds[w] for w in op.wires))
            for w in op.wires:
                feeds[w] = joined
    definite = set().union(*(feeds[w] for w in pair)) <= pair
    mixes_after = any(
        len(op.wires) > 1 and pair & set(op.wires) and not set(op.wires) <= pair
        for op in circuit.operations[op_index + 1:]
    )
    return not definite and mixes_after


def _bs_rule(circuit, op_index: int, param_index: int) -> ShiftRule:
    degree = photons_reaching(circuit, op_index, circuit.operations[op_index].wires)
    if degree == 0:
        return ()
    return beam_splitter_rule(degree, _pair_mixes(circuit, op_index))


def _phase_rule(first_mode_only: tuple[bool, ...]):
    """``shift_rule(circuit, op_index, param_index)`` for phases on the op's first mode (``True``)
    or on a mode both of the op's modes feed (``False``: the inner phase of an MZI, after its first
    splitter)."""

    def rule(circuit, op_index: int, param_index: int) -> ShiftRule | None:
        op = circuit.operations[op_index]
        modes = op.wires[:1] if first_mode_only[param_index] else op.wires
        degree = photons_reaching(circuit, op_index, modes)
        if degree == 0:  # no photon reaches it: the outputs do not depend on the parameter
            return ()
        return photonic_shift_rule(degree)

    return rule


def _mzi_inverse(params):
    a, b = (torch.as_tensor(p, dtype=torch.float64) for p in params)
    m = mzi_matrix(a, b, dtype=torch.complex128)
    return "interferometer", (m.conj().transpose(-1, -2).resolve_conj(),)


def _matrix_of(kind: str):
    if kind == "ps":
        return lambda phi, dtype=torch.complex128, device=None: ps_matrix(phi, dtype=dtype, device=device)
    if kind == "mzi":
        return lambda a, b, dtype=torch.complex128, device=None: mzi_matrix(a, b, dtype=dtype, device=device)
    convention = {v: k for k, v in BS_OPS.items()}[kind]
    return lambda theta, dtype=torch.complex128, device=None: bs_matrix(
        theta, convention=convention, dtype=dtype, device=device
    )


_TWO = ("m1", "m2")
register(OpSpec("ps", FAMILY, 1, 1, matrix=_matrix_of("ps"), param_names=("phi",), wire_names=("mode",),
                inverse=negated("ps"), shift_rule=_phase_rule((True,))))
register(OpSpec("bs", FAMILY, 2, 1, matrix=_matrix_of("bs"), param_names=("theta",), wire_names=_TWO,
                inverse=negated("bs"), shift_rule=_bs_rule))
register(OpSpec("bs_ry", FAMILY, 2, 1, matrix=_matrix_of("bs_ry"), param_names=("theta",), wire_names=_TWO,
                inverse=negated("bs_ry"), shift_rule=_bs_rule))
register(OpSpec("bs_h", FAMILY, 2, 1, matrix=_matrix_of("bs_h"), param_names=("theta",), wire_names=_TWO,
                inverse=self_inverse("bs_h"), shift_rule=_bs_rule))
register(OpSpec("mzi", FAMILY, 2, 2, matrix=_matrix_of("mzi"), param_names=("phi_a", "phi_b"), wire_names=_TWO,
                inverse=_mzi_inverse, shift_rule=_phase_rule((True, False))))

#: Names of every linear-optical operation (from the registry; ``interferometer`` is shared with CV).
LINEAR_OPTICS_OPS = tuple(registered_names(FAMILY))


def op_matrix(name: str, params, *, dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    """The ``(..., k, k)`` matrix of a linear-optical operation ``name`` with ``params``.

    Examples:
        >>> op_matrix("ps", (0.0,)).tolist()
        [[(1+0j)]]
    """
    spec = get_spec(name)
    if name == "interferometer":
        return torch.as_tensor(params[0]).to(device=device, dtype=dtype)
    if spec.matrix is None or FAMILY not in spec.families:
        raise UnsupportedOperationError(f"{name!r} is not a linear-optical operation; use one of {LINEAR_OPTICS_OPS}")
    return spec.matrix(*params, dtype=dtype, device=device)


__all__ = [
    "FAMILY", "BS_OPS", "LINEAR_OPTICS_OPS", "ps_matrix", "bs_matrix", "mzi_matrix", "op_matrix", "real_dtype",
    "photonic_shift_rule", "beam_splitter_rule", "photons_reaching",
]
