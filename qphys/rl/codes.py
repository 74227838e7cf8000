"""Quantum error-correcting codes for decoding experiments: the toric code and Stim surface-code circuits.

The toric code of distance ``d`` (Kitaev) lives on the edges of a ``d x d`` square lattice with periodic
boundaries: ``2 d**2`` physical qubits, ``d**2`` vertex (star, X-type) stabilizers, ``d**2`` plaquette
(Z-type) stabilizers, two logical qubits. It is written out here with numpy (a few dozen lines of
geometry) rather than taken from a library because the decoding environment, the neural decoder and the
images they see need the explicit lattice layout (which qubit borders which plaquette), which the
general-purpose code libraries (e.g. the hypergraph-product constructions of ``ldpc``/``qecsim``) do not
expose in this form. Matching itself is done by PyMatching (:mod:`qphys.rl.decoding`) and circuit-level
noise by Stim (:func:`surface_code_memory_circuit`).

Layout (``r, c`` in ``range(d)``, all indices modulo ``d``):

- vertex ``(r, c)``; horizontal edge ``h(r, c)`` joins vertices ``(r, c)`` and ``(r, c+1)`` and is qubit
  ``r*d + c``; vertical edge ``v(r, c)`` joins ``(r, c)`` and ``(r+1, c)`` and is qubit ``d*d + r*d + c``.
- plaquette ``(r, c)`` is the face with corners ``(r, c), (r, c+1), (r+1, c), (r+1, c+1)``: edges
  ``h(r, c), h(r+1, c), v(r, c), v(r, c+1)``. Plaquettes (Z-type) detect X errors.
- vertex ``(r, c)`` star: edges ``h(r, c), h(r, c-1), v(r, c), v(r-1, c)``. Stars (X-type) detect Z errors.
- logical operators: ``Z_0`` = Z on the row of horizontal edges ``h(0, :)``, ``X_0`` = X on the column of
  horizontal edges ``h(:, 0)`` (a dual loop); ``Z_1`` = Z on ``v(:, 0)``, ``X_1`` = X on ``v(0, :)``.

Errors are ``(shots, n)`` arrays of Pauli codes ``0=I, 1=X, 2=Y, 3=Z`` (``uint8``). The *logical class*
of an error is four bits ``(x0, x1, z0, z1)``: ``x_k = 1`` when its X part flips logical qubit ``k``
(anticommutes with ``Z_k``), ``z_k = 1`` when its Z part anticommutes with ``X_k``; as an integer,
``8*x0 + 4*x1 + 2*z0 + z1`` (16 classes). The syndrome is the ``d**2`` plaquette bits followed by the
``d**2`` vertex bits; as an image it is ``(2, d, d)``: channel 0 plaquettes, channel 1 vertices.

Examples:
    >>> import numpy as np
    >>> from qphys.rl.codes import ToricCode
    >>> code = ToricCode(3)
    >>> code.n_qubits, code.n_stabilizers
    (18, 18)
    >>> err = code.sample_errors("bitflip", 0.1, shots=4, seed=1)
    >>> code.syndrome(err).shape, code.logical_class(err).shape
    ((4, 18), (4, 4))
"""

from __future__ import annotations

import numbers

import numpy as np

from qphys.errors import ConfigError

__all__ = [
    "NOISE_MODELS",
    "PAULI_NAMES",
    "ToricCode",
    "surface_code_memory_circuit",
    "validate_rate",
]

#: Names of the code-capacity noise models understood by :meth:`ToricCode.sample_errors`.
NOISE_MODELS = ("bitflip", "depolarizing")
#: Pauli code -> name.
PAULI_NAMES = ("I", "X", "Y", "Z")


