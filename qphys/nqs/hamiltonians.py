"""Spin Hamiltonians on lattices, built from qphys observables (Pauli units, ``σ`` not ``S = σ/2``).

- :func:`transverse_field_ising`: ``H = -J Σ_<ij> Z_i Z_j - h Σ_i X_i``;
- :func:`heisenberg`: ``H = J Σ_<ij> (X_i X_j + Y_i Y_j + Z_i Z_j)``, optionally with the Marshall
  sign rule (the unitary ``Π_{i in B} Z_i`` flips the sign of ``XX + YY`` on bonds between the two
  sublattices, which makes the ground state of a bipartite antiferromagnet positive);
- :func:`j1_j2`: Heisenberg couplings ``J1`` on nearest and ``J2`` on next-nearest neighbours.

Every builder returns a :class:`~qphys.nqs.operator.PauliOperator`; its ``observable`` is the
plain qphys observable, which any qphys device can measure. Energies in ``S·S`` units are these
divided by 4.

Examples:
    >>> from qphys.nqs.lattice import chain
    >>> H = transverse_field_ising(chain(10), h=1.0)
    >>> round(H.ground_state_energy(), 8)  # REFERENCES.md: -12.7849064430
    -12.78490644
"""

from __future__ import annotations

from qphys.errors import ParameterError
from qphys.nqs.lattice import Lattice
from qphys.nqs.operator import PauliOperator
from qphys.observables import Observable, X, Y, Z


def _check_lattice(lattice: Lattice) -> Lattice:
    if not isinstance(lattice, Lattice):
        raise ParameterError(
            f"expected a qphys.nqs.lattice.Lattice (chain(L) or square(L)), got {type(lattice).__name__}"
        )
    return lattice


def transverse_field_ising(lattice: Lattice, *, h: float = 1.0, J: float = 1.0) -> PauliOperator:
    """The transverse-field Ising model ``-J Σ_<ij> Z_i Z_j - h Σ_i X_i``.

    Args:
        lattice: the lattice (its nearest-neighbour bonds).
        h: transverse field.
        J: Ising coupling (``J > 0`` ferromagnetic).

    Examples:
        >>> from qphys.nqs.lattice import chain
        >>> transverse_field_ising(chain(4), h=0.5).n_flips
        4
    """
    lat = _check_lattice(lattice)
    obs: Observable = sum(
        (-J) * (Z(i) @ Z(j)) for i, j in lat.edges
    ) + sum((-h) * X(i) for i in range(lat.n_sites))
    return PauliOperator(obs, lat.n_sites)


def _exchange(i: int, j: int, J: float, marshall: bool) -> Observable:
    flip = -J if marshall else J
    return flip * (X(i) @ X(j)) + flip * (Y(i) @ Y(j)) + J * (Z(i) @ Z(j))


def _marshall_ok(lattice: Lattice, marshall: bool) -> bool:
    if marshall and not lattice.is_bipartite:
        raise ParameterError(
            "the Marshall sign rule needs a bipartite lattice (even side lengths with pbc); "
            "pass marshall_sign=False"
        )
    return marshall


def heisenberg(lattice: Lattice, *, J: float = 1.0, marshall_sign: bool = False) -> PauliOperator:
    """The Heisenberg model ``J Σ_<ij> σ_i · σ_j``.

    Args:
        lattice: the lattice (its nearest-neighbour bonds).
        J: exchange coupling (``J > 0`` antiferromagnetic).
        marshall_sign: rotate by ``Π_{i in sublattice 1} Z_i`` (same spectrum, positive ground
            state on bipartite lattices).

    Raises:
        ParameterError: ``marshall_sign`` on a lattice that is not bipartite.

    Examples:
        >>> from qphys.nqs.lattice import chain
        >>> H = heisenberg(chain(10), marshall_sign=True)
        >>> round(H.ground_state_energy(), 8)  # REFERENCES.md: -18.0617854180
        -18.06178542
    """
    lat = _check_lattice(lattice)
    sign = _marshall_ok(lat, marshall_sign)
    obs = sum(
        _exchange(i, j, J, sign and lat.sublattice[i] != lat.sublattice[j]) for i, j in lat.edges
    )
    return PauliOperator(obs, lat.n_sites)


def j1_j2(lattice: Lattice, *, J1: float = 1.0, J2: float = 0.5, marshall_sign: bool = False) -> PauliOperator:
    """The J1-J2 Heisenberg model ``J1 Σ_<ij> σ_i·σ_j + J2 Σ_<<ij>> σ_i·σ_j``.

    With ``marshall_sign`` the nearest-neighbour rotation of :func:`heisenberg` is applied (exact
    sign structure only at ``J2 = 0``; a common starting point for frustrated models).

    Raises:
        ParameterError: ``marshall_sign`` on a lattice that is not bipartite.

    Examples:
        >>> from qphys.nqs.lattice import chain
        >>> H = j1_j2(chain(8), J2=0.5)  # Majumdar-Ghosh point: E0 = -3/2 J1 N (Pauli units)
        >>> round(H.ground_state_energy(), 8)
        -12.0
    """
    lat = _check_lattice(lattice)
    sign = _marshall_ok(lat, marshall_sign)
    obs = sum(
        _exchange(i, j, J1, sign and lat.sublattice[i] != lat.sublattice[j]) for i, j in lat.edges
    )
    obs = obs + sum(
        _exchange(i, j, J2, sign and lat.sublattice[i] != lat.sublattice[j]) for i, j in lat.next_nearest
    )
    return PauliOperator(obs, lat.n_sites)
