"""``torch.nn.Module``s built on qphys devices: :class:`QuantumLayer`, ``PhotonicLayer``
(continuous-variable) and ``LinearOpticsLayer`` (single photons through a trainable
interferometer)."""

from qphys.nn.linear_optics import LinearOpticsLayer
from qphys.nn.photonic import PhotonicLayer
from qphys.nn.quantum_layer import QuantumLayer

__all__ = ["QuantumLayer", "PhotonicLayer", "LinearOpticsLayer"]
