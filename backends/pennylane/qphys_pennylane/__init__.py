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

from __future__ import annotations

import importlib

#: public name -> module; imported on first use (PEP 562), so that ``qphys devices`` can read
#: :mod:`qphys_pennylane.catalog` without importing PennyLane
_LAZY = {
    "to_pennylane": "qphys_pennylane.convert",
    "from_pennylane": "qphys_pennylane.convert",
    "PennyLaneDevice": "qphys_pennylane.family",
    "PennyLaneFamily": "qphys_pennylane.family",
    "QphysTorchDevice": "qphys_pennylane.pl_device",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
