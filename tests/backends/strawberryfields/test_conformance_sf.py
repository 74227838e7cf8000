"""The shipped CV conformance suite on the Strawberry Fields plugin's devices."""

from qphys.testing import DeviceSpec
from qphys.testing.conformance_cv import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("sf.fock", options={"cutoff": 14}, atol=2e-6),
    DeviceSpec("sf.gaussian", options={"cutoff": 15}, atol=1e-8),
    DeviceSpec("sf.bosonic", atol=1e-8),
]
