"""Embeddings and ansatze that append gates to a circuit.

Every template takes the circuit first and returns it, so templates chain:
``hardware_efficient(angle_embedding(c, x), w)``. Features may be ``(F,)`` or batched ``(B, F)``.
"""

from qphys.templates.cv import (
    clements_interferometer,
    cv_layer_shapes,
    cv_neural_net_layer,
    displacement_embedding,
    squeezing_embedding,
)
from qphys.templates.linear_optics import mesh_shapes, mzi_mesh, phase_encoding
from qphys.templates.qubit import (
    amplitude_embedding,
    angle_embedding,
    hardware_efficient,
    strongly_entangling_layers,
    zz_feature_map,
)

__all__ = [
    "clements_interferometer",
    "cv_layer_shapes",
    "cv_neural_net_layer",
    "displacement_embedding",
    "squeezing_embedding",
    "angle_embedding",
    "amplitude_embedding",
    "zz_feature_map",
    "hardware_efficient",
    "strongly_entangling_layers",
    "mzi_mesh",
    "phase_encoding",
    "mesh_shapes",
]
