"""qphys-qiskit: Qiskit Aer and IBM Quantum devices for qphys, and circuit conversion.

Devices (registered under the ``qphys.devices`` entry-point group):

- ``aer.statevector``, ``aer.density_matrix``, ``aer.matrix_product_state`` — Qiskit Aer,
  exact or with shots, any ``qiskit_aer.noise.NoiseModel``, seeded;
- ``ibm.fake_<name>`` — every fake backend of ``qiskit_ibm_runtime.fake_provider``, run locally
  through qiskit-ibm-runtime's local testing mode with the device's noise model and coupling map;
- ``ibm.<name>`` — real IBM Quantum backends through ``QiskitRuntimeService``.

Conversion: :func:`to_qiskit`, :func:`from_qiskit`, :func:`to_qasm3`, :func:`from_qasm3`.

Examples:
    >>> import qphys
    >>> from qphys_qiskit import to_qasm3
    >>> "cx q[0], q[1];" in to_qasm3(qphys.Circuit(wires=2).h(0).cx(0, 1))
    True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module; imported on first use (PEP 562), so that ``qphys devices`` can read
#: :mod:`qphys_qiskit.catalog` without importing Qiskit
_LAZY = {name: "qphys_qiskit.convert" for name in (
    "to_qiskit", "from_qiskit", "to_qasm3", "from_qasm3", "parameter_values", "to_sparse_pauli_op",
)}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
