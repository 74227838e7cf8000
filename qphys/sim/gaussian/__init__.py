"""Exact Gaussian simulation of photonic circuits: means and covariance matrices in torch.

The state of ``m`` modes is ``(mu, V)``: ``mu`` ``(B, 2m)`` and ``V`` ``(B, 2m, 2m)`` in ``xxpp``
order (``x_0..x_{m-1}, p_0..p_{m-1}``), with Strawberry Fields' convention
``V_ij = <{dr_i, dr_j}> / 2`` and hbar = 2 (vacuum: ``mu = 0``, ``V = I``). A Gaussian gate is
an affine symplectic map ``r -> S r + delta``: ``mu -> S mu + delta``, ``V -> S V S^T``. Gates
update only the rows and columns of their modes (``O(m)`` per gate), so hundreds of modes are
cheap. Everything is batched over a leading axis and differentiable by torch autograd.

Quadratic observables ``O = r^T A r + d^T r + k`` (Weyl order):
``<O> = tr(A V) + mu^T A mu + d^T mu + k`` and
``Var O = 2 tr(A V A V) + b^T V b + (hbar^2 / 2) tr(A Omega A Omega)``, ``b = 2 A mu + d``;
the last term is the Moyal correction for operator ordering (it makes the vacuum variance of
``x^2 + p^2`` zero).
"""

from __future__ import annotations

import math

import torch

from qphys.sim.fock.apply import op_reals

HBAR = 2.0


def vacuum(num_modes: int, *, dtype=torch.float64, device=None):
    """``(mu, V)`` of the vacuum: ``(1, 2m)`` and ``(1, 2m, 2m)``."""
    mu = torch.zeros(1, 2 * num_modes, dtype=dtype, device=device)
    V = (HBAR / 2) * torch.eye(2 * num_modes, dtype=dtype, device=device).unsqueeze(0)
    return mu, V


def _stack2(rows):
    """Build ``(*batch, n, n)`` from a nested list of equally shaped tensors."""
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def rotation_symplectic(theta):
    c, s = torch.cos(theta), torch.sin(theta)
    return _stack2([[c, -s], [s, c]])


def squeezing_symplectic(r, phi):
    ch, sh = torch.cosh(r), torch.sinh(r)
    cp, sp = torch.cos(phi), torch.sin(phi)
    return _stack2([[ch - cp * sh, -sp * sh], [-sp * sh, ch + cp * sh]])


def beamsplitter_symplectic(theta, phi):
    """On ``(x1, x2, p1, p2)``: ``a1 -> t a1 - r^* a2``, ``a2 -> r a1 + t a2``, ``r = e^{i phi} sin``."""
    ct, st = torch.cos(theta), torch.sin(theta)
    cp, sp = torch.cos(phi), torch.sin(phi)
    z = torch.zeros_like(ct * cp)
    ct, st, cp, sp = (t + z for t in (ct, st, cp, sp))
    return _stack2([
        [ct, -cp * st, z, -sp * st],
        [cp * st, ct, -sp * st, z],
        [z, sp * st, ct, -cp * st],
        [sp * st, z, cp * st, ct],
    ])


def two_mode_squeezing_symplectic(r, phi):
    ch, sh = torch.cosh(r), torch.sinh(r)
    cp, sp = torch.cos(phi), torch.sin(phi)
    z = torch.zeros_like(ch * cp)
    ch, sh, cp, sp = (t + z for t in (ch, sh, cp, sp))
    return _stack2([
        [ch, cp * sh, z, sp * sh],
        [cp * sh, ch, sp * sh, z],
        [z, sp * sh, ch, -cp * sh],
        [sp * sh, z, -cp * sh, ch],
    ])


def interferometer_symplectic(U, dtype):
    """``[[Re U, -Im U], [Im U, Re U]]`` for ``a -> U a``."""
    U = torch.as_tensor(U)
    re, im = U.real.to(dtype), U.imag.to(dtype)
    return torch.cat([torch.cat([re, -im], -1), torch.cat([im, re], -1)], -2)


def _indices(modes, m):
    return list(modes) + [w + m for w in modes]


def apply_symplectic(mu, V, S, modes):
    """Apply local symplectic ``S`` (``(*b, 2k, 2k)``, local xxpp over ``modes``)."""
    m = mu.shape[-1] // 2
    idx = torch.as_tensor(_indices(modes, m), device=mu.device)
    S = S if S.ndim == 3 else S.unsqueeze(0)
    B = max(mu.shape[0], S.shape[0])
    mu = mu.expand(B, -1).clone()
    V = V.expand(B, -1, -1).clone()
    mu[:, idx] = (S @ mu[:, idx].unsqueeze(-1)).squeeze(-1)
    V[:, idx, :] = S @ V[:, idx, :]
    V[:, :, idx] = V[:, :, idx] @ S.transpose(-1, -2)
    return mu, V


