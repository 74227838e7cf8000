"""qphys-strawberryfields: Strawberry Fields' ``fock``, ``gaussian`` and ``bosonic`` backends as
qphys devices ``sf.fock``, ``sf.gaussian`` and ``sf.bosonic``.

Examples:
    >>> import qphys
    >>> from qphys import cv
    >>> c = qphys.Circuit(modes=1).displacement(0.5, 0.0, 0).expval(cv.X(0))
    >>> round(float(qphys.execute(c, qphys.device("sf.gaussian")).expvals[0]), 6)
    1.0
"""

from qphys_strawberryfields._compat import import_strawberryfields
from qphys_strawberryfields.convert import to_program

__all__ = ["import_strawberryfields", "to_program"]
