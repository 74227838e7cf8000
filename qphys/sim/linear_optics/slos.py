"""SLOS: all output amplitudes of a linear interferometer with a Fock-state input.

Heurtel et al., "Strong simulation of linear optical processes", Quantum 7, 931 (2023). A Fock
input ``|s> = prod_j (a_j^dagger)^{s_j} / sqrt(s_j!) |0>`` leaves the interferometer ``U`` as
``prod_l (sum_i U[i, j_l] a_i^dagger) |0> / sqrt(s!)``, with ``j_1 <= ... <= j_n`` the input modes of
the ``n`` photons and ``s! = prod_j s_j!``. SLOS expands that product one photon at a time: after
``k`` photons the state is a vector over the ``k``-photon patterns of ``m`` modes. In the
unnormalised basis ``phi_k[t] = psi_k[t] / sqrt(t!)`` the step has no square roots:

    phi_k[t] = sum_{i : t_i > 0} U[i, j_k] phi_{k-1}[t - e_i]

and at the end ``<t|U|s> = sqrt(t! / s!) phi_n[t]``. Layer ``k`` costs ``m N_{k-1}`` complex
multiply-adds, ``N_k = C(m + k - 1, k)`` (about ``n N_n`` in all), against ``O(n 2^n)`` per pattern
for permanents.

In torch a layer is two kernels over the whole batch: one broadcast complex multiply
``C[p, i, b] = phi_{k-1}[p, b] U[b, i, j_k]`` (every parent pattern ``p`` times every output mode
``i``) and one accumulating scatter of ``C`` into ``phi_k`` at the precomputed targets
``rank(p + e_i)`` (``index_put_(accumulate=True)`` on CPU, ``index_add_`` on CUDA). The amplitudes
live as ``(N, B)`` (batch last), so both kernels move whole contiguous rows. The int32 index
tables depend only on ``(m, k)``; they are computed arithmetically with numpy, cached, and moved
to each torch device once (:func:`slos_tables`), so the loop over photons launches a fixed
sequence of kernels with no host synchronisation (chunk boundaries are Python integers fixed by
the sizes). On CUDA the scatter uses atomic adds: the at most ``min(k, m)`` terms of an output
may be summed in any order (last-bit differences), unless ``torch.use_deterministic_algorithms``
is on.

The layer is a custom autograd function (:class:`SlosLayer`) whose backward is the adjoint step,
``grad phi_{k-1}[p] = sum_i conj(U[i, j_k]) G[p + e_i]`` and ``grad U[i, j_k] = sum_p
conj(phi_{k-1}[p]) G[p + e_i]``: one gather of the output gradient ``G`` and two multiply-reduce
passes, written with differentiable torch ops (second derivatives work). Both directions run over
the parents in row chunks of about :data:`CPU_CHUNK_BYTES` of contributions on CPU, so the
``(rows, m, B)`` temporaries stay in cache instead of streaming ``m`` times the layer through
memory (on CUDA a chunk is :data:`CUDA_CHUNK_BYTES`, i.e. usually the whole layer). Chunking also
caps the temporaries' memory (see :mod:`qphys.sim.linear_optics.memory`).

Convention: ``U[..., out, in]``, i.e. a photon entering mode ``j`` leaves in mode ``i`` with amplitude
``U[i, j]`` (Perceval's ``Circuit.compute_unitary()``); outputs are indexed as
:func:`qphys.sim.linear_optics.fock_space.patterns`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from qphys.errors import MatrixError
from qphys.sim.linear_optics.fock_space import (
    _binomials,
    _patterns_np,
    num_patterns,
    register_caches,
    validate_photons,
)

#: CPU chunk of one layer's contributions ``(rows, m, B)``, in bytes: about L2-cache sized
CPU_CHUNK_BYTES = 1 << 20
#: CUDA chunk: large (kernel launches cost more than memory traffic there)
CUDA_CHUNK_BYTES = 1 << 28
#: fewest parent rows per chunk (bounds the Python loop for very large batches)
MIN_CHUNK_ROWS = 16


#: parents per block while building an index table (bounds the numpy workspace)
TABLE_BLOCK_ROWS = 1 << 16


@dataclass(frozen=True)
class Layer:
    """Index table of SLOS layer ``k``: ``N_{k-1}`` parents, ``N_k`` children.

    Attributes:
        size: ``N_k``, the number of ``k``-photon patterns.
        target: ``(N_{k-1}, m)`` int32 (int64 past 2**31 patterns); ``target[p, i]`` is the index
            of ``p + e_i`` among the ``k``-photon patterns (parent-major, so a chunk of parents is
            a contiguous slice).
    """

    size: int
    target: torch.Tensor


def index_dtype(size: int) -> np.dtype:
    """int32 for tables indexing fewer than 2**31 patterns, else int64."""
    return np.dtype(np.int32) if size < 2**31 else np.dtype(np.int64)


def _targets_np(m: int, k: int) -> np.ndarray:
    """``rank(p + e_j)`` for every ``(k-1)``-photon parent ``p`` and mode ``j``, without building
    the children: with ``g_i`` the parent's gaps (photons left after mode ``i``), the child's rank
    is ``sum_{i<j} C(m - i - 1 + g_i, g_i) + sum_{i>=j} C(m - i - 2 + g_i, g_i - 1)`` (see
    :func:`~qphys.sim.linear_optics.fock_space.rank`: adding a photon on ``j`` widens the gaps
    before ``j`` by one). Built in blocks of :data:`TABLE_BLOCK_ROWS` parents."""
    parents = _patterns_np(m, k - 1)
    size = len(parents)
    out = np.empty((size, m), dtype=index_dtype(num_patterns(m, k)))
    binom = _binomials(m + k + 1)
    modes = np.arange(m)
    for start in range(0, size, TABLE_BLOCK_ROWS):
        t = parents[start : start + TABLE_BLOCK_ROWS].astype(np.int64)
        gap = (k - 1) - np.cumsum(t, axis=1)  # photons after mode i
        widened = binom[np.maximum(m - modes - 1 + gap, 0), gap]  # C(m-i-1+g, g)
        own = np.where(gap > 0, binom[np.maximum(m - modes - 2 + gap, 0), np.maximum(gap - 1, 0)], 0)
        before = np.cumsum(widened, axis=1) - widened  # sum over i < j
        after = np.cumsum(own[:, ::-1], axis=1)[:, ::-1]  # sum over i >= j
        out[start : start + TABLE_BLOCK_ROWS] = before + after
    return out


@lru_cache(maxsize=16)
def _tables_cpu(m: int, n: int) -> tuple[Layer, ...]:
    return tuple(Layer(num_patterns(m, k), torch.from_numpy(_targets_np(m, k))) for k in range(2, n + 1))


@lru_cache(maxsize=16)
def _tables_on(m: int, n: int, device: str) -> tuple[Layer, ...]:
    return tuple(Layer(lay.size, lay.target.to(device)) for lay in _tables_cpu(m, n))


def slos_tables(m: int, n: int, device: torch.device | str = "cpu") -> tuple[Layer, ...]:
    """The cached index tables of layers ``2..n`` for ``n`` photons in ``m`` modes, on ``device``.

    Layer 1 needs none (its amplitudes are the first input photon's column of ``U``). Tables depend
    on ``(m, n)`` only, not on which modes the photons enter.

    Examples:
        >>> [(layer.size, tuple(layer.target.shape)) for layer in slos_tables(4, 3)]
        [(10, (4, 4)), (20, (10, 4))]
    """
    return _tables_on(int(m), int(n), str(torch.device(device)))


@lru_cache(maxsize=16)
def _output_scale_np(m: int, n: int) -> np.ndarray:
    """``sqrt(t!)`` for every ``n``-photon pattern ``t`` (column by column: no (N, m) floats)."""
    fact = np.sqrt(np.array([math.factorial(v) for v in range(n + 1)], dtype=np.float64))
    pats = _patterns_np(m, n)
    out = np.ones(len(pats))
    for i in range(m):
        out *= fact[pats[:, i]]
    return out


@lru_cache(maxsize=16)
def _output_scale(m: int, n: int, norm: int, dtype: torch.dtype, device: str) -> torch.Tensor | None:
    scale = _output_scale_np(m, n) / math.sqrt(norm)
    if np.all(scale == 1.0):
        return None
    return torch.as_tensor(scale, dtype=dtype, device=device).unsqueeze(1)


def chunk_rows(m: int, batch: int, dtype: torch.dtype, device: torch.device | str) -> int:
    """Parent rows per chunk of a layer (see the module docstring).

    Examples:
        >>> chunk_rows(12, 64, torch.complex64, "cpu")
        170
    """
    budget = CUDA_CHUNK_BYTES if torch.device(device).type == "cuda" else CPU_CHUNK_BYTES
    itemsize = torch.empty((), dtype=dtype).element_size()
    return max(MIN_CHUNK_ROWS, budget // (m * batch * itemsize))


class SlosLayer(torch.autograd.Function):
    """One SLOS layer: ``phi_k[target[p, i]] += phi_{k-1}[p] * col[i]`` over parents ``p`` and
    modes ``i``, for ``(B,)`` batches on the last axis, in chunks of ``chunk`` parents.

    ``apply(col (m, B), phi (N_{k-1}, B), target (N_{k-1}, m), size N_k, chunk) -> (N_k, B)``.
    """

    @staticmethod
    def forward(ctx, col, phi, target, size, chunk):
        b = phi.shape[1]
        out = phi.new_zeros(size, b)
        row = col.unsqueeze(0)  # (1, m, B)
        cuda = phi.device.type == "cuda"
        for start in range(0, phi.shape[0], chunk):
            contrib = (phi[start : start + chunk].unsqueeze(1) * row).reshape(-1, b)  # (rows * m, B)
            idx = target[start : start + chunk].reshape(-1)
            if cuda:  # atomic adds (deterministic under torch.use_deterministic_algorithms)
                out.index_add_(0, idx, contrib)
            else:  # on CPU 2-4x faster than index_add_ for short rows (B ~ 64)
                out.index_put_((idx,), contrib, accumulate=True)
        ctx.save_for_backward(col, phi, target)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad):
        col, phi, target = ctx.saved_tensors
        m, b = col.shape
        need_col, need_phi = ctx.needs_input_grad[:2]
        row = col.conj().unsqueeze(0)
        grad_col = None
        pieces = []
        for start in range(0, phi.shape[0], ctx.chunk):
            g = grad.index_select(0, target[start : start + ctx.chunk].reshape(-1)).view(-1, m, b)
            if need_phi:
                pieces.append((g * row).sum(1))
            if need_col:
                part = (g * phi[start : start + ctx.chunk].conj().unsqueeze(1)).sum(0)
                grad_col = part if grad_col is None else grad_col + part
        grad_phi = (pieces[0] if len(pieces) == 1 else torch.cat(pieces)) if need_phi else None
        return grad_col, grad_phi, None, None, None


class SquaredModulus(torch.autograd.Function):
    """``p[b, t] = |phi[t, b]|^2 * weight[t]``: probabilities ``(B, N)`` from batch-last
    unnormalised amplitudes ``(N, B)`` and real weights ``(N, 1)`` (``sqrt(t!/s!)`` squared), in three
    contiguous passes each way (autograd over ``.real``/``.imag`` takes about ten)."""

    @staticmethod
    def forward(ctx, phi, weight):
        re, im = phi.real, phi.imag
        p = torch.addcmul(re * re, im, im)
        p.mul_(weight)
        ctx.save_for_backward(phi, weight)
        return p.t().contiguous()

    @staticmethod
    def backward(ctx, grad):
        phi, weight = ctx.saved_tensors
        # d|z|^2 = 2 Re(conj(z) dz): torch's gradient convention gives 2 z g for a real g
        g = grad.t().contiguous()  # one transposing copy, then contiguous elementwise passes
        g.mul_(2 * weight)
        # real x real on the (N, B, 2) view: multiplying complex by real would first copy g to complex
        return torch.view_as_complex(torch.view_as_real(phi) * g.unsqueeze(-1)), None


register_caches(_tables_cpu, _tables_on, _output_scale_np, _output_scale)


def check_unitary_batch(U: torch.Tensor) -> torch.Tensor:
    """``U`` as a complex ``(B, m, m)`` tensor (adds the batch axis of a single ``(m, m)``).

    Unitarity is not checked here (that would synchronise with the device): callers that build
    ``U`` from components get unitaries by construction, and a user-given matrix is checked once
    where it enters (``qphys.ops.cv.check_unitary``).

    Raises:
        MatrixError: not a square complex matrix (or batch of them).
    """
    if not torch.is_tensor(U):
        U = torch.as_tensor(np.asarray(U))
    if U.ndim not in (2, 3) or U.shape[-1] != U.shape[-2] or U.shape[-1] == 0:
        raise MatrixError(f"the interferometer must be a square (m, m) or batched (B, m, m) matrix, got shape {tuple(U.shape)}")
    if not U.is_complex():
        raise MatrixError(f"the interferometer must be a complex tensor (complex64 or complex128), got {U.dtype}")
    return U if U.ndim == 3 else U.unsqueeze(0)


def amplitudes(U: torch.Tensor, photons) -> torch.Tensor:
    """Output amplitudes ``<t| U |s>`` of every ``n``-photon pattern ``t``, by SLOS.

    Args:
        U: interferometer ``(m, m)`` or a batch ``(B, m, m)``, complex64 or complex128, on any
            device; ``U[..., i, j]`` is the amplitude for input mode ``j`` -> output mode ``i``.
        photons: the input Fock state ``s``, photons per mode, e.g. ``(1, 1, 0, 0)``.

    Returns:
        ``(B, N)`` (or ``(N,)`` for an unbatched ``U``) amplitudes, ``N = C(m + n - 1, n)``, in the
        order of :func:`~qphys.sim.linear_optics.fock_space.patterns`. Differentiable in ``U``.

    Raises:
        MatrixError: ``U`` is not a square complex matrix.
        WireError: ``photons`` does not have ``m`` entries.

    Examples:
        >>> import torch
        >>> bs = torch.tensor([[1, 1j], [1j, 1]], dtype=torch.complex128) / 2**0.5  # Perceval's BS()
        >>> amplitudes(bs, (1, 1)).abs().square()  # Hong-Ou-Mandel: |2,0>, |1,1>, |0,2>
        tensor([0.5000, 0.0000, 0.5000], dtype=torch.float64)
    """
    batched = torch.is_tensor(U) and U.ndim == 3
    psi = _amplitudes_nb(check_unitary_batch(U), photons).transpose(0, 1).contiguous()
    return psi if batched else psi[0]


def _amplitudes_nb(u: torch.Tensor, photons) -> torch.Tensor:
    """SLOS on a ``(B, m, m)`` batch; amplitudes as ``(N, B)`` (batch last)."""
    phi, scale = _unnormalised(u, photons)
    return phi if scale is None else phi * scale


def _unnormalised(u: torch.Tensor, photons) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(phi_n (N, B), sqrt(t!/s!) (N, 1) or None)``: SLOS without the output normalisation."""
    b, m = u.shape[0], u.shape[-1]
    s = validate_photons(photons, m)
    n = sum(s)
    if n == 0:
        return torch.ones(1, b, dtype=u.dtype, device=u.device), None
    inputs = [j for j, c in enumerate(s) for _ in range(c)]
    cols = u[:, :, inputs].permute(2, 1, 0).contiguous()  # (n, m, B): photon l's column U[:, :, j_l], batch last
    phi = cols[0]  # layer 1
    chunk = chunk_rows(m, b, u.dtype, u.device)
    for layer, col in zip(slos_tables(m, n, u.device), cols[1:]):
        phi = SlosLayer.apply(col, phi, layer.target, layer.size, chunk)
    return phi, _output_scale(m, n, math.prod(math.factorial(c) for c in s), u.real.dtype, str(u.device))


def probabilities(U: torch.Tensor, photons) -> torch.Tensor:
    """Output probabilities ``|<t| U |s>|^2`` of every pattern (real, same layout as
    :func:`amplitudes`); they sum to 1 for a unitary ``U``.

    Examples:
        >>> import torch
        >>> p = probabilities(torch.eye(3, dtype=torch.complex64), (0, 2, 1))
        >>> int(p.argmax()), float(p.sum())
        (7, 1.0)
    """
    batched = torch.is_tensor(U) and U.ndim == 3
    u = check_unitary_batch(U)
    phi, scale = _unnormalised(u, photons)
    weight = scale.square() if scale is not None else torch.ones(1, 1, dtype=u.real.dtype, device=u.device)
    p = SquaredModulus.apply(phi, weight)
    return p if batched else p[0]


def output_size(m: int, photons) -> int:
    """Number of output patterns for ``photons`` in ``m`` modes (the length of :func:`amplitudes`).

    Examples:
        >>> output_size(4, (1, 1, 0, 0))
        10
    """
    return num_patterns(m, sum(validate_photons(photons, m)))


__all__ = [
    "amplitudes", "probabilities", "output_size", "slos_tables", "check_unitary_batch", "chunk_rows", "Layer",
    "SlosLayer", "SquaredModulus",
]
