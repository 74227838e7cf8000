"""Qubit templates: angle, amplitude and ZZ feature-map embeddings; HEA and strongly
entangling layers."""

from __future__ import annotations

import math

import torch

from qphys._validate import describe, index_tuple, is_integer, numeric_tensor, real_number
from qphys.errors import ParameterError, WireError

ROTATIONS = ("rx", "ry", "rz", "p")


def _wires(circuit, wires, count=None):
    wires = list(range(circuit.num_wires)) if wires is None else list(index_tuple(wires, what="template"))
    if count is not None and count > len(wires):
        raise WireError(
            f"{count} features need {count} wires but only {len(wires)} were given "
            f"(circuit has {circuit.num_wires}); build a wider circuit or pass fewer features"
        )
    return wires


def _real_tensor(x, what):
    """``x`` as a real tensor (an array of finite-or-not real numbers; gates check finiteness)."""
    t = numeric_tensor(x, what=what, error=ParameterError)
    if t.is_complex():
        raise ParameterError(f"{what} must be real, got a complex array; pass its real part (.real) or its angle")
    return t


def _columns(features, name):
    x = _real_tensor(features, f"{name}: features")
    if x.ndim not in (1, 2):
        raise ParameterError(f"{name}: features must be (F,) or (B, F), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return [x[..., i] for i in range(x.shape[-1])]


def angle_embedding(circuit, features, wires=None, *, rotation: str = "y"):
    """One rotation per feature: ``R_rotation(x_i)`` on wire ``i``.

    Examples:
        >>> import torch, qphys
        >>> from qphys.templates import angle_embedding
        >>> c = angle_embedding(qphys.Circuit(wires=3), torch.rand(8, 3))
        >>> c.batch_size
        8
    """
    if rotation not in ("x", "y", "z"):
        raise ParameterError(f"rotation must be 'x', 'y' or 'z', got {rotation!r}")
    cols = _columns(features, "angle_embedding")
    wires = _wires(circuit, wires, len(cols))
    gate = getattr(circuit, "r" + rotation)
    for x, w in zip(cols, wires):
        gate(x, w)
    return circuit


def amplitude_embedding(circuit, features, wires=None, *, normalize: bool = False, pad_with=None):
    """Encode ``2**k`` features as the amplitudes of ``k`` wires (``state_prep``).

    Args:
        normalize: divide each feature vector by its norm.
        pad_with: pad fewer than ``2**k`` features with this value.
    """
    wires = _wires(circuit, wires)
    x = numeric_tensor(features, what="amplitude_embedding: features", error=ParameterError)
    if x.ndim not in (1, 2):
        raise ParameterError(
            f"amplitude_embedding: features must be (F,) or (B, F), got shape {tuple(x.shape)}; pass one vector "
            "per batch element"
        )
    if not (x.is_floating_point() or x.is_complex()):
        x = x.to(torch.get_default_dtype())
    d = 2 ** len(wires)
    if x.shape[-1] < d and pad_with is not None:
        value = real_number(pad_with, what="amplitude_embedding: pad_with", error=ParameterError)
        pad = torch.full((*x.shape[:-1], d - x.shape[-1]), value, dtype=x.dtype, device=x.device)
        x = torch.cat([x, pad], dim=-1)
    if x.shape[-1] != d:
        raise ParameterError(
            f"amplitude_embedding on {len(wires)} wires needs {d} features, got {x.shape[-1]}; "
            "pass pad_with=0.0 or use more/fewer wires"
        )
    if normalize:
        norm = x.abs().pow(2).sum(-1, keepdim=True).sqrt()
        if bool((norm == 0).any()):
            raise ParameterError("amplitude_embedding: a feature vector is all zeros and cannot be normalized")
        x = x / norm
    return circuit.state_prep(x, wires)


def zz_feature_map(circuit, features, wires=None, *, reps: int = 2, entanglement: str = "full"):
    """Havlicek et al.'s ZZ feature map, gate for gate as Qiskit's ``ZZFeatureMap``.

    Each repetition: H on every wire, ``P(2 x_i)``, then for each pair ``(i, j)``
    ``CX(i, j) P(2 (π - x_i)(π - x_j)) CX(i, j)``.

    Args:
        entanglement: ``"full"`` (all pairs), ``"linear"`` or ``"circular"``.
    """
    if not is_integer(reps) or reps < 1:
        raise ParameterError(f"zz_feature_map: reps must be a positive integer, got {describe(reps)}; e.g. reps=2")
    cols = _columns(features, "zz_feature_map")
    wires = _wires(circuit, wires, len(cols))
    n = len(cols)
    if entanglement == "full":
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    elif entanglement == "linear":
        pairs = [(i, i + 1) for i in range(n - 1)]
    elif entanglement == "circular":
        pairs = ([(n - 1, 0)] if n > 2 else []) + [(i, i + 1) for i in range(n - 1)]
    else:
        raise ParameterError(f"entanglement must be 'full', 'linear' or 'circular', got {entanglement!r}")
    for _ in range(reps):
        for w in wires[:n]:
            circuit.h(w)
        for x, w in zip(cols, wires):
            circuit.p(2.0 * x, w)
        for i, j in pairs:
            circuit.cx(wires[i], wires[j])
            circuit.p(2.0 * (math.pi - cols[i]) * (math.pi - cols[j]), wires[j])
            circuit.cx(wires[i], wires[j])
    return circuit


def hardware_efficient(circuit, weights, wires=None, *, rotations=("ry", "rz"), entangler: str = "ring"):
    """Hardware-efficient ansatz: per layer one rotation of each kind on every wire, then CNOTs.

    Args:
        weights: ``(L, n, len(rotations))``.
        entangler: ``"ring"`` (CNOT i -> i+1 and n-1 -> 0), ``"linear"`` or ``"none"``.
    """
    if isinstance(rotations, str) or not isinstance(rotations, (list, tuple)) or not rotations or any(
            not isinstance(r, str) or r not in ROTATIONS for r in rotations):
        raise ParameterError(
            f"hardware_efficient: rotations must be a non-empty tuple of {', '.join(map(repr, ROTATIONS))}, got "
            f"{describe(rotations)}; e.g. rotations=('ry', 'rz')"
        )
    if not isinstance(entangler, str) or entangler not in ("ring", "linear", "none"):
        raise ParameterError(f"entangler must be 'ring', 'linear' or 'none', got {entangler!r}")
    wires = _wires(circuit, wires)
    w = _real_tensor(weights, "hardware_efficient: weights")
    if w.ndim != 3 or w.shape[1] != len(wires) or w.shape[2] != len(rotations):
        raise ParameterError(
            f"hardware_efficient weights must have shape (layers, {len(wires)}, {len(rotations)}), "
            f"got {tuple(w.shape)}"
        )
    n = len(wires)
    for layer in w:
        for q, wire in enumerate(wires):
            for r, name in enumerate(rotations):
                getattr(circuit, name)(layer[q, r], wire)
        if entangler in ("ring", "linear") and n > 1:
            for q in range(n - 1):
                circuit.cx(wires[q], wires[q + 1])
            if entangler == "ring" and n > 2:
                circuit.cx(wires[-1], wires[0])
        elif entangler not in ("ring", "linear", "none"):
            raise ParameterError(f"entangler must be 'ring', 'linear' or 'none', got {entangler!r}")
    return circuit


def strongly_entangling_layers(circuit, weights, wires=None, *, ranges=None):
    """PennyLane's StronglyEntanglingLayers: ``Rot = RZ(ω) RY(θ) RZ(φ)`` per wire, then CNOTs
    ``i -> (i + r) mod n`` with range ``r = l mod (n - 1) + 1``.

    Args:
        weights: ``(L, n, 3)`` holding ``(φ, θ, ω)``.
    """
    wires = _wires(circuit, wires)
    w = _real_tensor(weights, "strongly_entangling_layers: weights")
    n = len(wires)
    if w.ndim != 3 or w.shape[1:] != (n, 3):
        raise ParameterError(
            f"strongly_entangling_layers weights must have shape (layers, {n}, 3), got {tuple(w.shape)}"
        )
    if ranges is not None and (not isinstance(ranges, (list, tuple)) or len(ranges) != w.shape[0]
                               or any(not is_integer(r) or not 0 < r < max(n, 2) for r in ranges)):
        raise ParameterError(
            f"strongly_entangling_layers: ranges must be {w.shape[0]} integer(s) in 1..{max(n - 1, 1)}, one per "
            f"layer, got {describe(ranges)}; or leave ranges=None"
        )
    for l, layer in enumerate(w):
        for q, wire in enumerate(wires):
            circuit.rz(layer[q, 0], wire).ry(layer[q, 1], wire).rz(layer[q, 2], wire)
        if n > 1:
            r = ranges[l] if ranges is not None else (l % (n - 1)) + 1
            for q in range(n):
                circuit.cx(wires[q], wires[(q + r) % n])
    return circuit
