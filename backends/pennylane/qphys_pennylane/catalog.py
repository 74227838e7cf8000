"""Names of the ``pennylane.*`` family without importing PennyLane (entry point ``qphys.device_names``).

PennyLane registers its devices in the entry-point group ``pennylane.plugins``; reading that group
is metadata only, so ``qphys devices`` lists ``pennylane.<name>`` without importing PennyLane
(which takes seconds). :class:`qphys_pennylane.family.PennyLaneFamily` uses the same names.

Examples:
    >>> "pennylane.default.qubit" in pennylane_device_names()
    True
    >>> "pennylane.qphys.torch" in pennylane_device_names()  # qphys inside PennyLane inside qphys
    False
"""

from __future__ import annotations

from importlib.metadata import entry_points

PREFIX = "pennylane."
#: PennyLane devices that do not run qubit state vectors (continuous-variable, qutrit).
NOT_QUBIT = {"default.gaussian", "default.qutrit", "default.qutrit.mixed"}
#: Not listed: ``qphys.torch`` would wrap qphys inside PennyLane inside qphys; ``null.qubit``
#: computes nothing (PennyLane's overhead benchmark: every result is zero, and it takes no seed).
HIDDEN = {"qphys.torch", "null.qubit"}


def installed_plugins() -> dict:
    """PennyLane's installed devices: ``{name: entry point}`` of the group ``pennylane.plugins``."""
    return {ep.name: ep for ep in entry_points(group="pennylane.plugins")}


def pennylane_device_names() -> list[str]:
    """``pennylane.<name>`` for every installed PennyLane qubit device."""
    return sorted(PREFIX + n for n in installed_plugins() if n not in NOT_QUBIT | HIDDEN)
