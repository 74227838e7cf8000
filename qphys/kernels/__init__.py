"""Quantum kernels: fast fidelity Gram matrices, kernel-target alignment, and ``QSVC``.

Examples:
    >>> import torch
    >>> from qphys.kernels import QuantumKernel
    >>> from qphys.templates import zz_feature_map
    >>> QuantumKernel(zz_feature_map).matrix(torch.rand(4, 3)).shape
    torch.Size([4, 4])

``QSVC`` (the scikit-learn estimator) is imported on first use: it needs the ``kernels`` extra,
and without scikit-learn ``from qphys.kernels import QSVC`` raises
:class:`~qphys.errors.MissingDependencyError` naming ``pip install "qphys[kernels]"``.
"""

from qphys.kernels import datasets
from qphys.kernels.alignment import as_pm1_labels, target_alignment, train_alignment
from qphys.kernels.kernel import QuantumKernel, as_features, nearest_psd

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


def __getattr__(name: str):
    if name == "QSVC":  # scikit-learn is the kernels extra: import it only when asked for
        from qphys.kernels.qsvc import QSVC

        return QSVC
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
