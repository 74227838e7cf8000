"""Local Perceval devices: ``perceval.slos`` and ``perceval.naive`` (exact strong simulation) and
``perceval.clifford`` (Clifford & Clifford's exact sampling algorithm, 2017).

Perceval computes one circuit at a time, so a batched circuit runs row by row; every
measurement then follows from the pattern probabilities (or sampled patterns) with
:mod:`qphys.linear_optics`, exactly as on ``torch.linear_optics``. Perceval has no autodiff:
gradients come from the photonic parameter-shift rule (every shifted circuit of a backward pass
in one ``execute`` call) or finite differences.
"""

from __future__ import annotations

import numpy as np
import perceval as pcvl
import torch
from perceval.backends import BackendFactory

from qphys import linear_optics as lo
from qphys.devices import Capabilities, Device, Result, RunConfig
from qphys.errors import UnsupportedOperationError
from qphys.ops import registered_names
from qphys_perceval.convert import perceval_circuit, to_basic_state
from qphys_perceval.reference import perceval_amplitudes, perceval_probabilities


def _generator(seed: int | None) -> torch.Generator:
    return torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % (2**62)))


def linear_optics_capabilities(*, exact: bool, shots: bool, measurements=lo.MEASUREMENTS) -> Capabilities:
    """Capabilities of a Perceval device: every linear-optical operation, no autodiff."""
    return Capabilities(
        families=frozenset({"linear_optics"}),
        operations=frozenset(registered_names("linear_optics")),
        observables=frozenset(),
        measurements=frozenset(measurements),
        exact=exact,
        shots=shots,
        native_diff=(),
        batching=True,
    )


class PercevalStrongDevice(Device):
    """Exact output probabilities from one of Perceval's strong-simulation backends.

    Args:
        shots: ``None`` (exact, the default) or samples per circuit drawn from the exact
            probabilities with a seeded ``torch.Generator``.
        seed: seed of that sampling.

    Examples:
        >>> import math, qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).probs()
        >>> qphys.execute(c, "perceval.slos").values[0].round(decimals=12).tolist()
        [0.5, 0.0, 0.5]
    """

    backend = "SLOS"
    capabilities = linear_optics_capabilities(exact=True, shots=True)

    def __init__(self, *, shots=None, seed=None):
        super().__init__(shots=shots, seed=seed)

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        if config.shots is not None and any(m.kind == "state" for c in circuits for m in c.measurements):
            raise UnsupportedOperationError(f"device {self.name!r}: the state is not available with shots; use shots=None")
        return circuits

    def execute(self, circuits, config: RunConfig) -> list[Result]:
        gen = _generator(config.seed) if config.shots is not None else None
        return [self._run_one(c, config, gen) for c in circuits]

    def _run_one(self, circuit, config, gen) -> Result:
        rows = [perceval_circuit(circuit, batch_index=b) for b in range(circuit.batch_size or 1)]
        probs = torch.as_tensor(np.stack([perceval_probabilities(pc, circuit.photons, backend=self.backend)
                                          for pc in rows]))
        amps = None
        if any(m.kind == "state" for m in circuit.measurements):
            amps = torch.as_tensor(np.stack([perceval_amplitudes(pc, circuit.photons, backend=self.backend)
                                             for pc in rows]))
        values, meta = lo.values_from_probabilities(circuit, probs, shots=config.shots, generator=gen, amplitudes=amps)
        values, meta = lo.unbatch(circuit, values, meta)
        meta.update(device=self.name, backend=self.backend)
        return Result(tuple(values), tuple(circuit.measurements), meta)


class PercevalSLOSDevice(PercevalStrongDevice):
    """``perceval.slos``: Perceval's SLOS backend (Heurtel et al., Quantum 7, 931, 2023)."""

    name = "perceval.slos"
    backend = "SLOS"


class PercevalNaiveDevice(PercevalStrongDevice):
    """``perceval.naive``: Perceval's Naive backend (one permanent per output pattern)."""

    name = "perceval.naive"
    backend = "Naive"


class PercevalCliffordDevice(Device):
    """``perceval.clifford``: samples from Perceval's ``CliffordClifford2017`` backend, exact
    sampling without computing the whole distribution (Clifford & Clifford, SODA 2018): its cost
    grows with the photon number, not with the number of output patterns.

    Every sampled measurement of a circuit is estimated from the same ``shots`` samples per batch
    row. **Not reproducible by seed**: ``seed`` is passed to ``pcvl.random_seed`` before each
    circuit, but Perceval 1.3.1's ``CliffordClifford2017`` backend still returns different samples
    for the same seed within one process (checked: four runs with one seed gave up to three
    different sample sets); the distribution is right (chi-square tested), the draws are not
    repeatable. Use ``torch.linear_optics`` with shots for repeatable samples.

    Args:
        shots: samples per circuit (default 1000).
        seed: passed to ``pcvl.random_seed`` (see above).

    Examples:
        >>> import math, qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).counts()
        >>> counts = qphys.execute(c, qphys.device("perceval.clifford", shots=100, seed=1)).values[0]
        >>> sorted(counts), sum(counts.values())  # no |1,1>: the Hong-Ou-Mandel dip
        ([(0, 2), (2, 0)], 100)
    """

    name = "perceval.clifford"
    backend = "CliffordClifford2017"
    capabilities = linear_optics_capabilities(exact=False, shots=True, measurements=lo.MEASUREMENTS - {"state"})

    def __init__(self, *, shots=1000, seed=None):
        super().__init__(shots=shots, seed=seed)

    def execute(self, circuits, config: RunConfig) -> list[Result]:
        gen = _generator(config.seed)
        return [self._run_one(c, k, config, gen) for k, c in enumerate(circuits)]

    def _run_one(self, circuit, position: int, config, gen) -> Result:
        m, n = circuit.num_wires, circuit.num_photons
        if config.seed is not None:
            pcvl.random_seed(config.seed + position)
        engine = BackendFactory.get_backend(self.backend)
        rows = []
        for b in range(circuit.batch_size or 1):
            engine.set_circuit(perceval_circuit(circuit, batch_index=b))
            engine.set_input_state(to_basic_state(circuit.photons))
            samples = engine.samples(config.shots)
            rows.append(lo.pattern_indices(np.array([list(s) for s in samples], dtype=np.int64).reshape(-1, m)))
        indices = torch.stack(rows)
        counts = torch.zeros(indices.shape[0], lo.num_patterns(m, n), dtype=torch.int64)
        counts.scatter_add_(1, indices, torch.ones_like(indices))
        values, meta = lo.values_from_counts(circuit, counts, indices=indices, generator=gen)
        values, meta = lo.unbatch(circuit, values, meta)
        meta.update(device=self.name, backend=self.backend)
        return Result(tuple(values), tuple(circuit.measurements), meta)


__all__ = ["PercevalSLOSDevice", "PercevalNaiveDevice", "PercevalCliffordDevice", "linear_optics_capabilities"]
