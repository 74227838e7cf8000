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
``C[i, p, b] = U[b, i, j_k] phi_{k-1}[p, b]`` (every parent pattern ``p`` times every output mode
``i``) and one ``index_add`` of ``C`` into ``phi_k`` at the precomputed targets ``rank(p + e_i)``.
The amplitudes live as ``(N, B)`` (batch last), so both kernels move whole contiguous rows. The
integer tables depend only on ``(m, k)``; they are built once with numpy, cached, and moved to
each torch device once (:func:`slos_tables`), so the loop over photons launches a fixed sequence
of kernels with no host synchronisation. Autograd differentiates through the loop (backprop): the
backward of ``index_add`` is a gather, of the multiply two reductions.

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
from qphys.sim.linear_optics.fock_space import _patterns_np, num_patterns, rank, validate_photons


@dataclass(frozen=True)
class Layer:
    """Index table of SLOS layer ``k``: ``N_{k-1}`` parents, ``N_k`` children.

    Attributes:
        size: ``N_k``, the number of ``k``-photon patterns.
        target: ``(m * N_{k-1},)`` int64; entry ``i * N_{k-1} + p`` is the index of ``p + e_i``
            among the ``k``-photon patterns.
    """

    size: int
    target: torch.Tensor


def _targets_np(m: int, k: int) -> np.ndarray:
    parents = _patterns_np(m, k - 1).astype(np.int64)
    children = np.repeat(parents[None], m, axis=0)  # (m, N_{k-1}, m)
    children[np.arange(m), :, np.arange(m)] += 1
    return rank(children.reshape(-1, m), m, k)


@lru_cache(maxsize=64)
def _tables_cpu(m: int, n: int) -> tuple[Layer, ...]:
    return tuple(Layer(num_patterns(m, k), torch.from_numpy(_targets_np(m, k))) for k in range(2, n + 1))


@lru_cache(maxsize=64)
def _tables_on(m: int, n: int, device: str) -> tuple[Layer, ...]:
    return tuple(Layer(lay.size, lay.target.to(device)) for lay in _tables_cpu(m, n))


def slos_tables(m: int, n: int, device: torch.device | str = "cpu") -> tuple[Layer, ...]:
    """The cached index tables of layers ``2..n`` for ``n`` photons in ``m`` modes, on ``device``.

    Layer 1 needs none (its amplitudes are the first input photon's column of ``U``). Tables depend
    on ``(m, n)`` only, not on which modes the photons enter.

    Examples:
        >>> [(layer.size, layer.target.numel()) for layer in slos_tables(4, 3)]
        [(10, 16), (20, 40)]
    """
    return _tables_on(int(m), int(n), str(torch.device(device)))


@lru_cache(maxsize=64)
def _output_scale_np(m: int, n: int) -> np.ndarray:
    """``sqrt(t!)`` for every ``n``-photon pattern ``t``."""
    fact = np.array([math.factorial(v) for v in range(n + 1)], dtype=np.float64)
    return np.sqrt(fact[_patterns_np(m, n)].prod(axis=1))


@lru_cache(maxsize=64)
def _output_scale(m: int, n: int, norm: int, dtype: torch.dtype, device: str) -> torch.Tensor | None:
    scale = _output_scale_np(m, n) / math.sqrt(norm)
    if np.all(scale == 1.0):
        return None
    return torch.as_tensor(scale, dtype=dtype, device=device).unsqueeze(1)


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
    b, m = u.shape[0], u.shape[-1]
    s = validate_photons(photons, m)
    n = sum(s)
    if n == 0:
        return torch.ones(1, b, dtype=u.dtype, device=u.device)
    inputs = [j for j, c in enumerate(s) for _ in range(c)]
    cols = u[:, :, inputs].permute(2, 1, 0).contiguous()  # (n, m, B): photon l's column U[:, :, j_l], batch last
    phi = cols[0]  # layer 1
    for layer, col in zip(slos_tables(m, n, u.device), cols[1:]):
        contributions = (col.unsqueeze(1) * phi.unsqueeze(0)).reshape(-1, b)  # (m * N_{k-1}, B)
        phi = phi.new_zeros(layer.size, b).index_add(0, layer.target, contributions)
    scale = _output_scale(m, n, math.prod(math.factorial(c) for c in s), u.real.dtype, str(u.device))
    return phi if scale is None else phi * scale


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
    a = _amplitudes_nb(check_unitary_batch(U), photons)
    p = (a.real.square() + a.imag.square()).transpose(0, 1).contiguous()
    return p if batched else p[0]


def output_size(m: int, photons) -> int:
    """Number of output patterns for ``photons`` in ``m`` modes (the length of :func:`amplitudes`).

    Examples:
        >>> output_size(4, (1, 1, 0, 0))
        10
    """
    return num_patterns(m, sum(validate_photons(photons, m)))


__all__ = ["amplitudes", "probabilities", "output_size", "slos_tables", "check_unitary_batch", "Layer"]
