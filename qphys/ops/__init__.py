"""Operation definitions, one module per family (``qubit``, ``cv``, ``linear_optics``).

Every operation is described by an :class:`OpSpec`: how many wires and parameters it takes, how
to build its matrix from torch tensors, which structure a simulator may exploit (diagonal,
permutation, controlled), and its parameter-shift rule. Simulators and plugins look operations
up by name with :func:`get_spec`.
"""

from __future__ import annotations

from qphys.ops import (
    cv,  # noqa: F401,E402  (registers the CV gates)
    linear_optics,  # noqa: F401,E402  (registers the linear-optical components)
    qubit,  # noqa: F401,E402  (registers the qubit gates)
)
from qphys.ops.spec import OpSpec, get_spec, register, registered_names

__all__ = ["OpSpec", "get_spec", "register", "registered_names"]