def validate_rate(p, *, where: str = "p") -> float:
    """Return ``p`` as a float after checking it is a probability in ``[0, 1]``.

    Raises:
        ConfigError: ``p`` is not a real number or lies outside ``[0, 1]``.

    Examples:
        >>> validate_rate(0.1)
        0.1
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not np.isfinite(float(p)):
        raise ConfigError(f"{where} must be a real number in [0, 1], got {p!r}")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{where} must be a probability in [0, 1], got {p}; pass e.g. p=0.1")
    return p


def _validate_noise(noise) -> str:
    if noise not in NOISE_MODELS:
        raise ConfigError(f"unknown noise model {noise!r}; choose one of {list(NOISE_MODELS)}")
    return noise


#: rows of uniforms drawn at a time by :meth:`ToricCode.sample_errors` (cache-sized; results do not depend on it)
_SAMPLE_BLOCK = 16_384


class ToricCode:
    """The distance-``d`` toric code on a ``d x d`` periodic square lattice (``2 d**2`` qubits).

    Args:
        d: code distance, an integer ``>= 2`` (the smallest torus on which the two logical qubits are
            distinct from stabilizers; the decoding literature uses odd ``d`` = 3, 5, 7, ...).

    Attributes:
        d: distance. n_qubits: ``2 d**2``. n_stabilizers: ``2 d**2`` (``d**2`` plaquettes + ``d**2`` vertices).
        hz: ``(d**2, n)`` plaquette (Z-type) parity checks, detect X errors.
        hx: ``(d**2, n)`` vertex (X-type) parity checks, detect Z errors.
        logical_z: ``(2, n)`` supports of ``Z_0, Z_1``. logical_x: ``(2, n)`` supports of ``X_0, X_1``.

    Raises:
        ConfigError: ``d`` is not an integer ``>= 2``.

    Examples:
        >>> code = ToricCode(5)
        >>> int((code.hz @ code.hx.T % 2).sum())  # stabilizers commute
        0
    """

    def __init__(self, d: int):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise ConfigError(f"toric code distance d must be an integer >= 2, got {d!r}")
        d = int(d)
        if d < 2:
            raise ConfigError(f"toric code distance d must be >= 2 (a d x d torus), got d={d}")
        self.d = d
        self.n_qubits = 2 * d * d
        self.n_stabilizers = 2 * d * d
        n = self.n_qubits

        def h(r, c):
            return (r % d) * d + (c % d)

        def v(r, c):
            return d * d + (r % d) * d + (c % d)

        hz = np.zeros((d * d, n), dtype=np.uint8)
        hx = np.zeros((d * d, n), dtype=np.uint8)
        for r in range(d):
            for c in range(d):
                s = r * d + c
                hz[s, [h(r, c), h(r + 1, c), v(r, c), v(r, c + 1)]] = 1
                hx[s, [h(r, c), h(r, c - 1), v(r, c), v(r - 1, c)]] = 1
        self.hz, self.hx = hz, hx
        lz = np.zeros((2, n), dtype=np.uint8)
        lx = np.zeros((2, n), dtype=np.uint8)
        lz[0, [h(0, c) for c in range(d)]] = 1
        lx[0, [h(r, 0) for r in range(d)]] = 1
        lz[1, [v(r, 0) for r in range(d)]] = 1
        lx[1, [v(0, c) for c in range(d)]] = 1
        self.logical_z, self.logical_x = lz, lx
        # float copies for fast BLAS parity products
        self._hz_t = hz.T.astype(np.float32)
        self._hx_t = hx.T.astype(np.float32)
        self._lz_t = lz.T.astype(np.float32)
        self._lx_t = lx.T.astype(np.float32)

    def __repr__(self) -> str:
        return f"ToricCode(d={self.d})"

    # ------------------------------------------------------------------ geometry
    @property
    def n_logical(self) -> int:
        """Number of logical qubits (2)."""
        return 2

    def qubit_label(self, q: int) -> str:
        """Human-readable edge label of qubit ``q``, e.g. ``'h(0,1)'``.

        Examples:
            >>> ToricCode(3).qubit_label(10)
            'v(0,1)'
        """
        d = self.d
        kind, rest = divmod(int(q), d * d)
        return f"{'hv'[kind]}({rest // d},{rest % d})"

    # ------------------------------------------------------------------ Pauli algebra
    @staticmethod
    def x_part(errors: np.ndarray) -> np.ndarray:
        """0/1 array: where the Pauli code has an X component (X or Y)."""
        e = np.asarray(errors)
        return ((e == 1) | (e == 2)).astype(np.uint8)

    @staticmethod
    def z_part(errors: np.ndarray) -> np.ndarray:
        """0/1 array: where the Pauli code has a Z component (Z or Y)."""
        e = np.asarray(errors)
        return ((e == 3) | (e == 2)).astype(np.uint8)

    @staticmethod
    def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Product of two Pauli-code arrays up to phase (XOR of the binary symplectic forms)."""
        a = np.asarray(a, dtype=np.uint8)
        b = np.asarray(b, dtype=np.uint8)
        x = ToricCode.x_part(a) ^ ToricCode.x_part(b)
        z = ToricCode.z_part(a) ^ ToricCode.z_part(b)
        return from_xz(x, z)

    def _check_errors(self, errors) -> np.ndarray:
        e = np.asarray(errors)
        if e.shape[-1] != self.n_qubits:
            raise ConfigError(
                f"error array has {e.shape[-1]} qubits in its last axis, the d={self.d} toric code has "
                f"{self.n_qubits}"
            )
        if e.size and (e.min() < 0 or e.max() > 3):
            raise ConfigError("error arrays hold Pauli codes 0=I, 1=X, 2=Y, 3=Z; got values outside 0..3")
        return e

    @staticmethod
    def _parity(bits: np.ndarray, mat_t: np.ndarray) -> np.ndarray:
        return (np.rint(bits.astype(np.float32) @ mat_t).astype(np.int64) & 1).astype(np.uint8)

    def syndrome(self, errors) -> np.ndarray:
        """Syndrome bits ``(..., 2 d**2)``: plaquette defects (X errors) then vertex defects (Z errors).

        Examples:
            >>> code = ToricCode(3)
            >>> e = np.zeros(code.n_qubits, dtype=np.uint8); e[0] = 1  # X on h(0,0)
            >>> code.syndrome(e)[: code.d ** 2].nonzero()[0].tolist()  # plaquettes (0,0) and (2,0)
            [0, 6]
        """
        e = self._check_errors(errors)
        return np.concatenate(
            [self._parity(self.x_part(e), self._hz_t), self._parity(self.z_part(e), self._hx_t)], axis=-1
        )

    def syndrome_image(self, errors) -> np.ndarray:
        """The syndrome as ``(..., 2, d, d)`` images (channel 0 plaquettes, channel 1 vertices)."""
        return self.syndrome_to_image(self.syndrome(errors))

    def syndrome_to_image(self, syndromes: np.ndarray) -> np.ndarray:
        """Reshape flat syndromes ``(..., 2 d**2)`` to images ``(..., 2, d, d)``."""
        s = np.asarray(syndromes)
        return s.reshape(*s.shape[:-1], 2, self.d, self.d)

    def logical_class(self, errors) -> np.ndarray:
        """Logical-class bits ``(..., 4)`` = ``(x0, x1, z0, z1)`` of each error (see module docstring)."""
        e = self._check_errors(errors)
        return np.concatenate(
            [self._parity(self.x_part(e), self._lz_t), self._parity(self.z_part(e), self._lx_t)], axis=-1
        )

    @staticmethod
    def class_index(bits: np.ndarray) -> np.ndarray:
        """Logical-class bits ``(..., 4)`` -> integers in ``0..15`` (``8 x0 + 4 x1 + 2 z0 + z1``)."""
        b = np.asarray(bits).astype(np.int64)
        return b[..., 0] * 8 + b[..., 1] * 4 + b[..., 2] * 2 + b[..., 3]

    @staticmethod
    def class_bits(index: np.ndarray) -> np.ndarray:
        """Integers ``0..15`` -> logical-class bits ``(..., 4)``."""
        i = np.asarray(index).astype(np.int64)
        return np.stack([(i >> 3) & 1, (i >> 2) & 1, (i >> 1) & 1, i & 1], axis=-1).astype(np.uint8)

    def logical_representative(self, bits: np.ndarray) -> np.ndarray:
        """A Pauli-code operator ``(..., n)`` with zero syndrome in the given logical class."""
        b = np.asarray(bits, dtype=np.uint8)
        x = (b[..., 0:1] * self.logical_x[0] + b[..., 1:2] * self.logical_x[1]) % 2
        z = (b[..., 2:3] * self.logical_z[0] + b[..., 3:4] * self.logical_z[1]) % 2
        return from_xz(x.astype(np.uint8), z.astype(np.uint8))

    def pure_error(self, syndromes: np.ndarray) -> np.ndarray:
        """A simple Pauli-code correction ``(..., n)`` that reproduces each syndrome (no optimality).

        Every plaquette defect is joined to plaquette ``(0, 0)`` along a fixed dual path (down column
        then along row), every vertex defect to vertex ``(0, 0)`` likewise; defects come in even numbers
        on the torus, so the paths to the reference cancel there. Used with a predicted logical class
        by the neural decoder to produce a concrete correction.
        """
        s = np.asarray(syndromes, dtype=np.uint8)
        if s.shape[-1] != self.n_stabilizers:
            raise ConfigError(f"syndromes must have {self.n_stabilizers} bits in the last axis, got {s.shape}")
        flat = s.reshape(-1, self.n_stabilizers)
        x = (flat[:, : self.d**2].astype(np.float32) @ self._plaq_paths()) % 2
        z = (flat[:, self.d**2 :].astype(np.float32) @ self._vert_paths()) % 2
        out = from_xz(x.astype(np.uint8), z.astype(np.uint8))
        return out.reshape(*s.shape[:-1], self.n_qubits)

    def _plaq_paths(self) -> np.ndarray:
        if not hasattr(self, "_pp"):
            d = self.d
            paths = np.zeros((d * d, self.n_qubits), dtype=np.float32)
            for r in range(d):
                for c in range(d):
                    # X on h(k, c) for k=1..r moves a plaquette defect from (r, c) up to (0, c)
                    for k in range(1, r + 1):
                        paths[r * d + c, k * d + c] = 1
                    # X on v(0, k) for k=1..c moves it from (0, c) to (0, 0)
                    for k in range(1, c + 1):
                        paths[r * d + c, d * d + k] = 1
            self._pp = paths
        return self._pp

    def _vert_paths(self) -> np.ndarray:
        if not hasattr(self, "_vp"):
            d = self.d
            paths = np.zeros((d * d, self.n_qubits), dtype=np.float32)
            for r in range(d):
                for c in range(d):
                    # Z on v(k, c) for k=0..r-1 moves a vertex defect from (r, c) to (0, c)
                    for k in range(r):
                        paths[r * d + c, d * d + k * d + c] = 1
                    # Z on h(0, k) for k=0..c-1 moves it from (0, c) to (0, 0)
                    for k in range(c):
                        paths[r * d + c, k] = 1
            self._vp = paths
        return self._vp

    # ------------------------------------------------------------------ noise
    def sample_errors(self, noise: str, p: float, *, shots: int, seed=None) -> np.ndarray:
        """Sample ``shots`` code-capacity errors, ``(shots, n)`` Pauli codes (uint8), vectorized.

        Args:
            noise: ``'bitflip'`` (X with probability ``p`` on each qubit) or ``'depolarizing'`` (X, Y or
                Z each with probability ``p/3``).
            p: physical error rate in ``[0, 1]``.
            shots: number of samples (``>= 0``).
            seed: an int, a ``numpy.random.Generator`` or ``None``.

        Raises:
            ConfigError: unknown noise model, ``p`` outside ``[0, 1]`` or negative ``shots``.
        """
        _validate_noise(noise)
        p = validate_rate(p)
        if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 0:
            raise ConfigError(f"shots must be a non-negative integer, got {shots!r}")
        rng = np.random.default_rng(seed)
        hit = np.empty((int(shots), self.n_qubits), dtype=bool)
        for a in range(0, int(shots), _SAMPLE_BLOCK):  # the same stream as one call, without its float64 temporary
            b = min(a + _SAMPLE_BLOCK, int(shots))
            hit[a:b] = rng.random((b - a, self.n_qubits)) < p
        if noise == "bitflip":
            return hit.astype(np.uint8)
        kind = rng.integers(1, 4, size=hit.shape, dtype=np.uint8)
        return np.where(hit, kind, 0).astype(np.uint8)

    def sample(self, noise: str, p: float, *, shots: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """Sample errors and return ``(syndromes (shots, 2 d**2), logical-class bits (shots, 4))``."""
        e = self.sample_errors(noise, p, shots=shots, seed=seed)
        return self.syndrome(e), self.logical_class(e)


def from_xz(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Binary X and Z parts -> Pauli codes ``0=I, 1=X, 2=Y, 3=Z``."""
    x = np.asarray(x, dtype=np.uint8)
    z = np.asarray(z, dtype=np.uint8)
    return (x * (1 + z) + 3 * z * (1 - x)).astype(np.uint8)


def surface_code_memory_circuit(
    distance: int, *, rounds: int | None = None, p: float = 1e-3, basis: str = "x"
):
    """A Stim rotated surface-code memory experiment with uniform circuit-level depolarizing noise.

    Wraps ``stim.Circuit.generated("surface_code:rotated_memory_<basis>", ...)`` with the same rate ``p``
    after Clifford gates, before measurement, on reset and before each round (the standard SI1000-like
    uniform model used in the Stim/PyMatching papers).

    Args:
        distance: code distance, an odd integer ``>= 3`` (the rotated layout of Stim's generator).
        rounds: syndrome-extraction rounds (default ``distance``).
        p: physical error rate in ``[0, 1]``.
        basis: ``'x'`` or ``'z'`` memory.

    Returns:
        ``stim.Circuit`` with detectors and one logical observable.

    Raises:
        ConfigError: bad distance, rounds, rate or basis.

    Examples:
        >>> c = surface_code_memory_circuit(3, p=1e-3)
        >>> c.num_observables, c.num_detectors
        (1, 24)
    """
    import stim

    if isinstance(distance, bool) or not isinstance(distance, numbers.Integral) or distance < 3 or distance % 2 == 0:
        raise ConfigError(f"rotated surface-code distance must be an odd integer >= 3, got {distance!r}")
    rounds = int(distance) if rounds is None else rounds
    if isinstance(rounds, bool) or not isinstance(rounds, numbers.Integral) or rounds < 1:
        raise ConfigError(f"rounds must be a positive integer, got {rounds!r}")
    p = validate_rate(p)
    if basis not in ("x", "z"):
        raise ConfigError(f"basis must be 'x' or 'z', got {basis!r}")
    return stim.Circuit.generated(
        f"surface_code:rotated_memory_{basis}",
        distance=int(distance),
        rounds=int(rounds),
        after_clifford_depolarization=p,
        before_measure_flip_probability=p,
        after_reset_flip_probability=p,
        before_round_data_depolarization=p,
    )
