"""Qubit gates: matrices as torch functions of (possibly batched) parameters, plus structure.

Parameters arrive as real torch tensors of shape ``()`` or ``(B,)``; every matrix function
returns ``(*batch, d, d)`` in the requested complex dtype. Names follow Qiskit's
``QuantumCircuit`` builder methods; conventions (``u``, ``p``, controlled rotations) match Qiskit.
Wire 0 of a multi-qubit gate is the most significant bit of its local index.
"""

from __future__ import annotations

import math

import torch

from qphys.ops.spec import (
    OpSpec,
    dagger_of_matrix,
    get_spec,
    inverse_named,
    negated,
    register,
    registered_names,
    self_inverse,
)

_TWO_TERM = ((0.5, math.pi / 2), (-0.5, -math.pi / 2))
_C1 = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
_C2 = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
# Controlled rotations have generator eigenvalue gaps {1/2, 1}: four-term rule (Anselmetti et al.).
_FOUR_TERM = ((_C1, math.pi / 2), (-_C1, -math.pi / 2), (-_C2, 3 * math.pi / 2), (_C2, -3 * math.pi / 2))


def _const(rows, *, dtype, device):
    return torch.tensor(rows, dtype=dtype, device=device)


def _assemble(rows, *, dtype, device):
    """Stack a d x d nested list of scalars / tensors (same batch shape) into ``(*batch, d, d)``."""
    tensors = [e for row in rows for e in row if torch.is_tensor(e)]
    shape = torch.broadcast_shapes(*(t.shape for t in tensors)) if tensors else ()
    flat = []
    for row in rows:
        for e in row:
            if torch.is_tensor(e):
                flat.append(e.to(dtype).expand(shape))
            else:
                flat.append(torch.full(shape, e, dtype=dtype, device=device))
    d = len(rows)
    return torch.stack(flat, dim=-1).reshape(*shape, d, d)


def _cs(theta, dtype):
    half = theta / 2
    return torch.cos(half).to(dtype), torch.sin(half).to(dtype)


def _phase(angle, dtype):
    return torch.polar(torch.ones_like(angle), angle).to(dtype)


# ---- fixed gates -------------------------------------------------------------------------
_S2 = 1 / math.sqrt(2)
_FIXED = {
    "h": [[_S2, _S2], [_S2, -_S2]],
    "y": [[0, -1j], [1j, 0]],
    "sx": [[(1 + 1j) / 2, (1 - 1j) / 2], [(1 - 1j) / 2, (1 + 1j) / 2]],
    "iswap": [[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]],
}
_FIXED_DIAG = {
    "i": [1, 1],
    "z": [1, -1],
    "s": [1, 1j],
    "sdg": [1, -1j],
    "t": [1, complex(_S2, _S2)],
    "tdg": [1, complex(_S2, -_S2)],
    "cz": [1, 1, 1, -1],
}
_PERMS = {
    "x": (1, 0),
    "cx": (0, 1, 3, 2),
    "swap": (0, 2, 1, 3),
    "ccx": (0, 1, 2, 3, 4, 5, 7, 6),
    "cswap": (0, 1, 2, 3, 4, 6, 5, 7),
}


def _fixed_matrix(rows):
    def matrix(*, dtype, device=None):
        return _const(rows, dtype=dtype, device=device)

    return matrix


def _diag_matrix(diag_fn):
    def matrix(*params, dtype, device=None):
        return torch.diag_embed(diag_fn(*params, dtype=dtype, device=device))

    return matrix


def _fixed_diag(values):
    def diagonal(*, dtype, device=None):
        return _const(values, dtype=dtype, device=device)

    return diagonal


def _perm_matrix(perm):
    def matrix(*, dtype, device=None):
        m = torch.zeros(len(perm), len(perm), dtype=dtype, device=device)
        for new, old in enumerate(perm):
            m[new, old] = 1
        return m

    return matrix


# ---- parametrized gates ------------------------------------------------------------------
def rx_matrix(theta, *, dtype, device=None):
    c, s = _cs(theta, dtype)
    return _assemble([[c, -1j * s], [-1j * s, c]], dtype=dtype, device=device)


def ry_matrix(theta, *, dtype, device=None):
    c, s = _cs(theta, dtype)
    return _assemble([[c, -s], [s, c]], dtype=dtype, device=device)


def rz_diagonal(theta, *, dtype, device=None):
    a, b = _phase(-theta / 2, dtype), _phase(theta / 2, dtype)
    return torch.stack([a, b], dim=-1)


def p_diagonal(theta, *, dtype, device=None):
    e = _phase(theta, dtype)
    return torch.stack([torch.ones_like(e), e], dim=-1)


def u_matrix(theta, phi, lam, *, dtype, device=None):
    c, s = _cs(torch.as_tensor(theta), dtype)
    el, ep, epl = _phase(lam, dtype), _phase(phi, dtype), _phase(phi + lam, dtype)
    return _assemble([[c, -el * s], [ep * s, epl * c]], dtype=dtype, device=device)


def rxx_matrix(theta, *, dtype, device=None):
    c, s = _cs(theta, dtype)
    m = -1j * s
    return _assemble(
        [[c, 0, 0, m], [0, c, m, 0], [0, m, c, 0], [m, 0, 0, c]], dtype=dtype, device=device
    )


def ryy_matrix(theta, *, dtype, device=None):
    c, s = _cs(theta, dtype)
    m, q = -1j * s, 1j * s
    return _assemble(
        [[c, 0, 0, q], [0, c, m, 0], [0, m, c, 0], [q, 0, 0, c]], dtype=dtype, device=device
    )