def displace(mu, r, phi, mode):
    """Shift ``<x>`` by ``2 r cos(phi)`` and ``<p>`` by ``2 r sin(phi)`` (hbar = 2)."""
    m = mu.shape[-1] // 2
    dx = math.sqrt(2 * HBAR) * r * torch.cos(phi)
    dp = math.sqrt(2 * HBAR) * r * torch.sin(phi)
    basis = torch.eye(2 * m, dtype=mu.dtype, device=mu.device)
    delta = dx[..., None] * basis[mode] + dp[..., None] * basis[mode + m]
    if delta.ndim == 1:
        delta = delta.unsqueeze(0)
    return mu + delta


def run_circuit(circuit, *, dtype=torch.float64, device=None):
    """Final ``(mu (B, 2m), V (B, 2m, 2m))`` of a Gaussian ``circuit`` from the vacuum."""
    mu, V = vacuum(circuit.num_wires, dtype=dtype, device=device)
    for op in circuit.operations:
        name, w = op.name, op.wires
        if name == "interferometer":
            S = interferometer_symplectic(op.params[0], dtype).to(mu.device)
            mu, V = apply_symplectic(mu, V, S, w)
            continue
        p = op_reals(op, dtype, mu.device)
        if name == "displacement":
            mu = displace(mu, p[0], p[1], w[0])
            if mu.shape[0] != V.shape[0]:
                V = V.expand(mu.shape[0], -1, -1)
        elif name == "rotation":
            mu, V = apply_symplectic(mu, V, rotation_symplectic(p[0]), w)
        elif name == "squeezing":
            mu, V = apply_symplectic(mu, V, squeezing_symplectic(p[0], p[1]), w)
        elif name == "beamsplitter":
            mu, V = apply_symplectic(mu, V, beamsplitter_symplectic(p[0], p[1]), w)
        elif name == "two_mode_squeezing":
            mu, V = apply_symplectic(mu, V, two_mode_squeezing_symplectic(p[0], p[1]), w)
        else:  # pragma: no cover - the device's preprocess rejects non-Gaussian gates
            raise AssertionError(f"non-Gaussian operation {name!r} reached the Gaussian simulator")
    b = circuit.batch_size
    if b is not None and mu.shape[0] != b:
        mu, V = mu.expand(b, -1), V.expand(b, -1, -1)
    return mu, V


def _local(mu, V, obs):
    m = mu.shape[-1] // 2
    idx = torch.as_tensor(_indices(obs.modes, m), device=mu.device)
    return mu[:, idx], V[:, idx][:, :, idx]


def expval(mu, V, obs):
    """``<O>`` per batch element."""
    mloc, vloc = _local(mu, V, obs)
    A = torch.as_tensor(obs.A, dtype=mu.dtype, device=mu.device)
    d = torch.as_tensor(obs.d, dtype=mu.dtype, device=mu.device)
    quad = (A * vloc).sum((-1, -2)) + torch.einsum("bi,ij,bj->b", mloc, A, mloc)
    return quad + mloc @ d + obs.k


def variance(mu, V, obs):
    """``Var O`` per batch element (exact for Gaussian states)."""
    mloc, vloc = _local(mu, V, obs)
    A = torch.as_tensor(obs.A, dtype=mu.dtype, device=mu.device)
    d = torch.as_tensor(obs.d, dtype=mu.dtype, device=mu.device)
    k = len(obs.modes)
    eye = torch.eye(k, dtype=mu.dtype, device=mu.device)
    zero = torch.zeros_like(eye)
    omega = torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)
    b = 2 * (mloc @ A) + d
    AV = A @ vloc
    var = 2 * torch.einsum("bij,bji->b", AV, AV) + torch.einsum("bi,bij,bj->b", b, vloc, b)
    return var + (HBAR**2 / 2) * torch.trace(A @ omega @ A @ omega)


def quadrature_moments(mu, V, mode, phi):
    """Mean and variance of ``x cos(phi) + p sin(phi)`` of ``mode``: ``(B,)`` each."""
    m = mu.shape[-1] // 2
    c, s = math.cos(phi), math.sin(phi)
    mean = c * mu[:, mode] + s * mu[:, mode + m]
    var = c * c * V[:, mode, mode] + 2 * c * s * V[:, mode, mode + m] + s * s * V[:, mode + m, mode + m]
    return mean, var


def homodyne_samples(mu, V, mode, phi, shots, generator):
    """``(B, shots)`` samples of the quadrature: exact normal draws."""
    mean, var = quadrature_moments(mu.detach(), V.detach(), mode, phi)
    z = torch.randn((mean.shape[0], shots), generator=generator, dtype=torch.float64)
    return (mean.cpu().double()[:, None] + var.cpu().double().clamp_min(0).sqrt()[:, None] * z).to(mu.device, mu.dtype)


__all__ = ["vacuum", "run_circuit", "expval", "variance", "quadrature_moments", "homodyne_samples"]
