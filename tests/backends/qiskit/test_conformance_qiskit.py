"""The shipped qubit conformance suite on the Qiskit plugin's devices.

Exact Aer devices use complex128-level tolerances; the fake IBM device (noisy, shot-based, run
through qiskit-ibm-runtime's local testing mode) gets statistical tolerances plus a margin for
its noise model (gate and readout errors of a few percent).
"""

from qphys.testing import DeviceSpec
from qphys.testing.conformance_qubit import *  # noqa: F401,F403

CONFORMANCE_DEVICES = [
    DeviceSpec("aer.statevector", atol=1e-9),
    DeviceSpec("aer.density_matrix", atol=1e-9),
    DeviceSpec("aer.matrix_product_state", atol=1e-9),
    DeviceSpec("ibm.fake_manila", options={"seed": 11, "ledger": False}, shots=4000, atol=0.12),
]