def rzz_diagonal(theta, *, dtype, device=None):
    a, b = _phase(-theta / 2, dtype), _phase(theta / 2, dtype)
    return torch.stack([a, b, b, a], dim=-1)


def _controlled(target_fn):
    """Matrix of a singly-controlled version of a one-qubit gate: blockdiag(I, U)."""

    def matrix(*params, dtype, device=None):
        u = target_fn(*params, dtype=dtype, device=device)
        out = torch.zeros(*u.shape[:-2], 4, 4, dtype=dtype, device=u.device)
        out[..., 0, 0] = 1
        out[..., 1, 1] = 1
        out[..., 2:, 2:] = u
        return out

    return matrix


def _controlled_diag(target_diag):
    def diagonal(*params, dtype, device=None):
        d = target_diag(*params, dtype=dtype, device=device)
        ones = torch.ones_like(d)
        return torch.cat([ones, d], dim=-1)

    return diagonal


crz_diagonal = _controlled_diag(rz_diagonal)
cp_diagonal = _controlled_diag(p_diagonal)


_ROT = (0.5,)  # matrix entries of exp(-iθP/2) oscillate at ω = 1/2
_PHASE = (1.0,)  # entries of phase gates e^{iθ} at ω = 1
_ONE = ("wire",)
_TWO = ("a", "b")
_CTRL = ("control", "target")


def _register_all():
    fixed_inverse = {"h": "h", "y": "y", "i": "i", "z": "z", "cz": "cz", "s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t"}
    for name, rows in _FIXED.items():
        n = 2 if len(rows) == 4 else 1
        inv = inverse_named(fixed_inverse[name]) if name in fixed_inverse else None  # sx, iswap: dagger
        register(OpSpec(name, "qubit", n, 0, matrix=_fixed_matrix(rows), wire_names=_TWO if n == 2 else _ONE,
                        inverse=inv))
    for name, vals in _FIXED_DIAG.items():
        n = 2 if len(vals) == 4 else 1
        diag = _fixed_diag(vals)
        register(
            OpSpec(
                name, "qubit", n, 0, matrix=_diag_matrix(diag), structure="diagonal", diagonal=diag,
                wire_names=_CTRL if name == "cz" else _ONE, inverse=inverse_named(fixed_inverse[name]),
            )
        )
    perm_wires = {"x": _ONE, "cx": _CTRL, "swap": _TWO, "ccx": ("c1", "c2", "target"), "cswap": ("control", "a", "b")}
    for name, perm in _PERMS.items():
        n = {2: 1, 4: 2, 8: 3}[len(perm)]
        register(
            OpSpec(
                name, "qubit", n, 0, matrix=_perm_matrix(perm), structure="permutation", permutation=perm,
                wire_names=perm_wires[name], inverse=self_inverse(name),
            )
        )
    theta = ("theta",)
    for name, fn, wires in (("rx", rx_matrix, _ONE), ("ry", ry_matrix, _ONE), ("rxx", rxx_matrix, _TWO),
                            ("ryy", ryy_matrix, _TWO)):
        register(OpSpec(name, "qubit", len(wires), 1, matrix=fn, grad_recipe=(_TWO_TERM,), param_names=theta,
                        wire_names=wires, inverse=negated(name), matrix_frequencies=_ROT))
    register(
        OpSpec(
            "u", "qubit", 1, 3, matrix=u_matrix, grad_recipe=(_TWO_TERM,) * 3, param_names=("theta", "phi", "lam"),
            wire_names=_ONE, inverse=lambda p: ("u", (-p[0], -p[2], -p[1])), matrix_frequencies=(0.5, 1.0, 1.0),
        )
    )
    for name, diag, rule, wires, freq in (
        ("rz", rz_diagonal, _TWO_TERM, _ONE, _ROT),
        ("p", p_diagonal, _TWO_TERM, _ONE, _PHASE),
        ("rzz", rzz_diagonal, _TWO_TERM, _TWO, _ROT),
        ("crz", crz_diagonal, _FOUR_TERM, _CTRL, _ROT),
        ("cp", cp_diagonal, _TWO_TERM, _CTRL, _PHASE),
    ):
        register(
            OpSpec(
                name, "qubit", len(wires), 1, matrix=_diag_matrix(diag), structure="diagonal", diagonal=diag,
                grad_recipe=(rule,), param_names=theta, wire_names=wires, inverse=negated(name),
                matrix_frequencies=freq,
            )
        )
    for name, target, fn in (("crx", "rx", rx_matrix), ("cry", "ry", ry_matrix)):
        register(
            OpSpec(
                name, "qubit", 2, 1, matrix=_controlled(fn), num_controls=1, target=target,
                grad_recipe=(_FOUR_TERM,), param_names=theta, wire_names=_CTRL, inverse=negated(name),
                matrix_frequencies=_ROT,
            )
        )
    register(
        OpSpec(
            "cy", "qubit", 2, 0, matrix=_controlled(_fixed_matrix(_FIXED["y"])), num_controls=1,
            target="y", wire_names=_CTRL, inverse=self_inverse("cy"),
        )
    )
    register(OpSpec("unitary", "qubit", None, 1, matrix=None, matrix_param=True, param_names=("matrix",),
                    wire_names=("wires",), inverse=dagger_of_matrix("unitary")))
    register(OpSpec("state_prep", "qubit", None, 1, matrix=None, matrix_param=True, param_names=("state",),
                    wire_names=("wires",)))


_register_all()

#: Names of the named qubit gates (every registered qubit op but ``unitary`` and ``state_prep``),
#: derived from the registry.
QUBIT_GATES = tuple(n for n in registered_names("qubit") if not get_spec(n).matrix_param)
