"""``torch.nn.Module``s built on qphys devices: :class:`QuantumLayer` (and, for photonic
circuits, ``PhotonicLayer``)."""

from qphys.nn.quantum_layer import QuantumLayer
from qphys.nn.photonic import PhotonicLayer

__all__ = ["QuantumLayer", "PhotonicLayer"]
