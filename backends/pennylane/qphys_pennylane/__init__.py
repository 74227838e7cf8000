"""qphys-pennylane: qphys and PennyLane, both ways.

* ``qphys.device("pennylane.<name>")`` runs qphys circuits on any installed PennyLane device
  (``pennylane.default.qubit``, ``pennylane.lightning.qubit``, ...), see
  :mod:`qphys_pennylane.family`.
* ``qml.device("qphys.torch", wires=n)`` runs PennyLane tapes on qphys' ``torch.qubit``, see
  :mod:`qphys_pennylane.pl_device`.
* :func:`to_pennylane` / :func:`from_pennylane` convert circuits, see :mod:`qphys_pennylane.convert`.

Examples:
    >>> import qphys
    >>> dev = qphys.device("pennylane.default.qubit")
    >>> c = qphys.Circuit(wires=1).h(0).expval(qphys.X(0))
    >>> round(float(qphys.execute(c, dev).expvals[0]), 6)
    1.0
"""

from qphys_pennylane.convert import from_pennylane, to_pennylane
from qphys_pennylane.family import PennyLaneDevice, PennyLaneFamily
from qphys_pennylane.pl_device import QphysTorchDevice

__all__ = ["to_pennylane", "from_pennylane", "PennyLaneDevice", "PennyLaneFamily", "QphysTorchDevice"]
