"""Kernel-target alignment (Cristianini et al.; Hubregtsen et al., arXiv:2105.02276) and a
training helper that maximizes it over a trainable feature map with any torch optimizer."""

from __future__ import annotations

import logging

import numpy as np
import torch

from qphys._random import seeded_generator
from qphys.errors import ConfigError, ParameterError

log = logging.getLogger(__name__)


def as_pm1_labels(y, n: int | None = None, name: str = "y") -> torch.Tensor:
    """Binary labels in {-1, 1} or {0, 1} (or bool) as a float64 tensor of ±1.

    Raises:
        ParameterError: labels outside {-1, 1}/{0, 1}, not 1-D, or of the wrong length.
    """
    t = y.detach() if torch.is_tensor(y) else torch.as_tensor(np.asarray(y))
    if t.ndim != 1:
        raise ParameterError(f"{name} must be a 1-D array of labels, got shape {tuple(t.shape)}")
    if n is not None and t.shape[0] != n:
        raise ParameterError(f"{name} has {t.shape[0]} labels but the kernel matrix has {n} rows")
    if t.is_complex() or not bool(torch.isfinite(t.to(torch.float64)).all()):
        raise ParameterError(f"{name} contains NaN, inf or complex values")
    t = t.to(torch.float64)
    values = set(torch.unique(t).tolist())
    if values <= {-1.0, 1.0}:
        return t
    if values <= {0.0, 1.0}:
        return 2 * t - 1
    raise ParameterError(
        f"alignment needs binary labels in {{-1, 1}} or {{0, 1}}, got values {sorted(values)[:6]}; "
        "map the classes first, e.g. y = np.where(y == positive_class, 1, -1)"
    )


def target_alignment(K, y, *, rescale_class_labels: bool = True) -> torch.Tensor:
    """Kernel-target alignment ``<K, yyᵀ>_F / (‖K‖_F ‖yyᵀ‖_F)`` (differentiable in ``K``).

    Args:
        K: square Gram matrix (tensor or array).
        y: binary labels in {-1, 1} or {0, 1}.
        rescale_class_labels: divide each label by its class size (PennyLane's default), which
            balances unequal classes.

    Raises:
        ParameterError: ``K`` not square, sizes disagree, or labels not binary.

    Examples:
        >>> import torch
        >>> from qphys.kernels import target_alignment
        >>> y = torch.tensor([1.0, 1.0, -1.0, -1.0])
        >>> float(target_alignment(torch.outer(y, y), y, rescale_class_labels=False))
        1.0
    """
    K = K if torch.is_tensor(K) else torch.as_tensor(np.asarray(K, dtype=np.float64))
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ParameterError(f"target_alignment needs a square Gram matrix, got shape {tuple(K.shape)}")
    if K.shape[0] == 0:
        raise ParameterError("target_alignment got an empty kernel matrix")
    K = K.to(torch.float64)
    t = as_pm1_labels(y, K.shape[0])
    if rescale_class_labels:
        n_plus = (t > 0).sum()
        n_minus = t.numel() - n_plus
        t = torch.where(t > 0, t / n_plus.clamp_min(1), t / max(int(n_minus), 1))
    T = torch.outer(t, t)
    return (K * T).sum() / torch.sqrt((K * K).sum() * (T * T).sum())


def train_alignment(
    kernel,
    X,
    y,
    *,
    steps: int = 100,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.1,
    batch_size: int | None = 4,
    rescale_class_labels: bool = True,
    seed: int | None = None,
    progress: bool = False,
    callback=None,
) -> list[float]:
    """Maximize the kernel-target alignment of ``kernel``'s trainable parameters on ``(X, y)``.

    Each step evaluates the Gram matrix of a random mini-batch (``batch_size`` points, all when
    ``None``), minimizes ``-alignment`` and takes one optimizer step (default: Adam, ``lr``).

    Args:
        kernel: a :class:`~qphys.kernels.QuantumKernel` with ``params``.
        X, y: training features and binary labels.
        callback: ``callback(step, alignment)`` after every step.

    Returns:
        The mini-batch alignment of every step.

    Raises:
        ParameterError: the kernel has no trainable parameters, or bad data.

    Examples:
        >>> import torch, qphys
        >>> from qphys.kernels import QuantumKernel, train_alignment
        >>> def fm(c, x, w):
        ...     for q in range(2):
        ...         c.ry(x[:, q] * w[q], q)
        ...     return c.cz(0, 1)
        >>> k = QuantumKernel(fm, params=torch.ones(2))
        >>> X = torch.tensor([[0.1, 0.2], [0.2, 0.1], [2.0, 2.5], [2.4, 2.1]])
        >>> hist = train_alignment(k, X, [1, 1, -1, -1], steps=3, seed=0)
        >>> len(hist)
        3
    """
    from qphys.kernels.kernel import as_features

    params = [p for p in kernel.parameters() if p.requires_grad]
    if not params:
        raise ParameterError(
            "the kernel has no trainable parameters; build it with QuantumKernel(feature_map, "
            "params=...) and a feature_map(circuit, x, params)"
        )
    X = as_features(X, "X")
    t = as_pm1_labels(y, X.shape[0])
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 2):
        raise ConfigError(f"batch_size must be an integer >= 2 or None, got {batch_size!r}")
    opt = optimizer or torch.optim.Adam(params, lr=lr)
    gen = seeded_generator(seed)
    history = []
    rng = range(steps)
    if progress:
        from tqdm.auto import tqdm

        rng = tqdm(rng, desc="kernel alignment")
    for step in rng:
        if batch_size is None or batch_size >= X.shape[0]:
            idx = torch.arange(X.shape[0])
        else:
            idx = torch.randperm(X.shape[0], generator=gen)[:batch_size]
        opt.zero_grad()
        a = target_alignment(kernel.matrix(X[idx]), t[idx], rescale_class_labels=rescale_class_labels)
        (-a).backward()
        opt.step()
        history.append(float(a.detach()))
        if callback is not None:
            callback(step, history[-1])
    log.info("alignment training: %d steps, last mini-batch alignment %.4f", steps, history[-1])
    return history
