"""qphys-perceval: Quandela's Perceval (``perceval-quandela`` 1.3.x) for qphys.

Phase 1 (this package today): conversion of qphys linear-optical descriptions
(:mod:`qphys.sim.linear_optics` components or a unitary, plus an input Fock state) into Perceval
circuits, states and processors, and output amplitudes / probabilities from Perceval's SLOS and
Naive backends in qphys's layout (the references of qphys's torch SLOS). The devices
(``perceval.*`` local simulators, ``quandela.*`` and ``scaleway.*`` QPUs) come with the
linear-optical circuit family.

Examples:
    >>> from qphys.sim import linear_optics as lo
    >>> from qphys_perceval import perceval_probabilities, to_perceval_circuit
    >>> circuit = to_perceval_circuit([lo.bs(0)], 2)
    >>> perceval_probabilities(circuit, (1, 1), backend="Naive").round(12).tolist()
    [0.5, 0.0, 0.5]
"""

from qphys_perceval.convert import (
    mzi_circuit,
    to_basic_state,
    to_perceval_circuit,
    to_processor,
    unitary_circuit,
)
from qphys_perceval.reference import (
    STRONG_BACKENDS,
    perceval_amplitudes,
    perceval_probabilities,
    processor_distribution,
)

__all__ = [
    "to_perceval_circuit", "unitary_circuit", "mzi_circuit", "to_basic_state", "to_processor",
    "perceval_amplitudes", "perceval_probabilities", "processor_distribution", "STRONG_BACKENDS",
]
