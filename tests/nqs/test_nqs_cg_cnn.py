"""Closed-form RBM log-derivatives, matrix-free CG stochastic reconfiguration, the convolutional ansatz."""

import pytest
import torch

from qphys.errors import ConfigError, ParameterError
from qphys.nqs import (
    CNN,
    RBM,
    SR,
    VMC,
    Anneal,
    SymmetricRBM,
    all_configurations,
    chain,
    heisenberg,
    local_values,
    log_derivatives,
    square,
    transverse_field_ising,
)
from qphys.nqs.cnn import neighbourhoods
from qphys.nqs.estimators import centered, realify
from qphys.nqs.optim import conjugate_gradient, gram

RBMS = {
    "rbm": lambda: RBM(6, alpha=2, init_std=0.5, seed=0),
    "rbm_complex": lambda: RBM(6, alpha=1, complex=True, init_std=0.5, seed=1),
    "rbm_no_visible_bias": lambda: RBM(6, alpha=1, visible_bias=False, init_std=0.5, seed=2),
    "symmetric_chain": lambda: SymmetricRBM(chain(6), alpha=2, init_std=0.5, seed=3),
    "symmetric_square_complex": lambda: SymmetricRBM(square(3), alpha=2, complex=True, init_std=0.5, seed=4),
}


