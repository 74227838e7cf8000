"""Quantum kernels: fast fidelity Gram matrices, kernel-target alignment, and ``QSVC``.

Examples:
    >>> import torch
    >>> from qphys.kernels import QuantumKernel
    >>> from qphys.templates import zz_feature_map
    >>> QuantumKernel(zz_feature_map).matrix(torch.rand(4, 3)).shape
    torch.Size([4, 4])
"""

from qphys.kernels import datasets
from qphys.kernels.alignment import as_pm1_labels, target_alignment, train_alignment
from qphys.kernels.kernel import QuantumKernel, as_features, nearest_psd
from qphys.kernels.qsvc import QSVC

__all__ = [
    "QuantumKernel",
    "QSVC",
    "target_alignment",
    "train_alignment",
    "nearest_psd",
    "as_features",
    "as_pm1_labels",
    "datasets",
]
