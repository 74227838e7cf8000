"""The n-photon Fock space of m modes: enumeration, ranking and input validation.

An output *pattern* is a tuple ``(t_0, ..., t_{m-1})`` of photon counts with ``sum(t) = n``. There
are ``C(m + n - 1, n)`` of them. qphys orders them as Perceval does (``allstate_iterator``):
**descending lexicographic**, mode 0 most significant, so for 2 photons in 3 modes
``|2,0,0>, |1,1,0>, |1,0,1>, |0,2,0>, |0,1,1>, |0,0,2>``. Every probability or amplitude vector of
:mod:`qphys.sim.linear_optics` is indexed in that order; :func:`patterns` gives the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from qphys.errors import ParameterError, WireError

#: Photon counts are stored as uint8 in the pattern tables.
MAX_PHOTONS = 255


def num_patterns(m: int, n: int) -> int:
    """Number of ``n``-photon patterns in ``m`` modes: ``C(m + n - 1, n)``.

    Examples:
        >>> num_patterns(12, 6), num_patterns(16, 4)
        (12376, 3876)
    """
    if n == 0:
        return 1
    return math.comb(m + n - 1, n)


@lru_cache(maxsize=16)
def _patterns_np(m: int, n: int) -> np.ndarray:
    """``(C(m+n-1, n), m)`` uint8 array of the patterns in descending lexicographic order.

    Built mode by mode from the last one (``P(j+1, k) = [v, P(j, k - v)]`` for ``v = k .. 0``),
    keeping only the previous mode count's tables: about three times the result's bytes at the
    peak. Only the 16 most recent tables are cached (:func:`qphys.sim.linear_optics.clear_caches` frees them).
    """
    level = [np.full((1, 1), k, dtype=np.uint8) for k in range(n + 1)]  # the last mode alone
    for j in range(2, m + 1):
        wanted = range(n + 1) if j < m else (n,)
        new = {}
        for k in wanted:
            blocks = []
            for first in range(k, -1, -1):
                rest = level[k - first]
                block = np.empty((len(rest), j), dtype=np.uint8)
                block[:, 0] = first
                block[:, 1:] = rest
                blocks.append(block)
            new[k] = np.concatenate(blocks)
        level = [new.get(k) for k in range(n + 1)]
    out = level[n]
    out.flags.writeable = False
    return out


def patterns(m: int, n: int) -> torch.Tensor:
    """All ``n``-photon patterns of ``m`` modes as a ``(N, m)`` uint8 tensor (CPU), in qphys's
    (Perceval's) descending lexicographic order.

    Examples:
        >>> patterns(3, 2).tolist()
        [[2, 0, 0], [1, 1, 0], [1, 0, 1], [0, 2, 0], [0, 1, 1], [0, 0, 2]]
    """
    return torch.from_numpy(_patterns_np(m, n).copy())


@lru_cache(maxsize=64)
def _binomials(size: int) -> np.ndarray:
    """``B[a, b] = C(a, b)`` for ``0 <= a, b < size`` as int64 (0 where ``b > a``)."""
    b = np.zeros((size, size), dtype=np.int64)
    for a in range(size):
        for k in range(a + 1):
            b[a, k] = math.comb(a, k)
    return b


def rank(pats: np.ndarray | torch.Tensor, m: int, n: int) -> np.ndarray:
    """Index of each pattern (rows of ``pats``, all with ``n`` photons in ``m`` modes) in the
    descending lexicographic order of :func:`patterns`.

    The index counts the patterns that come first: at mode ``i`` with ``r`` photons left, every
    larger count ``v > t_i`` precedes, and there are ``sum_{u < r - t_i} C(m - i - 2 + u, u)
    = C(m - i - 2 + r - t_i, r - t_i - 1)`` of them (hockey-stick identity).

    Examples:
        >>> rank(np.array([[2, 0, 0], [0, 1, 1], [0, 0, 2]]), 3, 2).tolist()
        [0, 4, 5]
    """
    t = np.asarray(pats, dtype=np.int64).reshape(-1, m)
    binom = _binomials(m + n + 1)
    remaining = np.full(len(t), n, dtype=np.int64)
    out = np.zeros(len(t), dtype=np.int64)
    for i in range(m - 1):
        gap = remaining - t[:, i]
        has = gap > 0
        a = np.where(has, m - i - 2 + gap, 0)
        b = np.where(has, gap - 1, 0)
        out += np.where(has, binom[a, b], 0)
        remaining = remaining - t[:, i]
    return out


def validate_photons(photons: Sequence[int], m: int | None = None) -> tuple[int, ...]:
    """The input Fock state as a tuple of non-negative ints, checked against ``m`` modes.

    Raises:
        ParameterError: not a sequence of non-negative integers, or more than 255 photons in a mode.
        WireError: its length is not ``m``.

    Examples:
        >>> validate_photons([1, 0, 1], 3)
        (1, 0, 1)
    """
    if torch.is_tensor(photons):
        photons = photons.tolist()
    try:
        values = tuple(photons)
    except TypeError:
        raise ParameterError(
            f"photons must be a sequence of photon counts per mode such as (1, 1, 0, 0), got {photons!r}"
        ) from None
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 or v > MAX_PHOTONS:
            raise ParameterError(
                f"photons must hold integers between 0 and {MAX_PHOTONS} (photons per mode), got {values!r}"
            )
    values = tuple(int(v) for v in values)
    if m is not None and len(values) != m:
        raise WireError(
            f"the input state {values} has {len(values)} mode(s) but the interferometer has {m}; give "
            "one photon count per mode"
        )
    if not values:
        raise ParameterError("photons must cover at least one mode, got ()")
    return values


#: every ``lru_cache``-d table builder of the package; modules add theirs with :func:`register_caches`
_CACHES: list = []


def register_caches(*fns) -> None:
    """Let :func:`clear_caches` free the ``lru_cache``-d functions ``fns`` (called by sibling modules)."""
    _CACHES.extend(fns)


def clear_caches() -> None:
    """Free every cached pattern, index and weight table of :mod:`qphys.sim.linear_optics`
    (they are rebuilt on demand; large ``(m, n)`` tables take memory comparable to the states).

    Examples:
        >>> clear_caches()
    """
    for fn in (_patterns_np, _binomials, *_CACHES):
        fn.cache_clear()


__all__ = ["num_patterns", "patterns", "rank", "validate_photons", "clear_caches", "MAX_PHOTONS"]
