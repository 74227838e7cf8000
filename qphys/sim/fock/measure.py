"""Measurements on a batched Fock-space state ``(B, c, ..., c)``.

Quadratic observables are evaluated exactly on the truncated state: the state is padded by two
Fock levels on the observable's modes, where the ladder operators act without truncation error,
so ``<O>`` and ``<O^2>`` equal the matrix elements of the infinite-dimensional operators (as in
Strawberry Fields, which builds its quadrature operators on a larger workspace too).
"""

from __future__ import annotations

import math

import torch

from qphys.sim.fock.apply import apply_single
from qphys.sim.fock.gates import HBAR, quadrature_matrices


def trace(psi):
    """``<psi|psi>`` per batch element: ``(B,)``; ``1 - trace`` leaked past the cutoff."""
    return _abs2(psi).reshape(psi.shape[0], -1).sum(-1)


def _abs2(psi):
    """``|psi|^2`` without the square root of ``abs`` (cheaper, same gradient)."""
    return psi.real * psi.real + psi.imag * psi.imag


def fock_probs(psi, modes):
    """Photon-number probabilities of ``modes`` (``None``: all): ``(B, c**k)``."""
    nm = psi.ndim - 1
    modes = tuple(range(nm)) if modes is None else tuple(modes)
    p = _abs2(psi)
    rest = [1 + m for m in range(nm) if m not in modes]
    if rest:
        p = p.sum(dim=rest)
    kept = sorted(modes)
    p = p.permute(0, *(1 + kept.index(m) for m in modes))
    return p.reshape(p.shape[0], -1)


def _pad(psi, modes, extra=2):
    nm = psi.ndim - 1
    spec = []
    for ax in reversed(range(nm)):
        spec.extend([0, extra] if ax in modes else [0, 0])
    return torch.nn.functional.pad(psi, spec)


def apply_poly(psi, obs):
    """``(padded psi, O |psi>)`` for a quadratic CV observable ``obs``."""
    modes = obs.modes
    k = len(modes)
    big = _pad(psi, modes)
    dim = psi.shape[1] + 2
    x, p = quadrature_matrices(dim, dtype=psi.dtype, device=psi.device)
    ops = [(x, m) for m in modes] + [(p, m) for m in modes]
    first = [apply_single(big, M, m) for M, m in ops]  # r_j |psi>
    out = obs.k * big
    for i in range(2 * k):
        w = obs.d[i] * big
        touched = obs.d[i] != 0
        for j in range(2 * k):
            if obs.A[i, j] != 0:
                w = w + obs.A[i, j] * first[j]
                touched = True
        if touched:
            M, m = ops[i]
            out = out + apply_single(w, M, m)
    return big, out


def expval(psi, obs):
    """``<psi|O|psi>`` per batch element (unnormalised state, as Strawberry Fields)."""
    if obs.kind == "N":
        n = torch.arange(psi.shape[1], dtype=psi.real.dtype, device=psi.device)
        return fock_probs(psi, obs.modes) @ n
    big, o = apply_poly(psi, obs)
    return (big.conj() * o).reshape(psi.shape[0], -1).sum(-1).real


def variance(psi, obs):
    """``<O^2> - <O>^2`` per batch element."""
    big, o = apply_poly(psi, obs)
    mean = (big.conj() * o).reshape(psi.shape[0], -1).sum(-1).real
    sq = _abs2(o).reshape(psi.shape[0], -1).sum(-1)
    return sq - mean * mean


def _hermite_functions(q, cutoff):
    """``psi_n(q)`` (hbar = 2) for ``n < cutoff``: ``(cutoff, len(q))``."""
    xi = q / math.sqrt(HBAR)
    out = [(math.pi * HBAR) ** -0.25 * torch.exp(-xi * xi / 2)]
    if cutoff > 1:
        out.append(math.sqrt(2.0) * xi * out[0])
    for n in range(1, cutoff - 1):
        out.append((math.sqrt(2.0) * xi * out[n] - math.sqrt(n) * out[n - 1]) / math.sqrt(n + 1))
    return torch.stack(out)


def homodyne_density(psi, mode, phi, *, points=4096):
    """Grid ``q`` and density of the quadrature ``x cos(phi) + p sin(phi)`` of ``mode``: ``(B, G)``."""
    c = psi.shape[1]
    half = math.sqrt(HBAR) * (math.sqrt(2 * c + 1) + 6.0)
    q = torch.linspace(-half, half, points, dtype=psi.real.dtype, device=psi.device)
    h = _hermite_functions(q, c).to(psi.dtype)  # (c, G)
    phase = torch.polar(torch.ones(c, dtype=psi.real.dtype, device=psi.device),
                        -phi * torch.arange(c, dtype=psi.real.dtype, device=psi.device)).to(psi.dtype)
    x = psi.movedim(1 + mode, -1).reshape(psi.shape[0], -1, c) * phase
    amp = x @ h  # (B, rest, G): <q_phi| psi_rest>
    dens = amp.abs().pow(2).sum(1)
    return q, dens


def homodyne_samples(psi, mode, phi, shots, generator):
    """``shots`` homodyne outcomes per batch element: ``(B, shots)`` (inverse CDF on a grid)."""
    q, dens = homodyne_density(psi.detach(), mode, phi)
    step = float(q[1] - q[0])
    w = dens.clamp_min(0).cpu().double()
    idx = torch.multinomial(w, shots, replacement=True, generator=generator)
    jitter = torch.rand(idx.shape, generator=generator, dtype=torch.float64) - 0.5
    return (q.cpu().double()[idx] + jitter * step).to(device=psi.device, dtype=psi.real.dtype)
