"""The device conformance suite, shipped inside the package so any plugin can run it.

Run it on any installed device with ``qphys check-device NAME``, from Python with
:func:`check_device` (a plain function returning a :class:`Report`, like gymnasium's
``check_env``), or as pytest tests with ``pytest --pyargs qphys.testing.conformance_qubit
--qphys-device NAME``. A test module in a plugin's own test
folder can also run it on chosen devices::

    from qphys.testing.conformance_qubit import *  # noqa: F401,F403
    from qphys.testing import DeviceSpec
    CONFORMANCE_DEVICES = [DeviceSpec("aer.statevector"), DeviceSpec("aer.statevector", shots=20000)]

Features a device lacks become skips, never failures.
"""

from __future__ import annotations

from pathlib import Path

from qphys.testing.check import CheckResult, Report, check_device
from qphys.testing.spec import DeviceSpec

_HERE = Path(__file__).resolve().parent

#: Paths of the conformance test modules (one per op family).
SUITE_PATHS = [str(p) for p in sorted(_HERE.glob("conformance_*.py"))]

__all__ = ["DeviceSpec", "SUITE_PATHS", "check_device", "Report", "CheckResult"]
