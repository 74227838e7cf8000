"""Quantum circuit Born machines: models, ansätze, losses, datasets and metrics.

Examples:
    >>> from qphys.generative import BornMachine, ChowLiuAnsatz
    >>> from qphys.generative.datasets import bars_and_stripes_distribution
    >>> target = bars_and_stripes_distribution(2, 2)
    >>> bm = BornMachine(ChowLiuAnsatz.from_data(2, target, 4), 4, seed=1)
    >>> hist = bm.fit(target, steps=5)
    >>> hist.loss[-1] < hist.loss[0]
    True
"""

from qphys.generative import datasets, losses, metrics
from qphys.generative.ansatz import ChowLiuAnsatz, HardwareEfficientAnsatz, chow_liu_tree, mutual_information
from qphys.generative.born import BornMachine, TrainingHistory
from qphys.generative.datasets import bars_and_stripes, bars_and_stripes_distribution, gaussian_mixture
from qphys.generative.losses import kl, mmd, mmd_kernel, nll
from qphys.generative.metrics import kl_divergence, qbas_score, valid_fraction

__all__ = [
    "BornMachine",
    "TrainingHistory",
    "ChowLiuAnsatz",
    "HardwareEfficientAnsatz",
    "chow_liu_tree",
    "mutual_information",
    "bars_and_stripes",
    "bars_and_stripes_distribution",
    "gaussian_mixture",
    "mmd",
    "mmd_kernel",
    "kl",
    "nll",
    "kl_divergence",
    "valid_fraction",
    "qbas_score",
    "datasets",
    "losses",
    "metrics",
]
