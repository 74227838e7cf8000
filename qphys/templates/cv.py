"""Photonic templates: embeddings, the Clements interferometer mesh and the CV QNN layer.

Parameter layouts follow PennyLane's ``Interferometer`` / ``CVNeuralNetLayers`` templates so that
weights move between the two: a mesh on ``M`` modes has ``K = M (M - 1) / 2`` beamsplitters with
angles ``theta`` and phases ``phi``, followed by one rotation ``varphi`` per mode. Every weight
may carry a leading batch axis (``(B, K)``), which batches the circuit.

Examples:
    >>> import torch, qphys
    >>> from qphys.templates import cv_layer_shapes, cv_neural_net_layer
    >>> shapes = cv_layer_shapes(2)
    >>> w = {k: 0.1 * torch.ones(s) for k, s in shapes.items()}
    >>> c = cv_neural_net_layer(qphys.Circuit(modes=2), **w)
    >>> [op.name for op in c.operations][:3]
    ['beamsplitter', 'rotation', 'rotation']
"""

from __future__ import annotations

import torch

from qphys._validate import index_tuple, numeric_tensor, real_number
from qphys.errors import ParameterError


def _modes(circuit, modes):
    return tuple(range(circuit.num_wires)) if modes is None else index_tuple(modes, what="template", unit="mode")


def _weights(name, w, n):
    """``w`` checked as ``n`` real values on its last axis (``(n,)`` or ``(B, n)``): a tensor stays a
    tensor, numbers (a list or array) become a list of floats or a ``(B, n)`` tensor."""
    t = numeric_tensor(w, what=name, error=ParameterError)
    if t.is_complex():
        raise ParameterError(f"{name} must be real, got complex values; pass the real part (.real) or the angle")
    if t.ndim not in (1, 2):
        raise ParameterError(f"{name} must be ({n},) or (B, {n}), got shape {tuple(t.shape)}")
    if t.shape[-1] != n:
        raise ParameterError(f"{name} needs {n} value(s) on its last axis, got {t.shape[-1]}; pass exactly {n}")
    if torch.is_tensor(w) or t.ndim == 2:
        return t
    return [float(v) for v in t.tolist()]


def _col(w, i):
    """Element ``i`` of the last axis (a scalar, or a ``(B,)`` batch)."""
    if torch.is_tensor(w):
        return w[..., i]
    return float(w[i])


def clements_interferometer(circuit, theta, phi, varphi, modes=None):
    """Append a rectangular (Clements) mesh of beamsplitters plus one rotation per mode.

    Args:
        circuit: a photonic circuit.
        theta, phi: ``(K,)`` (or ``(B, K)``) beamsplitter angles and phases, ``K = M(M-1)/2``.
        varphi: ``(M,)`` (or ``(B, M)``) final rotation angles.
        modes: the ``M`` modes (default all).

    Raises:
        ParameterError: wrong number of angles.

    Examples:
        >>> import qphys
        >>> c = clements_interferometer(qphys.Circuit(modes=3), [0.1] * 3, [0.2] * 3, [0.0] * 3)
        >>> sum(op.name == "beamsplitter" for op in c.operations)
        3
    """
    modes = _modes(circuit, modes)
    M = len(modes)
    K = M * (M - 1) // 2
    theta, phi = _weights("theta", theta, K), _weights("phi", phi, K)
    varphi = _weights("varphi", varphi, M)
    n = 0
    for layer in range(M):
        for k, (w1, w2) in enumerate(zip(modes[:-1], modes[1:])):
            if (layer + k) % 2 != 1:
                circuit.beamsplitter(_col(theta, n), _col(phi, n), w1, w2)
                n += 1
    for i, w in enumerate(modes):
        circuit.rotation(_col(varphi, i), w)
    return circuit


