"""Output amplitudes and probabilities computed by Perceval's own backends, in qphys's layout.

These are the independent references of qphys's torch SLOS and the engines of the
``perceval.slos`` / ``perceval.naive`` devices. Perceval computes one circuit at a time; results
are reordered into qphys's pattern order (:func:`qphys.linear_optics.patterns`, which is also
Perceval's ``allstate_iterator`` order) by ranking each Perceval state, not by trusting an
iteration order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import perceval as pcvl
from perceval.backends import BackendFactory

from qphys.errors import UnsupportedOperationError
from qphys.linear_optics import num_patterns, pattern_indices, patterns, validate_photons
from qphys_perceval.convert import to_basic_state, to_processor

#: Perceval strong-simulation backends that compute amplitudes (``prob_amplitude``).
STRONG_BACKENDS = ("SLOS", "SLOS_LEGACY", "Naive")


def _backend(circuit: pcvl.Circuit, photons, backend: str):
    if backend not in STRONG_BACKENDS:
        raise UnsupportedOperationError(
            f"Perceval backend {backend!r} is not one of the strong-simulation backends {STRONG_BACKENDS}"
        )
    engine = BackendFactory.get_backend(backend)
    engine.set_circuit(circuit)
    engine.set_input_state(to_basic_state(validate_photons(photons, circuit.m)))
    return engine


def perceval_amplitudes(circuit: pcvl.Circuit, photons, *, backend: str = "SLOS") -> np.ndarray:
    """``<t|U|s>`` for every output pattern ``t`` (complex128, qphys order), by Perceval's
    ``backend`` (``prob_amplitude`` per pattern).

    Examples:
        >>> from qphys_perceval.convert import unitary_circuit
        >>> a = perceval_amplitudes(unitary_circuit(np.eye(2)), (1, 0), backend="Naive")
        >>> a.real.round(12).tolist()
        [1.0, 0.0]
    """
    engine = _backend(circuit, photons, backend)
    m, n = circuit.m, sum(validate_photons(photons))
    return np.array([engine.prob_amplitude(pcvl.BasicState(list(map(int, t)))) for t in patterns(m, n).tolist()])


def perceval_probabilities(circuit: pcvl.Circuit, photons, *, backend: str = "SLOS") -> np.ndarray:
    """Probabilities of every output pattern (float64, qphys order) from Perceval's ``backend``
    distribution (``prob_distribution``).

    Examples:
        >>> import perceval as pcvl
        >>> perceval_probabilities(pcvl.Circuit(2).add(0, pcvl.BS()), (1, 1)).round(12).tolist()
        [0.5, 0.0, 0.5]
    """
    engine = _backend(circuit, photons, backend)
    m, n = circuit.m, sum(validate_photons(photons))
    out = np.zeros(num_patterns(m, n))
    dist = engine.prob_distribution()
    states = [list(state) for state in dist.keys()]
    out[pattern_indices(states).numpy()] = [float(dist[state]) for state in dist.keys()]
    return out


def processor_distribution(
    circuit: pcvl.Circuit, photons, *, backend: str = "SLOS", heralds: Mapping[int, int] | None = None,
    threshold: bool = False,
) -> tuple[dict[tuple[int, ...], float], float]:
    """``(distribution, performance)`` from a Perceval ``Processor``: the post-selected, normalised
    distribution ``{pattern: probability}`` (heralded modes removed; click patterns with
    ``threshold``) and Perceval's ``global_perf`` (the probability that the heralds fire).

    Examples:
        >>> import perceval as pcvl
        >>> dist, perf = processor_distribution(pcvl.Circuit(2).add(0, pcvl.BS()), (1, 1), threshold=True)
        >>> sorted((k, round(v, 12)) for k, v in dist.items()), round(perf, 12)
        ([((0, 1), 0.5), ((1, 0), 0.5)], 1.0)
    """
    proc = to_processor(circuit, photons, backend=backend, heralds=heralds, threshold=threshold)
    result = proc.probs()
    dist = {tuple(int(v) for v in state): float(p) for state, p in result["results"].items()}
    return dist, float(result["global_perf"])


__all__ = ["perceval_amplitudes", "perceval_probabilities", "processor_distribution", "STRONG_BACKENDS"]
