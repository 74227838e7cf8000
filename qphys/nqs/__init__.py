"""Neural-network quantum states: Hamiltonians, ansätze, samplers, VMC with SR, neural tomography.

Machine learning for quantum matter on torch (CPU or CUDA): Carleo & Troyer's RBM wave functions
trained by variational Monte Carlo with stochastic reconfiguration, and Torlai et al.'s neural
quantum-state tomography from measurement records of any qphys device.

Examples:
    >>> from qphys.nqs import RBM, VMC, chain, transverse_field_ising
    >>> H = transverse_field_ising(chain(8), h=1.0)
    >>> vmc = VMC(H, RBM(8, alpha=1, seed=0), n_samples=256, seed=0)
    >>> _ = vmc.run(40, progress=False)
    >>> abs(vmc.energy(2048).mean / H.ground_state_energy() - 1) < 0.01
    True
"""

from qphys.nqs.ansatz import RBM, AmplitudePhase, Ansatz, Autoregressive, SymmetricRBM, log_cosh
from qphys.nqs.estimators import energy_gradient, expect, local_values, log_derivatives
from qphys.nqs.exact import all_configurations, fidelity, state_vector, variational_energy
from qphys.nqs.hamiltonians import heisenberg, j1_j2, transverse_field_ising
from qphys.nqs.lattice import Lattice, chain, square
from qphys.nqs.operator import PauliOperator
from qphys.nqs.optim import SR, minsr
from qphys.nqs.sampler import DirectSampler, ExactSampler, MetropolisSampler, Samples
from qphys.nqs.stats import Stats, blocking_error, integrated_autocorrelation_time, split_rhat, statistics
from qphys.nqs.vmc import VMC, History

__all__ = [
    "RBM",
    "SymmetricRBM",
    "Autoregressive",
    "AmplitudePhase",
    "Ansatz",
    "log_cosh",
    "PauliOperator",
    "Lattice",
    "chain",
    "square",
    "transverse_field_ising",
    "heisenberg",
    "j1_j2",
    "MetropolisSampler",
    "DirectSampler",
    "ExactSampler",
    "Samples",
    "local_values",
    "log_derivatives",
    "energy_gradient",
    "expect",
    "SR",
    "minsr",
    "VMC",
    "History",
    "Stats",
    "statistics",
    "blocking_error",
    "split_rhat",
    "integrated_autocorrelation_time",
    "all_configurations",
    "state_vector",
    "variational_energy",
    "fidelity",
]
