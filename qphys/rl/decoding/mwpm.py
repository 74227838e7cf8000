"""Minimum-weight perfect matching with `PyMatching <https://pymatching.readthedocs.io>`_: the baseline decoder.

:class:`MWPMDecoder` matches the toric code's X errors on the plaquette graph and its Z errors on the
vertex graph, separately (for depolarizing noise this ignores the X/Z correlation of Y errors, as in the
decoding literature), or a Stim circuit on its decomposed detector error model.
"""

from __future__ import annotations

import numpy as np

from qphys._deps import require
from qphys.errors import ConfigError
from qphys.rl.codes import ToricCode
from qphys.rl.decoding._common import check_syndromes, is_stim_circuit

__all__ = ["CorrelatedMWPMDecoder", "MWPMDecoder", "toric_detector_error_model"]


class MWPMDecoder:
    """Minimum-weight perfect matching (PyMatching) for the toric code or a Stim circuit.

    Args:
        code: a :class:`~qphys.rl.codes.ToricCode` (X errors matched on the plaquette graph, Z errors on
            the vertex graph, separately, with uniform weights) or a ``stim.Circuit`` with detectors and
            observables (matched on its decomposed detector error model).

    Examples:
        >>> import numpy as np
        >>> from qphys.rl.codes import ToricCode
        >>> code = ToricCode(5)
        >>> e = np.zeros((1, code.n_qubits), dtype=np.uint8); e[0, [0, 1]] = 1   # two X errors
        >>> dec = MWPMDecoder(code)
        >>> bool((dec.predict(code.syndrome(e)) == code.logical_class(e)).all())
        True
    """

    def __init__(self, code):
        pymatching = require("pymatching", extra="rl")

        self.code = code
        if isinstance(code, ToricCode):
            self.kind = "toric"
            # faults_matrix: decode_batch returns directly which logical operators the correction flips
            self._mx = pymatching.Matching.from_check_matrix(code.hz, faults_matrix=code.logical_z)
            self._mz = pymatching.Matching.from_check_matrix(code.hx, faults_matrix=code.logical_x)
            self._cx = pymatching.Matching.from_check_matrix(code.hz)
            self._cz = pymatching.Matching.from_check_matrix(code.hx)
            self.n_detectors = code.n_stabilizers
        elif is_stim_circuit(code):
            self.kind = "stim"
            dem = code.detector_error_model(decompose_errors=True)
            self._m = pymatching.Matching.from_detector_error_model(dem)
            self.n_detectors = code.num_detectors
        else:
            raise ConfigError(
                f"MWPMDecoder needs a qphys.rl.codes.ToricCode or a stim.Circuit, got {type(code).__name__}"
            )

    def __repr__(self) -> str:
        return f"MWPMDecoder({self.code!r})" if self.kind == "toric" else "MWPMDecoder(stim.Circuit)"

    def _check(self, syndromes) -> np.ndarray:
        return check_syndromes(syndromes, self.n_detectors, repr(self))

    def predict(self, syndromes) -> np.ndarray:
        """Logical operators flipped by the matching correction, ``(shots, k)`` uint8 (batched)."""
        s = self._check(syndromes)
        if self.kind == "stim":
            return self._m.decode_batch(s).astype(np.uint8)
        h = self.code.d ** 2
        x = self._mx.decode_batch(s[:, :h])
        z = self._mz.decode_batch(s[:, h:])
        return np.concatenate([x, z], axis=1).astype(np.uint8)

    def corrections_xz(self, syndromes) -> tuple[np.ndarray, np.ndarray]:
        """Toric code only: the X and Z matching corrections as 0/1 arrays ``(shots, n)`` each."""
        if self.kind != "toric":
            raise ConfigError("MWPMDecoder.correction is defined for the toric code only")
        s = self._check(syndromes)
        h = self.code.d ** 2
        return self._cx.decode_batch(s[:, :h]).astype(np.uint8), self._cz.decode_batch(s[:, h:]).astype(np.uint8)

    def correction(self, syndromes) -> np.ndarray:
        """Toric code only: the matching correction as Pauli codes ``(shots, n)`` (0=I, 1=X, 2=Y, 3=Z)."""
        from qphys.rl.codes import from_xz

        return from_xz(*self.corrections_xz(syndromes))


