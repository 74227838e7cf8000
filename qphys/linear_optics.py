"""Linear-optical circuits for devices and users: the interferometer of a circuit, its outcome
spaces, and every measurement's value from pattern probabilities or from sampled counts.

This is the public face of :mod:`qphys.sim.linear_optics` (which devices and plugins may not
import directly): ``torch.linear_optics``, the Perceval plugin's devices and user code derive
their results with the same functions, so one measurement means one thing on every device.

A linear-optical device computes, per circuit, either the probability of every ``n``-photon
output pattern ``(B, N)`` (exact simulators: :func:`values_from_probabilities`) or how often each
pattern was seen ``(B, N)`` (samplers and hardware: :func:`values_from_counts`); everything else
(heralding, threshold detection, photon numbers, samples, count dictionaries) follows here.

Examples:
    >>> import math, torch, qphys
    >>> from qphys import linear_optics as lo
    >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).probs().photon_numbers()
    >>> p = lo.probabilities(lo.circuit_unitary(c), c.photons)
    >>> values, meta = lo.values_from_probabilities(c, p)
    >>> values[0].round(decimals=12).tolist(), values[1].round(decimals=12).tolist()  # Hong-Ou-Mandel
    ([[0.5, 0.0, 0.5]], [[1.0, 1.0]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from qphys.circuit import Circuit
from qphys.errors import UnsupportedOperationError
from qphys.ir import Measurement, Operation
from qphys.lo_builder import LINEAR_OPTICS
from qphys.ops.linear_optics import op_matrix
from qphys.sim.linear_optics import (
    ClementsMesh,
    amplitudes,
    clements_decomposition,
    mesh_modes,
    mesh_unitary,
    num_mzis,
    num_patterns,
    pattern_index,
    patterns,
    probabilities,
    sample,
    slos_memory,
    threshold_patterns,
    validate_photons,
)
from qphys.sim.linear_optics.components import Component, apply_component
from qphys.sim.linear_optics.components import _validate as _check_components
from qphys.sim.linear_optics.fock_space import rank
from qphys.sim.linear_optics.measure import _herald_np, _threshold_group, index_to_patterns

#: Measurement kinds of linear-optical circuits.
MEASUREMENTS = frozenset({"probs", "sample", "counts", "photon_numbers", "state"})
#: Kinds that need samples (shots).
SAMPLED_ONLY = frozenset({"sample", "counts"})


def check_circuit(circuit) -> None:
    """Raise unless ``circuit`` is a linear-optical :class:`~qphys.Circuit`.

    Raises:
        UnsupportedOperationError: another family.
    """
    if not isinstance(circuit, Circuit) or circuit.family != LINEAR_OPTICS:
        family = getattr(circuit, "family", type(circuit).__name__)
        raise UnsupportedOperationError(
            f"expected a linear-optical circuit (Circuit(modes=m, photons=...)), got a {family} circuit"
        )


def circuit_unitary(circuit, *, dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    """The ``(B, m, m)`` interferometer ``U[out, in]`` of ``circuit``'s operations (``B = 1``
    unbatched), differentiable in the operations' parameters.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 0)).ps(0.3, 0).bs(1.0, 0, 1)
        >>> circuit_unitary(c).shape
        torch.Size([1, 2, 2])
    """
    check_circuit(circuit)
    m = circuit.num_wires
    batch = circuit.batch_size or 1
    U = torch.eye(m, dtype=dtype, device=device).expand(batch, m, m)
    for op in circuit.operations:
        U = apply_component(U, op_matrix(op.name, op.params, dtype=dtype, device=device), op.wires)
    return U.expand(batch, m, m)


# ---- outcome spaces ----------------------------------------------------------------------------
def remaining(circuit, measurement: Measurement) -> tuple[tuple[int, ...], int]:
    """``(modes, photons)`` left after ``measurement``'s heralds: the modes it reports and the
    photons they share.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=4, photons=(1, 1, 1, 0)).probs(heralds={3: 1})
        >>> remaining(c, c.measurements[0])
        ((0, 1, 2), 2)
    """
    heralded = dict(measurement.heralds)
    modes = tuple(k for k in range(circuit.num_wires) if k not in heralded)
    return modes, circuit.num_photons - sum(heralded.values())


def outcome_patterns(circuit, measurement: Measurement) -> torch.Tensor:
    """The outcomes ``measurement`` reports, in order: ``(K, k)`` uint8 patterns of the remaining
    modes (photon counts), or click patterns with threshold detection.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 1)).probs(detection="threshold")
        >>> outcome_patterns(c, c.measurements[0]).tolist()
        [[1, 1], [1, 0], [0, 1]]
    """
    modes, photons = remaining(circuit, measurement)
    if measurement.detection == "threshold":
        return threshold_patterns(len(modes), photons)
    return patterns(len(modes), photons)


def _keep_index(circuit, measurement: Measurement, device) -> torch.Tensor | None:
    if not measurement.heralds:
        return None
    idx = _herald_np(circuit.num_wires, circuit.num_photons, tuple(measurement.heralds))
    return torch.from_numpy(idx).to(device)


def _conditional(circuit, measurement: Measurement, dist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(distribution over the measurement's outcomes, herald success or None)`` from a full
    ``(B, N)`` distribution over the ``n``-photon patterns (probabilities or frequencies)."""
    keep = _keep_index(circuit, measurement, dist.device)
    success = None
    if keep is not None:
        kept = dist.index_select(1, keep)
        success = kept.sum(-1)
        dist = kept / success.clamp_min(torch.finfo(dist.dtype).tiny).unsqueeze(-1)
    if measurement.detection == "threshold":
        modes, photons = remaining(circuit, measurement)
        size, group = _threshold_group(len(modes), photons, str(dist.device))
        dist = dist.new_zeros(dist.shape[0], size).index_add(1, group, dist)
    return dist, success


