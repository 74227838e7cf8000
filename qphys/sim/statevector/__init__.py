"""Batched state-vector kernels in pure torch.

Why our own simulator when Qiskit Aer and PennyLane Lightning exist: qphys trains through
PyTorch autodiff, so the forward pass must be built from torch ops (backprop, second
derivatives, CUDA, complex64) and must carry a batch axis through every gate. The kernels
are small pure functions of tensors, as in PennyLane's ``devices/qubit/apply_operation.py``.

Layout: a state is a ``(B, 2**n)`` complex tensor (``B = 1`` when unbatched); wire 0 is the
most significant bit of the basis index.
"""

from qphys.sim.statevector.apply import apply_matrix, apply_operation, initial_state, run_circuit
from qphys.sim.statevector.measure import expval, probs, sample_indices, variance


class NormDriftWarning(UserWarning):
    """The final state's norm drifted from 1 by more than the device's ``norm_tolerance``
    (rounding accumulated over many gates in complex64); use ``dtype="complex128"``."""


__all__ = [
    "apply_operation",
    "apply_matrix",
    "initial_state",
    "run_circuit",
    "expval",
    "variance",
    "probs",
    "sample_indices",
    "NormDriftWarning",
]
