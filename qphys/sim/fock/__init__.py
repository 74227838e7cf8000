"""Truncated Fock-space simulation of photonic circuits in pure torch (batched, differentiable).

``gates``: Fock matrices of the CV gates; ``apply``: running a circuit; ``measure``: quadratic
observables, photon-number probabilities, homodyne sampling.
"""

from qphys.sim.fock.apply import run_circuit, vacuum
from qphys.sim.fock.measure import expval, fock_probs, homodyne_samples, trace, variance


class TruncationWarning(UserWarning):
    """More probability than the device's threshold leaked past the Fock cutoff."""


__all__ = ["run_circuit", "vacuum", "expval", "variance", "fock_probs", "homodyne_samples", "trace",
           "TruncationWarning"]
