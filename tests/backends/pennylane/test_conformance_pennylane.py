"""The shipped qphys conformance suite on PennyLane devices wrapped as qphys devices.

``pennylane.default.qubit`` and ``pennylane.lightning.qubit``, exact and with shots (the shots
runs check sampling statistics, counts and batched samples through PennyLane's samplers).
"""

from qphys.testing import DeviceSpec
from qphys.testing.conformance_qubit import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("pennylane.default.qubit", atol=1e-9),
    DeviceSpec("pennylane.lightning.qubit", atol=1e-9),
    DeviceSpec("pennylane.default.qubit", shots=20000, atol=1e-9),
    DeviceSpec("pennylane.lightning.qubit", shots=20000, atol=1e-9),
]
