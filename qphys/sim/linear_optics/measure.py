"""Measurements on output-pattern probabilities: samples and counts, threshold (click) detection,
photon numbers, heralding and post-selection.

Probabilities are ``(B, N)`` or ``(N,)`` tensors over the ``n``-photon patterns of ``m`` modes, in
the order of :func:`qphys.sim.linear_optics.fock_space.patterns`. Table look-ups are cached per
``(m, n)`` and device; every function is one or two batched kernels (no loop over patterns).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import torch

from qphys.errors import ConfigError, ParameterError, WireError
from qphys.sim.linear_optics.fock_space import (
    _patterns_np,
    num_patterns,
    rank,
    register_caches,
    validate_photons,
)


def _check_probs(probs: torch.Tensor, m: int, n: int) -> None:
    size = num_patterns(m, n)
    if probs.shape[-1] != size or probs.ndim not in (1, 2):
        raise ParameterError(
            f"expected probabilities of shape (N,) or (B, N) with N = {size} ({n} photons in {m} modes), "
            f"got {tuple(probs.shape)}"
        )


def sample(probs: torch.Tensor, shots: int, *, generator: torch.Generator) -> torch.Tensor:
    """Draw ``shots`` pattern indices per batch row, with replacement, from ``generator``.

    Sampling runs on the generator's device (probabilities are moved there in float64 and
    renormalised); the indices come back on ``probs``' device.

    Args:
        probs: ``(B, N)`` or ``(N,)`` probabilities.
        shots: positive number of samples per row.
        generator: a seeded ``torch.Generator`` (e.g. ``qphys._random.seeded_generator(seed)``).

    Returns:
        ``(B, shots)`` (or ``(shots,)``) int64 pattern indices.

    Raises:
        ConfigError: ``shots`` is not a positive integer.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> sample(torch.tensor([0.0, 1.0, 0.0]), 4, generator=g)
        tensor([1, 1, 1, 1])
    """
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots <= 0:
        raise ConfigError(f"shots must be a positive integer, got {shots!r}")
    p = probs.detach().to(device=generator.device, dtype=torch.float64).clamp_min(0)
    flat = p.reshape(-1, p.shape[-1])
    flat = flat / flat.sum(-1, keepdim=True)
    idx = torch.multinomial(flat, int(shots), replacement=True, generator=generator)
    return idx.reshape(*p.shape[:-1], int(shots)).to(probs.device)


def counts(indices: torch.Tensor, size: int) -> torch.Tensor:
    """Histogram of sampled pattern indices: ``(B, shots)`` -> ``(B, size)`` int64 (one scatter).

    Examples:
        >>> counts(torch.tensor([[0, 2, 2], [1, 1, 1]]), 3)
        tensor([[1, 0, 2],
                [0, 3, 0]])
    """
    flat = indices.reshape(-1, indices.shape[-1])
    out = torch.zeros(flat.shape[0], size, dtype=torch.int64, device=indices.device)
    out.scatter_add_(1, flat, torch.ones_like(flat))
    return out.reshape(*indices.shape[:-1], size)


@lru_cache(maxsize=64)
def _patterns_on(m: int, n: int, device: str) -> torch.Tensor:
    return torch.from_numpy(_patterns_np(m, n).copy()).to(device)


def index_to_patterns(indices: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """Pattern indices ``(...)`` -> photon counts ``(..., m)`` (uint8), e.g. samples as patterns.

    Examples:
        >>> index_to_patterns(torch.tensor([0, 4]), 3, 2).tolist()
        [[2, 0, 0], [0, 1, 1]]
    """
    table = _patterns_on(m, n, str(indices.device))
    return table.index_select(0, indices.reshape(-1)).reshape(*indices.shape, m)


@lru_cache(maxsize=64)
def _threshold_np(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    clicks = (_patterns_np(m, n) > 0).astype(np.uint8)
    # descending lexicographic order of the distinct click patterns (mode 0 most significant)
    unique, group = np.unique(clicks, axis=0, return_inverse=True)
    order = np.lexsort(unique.T[::-1])[::-1]
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return unique[order], position[group.reshape(-1)].astype(np.int64)


def threshold_patterns(m: int, n: int) -> torch.Tensor:
    """Click patterns ``(K, m)`` (uint8, 1 = the detector clicked) that ``n`` photons in ``m``
    modes can produce, in descending lexicographic order: those with 1 to ``min(n, m)`` clicks.

    Examples:
        >>> threshold_patterns(3, 2).tolist()
        [[1, 1, 0], [1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0], [0, 0, 1]]
    """
    return torch.from_numpy(_threshold_np(m, n)[0].copy())


@lru_cache(maxsize=64)
def _threshold_group(m: int, n: int, device: str) -> tuple[int, torch.Tensor]:
    clicks, group = _threshold_np(m, n)
    return len(clicks), torch.from_numpy(group).to(device)


def threshold_probabilities(probs: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """Threshold (click / no-click) detection: the probability of each click pattern of
    :func:`threshold_patterns`, summing the Fock patterns that give it (one ``index_add``).

    Examples:
        >>> p = torch.tensor([0.5, 0.0, 0.5])  # HOM: |2,0>, |1,1>, |0,2>
        >>> threshold_probabilities(p, 2, 2)  # clicks (1,1), (1,0), (0,1)
        tensor([0.0000, 0.5000, 0.5000])
    """
    _check_probs(probs, m, n)
    size, group = _threshold_group(m, n, str(probs.device))
    out = probs.new_zeros(*probs.shape[:-1], size)
    return out.index_add(probs.ndim - 1, group, probs)


def photon_numbers(probs: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """Mean photon number of every mode from pattern probabilities: ``(B, m)`` (or ``(m,)``).

    Examples:
        >>> photon_numbers(torch.tensor([0.5, 0.0, 0.5]), 2, 2)
        tensor([1., 1.])
    """
    _check_probs(probs, m, n)
    table = _patterns_on(m, n, str(probs.device)).to(probs.dtype)
    return probs @ table


def photon_numbers_exact(U: torch.Tensor, photons) -> torch.Tensor:
    """Mean photon numbers without SLOS: ``<n_i> = sum_j |U[i, j]|^2 s_j`` for a Fock input ``s``
    (first moments of a linear-optical network need only ``|U|^2``). ``U``: ``(m, m)`` or
    ``(B, m, m)``; returns ``(m,)`` or ``(B, m)``, differentiable.

    Examples:
        >>> bs = torch.tensor([[1, 1j], [1j, 1]], dtype=torch.complex128) / 2**0.5
        >>> photon_numbers_exact(bs, (1, 0))
        tensor([0.5000, 0.5000], dtype=torch.float64)
    """
    s = torch.tensor(validate_photons(photons, U.shape[-1]), dtype=U.real.dtype, device=U.device)
    return (U.real.square() + U.imag.square()) @ s


@lru_cache(maxsize=64)
def _herald_np(m: int, n: int, heralds: tuple[tuple[int, int], ...]) -> np.ndarray:
    pats = _patterns_np(m, n)
    keep = np.ones(len(pats), dtype=bool)
    for mode, value in heralds:
        keep &= pats[:, mode] == value
    return np.flatnonzero(keep)


def _check_heralds(heralds: Mapping[int, int], m: int, n: int) -> tuple[tuple[int, int], ...]:
    items = []
    for mode, value in dict(heralds).items():
        if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or not 0 <= mode < m:
            raise WireError(f"herald mode {mode!r} is not an integer in [0, {m})")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(f"herald on mode {mode} must be a non-negative photon count, got {value!r}")
        items.append((int(mode), int(value)))
    if len(items) >= m:
        raise WireError(f"heralding all {m} modes leaves no output; herald at most {m - 1} of them")
    if sum(v for _, v in items) > n:
        raise ParameterError(
            f"the heralds {dict(items)} ask for {sum(v for _, v in items)} photons but the state has {n}"
        )
    return tuple(sorted(items))


def herald(probs: torch.Tensor, m: int, n: int, heralds: Mapping[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Condition on detecting ``heralds[mode]`` photons in each heralded mode.

    Returns ``(conditional, success)``: ``success`` ``(B,)`` is the probability of the herald
    pattern; ``conditional`` ``(B, N')`` is the renormalised distribution of the remaining
    ``m - k`` modes (in their order) over their ``n - sum(heralds)`` photons, indexed like
    ``patterns(m - k, n - sum(heralds))`` (zero where ``success`` is 0). Differentiable.

    Raises:
        WireError: a herald mode is out of range, or every mode is heralded.
        ParameterError: a negative count, or more herald photons than ``n``.

    Examples:
        >>> p = torch.tensor([0.5, 0.0, 0.5])  # HOM: |2,0>, |1,1>, |0,2>
        >>> herald(p, 2, 2, {1: 0})
        (tensor([1.]), tensor(0.5000))
    """
    _check_probs(probs, m, n)
    items = _check_heralds(heralds, m, n)
    keep = torch.from_numpy(_herald_np(m, n, items)).to(probs.device)
    kept = probs.index_select(probs.ndim - 1, keep)
    success = kept.sum(-1)
    conditional = kept / success.clamp_min(torch.finfo(probs.dtype).tiny).unsqueeze(-1)
    return conditional, success


