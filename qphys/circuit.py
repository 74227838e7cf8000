"""The circuit IR: an ordered list of operations plus measurements.

Circuits are cheap: build a fresh one every forward pass. A parameter is a Python float or a
torch tensor; a 1-D tensor of length ``B`` batches the circuit (parameter broadcasting) and
every batched parameter of one circuit must share the same ``B``. All input is validated when
the circuit is built, before any device spends compute on it.

Examples:
    >>> import torch, qphys
    >>> c = qphys.Circuit(wires=2)
    >>> _ = c.h(0).cx(0, 1).ry(torch.tensor([0.1, 0.2, 0.3]), 1)
    >>> _ = c.expval(qphys.Z(0) @ qphys.Z(1))
    >>> c.batch_size
    3
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from numbers import Number

import numpy as np
import torch

from qphys._validate import describe, index_tuple, is_integer, numeric_tensor
from qphys.cv_builder import CVBuilder
from qphys.errors import (
    BatchSizeError,
    MatrixError,
    ObservableError,
    ParameterError,
    UnsupportedOperationError,
    WireError,
)
from qphys.ir import MEASUREMENT_KINDS, Measurement, Operation
from qphys.lo_builder import LINEAR_OPTICS, LinearOpticsBuilder
from qphys.observables import Observable
from qphys.ops import get_spec
from qphys.sim.linear_optics.fock_space import validate_photons


def _batch_of(value) -> int | None:
    if torch.is_tensor(value) and value.ndim == 1:
        return value.shape[0]
    return None


class Circuit(CVBuilder, LinearOpticsBuilder):
    """A qubit circuit (``Circuit(wires=n)``), a continuous-variable photonic one
    (``Circuit(modes=m)``) or a linear-optical one (``Circuit(modes=m, photons=(1, 1, 0, 0))``:
    single photons through passive optics, :mod:`qphys.lo_builder`).

    Args:
        wires: number of qubits.
        modes: number of optical modes.
        photons: the input Fock state of a linear-optical circuit, photons per mode (at least
            one photon); ``modes`` defaults to its length.

    Raises:
        WireError: neither or both of ``wires`` and ``modes`` given, a non-positive count, or
            ``photons`` whose length is not ``modes``.
        ParameterError: ``photons`` is not a sequence of photon counts with at least one photon.
    """

    def __init__(self, wires: int | None = None, *, modes: int | None = None, photons=None):
        if photons is not None:
            if wires is not None:
                raise WireError("photons= makes a linear-optical circuit, which has modes, not wires; drop wires=")
            photons = validate_photons(photons, modes)
            if sum(photons) == 0:
                raise ParameterError(
                    f"photons={photons} holds no photon; a linear-optical circuit needs at least one, e.g. "
                    "photons=(1, 0, ...)"
                )
            modes = len(photons) if modes is None else modes
        if (wires is None) == (modes is None):
            raise WireError(
                "give exactly one of wires= (qubit circuit) or modes= (photonic circuit), "
                f"got wires={wires!r}, modes={modes!r}"
            )
        count = wires if wires is not None else modes
        if not is_integer(count) or count < 1:
            raise WireError(
                f"a circuit needs a positive integer number of wires/modes, got {describe(count)}; e.g. "
                "Circuit(wires=2) or Circuit(modes=2)"
            )
        self.family = "qubit" if wires is not None else ("cv" if photons is None else LINEAR_OPTICS)
        self.photons = photons
        self.num_wires = int(count)
        self.operations: list[Operation] = []
        self.measurements: list[Measurement] = []
        self._batch: int | None = None
        self._batch_source: str | None = None

    # ---- properties ----------------------------------------------------------------------
    @property
    def num_modes(self) -> int:
        """Alias of ``num_wires`` for photonic circuits."""
        return self.num_wires

    @property
    def batch_size(self) -> int | None:
        """``B`` when any parameter is batched, else ``None``."""
        return self._batch

    def __repr__(self):
        unit = "wires" if self.family == "qubit" else "modes"
        photons = f", photons={self.photons}" if self.photons is not None else ""
        return (
            f"Circuit({unit}={self.num_wires}{photons}, ops={len(self.operations)}, "
            f"measurements={[m.kind for m in self.measurements]}, batch={self._batch})"
        )

    # ---- validation helpers ----------------------------------------------------------------
    def _check_wires(self, name: str, wires) -> tuple[int, ...]:
        """``wires`` (an integer or a sequence of them) checked against the circuit's range."""
        unit = "wire" if self.family == "qubit" else "mode"
        out = []
        for w in index_tuple(wires, what=name, unit=unit):
            if w < 0:
                raise WireError(
                    f"{name}: {unit} {w} is negative; {unit}s are numbered 0..{self.num_wires - 1} "
                    f"and negative indices do not count from the end (the last {unit} is "
                    f"{self.num_wires - 1}); use an index in 0..{self.num_wires - 1}"
                )
            if w >= self.num_wires:
                raise WireError(
                    f"{name}: {unit} {w} is out of range for a circuit with {self.num_wires} "
                    f"{unit}s (valid: 0..{self.num_wires - 1}); build Circuit({unit}s="
                    f"{int(w) + 1}) or fix the index"
                )
            out.append(int(w))
        if len(set(out)) != len(out):
            raise WireError(f"{name}: {unit}s {tuple(out)} repeat a {unit}; each must be distinct: give each {unit} once")
        return tuple(out)

    def _note_batch(self, name: str, b: int | None) -> None:
        if b is None:
            return
        if self._batch is None:
            self._batch, self._batch_source = b, name
        elif b != self._batch:
            raise BatchSizeError(
                f"{name}: batch size {b} differs from batch size {self._batch} set by "
                f"{self._batch_source}; every batched parameter of a circuit needs the same "
                "length"
            )

    def _check_param(self, name: str, value):
        if isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"{name}: parameter must be a real number, got {value!r}; pass a float such as 0.5")
        if isinstance(value, Number):
            if isinstance(value, (complex, np.complexfloating)):
                raise ParameterError(
                    f"{name}: parameter must be real, got complex {value!r}; pass the real angle (e.g. abs(z) or "
                    "z.real)"
                )
            try:
                v = float(value)
            except (OverflowError, TypeError, ValueError):
                raise ParameterError(
                    f"{name}: parameter {describe(value)} is not representable as a float; pass a finite float"
                ) from None
            if not math.isfinite(v):
                raise ParameterError(
                    f"{name}: parameter is {v}; gate parameters must be finite (check for "
                    "division by zero or a diverging optimizer)"
                )
            return v
        if isinstance(value, np.ndarray):
            value = numeric_tensor(value, what=f"{name}: parameter", error=ParameterError)
        if not torch.is_tensor(value):
            raise ParameterError(
                f"{name}: parameter must be a float or a torch tensor, got {describe(value)}; pass a float, or a "
                "1-D tensor of length B for a batch"
            )
        if value.dtype == torch.bool:
            raise ParameterError(
                f"{name}: parameter is a boolean tensor; pass real values (convert with .to(torch.float64))"
            )
        if value.is_complex():
            raise ParameterError(
                f"{name}: parameter must be real, got a complex tensor; pass its real part (.real) or its angle"
            )
        if value.ndim > 1:
            raise ParameterError(
                f"{name}: parameter has shape {tuple(value.shape)}; use a scalar or a 1-D "
                "tensor of length B (one value per batch element)"
            )
        if not value.is_floating_point():
            value = value.to(torch.get_default_dtype())
        if value.ndim == 1 and value.shape[0] == 0:
            raise BatchSizeError(f"{name}: batched parameter is empty (batch size 0); give at least one value")
        # Only CPU values are checked here: reading a CUDA value back is a host synchronisation per
        # parameter; Device.preprocess checks them all at once (check_finite). Meta tensors (shape-only
        # runs that check device placement) have no values.
        if value.device.type == "cpu" and not bool(torch.isfinite(value.detach()).all()):
            raise ParameterError(
                f"{name}: parameter contains nan or inf; gate parameters must be finite "
                "(check the inputs and the optimizer's learning rate)"
            )
        self._note_batch(name, _batch_of(value))
        return value

    # ---- generic builder ---------------------------------------------------------------------
    def append(self, name: str, wires, params=()) -> Circuit:
        """Append operation ``name`` on ``wires`` with ``params``; returns ``self``.

        Raises:
            UnsupportedOperationError: unknown op, or an op of the other family.
            WireError: a wire out of range or repeated.
            ParameterError, BatchSizeError: bad parameter values.
        """
        spec = get_spec(name)
        if self.family not in spec.families:
            kinds = {"qubit": "qubit", "cv": "photonic (CV)", LINEAR_OPTICS: "linear-optical"}
            build = {"qubit": "wires=...", "cv": "modes=...", LINEAR_OPTICS: "modes=m, photons=(1, 0, ...)"}
            raise UnsupportedOperationError(
                f"{name} is a {spec.family} operation and cannot be added to a {kinds[self.family]} circuit; "
                f"build Circuit({build[spec.family]}) for it"
            )
        wires = self._check_wires(name, wires)
        if spec.num_wires is not None and len(wires) != spec.num_wires:
            raise WireError(
                f"{name} acts on {spec.num_wires} wire(s), got {len(wires)}: {wires}; give exactly {spec.num_wires}"
            )
        if isinstance(params, (list, tuple)):
            params = tuple(params)
        else:
            raise ParameterError(
                f"{name}: params must be a tuple of the {spec.num_params} parameter(s) "
                f"({', '.join(spec.param_names) or 'none'}), got {describe(params)}"
            )
        if len(params) != spec.num_params:
            raise ParameterError(
                f"{name} takes {spec.num_params} parameter(s) ({', '.join(spec.param_names) or 'none'}), got "
                f"{len(params)}; pass exactly those"
            )
        if not spec.matrix_param:
            params = tuple(self._check_param(name, p) for p in params)
        self.operations.append(Operation(name, wires, params))
        return self

    # ---- qubit gates (Qiskit names) ------------------------------------------------------------
    def i(self, wire):
        """Identity."""
        return self.append("i", wire)

    def x(self, wire):
        """Pauli X (NOT)."""
        return self.append("x", wire)

    def y(self, wire):
        """Pauli Y."""
        return self.append("y", wire)

    def z(self, wire):
        """Pauli Z."""
        return self.append("z", wire)

    def h(self, wire):
        """Hadamard."""
        return self.append("h", wire)

    def s(self, wire):
        """S = sqrt(Z)."""
        return self.append("s", wire)

    def sdg(self, wire):
        """S dagger."""
        return self.append("sdg", wire)

    def t(self, wire):
        """T = fourth root of Z."""
        return self.append("t", wire)

    def tdg(self, wire):
        """T dagger."""
        return self.append("tdg", wire)

    def sx(self, wire):
        """sqrt(X)."""
        return self.append("sx", wire)

    def rx(self, theta, wire):
        """exp(-i theta X / 2)."""
        return self.append("rx", wire, (theta,))

    def ry(self, theta, wire):
        """exp(-i theta Y / 2)."""
        return self.append("ry", wire, (theta,))

    def rz(self, theta, wire):
        """exp(-i theta Z / 2)."""
        return self.append("rz", wire, (theta,))

    def p(self, theta, wire):
        """Phase gate diag(1, e^{i theta})."""
        return self.append("p", wire, (theta,))

    def u(self, theta, phi, lam, wire):
        """Qiskit's U(theta, phi, lambda) = P(phi) RY(theta) P(lambda)."""
        return self.append("u", wire, (theta, phi, lam))

    def cx(self, control, target):
        """Controlled NOT."""
        return self.append("cx", (control, target))

    cnot = cx

    def cy(self, control, target):
        """Controlled Y."""
        return self.append("cy", (control, target))

    def cz(self, control, target):
        """Controlled Z."""
        return self.append("cz", (control, target))

    def swap(self, a, b):
        """SWAP."""
        return self.append("swap", (a, b))

    def iswap(self, a, b):
        """iSWAP."""
        return self.append("iswap", (a, b))

    def crx(self, theta, control, target):
        """Controlled RX."""
        return self.append("crx", (control, target), (theta,))

    def cry(self, theta, control, target):
        """Controlled RY."""
        return self.append("cry", (control, target), (theta,))

    def crz(self, theta, control, target):
        """Controlled RZ."""
        return self.append("crz", (control, target), (theta,))

    def cp(self, theta, control, target):
        """Controlled phase diag(1, 1, 1, e^{i theta})."""
        return self.append("cp", (control, target), (theta,))

    def rxx(self, theta, a, b):
        """exp(-i theta X⊗X / 2)."""
        return self.append("rxx", (a, b), (theta,))

    def ryy(self, theta, a, b):
        """exp(-i theta Y⊗Y / 2)."""
        return self.append("ryy", (a, b), (theta,))

    def rzz(self, theta, a, b):
        """exp(-i theta Z⊗Z / 2)."""
        return self.append("rzz", (a, b), (theta,))

    def ccx(self, c1, c2, target):
        """Toffoli."""
        return self.append("ccx", (c1, c2, target))

    def cswap(self, control, a, b):
        """Fredkin (controlled SWAP)."""
        return self.append("cswap", (control, a, b))

    def unitary(self, matrix, wires):
        """Arbitrary unitary ``matrix`` (``2^k x 2^k``, or ``(B, 2^k, 2^k)``) on ``wires``.

        Raises:
            MatrixError: wrong shape or not unitary.
        """
        wires = self._check_wires("unitary", wires)
        m = numeric_tensor(matrix, what="unitary: matrix", error=MatrixError)
        if not m.is_complex():
            m = m.to(torch.complex128)
        d = 2 ** len(wires)
        if m.ndim not in (2, 3) or m.shape[-2:] != (d, d):
            raise MatrixError(
                f"unitary on {len(wires)} wire(s) needs a {d}x{d} matrix (or (B, {d}, {d})), "
                f"got shape {tuple(m.shape)}"
            )
        if not bool(torch.isfinite(torch.view_as_real(m.detach())).all()):
            raise MatrixError("unitary matrix has non-finite entries (nan or inf); check how it was computed")
        md = m.detach().to(torch.complex128)
        eye = torch.eye(d, dtype=md.dtype, device=md.device)
        err = (md @ md.conj().transpose(-1, -2) - eye).abs().max().item()
        if err > 1e-5:
            raise MatrixError(
                f"unitary matrix is not unitary (max |U U^dagger - I| = {err:.2e}); "
                "orthonormalize it, e.g. with torch.linalg.qr, or use Hermitian for observables"
            )
        if m.ndim == 3:
            self._note_batch("unitary", m.shape[0])
        self.operations.append(Operation("unitary", wires, (m,)))
        return self

    def state_prep(self, state, wires=None):
        """Prepare the normalized amplitude vector ``state`` (``(2^k,)`` or ``(B, 2^k)``).

        Must be the first operation of the circuit.
        """
        wires = tuple(range(self.num_wires)) if wires is None else wires
        wires = self._check_wires("state_prep", wires)
        if self.operations:
            raise UnsupportedOperationError(
                "state_prep must be the first operation of a circuit; build it before other gates"
            )
        v = numeric_tensor(state, what="state_prep: amplitudes", error=ParameterError)
        d = 2 ** len(wires)
        if v.ndim not in (1, 2) or v.shape[-1] != d:
            raise MatrixError(
                f"state_prep on {len(wires)} wire(s) needs {d} amplitudes (or (B, {d})), "
                f"got shape {tuple(v.shape)}"
            )
        if not bool(torch.isfinite(torch.view_as_real(v.detach()) if v.is_complex() else v.detach()).all()):
            raise ParameterError("state_prep amplitudes contain nan or inf; check how they were computed")
        norms = v.detach().abs().pow(2).sum(-1)
        if not bool(torch.allclose(norms, torch.ones_like(norms), atol=1e-5)):
            raise ParameterError(
                "state_prep amplitudes are not normalized (sum |a|^2 != 1); divide by the norm "
                "or use templates.amplitude_embedding(..., normalize=True)"
            )
        if v.ndim == 2:
            self._note_batch("state_prep", v.shape[0])
        self.operations.append(Operation("state_prep", wires, (v,)))
        return self

    # ---- measurements --------------------------------------------------------------------------
    def _measure_wires(self, kind, wires):
        if wires is None:
            return None
        return self._check_wires(kind, wires)

    def expval(self, obs) -> Circuit:
        """Measure the expectation value of observable ``obs``."""
        self._check_obs("expval", obs)
        self.measurements.append(Measurement("expval", obs=obs))
        return self

    def var(self, obs) -> Circuit:
        """Measure the variance of observable ``obs``."""
        self._check_obs("var", obs)
        self.measurements.append(Measurement("var", obs=obs))
        return self

    def _family_measurement(self, kind, wires, heralds=None, detection=None) -> Measurement:
        if self.family == LINEAR_OPTICS:
            return self._lo_measurement(kind, wires, heralds, "pnr" if detection is None else detection)
        if heralds is not None or detection is not None:
            raise ParameterError(
                f"{kind}: heralds= and detection= belong to linear-optical circuits (photons through linear "
                f"optics), not to {self.family} circuits"
            )
        return Measurement(kind, wires=self._measure_wires(kind, wires))

    def probs(self, wires=None, *, heralds=None, detection=None) -> Circuit:
        """Probabilities of computational basis states of ``wires`` (default: all).

        On a linear-optical circuit: the probability of every output pattern (no ``wires``;
        ``heralds={mode: photons}`` conditions on heralded modes, ``detection="threshold"``
        reports click patterns; see :mod:`qphys.lo_builder`).
        """
        self.measurements.append(self._family_measurement("probs", wires, heralds, detection))
        return self

    def sample(self, wires=None, *, detection=None) -> Circuit:
        """Bitstring samples of ``wires`` (needs shots); output patterns of a linear-optical circuit."""
        self.measurements.append(self._family_measurement("sample", wires, None, detection))
        return self

    def counts(self, wires=None, *, heralds=None, detection=None) -> Circuit:
        """Counts of bitstrings of ``wires`` (needs shots); of output patterns (tuples of photon
        counts, or clicks with ``detection="threshold"``) on a linear-optical circuit."""
        self.measurements.append(self._family_measurement("counts", wires, heralds, detection))
        return self

    def state(self) -> Circuit:
        """The final state vector (simulators only)."""
        self.measurements.append(Measurement("state"))
        return self

    def _check_obs(self, kind, obs):
        if not isinstance(obs, Observable):
            example = "qphys.Z(0)" if self.family == "qubit" else "qphys.cv.X(0)"
            raise ObservableError(
                f"{kind} needs an observable such as {example}, got {describe(obs)}"
            )
        if self.family == LINEAR_OPTICS:
            raise ObservableError(
                f"{kind}: a linear-optical circuit counts photons and has no observables; measure "
                "photon_numbers(), probs(), counts() or sample() instead"
            )
        if obs.family != self.family:
            example = "qphys.Z(0)" if self.family == "qubit" else "qphys.cv.X(0)"
            raise ObservableError(
                f"{kind}: {obs!r} is a {obs.family} observable but the circuit is a "
                f"{self.family} circuit; measure a {self.family} observable such as {example}"
            )
        obs.check_wires(self.num_wires)

    # ---- copies, parameters, hashing -------------------------------------------------------------
    def copy(self) -> Circuit:
        """Shallow copy (operations are immutable, parameter tensors are shared)."""
        new = Circuit.__new__(Circuit)
        new.__dict__.update(self.__dict__)
        new.operations = list(self.operations)
        new.measurements = list(self.measurements)
        return new

    def with_measurements(self, measurements) -> Circuit:
        """Copy with ``measurements`` (a sequence of :class:`Measurement`) instead of the circuit's."""
        new = self.copy()
        new.measurements = list(measurements)
        return new

    def check_finite(self) -> None:
        """Check the gate parameters held on an accelerator (CUDA...) for NaN and inf.

        CPU parameters are checked when they are appended; accelerator ones are checked here, by
        every device's ``preprocess``, with one host synchronisation per torch device for the whole
        circuit instead of one per parameter.

        Raises:
            ParameterError: naming the first operation whose parameter is not finite.

        Examples:
            >>> import torch, qphys
            >>> qphys.Circuit(wires=1).rx(torch.tensor(0.3), 0).check_finite()  # nothing to check on CPU
        """
        held: dict[torch.device, list[tuple[int, torch.Tensor]]] = {}
        for i, op in enumerate(self.operations):
            if op.spec.matrix_param:
                continue
            for p in op.params:
                if torch.is_tensor(p) and p.device.type not in ("cpu", "meta"):
                    held.setdefault(p.device, []).append((i, p))
        for entries in held.values():
            ok = torch.stack([torch.isfinite(p.detach()).all() for _, p in entries])
            if bool(ok.all()):
                continue
            i = entries[int((~ok).nonzero()[0, 0])][0]
            raise ParameterError(
                f"{self.operations[i].name} (operation {i}): parameter contains nan or inf; gate "
                "parameters must be finite (check the inputs and the optimizer's learning rate)"
            )

    def trainable_params(self) -> list[tuple[int, int]]:
        """``(op_index, param_index)`` of every tensor parameter that requires grad."""
        out = []
        for i, op in enumerate(self.operations):
            for j, p in enumerate(op.params):
                if torch.is_tensor(p) and p.requires_grad:
                    out.append((i, j))
        return out

    def with_param(self, op_index: int, param_index: int, value) -> Circuit:
        """Copy with one parameter replaced (no re-validation; used by gradient rules)."""
        new = self.copy()
        op = new.operations[op_index]
        params = list(op.params)
        params[param_index] = value
        new.operations[op_index] = replace(op, params=tuple(params))
        return new

    def detached(self) -> Circuit:
        """Copy whose tensor parameters are detached from autograd."""
        new = self.copy()
        new.operations = [
            replace(op, params=tuple(p.detach() if torch.is_tensor(p) else p for p in op.params))
            for op in self.operations
        ]
        return new

    def adjoint(self) -> Circuit:
        """The inverse of the circuit's operations (measurements dropped), gates in reverse order.

        Used for compute-uncompute circuits: ``U(x')`` followed by ``U(x).adjoint()``.

        Examples:
            >>> import qphys
            >>> c = qphys.Circuit(wires=1).rx(0.3, 0).s(0)
            >>> [op.name for op in c.adjoint().operations]
            ['sdg', 'rx']
        """
        new = Circuit.__new__(Circuit)
        new.__dict__.update(self.__dict__)
        new.measurements = []
        new.operations = [Operation(*_inverse(op)) for op in reversed(self.operations)]
        return new

    def structure_hash(self) -> str:
        """Hash of the structure (ops, wires, measurements, batching), not parameter values.

        Remote devices transpile once per structure and bind many parameter sets.
        """
        h = hashlib.sha256()
        h.update(f"{self.family}:{self.num_wires}:{self.photons}:{self._batch is not None}|".encode())
        for op in self.operations:
            kinds = []
            for p in op.params:
                if torch.is_tensor(p) and (op.spec.matrix_param or p.ndim > 0):
                    kinds.append("T" if not op.spec.matrix_param else _digest(p))
                else:
                    kinds.append("s")
            h.update(f"{op.name}{op.wires}{kinds}|".encode())
        for m in self.measurements:
            h.update(f"{m.kind}{m.wires}{_obs_key(m.obs)}{m.heralds}{m.detection}|".encode())
        return h.hexdigest()[:16]

    def param_digest(self) -> str:
        """Hash of all parameter values (with the structure hash: a job's identity)."""
        h = hashlib.sha256(self.structure_hash().encode())
        for op in self.operations:
            for p in op.params:
                h.update(_digest(p).encode())
        return h.hexdigest()[:16]


def _inverse(op: Operation) -> tuple[str, tuple[int, ...], tuple]:
    name, params = op.spec.invert(op.params)
    return name, op.wires, params


def _digest(p) -> str:
    if torch.is_tensor(p):
        arr = p.detach().cpu().numpy()
        return hashlib.sha256(np.ascontiguousarray(arr).tobytes() + str(arr.shape).encode()).hexdigest()[:16]
    return repr(float(p))


def _obs_key(obs) -> str:
    if obs is None:
        return ""
    parts = []
    for c, factors in obs.terms():
        fs = []
        for f in factors:
            if hasattr(f, "name") and hasattr(f, "wire"):
                fs.append(f"{f.name}{f.wire}")
            else:
                m = getattr(f, "numpy_matrix", None)
                fs.append(f"{type(f).__name__}{f.wires}{_digest(torch.as_tensor(m)) if m is not None else ''}")
        parts.append(f"{c!r}*{'@'.join(fs)}")
    return "+".join(parts)


__all__ = ["Circuit", "Operation", "Measurement", "MEASUREMENT_KINDS"]
