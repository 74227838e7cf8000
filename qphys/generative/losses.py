"""Losses of Born machines on distributions over ``2**n`` basis states.

The MMD kernel is Liu & Wang's Gaussian mixture on bit vectors,
``K(x, y) = (1/c) Σ_i exp(-|x - y|² / (2 σ_i))`` with ``|x - y|²`` the Hamming distance and
default ``σ = (0.5, 1, 2, 4)``; ``normalize=False`` drops the ``1/c`` as the authors' code does.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from qphys.errors import ParameterError
from qphys.generative.metrics import kl_divergence

DEFAULT_SIGMAS = (0.5, 1.0, 2.0, 4.0)


@lru_cache(maxsize=16)
def _hamming(n_bits: int) -> torch.Tensor:
    idx = torch.arange(2**n_bits)
    x = idx[:, None] ^ idx[None, :]
    d = torch.zeros_like(x)
    for b in range(n_bits):
        d += (x >> b) & 1
    return d.to(torch.float64)


def mmd_kernel(n_bits: int, sigmas=DEFAULT_SIGMAS, *, normalize: bool = True) -> torch.Tensor:
    """The ``(2**n, 2**n)`` Gaussian-mixture kernel matrix on basis states (float64).

    Examples:
        >>> from qphys.generative.losses import mmd_kernel
        >>> K = mmd_kernel(2)
        >>> float(K[0, 0]), K.shape
        (1.0, torch.Size([4, 4]))
    """
    if isinstance(n_bits, bool) or not isinstance(n_bits, int) or not 1 <= n_bits <= 14:
        raise ParameterError(f"mmd_kernel needs 1 <= n_bits <= 14 (dense 2^n x 2^n matrix), got {n_bits!r}")
    sig = tuple(float(s) for s in sigmas)
    if not sig or any(s <= 0 for s in sig):
        raise ParameterError(f"MMD bandwidths must be positive, got {sigmas!r}")
    d = _hamming(n_bits)
    K = sum(torch.exp(-d / (2 * s)) for s in sig)
    return K / len(sig) if normalize else K


def _check_pair(p, q):
    if p.shape != q.shape or p.ndim != 1:
        raise ParameterError(
            f"model and target distributions must both be (2**n,) vectors, got {tuple(p.shape)} and "
            f"{tuple(q.shape)}; is the dataset for a different number of qubits?"
        )


def mmd(p, q, *, sigmas=DEFAULT_SIGMAS, kernel: torch.Tensor | None = None, normalize: bool = True) -> torch.Tensor:
    """Squared MMD ``(p - q)ᵀ K (p - q)`` between two distributions (differentiable).

    Examples:
        >>> import torch
        >>> from qphys.generative.losses import mmd
        >>> p = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
        >>> float(mmd(p, p))
        0.0
    """
    p, q = torch.as_tensor(p).to(torch.float64), torch.as_tensor(q).to(torch.float64)
    _check_pair(p, q)
    n = p.shape[0].bit_length() - 1
    if 2**n != p.shape[0]:
        raise ParameterError(f"distribution length {p.shape[0]} is not a power of two")
    K = mmd_kernel(n, sigmas, normalize=normalize) if kernel is None else kernel
    d = p - q.to(p.device)
    return d @ (K.to(d.device) @ d)


def kl(model, target, *, eps: float = 1e-12) -> torch.Tensor:
    """``KL(target || model)`` — the loss form of :func:`~qphys.generative.metrics.kl_divergence`."""
    model, target = torch.as_tensor(model), torch.as_tensor(target)
    _check_pair(model, target)
    return kl_divergence(target, model, eps=eps)


def nll(model, target, *, eps: float = 1e-12) -> torch.Tensor:
    """Negative log-likelihood (cross entropy) ``-Σ target · log model``."""
    model = torch.as_tensor(model).to(torch.float64)
    target = torch.as_tensor(target).to(device=model.device, dtype=torch.float64)
    _check_pair(model, target)
    # where, not a boolean mask: no host synchronisation on CUDA; target = 0 terms are exactly 0
    return -torch.where(target > 0, target * torch.log(model.clamp_min(eps)), torch.zeros_like(target)).sum()


LOSSES = {"mmd": mmd, "kl": kl, "nll": nll}
