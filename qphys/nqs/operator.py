"""Sums of Pauli words acting on spin configurations, without dense matrices.

:class:`PauliOperator` compiles a qphys observable (a sum of Pauli words, ``-Z(0) @ Z(1) - X(0)``)
into flip masks and sign masks. For a batch of configurations ``σ`` (±1, ``σ_i = +1`` is the
computational state ``|0>`` of wire ``i``, the +1 eigenstate of ``Z``) it returns every connected
configuration ``σ'`` with its matrix element ``<σ|H|σ'>`` in a few tensor operations, which is all a
local energy needs. Words with the same flip pattern (``XX`` and ``YY`` on one bond) share one
connected configuration. Dense and sparse matrices (wire 0 the most significant bit) are there for
exact references.

Examples:
    >>> from qphys import X, Z
    >>> H = PauliOperator(-(Z(0) @ Z(1)) - 0.5 * X(0) - 0.5 * X(1))
    >>> H.n_sites, H.n_flips
    (2, 2)
    >>> round(H.ground_state_energy(), 6)
    -1.414214
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from qphys.errors import ObservableError, ParameterError, ResourceError, WireError
from qphys.observables import Observable, Pauli

#: Largest number of spins for which dense matrices are built.
MAX_DENSE_SITES = 14
#: Largest number of spins for which sparse matrices (and exact ground states) are built.
MAX_SPARSE_SITES = 26


@dataclass(frozen=True)
class Connected:
    """Connected configurations of a batch, one row per non-zero off-diagonal element.

    Attributes:
        diagonal: ``<σ|H|σ>`` per configuration, shape ``(B,)``.
        row: index into the batch of each off-diagonal element, shape ``(P,)``.
        flip: index of the flip pattern of each element, shape ``(P,)``.
        sites: the sites flipped, shape ``(P, K)`` padded with ``-1``.
        mel: the matrix element ``<σ_row|H|σ'>``, shape ``(P,)``.
    """

    diagonal: torch.Tensor
    row: torch.Tensor
    flip: torch.Tensor
    sites: torch.Tensor
    mel: torch.Tensor


def _pauli_factors(obs: Observable) -> list[tuple[float, tuple[Pauli, ...]]]:
    if not isinstance(obs, Observable):
        raise ObservableError(
            f"expected a qphys observable (a sum of Pauli words such as -Z(0) @ Z(1) - X(0)), "
            f"got {type(obs).__name__}"
        )
    terms = obs.terms()
    for _, factors in terms:
        for f in factors:
            if not isinstance(f, Pauli):
                raise ObservableError(
                    f"{f!r} is not a Pauli operator; PauliOperator takes sums of Pauli words "
                    "(X, Y, Z, I products); expand Hermitian matrices into Pauli words first"
                )
    return terms


class PauliOperator:
    """A Hermitian sum of Pauli words on ``n_sites`` spins, evaluated on batches of configurations.

    Args:
        observable: a qphys :class:`~qphys.observables.Observable` made of Pauli words.
        n_sites: number of spins (default: one more than the largest wire).

    Raises:
        ObservableError: a term is not a Pauli word (e.g. a ``Hermitian``).
        WireError: a wire is outside ``range(n_sites)``.

    Examples:
        >>> from qphys import X, Y, Z
        >>> H = PauliOperator(X(0) @ X(1) + Y(0) @ Y(1) + Z(0) @ Z(1))
        >>> s = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
        >>> conn = H.connected(s)  # XX + YY flips antiparallel pairs only
        >>> conn.diagonal.tolist(), conn.row.tolist(), conn.mel.tolist()
        ([-1.0, 1.0], [0], [2.0])
    """

    def __init__(self, observable: Observable, n_sites: int | None = None):
        terms = _pauli_factors(observable)
        wires = sorted({f.wire for _, fs in terms for f in fs if f.name != "I"} | set(observable.wires))
        n = (max(wires) + 1 if wires else 1) if n_sites is None else n_sites
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"n_sites must be a positive integer, got {n_sites!r}")
        for w in wires:
            if not 0 <= w < n:
                raise WireError(
                    f"the operator acts on wire {w} but n_sites is {n}; pass n_sites > {max(wires)}"
                )
        self.observable = observable
        self.n_sites = int(n)
        # (flip mask, sign mask) -> complex coefficient, combined
        combined: dict[tuple[tuple[int, ...], tuple[int, ...]], complex] = {}
        for coeff, factors in terms:
            flip = [0] * n
            sign = [0] * n
            n_y = 0
            for f in factors:
                if f.name in ("X", "Y"):
                    flip[f.wire] = 1
                if f.name in ("Z", "Y"):
                    sign[f.wire] = 1
                n_y += f.name == "Y"
            # <σ|Y|-σ> = -i σ, <σ|Z|σ> = σ, <σ|X|-σ> = 1
            key = (tuple(flip), tuple(sign))
            combined[key] = combined.get(key, 0.0) + coeff * (-1j) ** n_y
        combined = {k: v for k, v in combined.items() if abs(v) > 1e-14}
        self.is_real = all(abs(v.imag) < 1e-14 for v in combined.values())
        zero = (0,) * n
        flips = sorted({k[0] for k in combined if k[0] != zero}, key=lambda m: (sum(m), m[::-1]))
        index = {m: i for i, m in enumerate(flips)}
        diag = [(k[1], v) for k, v in combined.items() if k[0] == zero]
        off = [(index[k[0]], k[1], v) for k, v in combined.items() if k[0] != zero]
        self._off_terms = off
        cdtype = torch.float64 if self.is_real else torch.complex128
        self._diag_sign = torch.tensor([s for s, _ in diag], dtype=torch.float64).reshape(len(diag), n)
        self._diag_coeff = torch.tensor([v.real if self.is_real else v for _, v in diag], dtype=cdtype)
        self._off_sign = torch.tensor([s for _, s, _ in off], dtype=torch.float64).reshape(len(off), n)
        self._off_coeff = torch.tensor([v.real if self.is_real else v for *_, v in off], dtype=cdtype)
        assign = torch.zeros(len(off), len(flips), dtype=cdtype)
        if off:
            assign[torch.arange(len(off)), torch.tensor([m for m, _, _ in off])] = 1.0
        self._assign = assign
        self.flip_masks = torch.tensor(flips, dtype=torch.bool).reshape(len(flips), n)
        k = int(self.flip_masks.sum(1).max()) if flips else 0
        sites = torch.full((len(flips), max(k, 1)), -1, dtype=torch.long)
        for i, m in enumerate(flips):
            idx = [j for j, b in enumerate(m) if b]
            sites[i, : len(idx)] = torch.tensor(idx)
        self.flip_sites = sites

    @property
    def n_flips(self) -> int:
        """Number of distinct flip patterns (connected configurations per configuration, at most)."""
        return int(self.flip_masks.shape[0])

    def flip_bonds(self) -> list[tuple[int, ...]]:
        """The sites of every flip pattern, e.g. ``[(0, 1), (1, 2), ...]`` for a Heisenberg chain."""
        return [tuple(int(i) for i in torch.nonzero(m).flatten()) for m in self.flip_masks]

    @property
    def conserves_magnetization(self) -> bool:
        """Whether the operator commutes with ``Σ_i Z_i`` (every non-zero element keeps ``Σ σ``).

        Exact: for each flip pattern, the matrix element is a polynomial in the spins; it must
        vanish whenever the flipped spins do not sum to zero.

        Examples:
            >>> from qphys import X, Y, Z
            >>> PauliOperator(X(0) @ X(1) + Y(0) @ Y(1)).conserves_magnetization
            True
            >>> PauliOperator(X(0) @ X(1)).conserves_magnetization
            False
        """
        groups: dict[tuple[int, tuple[int, ...]], list[tuple[tuple[int, ...], complex]]] = {}
        masks = self.flip_masks.tolist()
        for m, sign, coeff in self._off_terms:
            inside = tuple(j for j in range(self.n_sites) if masks[m][j] and sign[j])
            outside = tuple(j for j in range(self.n_sites) if not masks[m][j] and sign[j])
            groups.setdefault((m, outside), []).append((inside, coeff))
        for (m, _), terms in groups.items():
            sites = [j for j in range(self.n_sites) if masks[m][j]]
            for bits in range(2 ** len(sites)):
                spins = {j: 1 - 2 * ((bits >> i) & 1) for i, j in enumerate(sites)}
                if sum(spins.values()) == 0:
                    continue
                value = sum(c * np.prod([spins[j] for j in inside]) for inside, c in terms)
                if abs(value) > 1e-12:
                    return False
        return True

    @property
    def dtype(self) -> torch.dtype:
        """``float64`` when every matrix element is real, else ``complex128``."""
        return torch.float64 if self.is_real else torch.complex128

    def __repr__(self):
        return f"PauliOperator(n_sites={self.n_sites}, n_flips={self.n_flips}, real={self.is_real})"

    def __add__(self, other: PauliOperator) -> PauliOperator:
        if not isinstance(other, PauliOperator):
            return NotImplemented
        return PauliOperator(self.observable + other.observable, max(self.n_sites, other.n_sites))

    def __mul__(self, scalar: float) -> PauliOperator:
        return PauliOperator(float(scalar) * self.observable, self.n_sites)

    __rmul__ = __mul__

    def _check(self, sigma: torch.Tensor) -> torch.Tensor:
        if sigma.ndim != 2 or sigma.shape[1] != self.n_sites:
            raise ParameterError(
                f"configurations must have shape (batch, {self.n_sites}), got {tuple(sigma.shape)}"
            )
        return sigma

    @staticmethod
    def _signs(sigma: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``prod_{i in mask} σ_i`` for every configuration and mask: ``(B, T)``."""
        neg = (sigma < 0).to(masks.dtype)
        return 1.0 - 2.0 * torch.remainder(neg @ masks.T, 2.0)

    def diagonal(self, sigma: torch.Tensor) -> torch.Tensor:
        """``<σ|H|σ>`` for a batch, shape ``(B,)``."""
        sigma = self._check(sigma)
        if self._diag_coeff.numel() == 0:
            return torch.zeros(sigma.shape[0], dtype=self.dtype, device=sigma.device)
        signs = self._signs(sigma, self._diag_sign.to(sigma.device))
        return signs.to(self.dtype) @ self._diag_coeff.to(sigma.device)

    def off_diagonal(self, sigma: torch.Tensor) -> torch.Tensor:
        """``<σ|H|σ ⊕ flip_m>`` for a batch and every flip pattern ``m``, shape ``(B, n_flips)``."""
        sigma = self._check(sigma)
        if self.n_flips == 0:
            return torch.zeros(sigma.shape[0], 0, dtype=self.dtype, device=sigma.device)
        signs = self._signs(sigma, self._off_sign.to(sigma.device)).to(self.dtype)
        return (signs * self._off_coeff.to(sigma.device)) @ self._assign.to(sigma.device)

    def connected(self, sigma: torch.Tensor) -> Connected:
        """Diagonal elements and the non-zero off-diagonal ones of a batch (see :class:`Connected`)."""
        diag = self.diagonal(sigma)
        mels = self.off_diagonal(sigma)
        row, flip = torch.nonzero(mels.abs() > 1e-12, as_tuple=True)
        return Connected(diag, row, flip, self.flip_sites.to(sigma.device)[flip], mels[row, flip])

    def flipped(self, sigma: torch.Tensor, conn: Connected) -> torch.Tensor:
        """The connected configurations ``σ'`` of ``conn``, shape ``(P, n_sites)``."""
        masks = self.flip_masks.to(sigma.device)[conn.flip]
        return torch.where(masks, -sigma[conn.row], sigma[conn.row])

    # ---- exact references -------------------------------------------------------------------

    def to_sparse(self) -> scipy.sparse.csr_matrix:
        """The operator as a SciPy CSR matrix on ``2**n_sites`` basis states (wire 0 most significant).

        Raises:
            ResourceError: more than :data:`MAX_SPARSE_SITES` spins.
        """
        n = self.n_sites
        if n > MAX_SPARSE_SITES:
            raise ResourceError(
                f"a sparse matrix of {n} spins has 2**{n} rows; exact references stop at "
                f"{MAX_SPARSE_SITES} spins (use Monte Carlo estimates instead)"
            )
        dim = 2**n
        weights = (1 << np.arange(n - 1, -1, -1)).astype(np.int64)
        flipmasks = self.flip_masks.numpy().astype(np.int64) @ weights
        rows, cols, vals = [], [], []
        for start in range(0, dim, 1 << 16):
            idx = np.arange(start, min(dim, start + (1 << 16)), dtype=np.int64)
            sigma = torch.from_numpy(index_to_spins(idx, n))
            rows.append(idx)
            cols.append(idx)
            vals.append(self.diagonal(sigma).numpy())
            mels = self.off_diagonal(sigma).numpy()
            r, m = np.nonzero(mels)
            rows.append(idx[r])
            cols.append(idx[r] ^ flipmasks[m])
            vals.append(mels[r, m])
        mat = scipy.sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim)
        )
        mat.sum_duplicates()
        return mat

    def to_dense(self) -> np.ndarray:
        """The dense matrix (numpy) on ``2**n_sites`` basis states.

        Raises:
            ResourceError: more than :data:`MAX_DENSE_SITES` spins.
        """
        if self.n_sites > MAX_DENSE_SITES:
            raise ResourceError(
                f"a dense matrix of {self.n_sites} spins needs {16 * 4**self.n_sites / 2**30:.0f} GiB; "
                f"dense matrices stop at {MAX_DENSE_SITES} spins (use to_sparse())"
            )
        return self.to_sparse().toarray()

    def ground_state(self, *, k: int = 1, tol: float = 1e-12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Lowest ``k`` eigenvalues and eigenvectors by sparse Lanczos (``scipy.sparse.linalg.eigsh``).

        Returns:
            ``(energies, vectors)`` with ``vectors[:, i]`` the ``i``-th eigenvector on
            ``2**n_sites`` basis states (wire 0 most significant).
        """
        mat = self.to_sparse()
        if mat.shape[0] <= 64:
            vals, vecs = np.linalg.eigh(mat.toarray())
            return vals[:k], vecs[:, :k]
        v0 = np.random.default_rng(seed).normal(size=mat.shape[0])
        vals, vecs = scipy.sparse.linalg.eigsh(mat, k=k, which="SA", tol=tol, v0=v0)
        order = np.argsort(vals)
        return vals[order], vecs[:, order]

    def ground_state_energy(self) -> float:
        """The exact ground-state energy (sparse Lanczos; see :meth:`ground_state`)."""
        return float(self.ground_state(k=1)[0][0])


def index_to_spins(index: np.ndarray, n_sites: int) -> np.ndarray:
    """Basis indices (wire 0 most significant) to ±1 configurations, ``float64`` ``(len, n_sites)``.

    Examples:
        >>> index_to_spins(np.array([0, 1, 6]), 3).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]
    """
    shifts = np.arange(n_sites - 1, -1, -1, dtype=np.int64)
    bits = (np.asarray(index, dtype=np.int64)[:, None] >> shifts) & 1
    return 1.0 - 2.0 * bits.astype(np.float64)


def spins_to_index(sigma: torch.Tensor) -> torch.Tensor:
    """±1 configurations to basis indices (wire 0 most significant), ``int64`` ``(B,)``.

    Examples:
        >>> spins_to_index(torch.tensor([[1.0, -1.0, -1.0]])).tolist()
        [3]
    """
    n = sigma.shape[-1]
    weights = 2 ** torch.arange(n - 1, -1, -1, device=sigma.device, dtype=torch.int64)
    return ((sigma < 0).to(torch.int64) * weights).sum(-1)
