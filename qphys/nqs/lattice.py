"""Lattices for spin models: chains and square lattices, periodic or open.

A :class:`Lattice` knows its sites (numbered row-major, site ``i`` is wire ``i``), its
nearest-neighbour and next-nearest-neighbour bonds, a bipartition (for the Marshall sign rule)
and, when periodic, its translation group as site permutations (for symmetric ansätze).

Examples:
    >>> lat = chain(4)
    >>> lat.edges
    ((0, 1), (1, 2), (2, 3), (0, 3))
    >>> square(3).n_sites, len(square(3).edges)
    (9, 18)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qphys.errors import ParameterError


@dataclass(frozen=True)
class Lattice:
    """A finite lattice of spins.

    Attributes:
        extent: number of sites along each axis (``(L,)`` for a chain, ``(Lx, Ly)`` for a square).
        pbc: periodic boundary conditions.
        edges: nearest-neighbour bonds ``(i, j)`` with ``i < j``, each once.
        next_nearest: next-nearest-neighbour bonds (diagonals of a square, second neighbours of a chain).
        sublattice: ``0``/``1`` per site when the lattice is bipartite, else ``None``.
    """

    extent: tuple[int, ...]
    pbc: bool
    edges: tuple[tuple[int, int], ...]
    next_nearest: tuple[tuple[int, int], ...]
    sublattice: tuple[int, ...] | None = field(default=None)

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(np.prod(self.extent))

    @property
    def is_bipartite(self) -> bool:
        """Whether nearest-neighbour bonds always join the two sublattices."""
        return self.sublattice is not None

    def coordinates(self) -> np.ndarray:
        """Integer coordinates of every site, shape ``(n_sites, ndim)`` (row-major numbering)."""
        return np.stack(np.unravel_index(np.arange(self.n_sites), self.extent), axis=1)

    def translations(self) -> np.ndarray:
        """All lattice translations as site permutations, shape ``(n_sites, n_sites)``.

        Row ``t`` maps site ``i`` to ``perm[t, i]``, the site ``i`` moves to under the ``t``-th
        translation; row 0 is the identity.

        Raises:
            ParameterError: the lattice is open (translations are symmetries only with ``pbc``).
        """
        if not self.pbc:
            raise ParameterError(
                "translations are symmetries of periodic lattices only; build the lattice with pbc=True"
            )
        coords = self.coordinates()
        ext = np.array(self.extent)
        perms = []
        for shift in coords:  # one translation per site: the one moving site 0 onto it
            moved = (coords + shift) % ext
            perms.append(np.ravel_multi_index(moved.T, self.extent))
        return np.stack(perms).astype(np.int64)


def _bonds(extent: tuple[int, ...], pbc: bool, steps: list[tuple[int, ...]]) -> tuple[tuple[int, int], ...]:
    coords = np.stack(np.unravel_index(np.arange(int(np.prod(extent))), extent), axis=1)
    ext = np.array(extent)
    out: list[tuple[int, int]] = []
    for step in steps:
        for i, c in enumerate(coords):
            d = c + np.array(step)
            if not pbc and (np.any(d < 0) or np.any(d >= ext)):
                continue
            j = int(np.ravel_multi_index(tuple(d % ext), extent))
            bond = (min(i, j), max(i, j))
            if i != j and bond not in out:
                out.append(bond)
    return tuple(out)


def _check_length(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def chain(length: int, *, pbc: bool = True) -> Lattice:
    """A one-dimensional chain of ``length`` sites.

    Args:
        length: number of sites (at least 2).
        pbc: periodic (a ring) or open.

    Raises:
        ParameterError: ``length`` is not an integer >= 2.

    Examples:
        >>> chain(3, pbc=False).edges
        ((0, 1), (1, 2))
        >>> chain(6).next_nearest[:2]
        ((0, 2), (1, 3))
    """
    n = _check_length("chain length", length, 2)
    edges = _bonds((n,), pbc, [(1,)])
    nnn = _bonds((n,), pbc, [(2,)]) if n > 2 else ()
    bipartite = n % 2 == 0 or not pbc
    sub = tuple(i % 2 for i in range(n)) if bipartite else None
    return Lattice((n,), pbc, edges, nnn, sub)


def square(lx: int, ly: int | None = None, *, pbc: bool = True) -> Lattice:
    """An ``lx`` x ``ly`` square lattice (``ly`` defaults to ``lx``), sites numbered row-major.

    Args:
        lx: sites along the first axis (at least 2).
        ly: sites along the second axis (default ``lx``).
        pbc: periodic (a torus) or open.

    Raises:
        ParameterError: a side is not an integer >= 2.

    Examples:
        >>> lat = square(4)
        >>> lat.n_sites, len(lat.edges), len(lat.next_nearest), lat.is_bipartite
        (16, 32, 32, True)
    """
    lx = _check_length("square lattice side lx", lx, 2)
    ly = lx if ly is None else _check_length("square lattice side ly", ly, 2)
    extent = (lx, ly)
    edges = _bonds(extent, pbc, [(1, 0), (0, 1)])
    nnn = _bonds(extent, pbc, [(1, 1), (1, -1)])
    bipartite = not pbc or (lx % 2 == 0 and ly % 2 == 0)
    coords = np.stack(np.unravel_index(np.arange(lx * ly), extent), axis=1)
    sub = tuple(int(s) for s in coords.sum(axis=1) % 2) if bipartite else None
    return Lattice(extent, pbc, edges, nnn, sub)
