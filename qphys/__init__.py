"""qphys: hybrid quantum-classical machine learning on one Device layer, trained with PyTorch.

Examples:
    >>> import torch, qphys
    >>> c = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1))
    >>> round(float(qphys.execute(c).expvals[0]), 6)  # complex64 by default: 0.99999994
    1.0
"""

from qphys import (  # noqa: E402
    devices,  # the subpackage; calling it lists installed devices
    errors,
    nn,
    parallel,
    templates,
)
from qphys.circuit import Circuit, Measurement, Operation
from qphys.devices import Capabilities, Device, Result, RunConfig, device, device_names
from qphys.diff import execute
from qphys.observables import Hermitian, I, Observable, X, Y, Z

__version__ = "0.1.0"

__all__ = [
    "Circuit",
    "Operation",
    "Measurement",
    "Device",
    "Capabilities",
    "RunConfig",
    "Result",
    "device",
    "devices",
    "device_names",
    "execute",
    "Observable",
    "Hermitian",
    "X",
    "Y",
    "Z",
    "I",
    "errors",
    "nn",
    "parallel",
    "templates",
]
