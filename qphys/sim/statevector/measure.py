"""Measurements on ``(B, 2**n)`` states: expectation values, variances, probabilities, samples."""

from __future__ import annotations

import numpy as np
import torch

from qphys.observables import Pauli
from qphys.sim.statevector.apply import apply_diagonal, apply_matrix, apply_permutation


def probs(state, wires, n):
    """Marginal probabilities ``(B, 2**k)`` of ``wires`` (in the given order; None = all)."""
    p = state.real**2 + state.imag**2
    if wires is None or list(wires) == list(range(n)):
        return p
    b = p.shape[0]
    pt = p.reshape(b, *([2] * n))
    rest = [1 + w for w in range(n) if w not in wires]
    if rest:
        pt = pt.sum(dim=rest)
    kept = sorted(wires)
    order = [kept.index(w) for w in wires]
    if order != list(range(len(wires))):
        pt = pt.permute(0, *[1 + i for i in order])
    return pt.reshape(b, -1)


def _is_z_word(factors):
    return all(isinstance(f, Pauli) and f.name in ("Z", "I") for f in factors)


def _z_signs(factors, n, device, dtype):
    idx = torch.arange(2**n, device=device)
    sign = torch.ones(2**n, dtype=dtype, device=device)
    for f in factors:
        if f.name == "Z":
            bit = (idx >> (n - 1 - f.wire)) & 1
            sign = sign * (1 - 2 * bit).to(dtype)
    return sign


def apply_factors(state, factors, n):
    """Apply a product of observable factors (matrices, not necessarily unitary) to ``state``."""
    dtype = state.dtype
    for f in factors:
        if isinstance(f, Pauli):
            if f.name == "X":
                state = apply_permutation(state, (1, 0), (f.wire,), n)
            elif f.name == "Z":
                state = apply_diagonal(state, torch.tensor([1, -1], dtype=dtype, device=state.device), (f.wire,), n)
            elif f.name == "Y":
                y = torch.tensor([[0, -1j], [1j, 0]], dtype=dtype, device=state.device)
                state = apply_matrix(state, y, (f.wire,), n)
        else:
            m = torch.as_tensor(f.numpy_matrix, dtype=dtype, device=state.device)
            state = apply_matrix(state, m, f.wires, n)
    return state


def apply_observable(state, obs, n):
    """``O |psi>`` for a general observable (sum of products)."""
    out = None
    for c, factors in obs.terms():
        term = c * apply_factors(state, factors, n)
        out = term if out is None else out + term
    return out


def expval(state, obs, n):
    """``<psi|O|psi>`` per batch element: ``(B,)`` real."""
    terms = obs.terms()
    if all(_is_z_word(f) for _, f in terms):
        p = state.real**2 + state.imag**2
        diag = sum(c * _z_signs(f, n, state.device, p.dtype) for c, f in terms)
        return p @ diag
    o_psi = apply_observable(state, obs, n)
    return (state.conj() * o_psi).sum(-1).real


def variance(state, obs, n):
    """``<O^2> - <O>^2`` per batch element."""
    o_psi = apply_observable(state, obs, n)
    mean = (state.conj() * o_psi).sum(-1).real
    sq = (o_psi.real**2 + o_psi.imag**2).sum(-1)
    return sq - mean**2


def sample_indices(p, shots, generator):
    """Sample ``shots`` basis indices per row of ``p`` ``(B, d)`` -> ``(B, shots)`` int64."""
    p = p.detach().double().cpu()
    p = p.clamp_min(0)
    p = p / p.sum(-1, keepdim=True)
    return torch.multinomial(p, shots, replacement=True, generator=generator)


def setting_probs(state, rotations, n):
    """Computational-basis probabilities ``(B, 2**n)`` of ``state`` after the basis change
    ``rotations`` (``(matrix, wires)`` pairs, as :meth:`qphys.measurements.Setting.rotations`
    gives them)."""
    rotated = state
    for matrix, wires in rotations:
        u = torch.as_tensor(matrix, dtype=state.dtype, device=state.device)
        rotated = apply_matrix(rotated, u, wires, n)
    return probs(rotated, None, n)


def bits_from_probs(p, n, shots, generator) -> np.ndarray:
    """``shots`` samples of every wire from probabilities ``p`` ``(B, 2**n)``: ``(B, shots, n)``
    uint8 bits, column ``w`` = wire ``w``."""
    idx = sample_indices(p, shots, generator)
    shifts = torch.arange(n - 1, -1, -1)
    return ((idx.unsqueeze(-1) >> shifts) & 1).to(torch.uint8).numpy()


#: Bytes one shot of one batch row needs while sampling ``n`` wires: the index (8), its shifted
#: copies and bits (``9 n``), and per-shot observable values (8).
def sample_bytes_per_shot(n: int) -> int:
    """Workspace bytes per shot and batch row when sampling ``n`` wires."""
    return 16 + 9 * n


def sample_bits(state, rotations, n, shots, generator) -> np.ndarray:
    """Sample every wire of ``state`` after the basis change ``rotations`` (``(matrix, wires)``
    pairs, as :meth:`qphys.measurements.Setting.rotations` gives them): ``(B, shots, n)`` uint8
    bits, column ``w`` = wire ``w``."""
    return bits_from_probs(setting_probs(state, rotations, n), n, shots, generator)
