"""The VMC gradient estimator against exact enumeration, SR against a dense solve, VMC end to end."""

import pytest
import torch

from qphys.errors import ConfigError, ParameterError
from qphys.nqs import (
    RBM,
    SR,
    VMC,
    AmplitudePhase,
    Autoregressive,
    MetropolisSampler,
    SymmetricRBM,
    all_configurations,
    chain,
    energy_gradient,
    heisenberg,
    local_values,
    log_derivatives,
    minsr,
    state_vector,
    transverse_field_ising,
    variational_energy,
)
from qphys.nqs.estimators import centered
from qphys.nqs.exact import log_amplitudes
from qphys.nqs.vmc import default_sampler

MODELS = {
    "rbm": lambda: RBM(5, alpha=2, init_std=0.3, seed=0),
    "rbm_complex": lambda: RBM(5, complex=True, init_std=0.3, seed=1),
    "symmetric_rbm": lambda: SymmetricRBM(chain(5), alpha=2, init_std=0.3, seed=2),
    "autoregressive": lambda: Autoregressive(5, hidden=8, phase=True, seed=3),
    "amplitude_phase": lambda: AmplitudePhase(RBM(5, init_std=0.3, seed=4), RBM(5, init_std=0.3, seed=5)),
}


def _exact_energy(model, dense):
    """<ψ|H|ψ>/<ψ|ψ> as a differentiable function of the parameters (autograd reference)."""
    log_psi = model(all_configurations(model.n_sites)).to(torch.complex128)
    psi = torch.exp(log_psi - log_psi.real.max().detach())
    h = torch.as_tensor(dense).to(torch.complex128)
    return (torch.vdot(psi, h @ psi) / torch.vdot(psi, psi)).real


@pytest.mark.parametrize("name", MODELS)
def test_log_derivative_estimator_equals_the_exact_gradient(name):
    model = MODELS[name]()
    op = heisenberg(chain(5, pbc=False)) + 0.3 * transverse_field_ising(chain(5), h=1.0)
    dense = op.to_dense()
    energy = _exact_energy(model, dense)
    reference = torch.cat([g.flatten() for g in torch.autograd.grad(energy, list(model.parameters()))])
    sigma = all_configurations(5)
    with torch.no_grad():
        weights = torch.exp(2 * log_amplitudes(model).real)
        weights = weights / weights.sum()
    o = log_derivatives(model, sigma)
    e_loc = local_values(op, model, sigma)
    estimate = energy_gradient(o, e_loc, weights)
    torch.testing.assert_close(estimate, reference.to(estimate.dtype), rtol=1e-8, atol=1e-10)


def test_log_derivatives_of_the_rbm_are_analytic():
    model = RBM(4, alpha=1, init_std=0.5, seed=0)
    sigma = all_configurations(4)
    o = log_derivatives(model, sigma, chunk_size=5)
    a, b, w = model.weights()
    tanh = torch.tanh(sigma @ w.T + b).detach()
    expected = torch.cat([sigma, tanh, (tanh[:, :, None] * sigma[:, None, :]).reshape(16, -1)], dim=1)
    torch.testing.assert_close(o, expected)


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("solver", ["cholesky", "minsr", "auto"])
def test_sr_direction_equals_a_dense_solve(complex_, solver):
    gen = torch.Generator().manual_seed(0)
    dtype = torch.complex128 if complex_ else torch.float64
    for b, p in [(64, 10), (10, 64)]:
        o = torch.randn(b, p, dtype=dtype, generator=gen)
        e = torch.randn(b, dtype=dtype, generator=gen)
        sr = SR(lr=0.1, diag_shift=0.02, diag_shift_start=0.02, max_step=None, solver=solver)
        update, info = sr.direction(o, e, step=0)
        oc, ec = centered(o, e)
        s = (oc.conj().T @ oc).real + 0.02 * torch.eye(p, dtype=torch.float64)
        g = 2 * (oc.conj().T @ ec).real
        expected = -0.1 * torch.linalg.solve(s, g)
        torch.testing.assert_close(update, expected, rtol=1e-9, atol=1e-12)
        assert info["shift"] == pytest.approx(0.02)


def test_sr_step_is_clipped_in_the_natural_metric():
    gen = torch.Generator().manual_seed(1)
    o = torch.randn(50, 8, dtype=torch.float64, generator=gen)
    e = 100 * torch.randn(50, dtype=torch.float64, generator=gen)
    sr = SR(lr=0.5, max_step=0.05)
    update, info = sr.direction(o, e, step=0)
    oc, _ = centered(o, e)
    length = float((oc @ update).norm())
    assert info["step_norm"] > 0.05
    assert length == pytest.approx(0.05, rel=1e-9)
    assert SR().shift(0) > SR().shift(100) > SR().diag_shift


def test_sr_errors():
    with pytest.raises(ConfigError, match="lr must be a positive number"):
        SR(lr=0)
    with pytest.raises(ConfigError, match="solver must be one of"):
        SR(solver="qr")
    assert minsr().solver == "minsr"


def test_vmc_reaches_the_ground_state_of_small_systems():
    h = transverse_field_ising(chain(8))
    exact = h.ground_state_energy()
    vmc = VMC(h, RBM(8, alpha=1, seed=0), n_samples=512, seed=0)
    history = vmc.run(150, progress=False)
    assert len(history) == 150 and all(a > 0 for a in history.acceptance)
    assert abs(variational_energy(vmc.model, h) / exact - 1) < 2e-3
    stats = vmc.energy(1000)
    assert abs(stats.mean - exact) < 5 * stats.error + 0.02


def test_vmc_heisenberg_uses_exchange_moves_and_converges():
    h = heisenberg(chain(8), marshall_sign=True)
    model = RBM(8, alpha=2, seed=0)
    sampler = default_sampler(h, model, seed=0)
    assert isinstance(sampler, MetropolisSampler) and sampler.moves == "exchange"
    vmc = VMC(h, model, sampler, n_samples=512)
    vmc.run(150, progress=False)
    # the chains stay in the zero-magnetisation sector, where the ground state lives
    assert abs(variational_energy(model, h, magnetization=0) / h.ground_state_energy() - 1) < 5e-3
    assert float(vmc.last_samples.flat.sum(-1).abs().max()) == 0.0


def test_vmc_with_adam_and_direct_sampling():
    h = transverse_field_ising(chain(6), h=0.5)
    vmc = VMC(h, Autoregressive(6, hidden=16, seed=0), optimizer="adam", lr=0.02, n_samples=512, seed=0)
    history = vmc.run(150, progress=False)
    assert history.energy[-1] < history.energy[0]
    assert abs(variational_energy(vmc.model, h) / h.ground_state_energy() - 1) < 1e-2


def test_vmc_errors():
    h = transverse_field_ising(chain(4))
    with pytest.raises(ParameterError, match="acts on 4 sites but the ansatz has 5"):
        VMC(h, RBM(5))
    with pytest.raises(ConfigError, match="optimizer must be"):
        VMC(h, RBM(4), optimizer="lbfgs")
    with pytest.raises(ParameterError, match="PauliOperator"):
        VMC(h.observable, RBM(4))


def test_state_vector_matches_exact_ground_state_sign_convention():
    h = transverse_field_ising(chain(4))
    _, vecs = h.ground_state()
    psi = state_vector(RBM(4, seed=0))
    assert psi.shape == (16,) and vecs.shape[0] == 16
