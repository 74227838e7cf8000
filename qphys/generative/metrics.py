"""Quality metrics of generative models: KL divergence, valid-sample fraction, qBAS score
(Benedetti et al., npj Quantum Information 5, 45 (2019))."""

from __future__ import annotations

import numpy as np
import torch

from qphys.errors import ParameterError
from qphys.generative.datasets import patterns_to_indices


def kl_divergence(p, q, *, eps: float = 1e-12) -> torch.Tensor:
    """``KL(p || q) = Σ p log(p / q)`` over the support of ``p`` (``q`` clamped at ``eps``).

    Use ``kl_divergence(target, model)``. Differentiable in both arguments.

    Examples:
        >>> import torch
        >>> from qphys.generative.metrics import kl_divergence
        >>> p = torch.tensor([0.5, 0.5, 0.0])
        >>> float(kl_divergence(p, p))
        0.0
    """
    q = torch.as_tensor(q, dtype=torch.float64) if not torch.is_tensor(q) else q.to(torch.float64)
    p = torch.as_tensor(p, dtype=torch.float64) if not torch.is_tensor(p) else p.to(torch.float64)
    if p.shape != q.shape:
        raise ParameterError(f"distributions have different shapes {tuple(p.shape)} and {tuple(q.shape)}")
    # on q's device (a model on CUDA, a target on the CPU); the support of p is selected with where, not
    # a boolean mask (whose indexing synchronises with the host on CUDA); p = 0 terms and their
    # gradients are exactly 0
    p = p.to(q.device)
    support = p > 0
    p_safe = torch.where(support, p, torch.ones_like(p))
    terms = torch.where(support, p * (torch.log(p_safe) - torch.log(q.clamp_min(eps))), torch.zeros_like(p))
    return terms.sum()


def _valid_set(valid_patterns) -> np.ndarray:
    v = np.asarray(valid_patterns)
    if v.ndim == 2:
        return np.unique(patterns_to_indices(v))
    return np.unique(v.astype(np.int64))


def valid_fraction(model, valid_patterns) -> float:
    """Probability mass (``model`` a ``(2**n,)`` distribution) or fraction of samples (``model``
    ``(S, n)`` bits) that lands on ``valid_patterns`` (``(M, n)`` bits or basis indices)."""
    valid = _valid_set(valid_patterns)
    m = model.detach().cpu().numpy() if torch.is_tensor(model) else np.asarray(model)
    if m.ndim == 1:
        return float(m[valid].sum())
    if m.ndim == 2:
        if m.shape[0] == 0:
            raise ParameterError("no samples given")
        return float(np.isin(patterns_to_indices(m), valid).mean())
    raise ParameterError(f"model must be a distribution (2**n,) or samples (S, n), got shape {m.shape}")


def qbas_score(samples, valid_patterns) -> dict:
    """qBAS: the F1 score of precision (fraction of valid samples) and recall (fraction of the
    valid patterns that appear among the samples).

    Returns:
        ``{"precision", "recall", "qbas"}``.

    Examples:
        >>> import numpy as np
        >>> from qphys.generative.metrics import qbas_score
        >>> valid = np.array([[0, 0], [1, 1]])
        >>> qbas_score(np.array([[0, 0], [1, 1], [0, 1], [0, 0]]), valid)["qbas"]
        0.8571428571428571
    """
    s = samples.detach().cpu().numpy() if torch.is_tensor(samples) else np.asarray(samples)
    if s.ndim != 2 or s.shape[0] == 0:
        raise ParameterError(f"samples must be a non-empty (S, n) bit array, got shape {s.shape}")
    valid = _valid_set(valid_patterns)
    idx = patterns_to_indices(s)
    precision = float(np.isin(idx, valid).mean())
    recall = float(len(np.intersect1d(np.unique(idx), valid)) / len(valid))
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "qbas": f1}