def cv_layer_shapes(num_modes: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the weights of one :func:`cv_neural_net_layer` on ``num_modes`` modes.

    Examples:
        >>> cv_layer_shapes(2)["theta1"]
        (1,)
    """
    K = num_modes * (num_modes - 1) // 2
    M = num_modes
    return {
        "theta1": (K,), "phi1": (K,), "varphi1": (M,), "r": (M,), "phi_r": (M,),
        "theta2": (K,), "phi2": (K,), "varphi2": (M,), "a": (M,), "phi_a": (M,), "k": (M,),
    }


def cv_neural_net_layer(circuit, theta1, phi1, varphi1, r, phi_r, theta2, phi2, varphi2, a, phi_a, k,
                        modes=None, *, kerr: bool = True):
    """One CV QNN layer of Killoran et al. (2019): interferometer, squeezers, interferometer,
    displacements, Kerr gates.

    Args:
        circuit: a photonic circuit.
        theta1, phi1, varphi1: first interferometer (see :func:`clements_interferometer`).
        r, phi_r: squeezing magnitudes and phases, one per mode.
        theta2, phi2, varphi2: second interferometer.
        a, phi_a: displacement magnitudes and phases.
        k: Kerr strengths.
        modes: modes (default all).
        kerr: drop the Kerr gates when ``False`` (a Gaussian layer, runs on ``torch.gaussian``).

    Examples:
        >>> import qphys
        >>> w = {n: [0.1] * s[0] for n, s in cv_layer_shapes(1).items()}
        >>> c = cv_neural_net_layer(qphys.Circuit(modes=1), **w)
        >>> [op.name for op in c.operations]
        ['rotation', 'squeezing', 'rotation', 'displacement', 'kerr']
    """
    modes = _modes(circuit, modes)
    M = len(modes)
    r, phi_r, a, phi_a = (_weights(name, w, M) for name, w in (("r", r), ("phi_r", phi_r), ("a", a), ("phi_a", phi_a)))
    if kerr:
        k = _weights("k", k, M)
    clements_interferometer(circuit, theta1, phi1, varphi1, modes)
    for i, w in enumerate(modes):
        circuit.squeezing(_col(r, i), _col(phi_r, i), w)
    clements_interferometer(circuit, theta2, phi2, varphi2, modes)
    for i, w in enumerate(modes):
        circuit.displacement(_col(a, i), _col(phi_a, i), w)
    if kerr:
        for i, w in enumerate(modes):
            circuit.kerr(_col(k, i), w)
    return circuit


def displacement_embedding(circuit, features, modes=None, *, method: str = "amplitude", c: float = 0.0):
    """Encode features as displacements: ``D(x, c)`` (``method="amplitude"``) or ``D(c, x)``
    (``"phase"``). ``features``: ``(M,)`` or ``(B, M)``.

    Examples:
        >>> import qphys
        >>> c = displacement_embedding(qphys.Circuit(modes=2), [0.1, 0.2])
        >>> [op.params for op in c.operations]
        [(0.1, 0.0), (0.2, 0.0)]
    """
    return _embed(circuit, features, modes, method, c, "displacement")


def squeezing_embedding(circuit, features, modes=None, *, method: str = "amplitude", c: float = 0.0):
    """Encode features as squeezing: ``S(x, c)`` (``"amplitude"``) or ``S(c, x)`` (``"phase"``).

    Examples:
        >>> import qphys
        >>> c = squeezing_embedding(qphys.Circuit(modes=1), [0.3])
        >>> c.operations[0].name
        'squeezing'
    """
    return _embed(circuit, features, modes, method, c, "squeezing")


def _embed(circuit, features, modes, method, c, gate):
    if method not in ("amplitude", "phase"):
        raise ParameterError(f"{gate} embedding: method must be 'amplitude' or 'phase', got {method!r}")
    c = real_number(c, what=f"{gate} embedding: c", error=ParameterError)
    modes = _modes(circuit, modes)
    features = _weights(f"{gate} embedding: features", features, len(modes))
    for i, w in enumerate(modes):
        x = _col(features, i)
        args = (x, c) if method == "amplitude" else (c, x)
        getattr(circuit, gate)(*args, w)
    return circuit


__all__ = [
    "clements_interferometer", "cv_layer_shapes", "cv_neural_net_layer", "displacement_embedding",
    "squeezing_embedding",
]
