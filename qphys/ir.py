"""The leaf of the circuit IR: :class:`Operation` and :class:`Measurement` records.

They are plain frozen dataclasses that every layer (builders, simulators, devices, plugins) can
import without pulling in the circuit builder. :class:`qphys.Circuit` holds lists of them.

Examples:
    >>> from qphys.ir import Operation
    >>> op = Operation("rx", (0,), (0.3,))
    >>> op.spec.num_params
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qphys.ops import OpSpec, get_spec

#: Every measurement kind a circuit can hold.
MEASUREMENT_KINDS = (
    "expval", "var", "probs", "sample", "counts", "state", "fock_probs", "homodyne", "photon_numbers",
)
#: Detector models of linear-optical measurements: photon-number resolving, or click / no click.
DETECTIONS = ("pnr", "threshold")


@dataclass(frozen=True)
class Operation:
    """One operation: ``name`` (a registered op), ``wires`` and ``params``."""

    name: str
    wires: tuple[int, ...]
    params: tuple[Any, ...] = ()

    @property
    def spec(self) -> OpSpec:
        """The registered :class:`~qphys.ops.OpSpec` of this operation."""
        return get_spec(self.name)


@dataclass(frozen=True)
class Measurement:
    """A measurement: ``kind`` is one of :data:`MEASUREMENT_KINDS`.

    ``obs`` is set for ``expval``/``var``; ``wires`` for ``probs``/``sample``/``counts``
    (``None`` means all wires, in order). Linear-optical measurements may also condition on
    ``heralds`` (``((mode, photons), ...)``, sorted by mode: the outcome is kept only when each
    heralded mode detects that many photons, and the remaining modes are reported) and choose
    the ``detection``: ``"pnr"`` (photon-number resolving, the default) or ``"threshold"``
    (click / no click); other families leave both unset.
    """

    kind: str
    obs: Any = None
    wires: tuple[int, ...] | None = None
    heralds: tuple[tuple[int, int], ...] = ()
    detection: str | None = None


__all__ = ["Operation", "Measurement", "MEASUREMENT_KINDS", "DETECTIONS"]
