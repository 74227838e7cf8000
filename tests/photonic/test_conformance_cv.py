"""The shipped CV conformance suite on the native photonic devices."""

from qphys.testing import DeviceSpec
from qphys.testing.conformance_cv import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("torch.fock", options={"cutoff": 20}, atol=1e-7),
    DeviceSpec("torch.fock", options={"cutoff": 15, "dtype": "complex64"}, atol=5e-5),
    DeviceSpec("torch.gaussian", atol=1e-10),
    DeviceSpec("torch.gaussian", shots=2000, atol=1e-10),
]
