"""The shipped conformance suite on ``torch.qubit``: complex64 and complex128, exact and with shots."""

from qphys.testing import DeviceSpec
from qphys.testing.conformance_qubit import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("torch.qubit", options={"dtype": "complex64"}, atol=2e-5),
    DeviceSpec("torch.qubit", options={"dtype": "complex128"}, atol=1e-9),
    DeviceSpec("torch.qubit", options={"dtype": "complex64"}, shots=20000, atol=2e-5),
    DeviceSpec("torch.qubit", options={"dtype": "complex128"}, shots=20000, atol=1e-9),
]
