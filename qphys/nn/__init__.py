"""``torch.nn.Module``s built on qphys devices: :class:`QuantumLayer` (and, for photonic
circuits, ``PhotonicLayer``)."""

from qphys.nn.photonic import PhotonicLayer
from qphys.nn.quantum_layer import QuantumLayer

__all__ = ["QuantumLayer", "PhotonicLayer"]
