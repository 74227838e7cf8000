"""qphys-perceval: Quandela's Perceval (``perceval-quandela`` 1.3.x) for qphys.

Devices (entry points, ``qphys devices`` lists them):

- ``perceval.slos``, ``perceval.naive``: Perceval's exact strong-simulation backends;
- ``perceval.clifford``: Clifford & Clifford's exact sampler (samples only);
- ``quandela.<platform>`` (Quandela Cloud, e.g. ``quandela.qpu:belenos``), ``scaleway.<platform>``
  (Scaleway QaaS, e.g. ``scaleway.QPU-BELENOS-12PQ``) through Perceval's remote runtime, and the
  offline ``quandela.fake:belenos`` / ``quandela.fake:ascella``
  (:class:`~qphys_perceval.fake_cloud.FakeQuandelaCloud`).

Also: conversion of qphys linear-optical circuits into Perceval circuits, states and processors,
and Perceval's SLOS/Naive probabilities in qphys's pattern order (the references of qphys's torch
SLOS).

Examples:
    >>> import math, qphys
    >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).probs()
    >>> qphys.execute(c, "perceval.naive").values[0].round(decimals=12).tolist()
    [0.5, 0.0, 0.5]
"""

from qphys_perceval.convert import (
    mzi_circuit,
    parameter_rows,
    parametrized_circuit,
    perceval_circuit,
    to_basic_state,
    to_perceval_circuit,
    to_processor,
    unitary_circuit,
)
from qphys_perceval.fake_cloud import FakeQuandelaCloud, Faults
from qphys_perceval.local import PercevalCliffordDevice, PercevalNaiveDevice, PercevalSLOSDevice
from qphys_perceval.reference import (
    STRONG_BACKENDS,
    perceval_amplitudes,
    perceval_probabilities,
    processor_distribution,
)
from qphys_perceval.remote import PercevalRemoteDevice, QuandelaFamily, ScalewayFamily

__all__ = [
    "perceval_circuit", "parametrized_circuit", "parameter_rows", "to_perceval_circuit", "unitary_circuit",
    "mzi_circuit", "to_basic_state", "to_processor", "perceval_amplitudes", "perceval_probabilities",
    "processor_distribution", "STRONG_BACKENDS", "PercevalSLOSDevice", "PercevalNaiveDevice", "PercevalCliffordDevice",
    "PercevalRemoteDevice", "QuandelaFamily", "ScalewayFamily", "FakeQuandelaCloud", "Faults",
]
