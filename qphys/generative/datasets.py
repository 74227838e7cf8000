"""Datasets for Born machines: bars and stripes, discretized Gaussian mixtures.

Bit conventions follow qphys: bit ``i`` of a pattern is qubit ``i``, qubit 0 is the most
significant bit of the basis index; pixel ``(r, c)`` of a ``rows x cols`` image is qubit
``r * cols + c``.
"""

from __future__ import annotations

import itertools as it

import numpy as np
import torch

from qphys.errors import ParameterError


def _positive_int(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ParameterError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def bars_and_stripes(rows: int, cols: int) -> np.ndarray:
    """All distinct bars-and-stripes images of ``rows x cols`` pixels as 0/1 rows.

    Stripes are images whose rows are each constant, bars those whose columns are; the two
    constant images belong to both and appear once: ``2**rows + 2**cols - 2`` patterns
    (14 for 3x3, 6 for 2x2), sorted by basis index.

    Examples:
        >>> from qphys.generative.datasets import bars_and_stripes
        >>> bars_and_stripes(3, 3).shape
        (14, 9)
    """
    rows, cols = _positive_int(rows, "rows"), _positive_int(cols, "cols")
    if rows * cols > 24:
        raise ParameterError(f"{rows}x{cols} = {rows * cols} pixels is too large for a dense Born machine (max 24)")
    found = set()
    for bits in it.product((0, 1), repeat=rows):  # stripes: row r constant
        found.add(tuple(np.repeat(bits, cols)))
    for bits in it.product((0, 1), repeat=cols):  # bars: column c constant
        found.add(tuple(np.tile(bits, rows)))
    out = np.array(sorted(found, key=lambda b: patterns_to_indices(np.array([b]))[0]), dtype=np.int64)
    return out


def patterns_to_indices(patterns) -> np.ndarray:
    """``(M, n)`` 0/1 rows -> basis indices (bit 0 most significant)."""
    p = np.asarray(patterns, dtype=np.int64)
    if p.ndim != 2:
        raise ParameterError(f"patterns must be a 2-D (M, n_bits) array, got shape {p.shape}")
    if p.size and not np.isin(p, (0, 1)).all():
        raise ParameterError("patterns must contain only 0 and 1")
    n = p.shape[1]
    return p @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))


def indices_to_patterns(indices, n_bits: int) -> np.ndarray:
    """Basis indices -> ``(M, n_bits)`` 0/1 rows (bit 0 most significant)."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    return (idx[:, None] >> np.arange(n_bits - 1, -1, -1)) & 1


def empirical_distribution(patterns, n_bits: int | None = None) -> torch.Tensor:
    """Distribution over ``2**n_bits`` basis states of the rows of ``patterns`` (float64).

    Raises:
        ParameterError: empty data, wrong width, non-binary entries.
    """
    p = np.asarray(patterns)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ParameterError(f"patterns must be a non-empty (M, n_bits) array, got shape {p.shape}")
    n = p.shape[1] if n_bits is None else n_bits
    if p.shape[1] != n:
        raise ParameterError(f"patterns have {p.shape[1]} bits but the model has {n} qubits")
    counts = np.bincount(patterns_to_indices(p), minlength=2**n).astype(np.float64)
    return torch.as_tensor(counts / counts.sum())


def bars_and_stripes_distribution(rows: int, cols: int) -> torch.Tensor:
    """Uniform distribution over the bars-and-stripes patterns, ``(2**(rows*cols),)`` float64."""
    return empirical_distribution(bars_and_stripes(rows, cols))


def gaussian_mixture(n_bits: int, *, means=None, stds=None, weights=None) -> torch.Tensor:
    """Discretized Gaussian mixture over the integers ``0 .. 2**n_bits - 1`` (float64).

    Defaults follow Liu & Wang's first example: two Gaussians at ``2/7`` and ``5/7`` of the
    range with standard deviation ``1/8`` of the range.

    Examples:
        >>> from qphys.generative.datasets import gaussian_mixture
        >>> p = gaussian_mixture(6)
        >>> round(float(p.sum()), 12), p.shape
        (1.0, torch.Size([64]))
    """
    n_bits = _positive_int(n_bits, "n_bits")
    if n_bits > 24:
        raise ParameterError(f"n_bits={n_bits} is too large for a dense distribution (max 24)")
    N = 2**n_bits
    means = np.asarray([2 / 7 * N, 5 / 7 * N] if means is None else means, dtype=np.float64).reshape(-1)
    stds = np.asarray([N / 8] * len(means) if stds is None else stds, dtype=np.float64).reshape(-1)
    weights = np.ones(len(means)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if not (len(means) == len(stds) == len(weights)) or len(means) == 0:
        raise ParameterError("means, stds and weights must have the same non-zero length")
    if (stds <= 0).any() or (weights < 0).any() or weights.sum() <= 0:
        raise ParameterError("stds must be positive and weights non-negative with a positive sum")
    x = np.arange(N, dtype=np.float64)
    p = sum(w * np.exp(-0.5 * ((x - m) / s) ** 2) for m, s, w in zip(means, stds, weights))
    return torch.as_tensor(p / p.sum())
