"""Fock-basis matrices of the CV gates as torch functions of (possibly batched) parameters.

Matrix elements are those of the exact (infinite-dimensional) operators restricted to photon
numbers ``< cutoff`` -- the definition Strawberry Fields' fock backend uses (through The Walrus'
recurrences) -- so truncated gates are not exactly unitary and the lost norm measures the
leakage past the cutoff. The one exception, as in Strawberry Fields, is the cubic phase gate:
the matrix exponential of the truncated generator.

How each is computed (no Python loop over batch elements; loops run over Fock indices only
while tables are built, once per cutoff):

- displacement, squeezing: closed forms from the Bargmann generating function
  ``C exp(b.z + z^T A z / 2)``, i.e. a sum over ``k`` of monomials, evaluated with one
  ``einsum`` against a cached coefficient table;
- beamsplitter: photon-number conserving; each total-number block ``N`` (dimension ``N + 1``,
  complete up to ``N = 2 cutoff - 2``) is ``V_N exp(i theta Lambda_N) V_N^dagger`` with a cached
  eigendecomposition of the generator (integer spectrum), then the phase ``phi`` as a diagonal
  factor; exact, batched and cheap;
- two-mode squeezing: the generic vectorised Bargmann recurrence :func:`bargmann_tensor`;
- rotation, Kerr, cross-Kerr: diagonals.

Index conventions: single-mode matrices are ``[out, in]``; two-mode gates are
``[out1, out2, in1, in2]``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

HBAR = 2.0


def _cplx(x, dtype):
    return x.to(dtype) if torch.is_tensor(x) else torch.tensor(x, dtype=dtype)


def _powers(base, count: int):
    """``[1, base, base^2, ...]`` on a new last axis: one ``cumprod`` (autograd safe at 0)."""
    ones = torch.ones_like(base)[..., None]
    return torch.cumprod(torch.cat([ones, base[..., None].expand(*base.shape, count - 1)], dim=-1), dim=-1)


def _phase(angle, dtype):
    """``e^{i angle}`` as complex ``dtype``."""
    return torch.polar(torch.ones_like(angle), angle).to(dtype)


def _nm(c):
    m = np.arange(c)
    return (m[:, None] - m[None, :]).astype(float)  # m - n


# ---- displacement ---------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _disp_table(c: int):
    """``C[p, m, n]``: ``<m|D(r e^{i phi})|n> = e^{-r^2/2} e^{i phi (m-n)} sum_p C[p,m,n] r^p``.

    From the associated Laguerre form ``sqrt(n!/m!) alpha^{m-n} L_n^{(m-n)}(r^2)`` (``m >= n``)
    and ``D(alpha)^dagger = D(-alpha)`` (``m < n``).
    """
    lf = [math.lgamma(i + 1) for i in range(2 * c)]
    C = np.zeros((2 * c - 1, c, c))
    for m in range(c):
        for n in range(c):
            hi, lo = max(m, n), min(m, n)
            sign0 = 1.0 if m >= n else (-1.0) ** (n - m)
            for j in range(lo + 1):
                # sqrt(lo!/hi!) (-1)^j binom(hi, lo - j) / j!
                val = math.exp(0.5 * (lf[lo] - lf[hi]) + lf[hi] - lf[lo - j] - lf[hi - lo + j] - lf[j])
                C[hi - lo + 2 * j, m, n] += sign0 * (-1.0) ** j * val
    return C


#: above this cutoff the closed form cancels too much (|alpha| ~ 2 loses ~1e-9); use the recurrence
_DISP_CLOSED_FORM_MAX = 20


def displacement_matrix(r, phi, cutoff: int, *, dtype=torch.complex128, device=None):
    """``<m|D(r e^{i phi})|n>``: ``(*batch, cutoff, cutoff)``.

    Up to cutoff 20: a real polynomial in ``r`` (one matmul against a cached table) times
    ``e^{-r^2/2} e^{i phi (m - n)}``. Beyond, The Walrus' column recurrence, vectorised over
    rows and batch, which stays accurate where the closed form cancels.
    """
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    r = torch.as_tensor(r, dtype=rdt, device=device)
    phi = torch.as_tensor(phi, dtype=rdt, device=device)
    if cutoff > _DISP_CLOSED_FORM_MAX:
        return _displacement_recurrence(r, torch.polar(r, phi).to(dtype), cutoff, dtype)
    C = torch.as_tensor(_disp_table(cutoff), dtype=rdt, device=r.device)
    poly = (_powers(r, 2 * cutoff - 1) @ C.reshape(2 * cutoff - 1, -1)).reshape(*r.shape, cutoff, cutoff)
    nm = torch.as_tensor(_nm(cutoff), dtype=rdt, device=r.device)
    env = torch.exp(-0.5 * r * r)[..., None, None]
    # (poly is signed: torch.polar's backward assumes a non-negative modulus, so multiply instead)
    return (poly * env).to(dtype) * _phase(phi[..., None, None] * nm, dtype)


def _displacement_recurrence(r, alpha, cutoff, dtype):
    sq = torch.sqrt(torch.arange(cutoff, dtype=torch.float64, device=alpha.device)).to(dtype)
    col = [torch.exp(-0.5 * r * r).to(dtype)]
    for m in range(1, cutoff):
        col.append(col[-1] * alpha / sq[m])
    cur = torch.stack(col, dim=-1)  # D[:, 0]
    cols = [cur]
    mac = -alpha.conj()[..., None]
    for n in range(1, cutoff):
        shifted = torch.nn.functional.pad(cur[..., :-1], (1, 0)) * sq
        cur = (mac * cur + shifted) / sq[n]
        cols.append(cur)
    return torch.stack(cols, dim=-1)


# ---- squeezing ------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _sq_table(c: int):
    """``C[p, m, n]``: ``<m|S|n> = sqrt(sech r) sech(r)^{m mod 2} e^{i phi (m-n)/2} sum_p C tanh(r)^p``.

    From the Bargmann form ``sum_k sqrt(m! n!)/(j! l! k!) (R00/2)^j (R11/2)^l R01^k`` with
    ``R00 = -e^{i phi} tanh r``, ``R11 = e^{-i phi} tanh r``, ``R01 = sech r`` and
    ``sech^2 = 1 - tanh^2``.
    """
    lf = [math.lgamma(i + 1) for i in range(2 * c)]
    C = np.zeros((c, c, c))
    for m in range(c):
        for n in range(c):
            if (m + n) % 2:
                continue
            eps = m % 2
            for k in range(eps, min(m, n) + 1, 2):
                j, l = (m - k) // 2, (n - k) // 2
                coef = (-1.0) ** j * math.exp(0.5 * (lf[m] + lf[n]) - lf[j] - lf[l] - lf[k]) * 0.5 ** (j + l)
                q = (k - eps) // 2
                for i in range(q + 1):  # (1 - tau^2)^q
                    C[j + l + 2 * i, m, n] += coef * math.comb(q, i) * (-1.0) ** i
    return C


def squeezing_matrix(r, phi, cutoff: int, *, dtype=torch.complex128, device=None):
    """``<m|S(r e^{i phi})|n>``: ``(*batch, cutoff, cutoff)`` (a polynomial in ``tanh r``)."""
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    r = torch.as_tensor(r, dtype=rdt, device=device)
    phi = torch.as_tensor(phi, dtype=rdt, device=device)
    C = torch.as_tensor(_sq_table(cutoff), dtype=rdt, device=r.device)
    tau = torch.tanh(r)
    sech = 1.0 / torch.cosh(r)
    poly = (_powers(tau, cutoff) @ C.reshape(cutoff, -1)).reshape(*r.shape, cutoff, cutoff)
    odd = torch.as_tensor(np.arange(cutoff) % 2, dtype=rdt, device=r.device)[:, None]
    amp = poly * torch.sqrt(sech)[..., None, None] * (1 + odd * (sech[..., None, None] - 1))
    nm = torch.as_tensor(_nm(cutoff) / 2, dtype=rdt, device=r.device)
    return amp.to(dtype) * _phase(phi[..., None, None] * nm, dtype)


# ---- beamsplitter -----------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _bs_table(c: int):
    """Eigendecomposition of ``-i (a1 a2^dag - a1^dag a2)`` per total photon number block."""
    nb, D = 2 * c - 1, 2 * c - 1
    V = np.zeros((nb, D, D), dtype=complex)
    lam = np.zeros((nb, D))
    for N in range(nb):
        # basis |n1, N - n1>, n1 = 0..N ; G = a1 a2^dag - a1^dag a2
        G = np.zeros((N + 1, N + 1))
        for n1 in range(N + 1):
            n2 = N - n1
            if n1 > 0:  # a1 a2^dag |n1, n2> = sqrt(n1 (n2 + 1)) |n1 - 1, n2 + 1>
                G[n1 - 1, n1] += math.sqrt(n1 * (n2 + 1))
            if n2 > 0:  # - a1^dag a2 |n1, n2> = - sqrt((n1 + 1) n2) |n1 + 1, n2 - 1>
                G[n1 + 1, n1] -= math.sqrt((n1 + 1) * n2)
        w, v = np.linalg.eigh(-1j * G)
        V[N, : N + 1, : N + 1] = v
        lam[N, : N + 1] = np.round(w)  # spectrum {-N, -N + 2, ..., N}
    # gather indices for [o1, o2, i1, i2]
    o1, o2, i1, i2 = np.meshgrid(*(np.arange(c),) * 4, indexing="ij")
    valid = (o1 + o2) == (i1 + i2)
    flat = np.where(valid, (o1 + o2) * D * D + o1 * D + i1, nb * D * D)
    return V, lam, flat.reshape(-1), (o2 - i2).astype(float)


def beamsplitter_matrix(theta, phi, cutoff: int, *, dtype=torch.complex128, device=None):
    """``<o1, o2|BS(theta, phi)|i1, i2>``: ``(*batch, c, c, c, c)``."""
    V, lam, flat, dn2 = _bs_table(cutoff)
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    theta = torch.as_tensor(theta, dtype=rdt, device=device)
    phi = torch.as_tensor(phi, dtype=rdt, device=device)
    dev = theta.device
    Vt = torch.as_tensor(V, dtype=dtype, device=dev)
    lt = torch.as_tensor(lam, dtype=rdt, device=dev)
    ph = torch.polar(torch.ones_like(theta)[..., None, None], theta[..., None, None] * lt).to(dtype)
    blocks = torch.einsum("bij,...bj,bkj->...bik", Vt, ph, Vt.conj())
    batch = blocks.shape[:-3]
    flatb = torch.cat([blocks.reshape(*batch, -1), torch.zeros(*batch, 1, dtype=dtype, device=dev)], dim=-1)
    out = flatb[..., torch.as_tensor(flat, device=dev)].reshape(*batch, cutoff, cutoff, cutoff, cutoff)
    phase = torch.polar(
        torch.ones_like(phi)[..., None, None, None, None],
        phi[..., None, None, None, None] * torch.as_tensor(dn2, dtype=rdt, device=dev),
    ).to(dtype)
    return out * phase


# ---- generic Bargmann recurrence (two-mode squeezing) -----------------------------------------------
def bargmann_tensor(A, b, C, cutoff: int):
    """Fock tensor ``G[k] = d^k F(0) / sqrt(k!)`` of ``F(z) = C exp(b.z + z^T A z / 2)``.

    ``A``: ``(*batch, K, K)``, ``b``: ``(*batch, K)``, ``C``: ``(*batch,)``, all complex.
    Returns ``(*batch, cutoff, ..., cutoff)`` with ``K`` index axes. The recurrence
    ``G[k + 1_i] = (b_i G[k] + sum_j A_ij sqrt(k_j) G[k - 1_j]) / sqrt(k_i + 1)`` is run one
    axis at a time, vectorised over the earlier axes and the batch.
    """
    K = A.shape[-1]
    batch = A.shape[:-2]
    dtype, dev = A.dtype, A.device
    sq = torch.sqrt(torch.arange(cutoff, dtype=torch.float64, device=dev)).to(dtype)
    G = C.reshape(batch)  # tensor with 0 index axes so far
    for i in range(K):
        # G: (*batch, c, ..., c) with i axes; build slabs along the new axis i
        slabs = [G]
        for t in range(cutoff - 1):
            cur = slabs[-1]
            nxt = b[..., i].reshape(tuple(batch) + (1,) * i) * cur
            for j in range(i):
                shape = [1] * i
                shape[j] = cutoff
                # sqrt(k_j) G[k - 1_j]: shift along axis j
                shifted = torch.nn.functional.pad(cur.narrow(len(batch) + j, 0, cutoff - 1), _pad_spec(i, j))
                nxt = nxt + A[..., i, j].reshape(tuple(batch) + (1,) * i) * sq.reshape(shape) * shifted
            if t >= 1:
                nxt = nxt + A[..., i, i].reshape(tuple(batch) + (1,) * i) * sq[t] * slabs[-2]
            slabs.append(nxt / sq[t + 1])
        G = torch.stack(slabs, dim=-1)
    return G


def _pad_spec(ndim: int, axis: int):
    """``F.pad`` spec adding one leading zero along ``axis`` of the last ``ndim`` axes."""
    spec = []
    for ax in reversed(range(ndim)):
        spec.extend([1, 0] if ax == axis else [0, 0])
    return spec


def two_mode_squeezing_matrix(r, phi, cutoff: int, *, dtype=torch.complex128, device=None):
    """``<o1, o2|S_2(r e^{i phi})|i1, i2>``: ``(*batch, c, c, c, c)``."""
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    r = torch.as_tensor(r, dtype=rdt, device=device)
    phi = torch.as_tensor(phi, dtype=rdt, device=device)
    sc = (1.0 / torch.cosh(r)).to(dtype)
    e = torch.polar(torch.tanh(r), -phi).to(dtype)  # e^{-i phi} tanh r
    z = torch.zeros_like(sc)
    rows = [
        [z, -e.conj(), -sc, z],
        [-e.conj(), z, z, -sc],
        [-sc, z, z, e],
        [z, -sc, e, z],
    ]
    A = -torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)
    b = torch.zeros(*sc.shape, 4, dtype=dtype, device=sc.device)
    return bargmann_tensor(A, b, sc, cutoff)


# ---- diagonal gates and the cubic phase -------------------------------------------------------------
def _n(cutoff, rdt, device):
    return torch.arange(cutoff, dtype=rdt, device=device)


def rotation_diagonal(theta, cutoff: int, *, dtype=torch.complex128, device=None):
    """``exp(i theta n)``: ``(*batch, cutoff)``."""
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    theta = torch.as_tensor(theta, dtype=rdt, device=device)
    n = _n(cutoff, rdt, theta.device)
    return torch.polar(torch.ones_like(theta)[..., None].expand(*theta.shape, cutoff), theta[..., None] * n).to(dtype)


def kerr_diagonal(kappa, cutoff: int, *, dtype=torch.complex128, device=None):
    """``exp(i kappa n^2)``: ``(*batch, cutoff)``."""
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    kappa = torch.as_tensor(kappa, dtype=rdt, device=device)
    n = _n(cutoff, rdt, kappa.device)
    return torch.polar(torch.ones_like(kappa)[..., None].expand(*kappa.shape, cutoff), kappa[..., None] * n * n).to(dtype)


def cross_kerr_diagonal(kappa, cutoff: int, *, dtype=torch.complex128, device=None):
    """``exp(i kappa n1 n2)``: ``(*batch, cutoff, cutoff)``."""
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    kappa = torch.as_tensor(kappa, dtype=rdt, device=device)
    n = _n(cutoff, rdt, kappa.device)
    nn = n[:, None] * n[None, :]
    ones = torch.ones_like(kappa)[..., None, None].expand(*kappa.shape, cutoff, cutoff)
    return torch.polar(ones, kappa[..., None, None] * nn).to(dtype)


def quadrature_matrices(dim: int, *, dtype=torch.complex128, device=None):
    """Truncated ``x`` and ``p`` (hbar = 2) on ``dim`` Fock levels."""
    a = torch.diag(torch.sqrt(torch.arange(1, dim, dtype=torch.float64)), 1).to(dtype).to(device)
    ad = a.transpose(0, 1)
    s = math.sqrt(HBAR / 2)
    return s * (a + ad), -1j * s * (a - ad)


def cubic_phase_matrix(gamma, cutoff: int, *, dtype=torch.complex128, device=None):
    """``expm(i gamma x^3 / (3 hbar))`` of the truncated ``x`` (Strawberry Fields' definition)."""
    rdt = torch.float64 if dtype == torch.complex128 else torch.float32
    gamma = torch.as_tensor(gamma, dtype=rdt, device=device)
    x, _ = quadrature_matrices(cutoff, dtype=dtype, device=gamma.device)
    x3 = x @ x @ x
    gen = (1j * gamma.to(dtype) / (3 * HBAR))[..., None, None] * x3
    return torch.linalg.matrix_exp(gen)


__all__ = [
    "displacement_matrix", "squeezing_matrix", "beamsplitter_matrix", "two_mode_squeezing_matrix",
    "rotation_diagonal", "kerr_diagonal", "cross_kerr_diagonal", "cubic_phase_matrix",
    "bargmann_tensor", "quadrature_matrices",
]