def herald_rest(m: int, n: int, heralds: Mapping[int, int]) -> tuple[int, int]:
    """``(m', n')``: modes and photons left after heralding (the space :func:`herald` returns).

    Examples:
        >>> herald_rest(6, 3, {4: 0, 5: 1})
        (4, 2)
    """
    items = _check_heralds(heralds, m, n)
    return m - len(items), n - sum(v for _, v in items)


def condition(probs: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """General post-selection: keep the patterns where the boolean mask ``keep`` ``(N,)`` is true.

    Returns ``(conditional, success)`` with ``conditional`` in the full layout (zero on rejected
    patterns) and ``success`` ``(B,)`` the kept probability.

    Examples:
        >>> from qphys.sim.linear_optics.fock_space import patterns
        >>> p = torch.tensor([0.5, 0.0, 0.5])
        >>> condition(p, (patterns(2, 2) <= 1).all(-1))  # no bunching: nothing survives HOM
        (tensor([0., 0., 0.]), tensor(0.))
    """
    keep = keep.to(device=probs.device, dtype=torch.bool)
    if keep.shape != probs.shape[-1:]:
        raise ParameterError(f"keep must be a boolean mask of shape ({probs.shape[-1]},), got {tuple(keep.shape)}")
    kept = probs * keep
    success = kept.sum(-1)
    return kept / success.clamp_min(torch.finfo(probs.dtype).tiny).unsqueeze(-1), success


register_caches(_patterns_on, _threshold_np, _threshold_group, _herald_np)


def pattern_index(pattern) -> int:
    """Index of one output pattern (photons per mode) in the probability vector.

    Examples:
        >>> pattern_index((0, 1, 1))
        4
    """
    t = np.asarray(validate_photons(pattern), dtype=np.int64)
    return int(rank(t[None], len(t), int(t.sum()))[0])


__all__ = [
    "sample", "counts", "index_to_patterns", "threshold_patterns", "threshold_probabilities", "photon_numbers",
    "photon_numbers_exact", "herald", "herald_rest", "condition", "pattern_index",
]
