"""Ansätze: cached flip ratios against full evaluations, symmetry, normalisation, local energies."""

import numpy as np
import pytest
import torch

from qphys import X, Y, Z
from qphys.errors import ParameterError
from qphys.nqs import (
    RBM,
    AmplitudePhase,
    Autoregressive,
    PauliOperator,
    SymmetricRBM,
    all_configurations,
    chain,
    heisenberg,
    j1_j2,
    local_values,
    square,
    state_vector,
    transverse_field_ising,
)
from qphys.nqs.ansatz import flip_sites

MODELS = {
    "rbm": lambda: RBM(6, alpha=2, init_std=0.5, seed=0),
    "rbm_complex": lambda: RBM(6, alpha=1, complex=True, init_std=0.5, seed=1),
    "rbm_no_visible_bias": lambda: RBM(6, alpha=1, visible_bias=False, init_std=0.5, seed=2),
    "symmetric_rbm": lambda: SymmetricRBM(chain(6), alpha=2, init_std=0.5, seed=3),
    "autoregressive_phase": lambda: Autoregressive(6, hidden=16, phase=True, seed=4),
    "amplitude_phase": lambda: AmplitudePhase(RBM(6, init_std=0.5, seed=5), RBM(6, init_std=0.5, seed=6)),
}


@pytest.mark.parametrize("name", MODELS)
def test_log_ratio_matches_full_evaluation(name):
    model = MODELS[name]()
    gen = torch.Generator().manual_seed(0)
    sigma = 1.0 - 2.0 * torch.randint(0, 2, (40, 6), generator=gen).double()
    sites = torch.stack([torch.randperm(6, generator=gen)[:3] for _ in range(40)])  # distinct sites
    sites[::3, 2] = -1  # padding
    sites[::4, 1:] = -1
    full = model(flip_sites(sigma, sites)) - model(sigma)
    with torch.no_grad():
        ratio = model.log_ratio(sigma, sites)
        diff = torch.exp(ratio) - torch.exp(full.detach())
    assert float(diff.abs().max()) < 1e-10
    # a subset of rows, as local energies ask
    row = torch.tensor([3, 3, 7, 0])
    with torch.no_grad():
        sub = model.log_ratio(sigma, sites[:4], model.cache(sigma), row)
        ref = model(flip_sites(sigma[row], sites[:4])) - model(sigma[row])
    assert float((torch.exp(sub) - torch.exp(ref)).abs().max()) < 1e-10


@pytest.mark.parametrize("name", ["rbm", "rbm_complex", "symmetric_rbm", "autoregressive_phase"])
def test_metropolis_proposals_keep_the_cache_exact(name):
    model = MODELS[name]()
    gen = torch.Generator().manual_seed(1)
    sigma = 1.0 - 2.0 * torch.randint(0, 2, (16, 6), generator=gen).double()
    cache = model.cache(sigma)
    for _ in range(30):
        sites = torch.randint(0, 6, (16, 1), generator=gen)
        ratio, proposal = model.propose(sigma, sites, cache)
        accept = torch.rand(16, generator=gen) < 0.5
        cache = model.accept(cache, proposal, accept)
        sigma = torch.where(accept[:, None], flip_sites(sigma, sites), sigma)
    fresh = model.cache(sigma)
    if isinstance(cache, dict):
        assert torch.allclose(cache["theta"], fresh["theta"], atol=1e-10)
    else:
        assert torch.allclose(cache, fresh, atol=1e-10)


HAMILTONIANS = {
    "tfim": lambda: transverse_field_ising(chain(6), h=0.8),
    "heisenberg_marshall": lambda: heisenberg(chain(6), marshall_sign=True),
    "j1j2": lambda: j1_j2(chain(6), J2=0.3),
    "complex": lambda: PauliOperator(X(0) @ Y(1) + 0.4 * Y(2) + Z(3) @ Z(4) - 0.3 * X(5), 6),
}


@pytest.mark.parametrize("hname", HAMILTONIANS)
@pytest.mark.parametrize("name", MODELS)
def test_local_energies_match_dense_matrix(name, hname):
    model, op = MODELS[name](), HAMILTONIANS[hname]()
    sigma = all_configurations(6)
    psi = state_vector(model).numpy()
    reference = (op.to_dense() @ psi) / psi
    for dense in (None, True, False):  # automatic choice, all flip patterns, non-zero elements only
        for chunk in (1 << 18, 40):  # one block, many small blocks
            values = local_values(op, model, sigma, chunk=chunk, dense=dense).numpy()
            np.testing.assert_allclose(values, reference, rtol=1e-9, atol=1e-9)


def test_symmetric_rbm_is_translation_invariant_on_a_square_lattice():
    lat = square(3)
    model = SymmetricRBM(lat, alpha=2, init_std=0.3, seed=0, complex=True)
    sigma = 1.0 - 2.0 * torch.randint(0, 2, (5, 9), generator=torch.Generator().manual_seed(0)).double()
    base = model(sigma)
    for perm in lat.translations():
        moved = torch.empty_like(sigma)
        moved[:, torch.as_tensor(perm)] = sigma
        assert torch.allclose(model(moved), base, atol=1e-12)
    assert sum(p.numel() for p in model.parameters()) == 2 * (1 + 2 + 2 * 9)


def test_autoregressive_is_normalised_and_conditionals_are_causal():
    model = Autoregressive(5, hidden=12, layers=3, seed=0)
    with torch.no_grad():
        p = torch.exp(2 * model(all_configurations(5)))
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-12)
    sigma = torch.ones(1, 5, dtype=torch.float64)
    base = model.logits(sigma)
    for j in range(5):
        flipped = sigma.clone()
        flipped[0, j] = -1
        changed = (model.logits(flipped) - base).abs()[0] > 1e-14
        assert not changed[: j + 1].any()  # logit i depends on sites < i only


def test_errors():
    with pytest.raises(ParameterError, match="alpha must be a positive integer"):
        RBM(4, alpha=0)
    with pytest.raises(ParameterError, match="n_sites must be a positive integer"):
        RBM(0)
    with pytest.raises(ParameterError, match="two real networks"):
        AmplitudePhase(RBM(3, complex=True), RBM(3))
    with pytest.raises(ParameterError, match="differ"):
        AmplitudePhase(RBM(3), RBM(4))
    with pytest.raises(ParameterError, match="bipartite"):
        heisenberg(square(3), marshall_sign=True)
