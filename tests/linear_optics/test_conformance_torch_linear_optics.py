"""The shipped linear-optics conformance suite on ``torch.linear_optics`` (exact, complex64, shots)."""

from qphys.testing import DeviceSpec
from qphys.testing.conformance_linear_optics import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("torch.linear_optics", atol=1e-12),
    DeviceSpec("torch.linear_optics", options={"dtype": "complex64"}, atol=2e-6),
    DeviceSpec("torch.linear_optics", shots=4000, atol=0.0),
]