def _random_spins(batch, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return 1.0 - 2.0 * torch.randint(0, 2, (batch, n), generator=gen).double()


@pytest.mark.parametrize("name", RBMS)
def test_closed_form_log_derivatives_match_torch_func(name):
    model = RBMS[name]()
    sigma = _random_spins(20, model.n_sites)
    closed = log_derivatives(model, sigma)
    reference = log_derivatives(model, sigma, analytic=False)
    assert closed.dtype == reference.dtype
    torch.testing.assert_close(closed, reference, rtol=1e-10, atol=1e-12)


def test_frozen_parameters_fall_back_to_torch_func():
    model = RBM(4, alpha=1, init_std=0.5, seed=0)
    model.a.requires_grad_(False)
    o = log_derivatives(model, _random_spins(3, 4))
    assert o.shape == (3, 4 + 16)  # b and W only


def _dense_sr(o, e, shift, lr):
    oc, ec = realify(*centered(o, e))
    s = oc.T @ oc + shift * torch.eye(oc.shape[1], dtype=oc.dtype)
    return -lr * torch.linalg.solve(s, 2 * oc.T @ ec.to(oc.dtype))


@pytest.mark.parametrize("complex_", [False, True])
def test_cg_sr_agrees_with_dense_sr(complex_):
    gen = torch.Generator().manual_seed(0)
    dtype = torch.complex128 if complex_ else torch.float64
    sr = SR(lr=0.1, diag_shift=0.01, diag_shift_start=0.01, max_step=None, solver="cg", cg_tol=1e-12)
    for b, p in [(80, 30), (20, 60)]:  # more samples than parameters and fewer (S singular but for the shift)
        o = torch.randn(b, p, dtype=dtype, generator=gen)
        e = torch.randn(b, dtype=dtype, generator=gen)
        update, info = sr.direction(o, e, step=0)
        assert info["solver"] == "cg" and info["cg_residual"] <= 1e-12
        torch.testing.assert_close(update, _dense_sr(o, e, 0.01, 0.1), rtol=1e-8, atol=1e-10)
        dense, _ = SR(lr=0.1, diag_shift=0.01, diag_shift_start=0.01, max_step=None, solver="cholesky").direction(o, e, 0)
        torch.testing.assert_close(update, dense, rtol=1e-8, atol=1e-10)


def test_cg_warm_start_needs_fewer_iterations():
    gen = torch.Generator().manual_seed(1)
    o = torch.randn(200, 40, dtype=torch.float64, generator=gen)
    e = torch.randn(200, dtype=torch.float64, generator=gen)
    sr = SR(diag_shift=1e-3, diag_shift_start=1e-3, solver="cg", cg_tol=1e-10, momentum=0.0)
    _, cold = sr.direction(o, e, 0)
    _, warm = sr.direction(o, e, 1)  # same problem: the previous solution is already the answer
    assert warm["cg_iterations"] < cold["cg_iterations"]
    assert warm["cg_iterations"] <= 1


def test_conjugate_gradient_reports_an_unconverged_solve():
    gen = torch.Generator().manual_seed(2)
    o = torch.randn(100, 50, dtype=torch.float64, generator=gen)
    b = torch.randn(50, dtype=torch.float64, generator=gen)
    _, iterations, residual = conjugate_gradient(o, 1e-6, b, tol=1e-14, maxiter=3)
    assert iterations == 3 and residual > 1e-6
    x, iterations, residual = conjugate_gradient(o, 1e-6, torch.zeros(50, dtype=torch.float64))
    assert iterations == 0 and residual == 0.0 and not x.any()


def test_gram_lower_triangle_and_solver_choice():
    o = torch.randn(40, 700, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(gram(o).tril(), (o.T @ o).tril())
    sr = SR(dense_limit=100)
    assert [sr.choose_solver(50, 500), sr.choose_solver(500, 50), sr.choose_solver(500, 600)] == ["minsr", "cholesky", "cg"]
    assert SR(solver="cg").choose_solver(10, 5) == "cg"
    with pytest.raises(ConfigError, match="cg_maxiter must be a positive integer"):
        SR(cg_maxiter=0)
    with pytest.raises(ConfigError, match="cg_tol must be a positive number"):
        SR(cg_tol=-1.0)


def test_vmc_with_cg_sr_converges_like_cholesky():
    h = transverse_field_ising(chain(6), h=1.0)
    energies = {}
    for solver in ("cholesky", "cg"):
        vmc = VMC(h, RBM(6, seed=0), optimizer=SR(solver=solver, cg_tol=1e-10), n_samples=256, seed=0)
        energies[solver] = vmc.run(40, progress=False).energy
    # same samples, same steps up to the CG tolerance: identical trajectories
    assert energies["cg"] == pytest.approx(energies["cholesky"], rel=1e-6)


# ---- CNN -----------------------------------------------------------------------------------------------------

CNNS = {
    "chain": lambda: CNN(chain(6), channels=(3, 2), kernel_size=3, seed=0, init_std=0.3),
    "square_complex": lambda: CNN(square(3), channels=(2, 2), kernel_size=2, complex=True, init_std=0.3, seed=1),
    "square_tanh_open": lambda: CNN(square(3, pbc=False), channels=(2, 3), activation="tanh", init_std=0.3, seed=2),
}


def _translate(sigma, perm):
    moved = torch.empty_like(sigma)
    moved[:, torch.as_tensor(perm)] = sigma
    return moved


@pytest.mark.parametrize("lattice", [chain(8), square(4), square(3, 4)], ids=["chain", "square", "rectangle"])
@pytest.mark.parametrize("complex_", [False, True])
def test_cnn_log_amplitudes_are_translation_invariant(lattice, complex_):
    net = CNN(lattice, channels=(4, 3), kernel_size=3, activation="gelu", complex=complex_, init_std=0.5, seed=0)
    sigma = _random_spins(6, lattice.n_sites)
    base = net(sigma)
    assert base.is_complex() == complex_
    for perm in lattice.translations():
        torch.testing.assert_close(net(_translate(sigma, perm)), base, rtol=1e-12, atol=1e-12)


def test_cnn_on_an_open_lattice_is_not_translation_invariant():
    lat = chain(6, pbc=False)
    net = CNN(lat, channels=(2,), kernel_size=3, init_std=0.5, seed=0)
    sigma = torch.tensor([[1.0, 1, 1, -1, -1, 1]], dtype=torch.float64)
    assert not torch.allclose(net(sigma), net(sigma.roll(1, dims=1)))
    assert neighbourhoods(lat, 3)[0].tolist() == [6, 0, 1]  # the zero-padding site


@pytest.mark.parametrize("name", CNNS)
def test_cnn_log_derivatives_match_autograd(name):
    net = CNNS[name]()
    sigma = _random_spins(5, net.n_sites)
    jac = log_derivatives(net, sigma)
    params = list(net.parameters())
    for i in range(sigma.shape[0]):
        out = net(sigma[i : i + 1])[0]
        parts = [out.real, out.imag] if out.is_complex() else [out]
        grads = [torch.cat([g.flatten() for g in torch.autograd.grad(x, params, retain_graph=True)]) for x in parts]
        expected = torch.complex(*grads) if out.is_complex() else grads[0]
        torch.testing.assert_close(jac[i], expected, rtol=1e-10, atol=1e-12)


def test_one_layer_full_kernel_cnn_is_the_symmetric_rbm():
    lat = square(3)
    rbm = SymmetricRBM(lat, alpha=2, init_std=0.4, seed=0)
    net = CNN(lat, channels=(2,), kernel_size=3, seed=0)
    with torch.no_grad():
        rbm.a.zero_()
        origin = neighbourhoods(lat, 3)[0]  # site index of each kernel offset seen from site 0
        net.weight0.copy_(rbm.W[:, origin].T)
        net.bias0.copy_(rbm.b)
    sigma = _random_spins(7, 9)
    torch.testing.assert_close(net(sigma), rbm(sigma), rtol=1e-12, atol=1e-12)


def test_cnn_local_energies_match_the_dense_matrix():
    lat = chain(6)
    net = CNNS["chain"]()
    op = heisenberg(lat) + 0.5 * transverse_field_ising(lat, h=0.7)
    sigma = all_configurations(6)
    with torch.no_grad():
        psi = torch.exp(net(sigma))
    reference = (torch.as_tensor(op.to_dense()).to(psi.dtype) @ psi) / psi
    torch.testing.assert_close(local_values(op, net, sigma), reference, rtol=1e-9, atol=1e-9)


def test_cnn_vmc_finds_the_tfim_ground_state():
    h = transverse_field_ising(chain(6), h=1.0)
    vmc = VMC(h, CNN(chain(6), channels=(4, 2), seed=0), n_samples=256, seed=0)
    vmc.run(80, progress=False)
    assert vmc.energy(2048).mean == pytest.approx(h.ground_state_energy(), rel=5e-3)


def test_cnn_errors():
    with pytest.raises(ParameterError, match="chain or square Lattice"):
        CNN(6)
    with pytest.raises(ParameterError, match="channels must be a non-empty"):
        CNN(chain(6), channels=())
    with pytest.raises(ParameterError, match="kernel_size must be an integer in 1..4"):
        CNN(square(4), kernel_size=5)
    with pytest.raises(ParameterError, match="activation must be one of"):
        CNN(chain(6), activation="relu")


def test_anneal_schedule_scales_the_sr_step():
    schedule = Anneal(start=10, stop=20, factor=0.01)
    assert schedule(0) == schedule(10) == 1.0
    assert schedule(15) == pytest.approx(0.1)
    assert schedule(20) == schedule(99) == pytest.approx(0.01)
    gen = torch.Generator().manual_seed(4)
    o = torch.randn(60, 8, dtype=torch.float64, generator=gen)
    e = torch.randn(60, dtype=torch.float64, generator=gen)
    sr = SR(lr=0.1, max_step=None, lr_schedule=schedule)
    plain = SR(lr=0.1, max_step=None)
    early, info = sr.direction(o, e, 5)
    torch.testing.assert_close(early, plain.direction(o, e, 5)[0])
    late, info = sr.direction(o, e, 30)
    torch.testing.assert_close(late, 0.01 * plain.direction(o, e, 30)[0])
    assert info["lr"] == pytest.approx(1e-3)
    with pytest.raises(ConfigError, match="start < stop"):
        Anneal(5, 5)
    with pytest.raises(ConfigError, match=r"factor must be in \(0, 1\]"):
        Anneal(0, 5, factor=2.0)
    with pytest.raises(ConfigError, match="lr_schedule must be 'auto', None or a callable"):
        SR(lr_schedule=0.5)


def test_auto_schedule_anneals_over_the_second_half_of_each_run():
    sr = SR(lr=0.1)
    assert sr.learning_rate(10**6) == 0.1  # no run announced: constant
    h = transverse_field_ising(chain(4), h=1.0)
    vmc = VMC(h, RBM(4, seed=0), optimizer=sr, n_samples=64, seed=0)
    vmc.run(10, progress=False)
    assert [sr.learning_rate(t) for t in (0, 5)] == [0.1, 0.1]
    assert sr.learning_rate(9) == pytest.approx(0.01)
    vmc.run(4, progress=False)  # a second run anneals over its own span, iterations 10-13
    assert sr.learning_rate(10) == 0.1 and sr.learning_rate(13) == pytest.approx(0.01)
    assert SR(lr=0.1, lr_schedule=None).learning_rate(9) == 0.1


@pytest.mark.parametrize("solver", ["cholesky", "minsr", "cg"])
@pytest.mark.parametrize("shape", [(60, 12), (12, 60)])
def test_sr_momentum_solves_the_spring_system(solver, shape):
    """Second step: (S + λ) δ = g + λ μ δ_prev, δ_prev the first step's direction (lr 1, no clipping)."""
    gen = torch.Generator().manual_seed(5)
    lam, mu = 0.05, 0.8
    sr = SR(lr=1.0, diag_shift=lam, diag_shift_start=lam, max_step=None, lr_schedule=None, momentum=mu,
            solver=solver, cg_tol=1e-13)
    problems = [(torch.randn(*shape, dtype=torch.float64, generator=gen),
                 torch.randn(shape[0], dtype=torch.float64, generator=gen)) for _ in range(2)]
    first, _ = sr.direction(*problems[0], 0)
    torch.testing.assert_close(first, _dense_sr(*problems[0], lam, 1.0))  # no previous step: plain SR
    second, _ = sr.direction(*problems[1], 1)
    oc, ec = centered(*problems[1])
    s = oc.T @ oc + lam * torch.eye(shape[1], dtype=torch.float64)
    expected = -torch.linalg.solve(s, 2 * oc.T @ ec + lam * mu * (-first))
    torch.testing.assert_close(second, expected, rtol=1e-8, atol=1e-10)
    with pytest.raises(ConfigError, match=r"momentum must be in \[0, 1\)"):
        SR(momentum=1.0)


def test_vmc_resets_a_reused_sr_so_no_momentum_leaks_between_models():
    """An SR object handed to a second VMC starts afresh: its first step is plain SR, not SPRING."""
    h = transverse_field_ising(chain(4), h=1.0)
    sr = SR(lr=0.1)
    VMC(h, RBM(4, seed=0), optimizer=sr, n_samples=64, seed=0).run(3, progress=False)
    assert sr._previous is not None and sr._planned is not None
    VMC(h, RBM(4, seed=1), optimizer=sr, n_samples=64, seed=0)
    assert sr._previous is None and sr._x0 is None and sr._planned is None
    o = torch.randn(40, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    e = torch.randn(40, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    fresh = SR(lr=0.1)
    torch.testing.assert_close(sr.direction(o, e, 0)[0], fresh.direction(o, e, 0)[0])
