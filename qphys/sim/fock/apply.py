"""Run a photonic circuit on a batched truncated Fock-space state vector.

The state is a tensor ``(B, c, ..., c)`` (one axis per mode, mode 0 first; ``B = 1`` until a
batched gate broadcasts it). Dense gates contract their mode axes with one ``matmul``; diagonal
gates multiply. Everything is differentiable by torch autograd.
"""

from __future__ import annotations

import torch

from qphys.ops import get_spec
from qphys.ops.cv import clements
from qphys.ops.spec import real_parameter
from qphys.sim.fock import gates as G


def as_real(p, dtype, device, period: float | None = None):
    """A gate parameter as a real tensor (``dtype.to_real()``) of shape ``()`` or ``(B,)`` on ``device``.

    With a ``period`` (:meth:`qphys.ops.OpSpec.param_period`) and a precision below float64 the
    angle is reduced modulo the period in float64 first (same gate, no float32 overflow to
    ``nan``; derivative 1).
    """
    return real_parameter(p, dtype.to_real() if dtype.is_complex else dtype, device, period)


def op_reals(op, dtype, device) -> list:
    """The parameters of ``op`` as :func:`as_real` tensors (angles reduced by their periods)."""
    spec = get_spec(op.name)
    return [as_real(v, dtype, device, spec.param_period(j)) for j, v in enumerate(op.params)]


def vacuum(num_modes: int, cutoff: int, *, dtype=torch.complex128, device=None):
    """``|0...0>`` as ``(1, c, ..., c)``."""
    psi = torch.zeros((1,) + (cutoff,) * num_modes, dtype=dtype, device=device)
    psi.view(1, -1)[0, 0] = 1.0
    return psi


def _batch_first(t, ndim_op):
    """Give an operator tensor a leading batch axis (size 1 when unbatched)."""
    return t if t.ndim > ndim_op else t.unsqueeze(0)


def apply_single(psi, U, mode):
    """Contract ``U[..., out, in]`` with axis ``mode`` of ``psi``."""
    c = psi.shape[1 + mode]
    x = psi.movedim(1 + mode, -1)
    shape = x.shape
    if U.ndim == 2 or U.shape[0] == 1:  # one matrix for the whole batch: a single flat GEMM
        y = x.reshape(-1, c) @ U.reshape(c, c).transpose(0, 1)
        return y.reshape(shape).movedim(-1, 1 + mode)
    y = torch.matmul(x.reshape(shape[0], -1, c), U.transpose(-1, -2))
    return y.reshape((y.shape[0],) + shape[1:]).movedim(-1, 1 + mode)


def apply_diag(psi, d, modes):
    """Multiply ``psi`` by a diagonal ``d[..., n_modes[0], n_modes[1]...]``."""
    d = _batch_first(d, len(modes))
    nm = psi.ndim - 1
    # place d's axes on the mode axes
    order = sorted(range(len(modes)), key=lambda k: modes[k])
    d = d.permute(0, *(1 + k for k in order))
    shape = [d.shape[0]] + [1] * nm
    for k, m in enumerate(sorted(modes)):
        shape[1 + m] = d.shape[1 + k]
    return psi * d.reshape(shape)


def apply_two(psi, T, m1, m2):
    """Contract a two-mode gate ``T[..., o1, o2, i1, i2]`` with axes ``m1, m2`` of ``psi``."""
    c = psi.shape[1]
    x = psi.movedim((1 + m1, 1 + m2), (-2, -1))
    shape = x.shape
    if T.ndim == 4 or T.shape[0] == 1:
        y = x.reshape(-1, c * c) @ T.reshape(c * c, c * c).transpose(0, 1)
        return y.reshape(shape).movedim((-2, -1), (1 + m1, 1 + m2))
    T = _batch_first(T, 4)
    M = T.reshape(T.shape[0], c * c, c * c)
    y = torch.matmul(x.reshape(shape[0], -1, c * c), M.transpose(-1, -2))
    return y.reshape((y.shape[0],) + shape[1:]).movedim((-2, -1), (1 + m1, 1 + m2))


def apply_operation(psi, op, cutoff, dtype):
    """Apply one CV :class:`~qphys.circuit.Operation` to ``psi``."""
    dev = psi.device
    name, w = op.name, op.wires
    if name == "interferometer":
        mesh, phases = clements(op.params[0])
        for k, theta, phi in mesh:
            psi = apply_diag(psi, G.rotation_diagonal(phi, cutoff, dtype=dtype, device=dev), (w[k],))
            psi = apply_two(psi, G.beamsplitter_matrix(theta, 0.0, cutoff, dtype=dtype, device=dev), w[k], w[k + 1])
        for k, ph in enumerate(phases):
            angle = float(torch.angle(torch.as_tensor(ph)))
            psi = apply_diag(psi, G.rotation_diagonal(angle, cutoff, dtype=dtype, device=dev), (w[k],))
        return psi
    p = op_reals(op, dtype, dev)
    if name == "displacement":
        return apply_single(psi, G.displacement_matrix(p[0], p[1], cutoff, dtype=dtype, device=dev), w[0])
    if name == "squeezing":
        return apply_single(psi, G.squeezing_matrix(p[0], p[1], cutoff, dtype=dtype, device=dev), w[0])
    if name == "cubic_phase":
        return apply_single(psi, G.cubic_phase_matrix(p[0], cutoff, dtype=dtype, device=dev), w[0])
    if name == "rotation":
        return apply_diag(psi, G.rotation_diagonal(p[0], cutoff, dtype=dtype, device=dev), w)
    if name == "kerr":
        return apply_diag(psi, G.kerr_diagonal(p[0], cutoff, dtype=dtype, device=dev), w)
    if name == "cross_kerr":
        return apply_diag(psi, G.cross_kerr_diagonal(p[0], cutoff, dtype=dtype, device=dev), w)
    if name == "beamsplitter":
        return apply_two(psi, G.beamsplitter_matrix(p[0], p[1], cutoff, dtype=dtype, device=dev), *w)
    if name == "two_mode_squeezing":
        return apply_two(psi, G.two_mode_squeezing_matrix(p[0], p[1], cutoff, dtype=dtype, device=dev), *w)
    raise AssertionError(f"unhandled CV operation {name!r}")  # pragma: no cover - preprocess rejects


def run_circuit(circuit, *, cutoff: int, dtype=torch.complex128, device=None):
    """Final state ``(B, c, ..., c)`` of ``circuit`` from the vacuum (``B = 1`` unbatched)."""
    psi = vacuum(circuit.num_wires, cutoff, dtype=dtype, device=device)
    for op in circuit.operations:
        psi = apply_operation(psi, op, cutoff, dtype)
    b = circuit.batch_size
    if b is not None and psi.shape[0] != b:
        psi = psi.expand((b,) + psi.shape[1:])
    return psi
