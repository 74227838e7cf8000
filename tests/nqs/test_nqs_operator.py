"""Pauli-sum operators and Hamiltonians against dense matrices and published exact energies."""

import numpy as np
import pytest
import torch

from qphys import Hermitian, X, Y, Z
from qphys.errors import ObservableError, ParameterError, ResourceError, WireError
from qphys.nqs import (
    PauliOperator,
    all_configurations,
    chain,
    heisenberg,
    j1_j2,
    square,
    transverse_field_ising,
)


def _dense_from_connected(op: PauliOperator) -> np.ndarray:
    """Dense matrix rebuilt from ``connected`` alone (independent of ``to_sparse``)."""
    n = op.n_sites
    sigma = all_configurations(n)
    conn = op.connected(sigma)
    flipped = op.flipped(sigma, conn)
    weights = 2 ** torch.arange(n - 1, -1, -1)
    col = ((flipped < 0).long() * weights).sum(-1)
    mat = np.zeros((2**n, 2**n), dtype=complex)
    mat[np.arange(2**n), np.arange(2**n)] += conn.diagonal.numpy()
    np.add.at(mat, (conn.row.numpy(), col.numpy()), conn.mel.numpy())
    return mat


OBSERVABLES = [
    X(0) @ Y(2) + 0.3 * Z(1) - Y(0) @ Z(1) @ X(2),  # complex matrix elements (odd number of Y)
    0.7 * Y(0) @ Y(1) - 1.3 * X(1) @ X(2) + 0.2 * Z(0) @ Z(2) + 0.5 * X(0),
    heisenberg(chain(3, pbc=False)).observable,
]


@pytest.mark.parametrize("obs", OBSERVABLES)
def test_connected_elements_rebuild_the_dense_matrix(obs):
    op = PauliOperator(obs, 3)
    reference = obs.matrix(wire_order=[0, 1, 2])
    np.testing.assert_allclose(_dense_from_connected(op), reference, atol=1e-12)
    np.testing.assert_allclose(op.to_dense(), reference, atol=1e-12)


@pytest.mark.parametrize(
    "build",
    [
        lambda: transverse_field_ising(chain(6), h=0.7),
        lambda: heisenberg(chain(6), marshall_sign=True),
        lambda: j1_j2(square(2, 3, pbc=False), J2=0.4),
    ],
)
def test_hamiltonians_match_the_observable_matrix(build):
    op = build()
    np.testing.assert_allclose(op.to_dense(), op.observable.matrix(list(range(op.n_sites))), atol=1e-12)


def test_published_exact_energies():
    # REFERENCES.md: TFIM L=10 -12.7849064430, Heisenberg σ·σ L=10 -18.0617854180
    assert transverse_field_ising(chain(10)).ground_state_energy() == pytest.approx(-12.7849064430, abs=1e-8)
    assert heisenberg(chain(10)).ground_state_energy() == pytest.approx(-18.0617854180, abs=1e-8)
    assert heisenberg(chain(10), marshall_sign=True).ground_state_energy() == pytest.approx(
        -18.0617854180, abs=1e-8
    )


def test_marshall_sign_makes_the_ground_state_positive():
    vals, vecs = heisenberg(chain(8), marshall_sign=True).ground_state()
    v = vecs[:, 0] * np.sign(vecs[np.argmax(np.abs(vecs[:, 0])), 0])
    assert v.min() > -1e-10


def test_magnetization_conservation_is_detected():
    assert heisenberg(chain(4)).conserves_magnetization
    assert j1_j2(chain(6)).conserves_magnetization
    assert not transverse_field_ising(chain(4)).conserves_magnetization
    assert not PauliOperator(X(0) @ X(1) - Y(0) @ Y(1)).conserves_magnetization  # σ+σ+ + σ-σ-


def test_errors_name_the_fix():
    with pytest.raises(ObservableError, match="not a Pauli operator"):
        PauliOperator(Hermitian(np.eye(2), 0) + Z(1))
    with pytest.raises(WireError, match="pass n_sites > 3"):
        PauliOperator(Z(3), n_sites=2)
    with pytest.raises(ParameterError, match="bipartite"):
        heisenberg(chain(5), marshall_sign=True)
    with pytest.raises(ResourceError, match="dense matrices stop"):
        transverse_field_ising(chain(16)).to_dense()
    with pytest.raises(ParameterError, match="shape"):
        transverse_field_ising(chain(4)).diagonal(torch.ones(2, 5))


def test_lattices():
    lat = square(4)
    assert lat.n_sites == 16 and len(lat.edges) == 32 and lat.is_bipartite
    perms = lat.translations()
    assert perms.shape == (16, 16)
    assert all(sorted(p) == list(range(16)) for p in perms)
    edges = {tuple(e) for e in lat.edges}
    for p in perms:  # translations map bonds to bonds
        assert {tuple(sorted((int(p[i]), int(p[j])))) for i, j in lat.edges} == edges
    assert not square(3).is_bipartite and square(3, pbc=False).is_bipartite
    assert chain(4, pbc=False).edges == ((0, 1), (1, 2), (2, 3))
    with pytest.raises(ParameterError, match="pbc=True"):
        chain(4, pbc=False).translations()
    with pytest.raises(ParameterError, match="integer >= 2"):
        chain(1)
