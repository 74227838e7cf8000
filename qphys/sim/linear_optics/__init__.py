"""Discrete-variable linear optics in pure torch: single photons through an interferometer.

Why our own simulator when Perceval has SLOS: qphys trains through PyTorch autodiff, so the
output amplitudes must come from torch ops (backprop, CUDA, complex64) with a batch axis over
unitaries (data and parameters); Perceval's backends compute one unitary at a time in C++ without
gradients. The kernels are pure functions of tensors that a thin device class wraps (as
``qphys.sim.statevector`` for ``torch.qubit``).

- :mod:`~qphys.sim.linear_optics.fock_space`: the ``n``-photon patterns of ``m`` modes, in
  Perceval's order (descending lexicographic), ranking, input validation;
- :mod:`~qphys.sim.linear_optics.slos`: SLOS (Heurtel et al., Quantum 7, 931, 2023), all output
  amplitudes / probabilities for a batch of unitaries ``(B, m, m)``;
- :mod:`~qphys.sim.linear_optics.components`: phase shifters, beam splitters and MZIs in
  Perceval's conventions, and the interferometer unitary of a component list;
- :mod:`~qphys.sim.linear_optics.clements`: rectangular MZI meshes, decomposition and
  reconstruction;
- :mod:`~qphys.sim.linear_optics.measure`: sampling, counts, threshold detection, photon numbers,
  heralding and post-selection;
- :mod:`~qphys.sim.linear_optics.memory`: the memory estimate a device checks before allocating.

Examples:
    >>> import math, torch
    >>> from qphys.sim import linear_optics as lo
    >>> U = lo.circuit_unitary([lo.bs(0)], 2)  # Perceval's BS(): 50:50, Rx convention
    >>> lo.probabilities(U, (1, 1)).round(decimals=12)  # Hong-Ou-Mandel: |2,0>, |1,1>, |0,2>
    tensor([[0.5000, 0.0000, 0.5000]], dtype=torch.float64)
"""

from qphys.sim.linear_optics.clements import (
    ClementsMesh,
    clements_decomposition,
    mesh_modes,
    mesh_unitary,
    num_mzis,
)
from qphys.sim.linear_optics.components import (
    BS_CONVENTIONS,
    Component,
    bs,
    bs_matrix,
    circuit_unitary,
    mzi,
    mzi_matrix,
    ps,
    ps_matrix,
    unitary,
)
from qphys.sim.linear_optics.fock_space import clear_caches, num_patterns, patterns, validate_photons
from qphys.sim.linear_optics.measure import (
    condition,
    counts,
    herald,
    herald_rest,
    index_to_patterns,
    pattern_index,
    photon_numbers,
    photon_numbers_exact,
    sample,
    threshold_patterns,
    threshold_probabilities,
)
from qphys.sim.linear_optics.memory import check_slos_memory, slos_memory
from qphys.sim.linear_optics.slos import amplitudes, output_size, probabilities

__all__ = [
    "amplitudes", "probabilities", "output_size", "num_patterns", "patterns", "validate_photons",
    "Component", "ps", "bs", "mzi", "unitary", "ps_matrix", "bs_matrix", "mzi_matrix", "circuit_unitary",
    "BS_CONVENTIONS", "ClementsMesh", "clements_decomposition", "mesh_unitary", "mesh_modes", "num_mzis",
    "sample", "counts", "index_to_patterns", "threshold_patterns", "threshold_probabilities", "photon_numbers",
    "photon_numbers_exact", "herald", "herald_rest", "condition", "pattern_index", "slos_memory",
    "check_slos_memory", "clear_caches",
]