def _photon_numbers(circuit, measurement: Measurement, dist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    cond, success = _conditional(circuit, measurement, dist)
    modes, photons = remaining(circuit, measurement)
    table = patterns(len(modes), photons).to(device=dist.device, dtype=dist.dtype)
    means = cond @ table  # (B, len(modes)) over the remaining modes
    position = {mode: k for k, mode in enumerate(modes)}
    cols = torch.tensor([position[w] for w in measurement.wires], device=dist.device)
    return means.index_select(1, cols), success


def measurement_value(circuit, measurement: Measurement, dist: torch.Tensor) -> torch.Tensor:
    """The value of a ``probs`` or ``photon_numbers`` measurement from a full ``(B, N)``
    distribution over the ``n``-photon patterns (differentiable; heralds and threshold
    detection applied). Gradient rules use it to differentiate heralded (ratio) outputs.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 1)).probs(heralds={1: 0})
        >>> measurement_value(c, c.measurements[0], torch.tensor([[0.5, 0.0, 0.5]])).tolist()
        [[1.0]]
    """
    if measurement.kind == "probs":
        return _conditional(circuit, measurement, dist)[0]
    if measurement.kind == "photon_numbers":
        return _photon_numbers(circuit, measurement, dist)[0]
    raise UnsupportedOperationError(f"{measurement.kind!r} is not a function of the pattern distribution")


def _counts_dicts(circuit, measurement: Measurement, counts: torch.Tensor) -> list[dict]:
    """Per row, ``{outcome pattern (tuple): count}`` of the measurement (heralds applied)."""
    keep = _keep_index(circuit, measurement, counts.device)
    c = counts if keep is None else counts.index_select(1, keep)
    if measurement.detection == "threshold":
        modes, photons = remaining(circuit, measurement)
        size, group = _threshold_group(len(modes), photons, str(c.device))
        c = c.new_zeros(c.shape[0], size).index_add(1, group, c)
    table = [tuple(r) for r in outcome_patterns(circuit, measurement).tolist()]
    out = []
    for row in c.cpu().numpy():
        nz = np.flatnonzero(row)
        out.append({table[i]: int(row[i]) for i in nz})
    return out


def _note_success(values: dict, measurement_index: int, success: torch.Tensor | None) -> None:
    if success is not None:
        values[measurement_index] = success.detach()


# ---- values ---------------------------------------------------------------------------------------
def values_from_probabilities(
    circuit,
    probs: torch.Tensor,
    *,
    shots: int | None = None,
    generator: torch.Generator | None = None,
    amplitudes: torch.Tensor | None = None,
) -> tuple[list, dict]:
    """Every measurement of ``circuit`` from the probabilities of all ``n``-photon patterns.

    Args:
        circuit: a linear-optical circuit.
        probs: ``(B, N)`` pattern probabilities (``B = 1`` for an unbatched circuit),
            differentiable; exact values keep the graph.
        shots: ``None`` for exact values; else ``shots`` patterns are drawn per row from
            ``generator`` and every measurement is estimated from those same samples
            (:func:`values_from_counts`).
        generator: a seeded ``torch.Generator`` (with shots).
        amplitudes: ``(B, N)`` output amplitudes, for ``state()`` measurements.

    Returns:
        ``(values, metadata)``: one value per measurement, batch axis kept (the caller drops it for
        unbatched circuits); ``metadata["herald_success"]`` maps a measurement's index to the
        probability (or, sampled, the fraction of shots) that its heralds fired.

    Raises:
        UnsupportedOperationError: ``sample``/``counts`` without shots, ``state`` without
            amplitudes or with shots.
    """
    check_circuit(circuit)
    if shots is not None:
        if any(m.kind == "state" for m in circuit.measurements):
            raise UnsupportedOperationError("state() is not available with shots; use shots=None")
        indices = sample(probs, shots, generator=generator)
        return values_from_counts(circuit, _histogram(indices, probs.shape[-1]), indices=indices, generator=generator)
    values, success = [], {}
    for k, m in enumerate(circuit.measurements):
        if m.kind == "probs":
            v, s = _conditional(circuit, m, probs)
        elif m.kind == "photon_numbers":
            v, s = _photon_numbers(circuit, m, probs)
        elif m.kind == "state":
            if amplitudes is None:
                raise UnsupportedOperationError("state(): this device returns probabilities only; measure probs()")
            v, s = amplitudes, None
        else:
            raise UnsupportedOperationError(f"measurement {m.kind!r} needs shots; pass shots=N")
        _note_success(success, k, s)
        values.append(v)
    return values, ({"herald_success": success} if success else {})


def _histogram(indices: torch.Tensor, size: int) -> torch.Tensor:
    flat = indices.reshape(-1, indices.shape[-1])
    out = torch.zeros(flat.shape[0], size, dtype=torch.int64, device=indices.device)
    return out.scatter_add_(1, flat, torch.ones_like(flat))


def values_from_counts(
    circuit,
    counts: torch.Tensor,
    *,
    indices: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[list, dict]:
    """Every measurement of ``circuit`` estimated from sampled pattern counts.

    Args:
        circuit: a linear-optical circuit.
        counts: ``(B, N)`` integer counts of each ``n``-photon pattern (the order of
            :func:`patterns`); a row's total is its number of samples.
        indices: ``(B, shots)`` the samples in drawn order, when known; otherwise ``sample()``
            lists the counted patterns in an order shuffled by ``generator`` (given the counts,
            every order of i.i.d. samples is equally likely, so this is a valid sample).
        generator: seeds that shuffle.
        dtype: real dtype of the estimates.

    Returns:
        ``(values, metadata)`` as :func:`values_from_probabilities`; ``probs`` are frequencies
        (post-selected on the heralds: their denominator is the number of samples where the heralds
        fired; all zero when none did), ``photon_numbers`` sample means, ``sample`` ``(B, shots, m)``
        int64 photon counts (clicks with threshold detection), ``counts`` one dict per row.

    Raises:
        UnsupportedOperationError: ``state()`` (not available from samples), or rows with
            different numbers of samples and a ``sample()`` measurement.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 1)).probs().counts()
        >>> values, _ = values_from_counts(c, torch.tensor([[3, 0, 1]]))
        >>> values[0].tolist(), values[1]
        ([[0.75, 0.0, 0.25]], [{(2, 0): 3, (0, 2): 1}])
    """
    check_circuit(circuit)
    counts = torch.as_tensor(counts)
    totals = counts.sum(-1)
    freq = counts.to(dtype) / totals.clamp_min(1).to(dtype).unsqueeze(-1)
    values, success = [], {}
    for k, m in enumerate(circuit.measurements):
        s = None
        if m.kind == "probs":
            v, s = _conditional(circuit, m, freq)
        elif m.kind == "photon_numbers":
            v, s = _photon_numbers(circuit, m, freq)
        elif m.kind == "counts":
            v = _counts_dicts(circuit, m, counts)
        elif m.kind == "sample":
            if indices is None:
                indices = _expand(counts, generator)
            v = index_to_patterns(indices, circuit.num_wires, circuit.num_photons).to(torch.int64)
            if m.detection == "threshold":
                v = (v > 0).to(torch.int64)
        else:
            raise UnsupportedOperationError(f"measurement {m.kind!r} is not available from samples; use shots=None")
        _note_success(success, k, s)
        values.append(v)
    return values, ({"herald_success": success} if success else {})


def _expand(counts: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``(B, shots)`` pattern indices holding each row's counts, in a random order."""
    totals = counts.sum(-1)
    if bool((totals != totals[0]).any()):
        raise UnsupportedOperationError(
            "sample(): the rows returned different numbers of samples (post-selection on hardware); measure "
            "counts() instead"
        )
    rows = []
    for row in counts.cpu():
        idx = torch.repeat_interleave(torch.arange(row.shape[0]), row)
        perm = torch.randperm(idx.shape[0], generator=generator)
        rows.append(idx[perm])
    return torch.stack(rows).to(counts.device)


def unbatch(circuit, values: list, metadata: dict) -> tuple[list, dict]:
    """For an unbatched circuit, drop the batch axis of every value (a list of count dicts: its only
    entry) and of ``metadata["herald_success"]``; batched circuits pass through.

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=1, photons=(1,)).probs()
        >>> unbatch(c, [torch.ones(1, 1)], {})[0][0].shape
        torch.Size([1])
    """
    if circuit.batch_size is not None:
        return values, metadata
    meta = dict(metadata)
    if "herald_success" in meta:
        meta["herald_success"] = {k: v[0] for k, v in meta["herald_success"].items()}
    return [v[0] for v in values], meta


def check_components(components: Sequence[Component], m: int) -> int | None:
    """Validate a list of :class:`Component` on ``m`` modes (kinds, modes, parameter counts, batch
    sizes) and return the batch size (``None``: unbatched).

    Raises:
        UnsupportedOperationError, ParameterError, WireError, MatrixError, BatchSizeError: a
            malformed component, reported with its position.
    """
    return _check_components(components, m)


def pattern_indices(pats) -> torch.Tensor:
    """Indices ``(K,)`` of patterns ``(K, m)`` (all with the same photon number) in the order of
    :func:`patterns`, vectorised.

    Examples:
        >>> pattern_indices([[2, 0, 0], [0, 1, 1]]).tolist()
        [0, 4]
    """
    t = np.asarray(pats, dtype=np.int64)
    if t.ndim != 2 or t.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64)
    n = int(t[0].sum())
    if not (t.sum(1) == n).all():
        raise UnsupportedOperationError("pattern_indices: the patterns hold different photon numbers")
    return torch.from_numpy(rank(t, t.shape[1], n).astype(np.int64))


def counts_from_samples(samples: Sequence[Sequence[int]], m: int, n: int) -> torch.Tensor:
    """``(N,)`` int64 counts of sampled patterns (photons per mode), in :func:`patterns` order.

    Examples:
        >>> counts_from_samples([(1, 1), (2, 0), (2, 0)], 2, 2).tolist()
        [2, 1, 0]
    """
    out = torch.zeros(num_patterns(m, n), dtype=torch.int64)
    if len(samples):
        idx = pattern_indices(np.asarray(samples, dtype=np.int64).reshape(-1, m))
        out.index_add_(0, idx, torch.ones_like(idx))
    return out


def _nearest_unitary(u: np.ndarray) -> np.ndarray:
    w, _, vh = np.linalg.svd(u)
    return w @ vh


def mesh_interferometers(circuit) -> Circuit:
    """A copy of ``circuit`` whose ``interferometer(U)`` operations are replaced by their Clements
    meshes (:func:`clements_decomposition`): ``m (m - 1) / 2`` ``mzi`` in :func:`mesh_modes` order,
    then a ``ps`` per mode, on the interferometer's modes. A batched ``U`` gives batched angles,
    so a batch of matrices becomes one parametrised circuit (what a remote job can carry). The
    matrices are read as data (detached; complex64 ones are first rounded to the nearest
    unitary in complex128): differentiate through a mesh of ``mzi`` instead.

    Examples:
        >>> import qphys, torch
        >>> from scipy.stats import unitary_group
        >>> U = torch.tensor(unitary_group.rvs(3, random_state=0))
        >>> c = qphys.Circuit(photons=(1, 1, 0)).interferometer(U).probs()
        >>> meshed = mesh_interferometers(c)
        >>> [op.name for op in meshed.operations]
        ['mzi', 'mzi', 'mzi', 'ps', 'ps', 'ps']
        >>> bool(torch.allclose(circuit_unitary(meshed), circuit_unitary(c), atol=1e-12))
        True
    """
    check_circuit(circuit)
    if not any(op.name == "interferometer" for op in circuit.operations):
        return circuit
    ops: list[Operation] = []
    for op in circuit.operations:
        if op.name != "interferometer":
            ops.append(op)
            continue
        u = torch.as_tensor(op.params[0]).detach().cpu().to(torch.complex128).numpy()
        rows = u.reshape(-1, *u.shape[-2:])
        meshes = [clements_decomposition(_nearest_unitary(r)) for r in rows]
        batched = u.ndim == 3

        def angle(values, _batched=batched):
            return torch.tensor(values, dtype=torch.float64) if _batched else float(values[0])

        wires = op.wires
        for q, k in enumerate(mesh_modes(len(wires))):
            ops.append(Operation("mzi", (wires[k], wires[k + 1]),
                                 (angle([mesh.phi_a[q] for mesh in meshes]), angle([mesh.phi_b[q] for mesh in meshes]))))
        for k, w in enumerate(wires):
            ops.append(Operation("ps", (w,), (angle([mesh.phases[k] for mesh in meshes]),)))
    new = circuit.copy()
    new.operations = ops
    return new


def shift_terms(circuit, op_index: int, param_index: int) -> int:
    """How many shifted circuits the photonic rule of a parameter takes (``2R`` for ``R`` photons
    reaching it; ``4R`` for a beam splitter whose frequencies are half-integers).

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=3, photons=(1, 1, 0)).ps(0.1, 0).bs(0.3, 0, 1).ps(0.2, 0).bs(0.4, 1, 2)
        >>> [shift_terms(c, i, 0) for i in range(4)]
        [2, 4, 4, 4]
    """
    op = circuit.operations[op_index]
    return len(op.spec.shift_rule(circuit, op_index, param_index))


__all__ = [
    "MEASUREMENTS", "SAMPLED_ONLY", "check_circuit", "circuit_unitary", "remaining", "outcome_patterns",
    "values_from_probabilities", "values_from_counts", "counts_from_samples", "shift_terms", "measurement_value",
    "mesh_interferometers",
    "unbatch", "Component", "check_components", "pattern_indices",
    "amplitudes", "probabilities", "patterns", "num_patterns", "pattern_index", "threshold_patterns",
    "validate_photons", "clements_decomposition", "ClementsMesh", "mesh_unitary", "mesh_modes", "num_mzis",
    "slos_memory",
]