def toric_detector_error_model(code: ToricCode, noise: str, p: float):
    """The toric code's code-capacity noise as a ``stim.DetectorErrorModel`` (detectors = syndrome bits).

    Detectors ``D0 .. D{d**2 - 1}`` are the plaquettes, then the vertices; observables ``L0 .. L3`` are the
    logical-class bits ``(x0, x1, z0, z1)``. Bit-flip: ``error(p)`` per qubit (X). Depolarizing: X and Z
    with ``p/3`` each, and Y with ``p/3`` written as its X part ``^`` its Z part — a decomposed hyperedge
    that keeps the correlation PyMatching's correlated matching uses.

    Examples:
        >>> dem = toric_detector_error_model(ToricCode(3), "depolarizing", 0.1)
        >>> dem.num_detectors, dem.num_observables, dem.num_errors
        (18, 4, 54)
        >>> toric_detector_error_model(ToricCode(3), "bitflip", 0.1).num_detectors   # vertices declared too
        18
    """
    stim = require("stim", extra="rl")
    if noise not in ("bitflip", "depolarizing"):
        raise ConfigError(f"unknown noise model {noise!r}; choose 'bitflip' or 'depolarizing'")
    h = code.d ** 2
    lines = []
    for q in range(code.n_qubits):
        x = [f"D{i}" for i in np.flatnonzero(code.hz[:, q])] + [f"L{k}" for k in np.flatnonzero(code.logical_z[:, q])]
        z = [f"D{h + i}" for i in np.flatnonzero(code.hx[:, q])] + [
            f"L{2 + k}" for k in np.flatnonzero(code.logical_x[:, q])
        ]
        if noise == "bitflip":
            lines.append(f"error({p!r}) {' '.join(x)}")
        else:
            lines += [f"error({p / 3!r}) {' '.join(x)}", f"error({p / 3!r}) {' '.join(z)}",
                      f"error({p / 3!r}) {' '.join(x)} ^ {' '.join(z)}"]
    # declare every detector and observable, also those no bit-flip error touches (vertices, z0, z1)
    lines += [f"detector D{2 * h - 1}", "logical_observable L3"]
    return stim.DetectorErrorModel("\n".join(lines))


class CorrelatedMWPMDecoder:
    """Correlated matching (PyMatching >= 2.3, ``enable_correlations=True``) for depolarizing toric-code noise.

    The baseline a QEC engineer would pick against separate X/Z matching: the detector error model
    (:func:`toric_detector_error_model`) keeps each Y error as one hyperedge decomposed into its X and Z
    edges; PyMatching's correlated matching first matches, then lowers the weight of the edges correlated
    with the edges it used, and matches again — so an X path makes a Z step on the same qubit (a Y)
    cheaper. Weights come from the error rate ``p`` it is built for.

    Args:
        code: the :class:`~qphys.rl.codes.ToricCode`. p: the physical error rate the weights assume.
        noise: ``'depolarizing'`` (default) or ``'bitflip'`` (then it is plain matching).

    Examples:
        >>> code = ToricCode(5)
        >>> dec = CorrelatedMWPMDecoder(code, p=0.1)
        >>> e = np.zeros((1, code.n_qubits), dtype=np.uint8); e[0, [0, 1]] = 2   # two Y errors
        >>> bool((dec.predict(code.syndrome(e)) == code.logical_class(e)).all())
        True
    """

    def __init__(self, code: ToricCode, *, p: float, noise: str = "depolarizing"):
        pymatching = require("pymatching", extra="rl")
        if not isinstance(code, ToricCode):
            raise ConfigError(f"CorrelatedMWPMDecoder needs a qphys.rl.codes.ToricCode, got {type(code).__name__}")
        from qphys.rl.codes import validate_rate

        p = validate_rate(p)
        if not 0.0 < p < 0.5:
            raise ConfigError(f"CorrelatedMWPMDecoder weights need 0 < p < 0.5, got p={p}")
        self.code, self.p, self.noise = code, p, noise
        self.n_detectors = code.n_stabilizers
        dem = toric_detector_error_model(code, noise, p)
        self._m = pymatching.Matching.from_detector_error_model(dem, enable_correlations=True)

    def __repr__(self) -> str:
        return f"CorrelatedMWPMDecoder(d={self.code.d}, p={self.p}, noise={self.noise!r})"

    def predict(self, syndromes) -> np.ndarray:
        """Logical operators flipped by the correlated-matching correction, ``(shots, 4)`` uint8."""
        s = check_syndromes(syndromes, self.n_detectors, repr(self))
        return self._m.decode_batch(s, enable_correlations=True).astype(np.uint8)
