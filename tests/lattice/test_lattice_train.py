"""Reverse-KL training, checkpoints, and the U(1) flow sampler against the exact plaquette."""

import math

import pytest
import torch

from qphys.errors import ParameterError
from qphys.lattice import (
    Phi4Action,
    PlaquetteFlow,
    U1Action,
    effective_sample_size,
    exact_charge_variance,
    exact_plaquette,
    flow_metropolis,
    hmc,
    make_phi4_flow,
    make_u1_flow,
    mean_with_error,
    plaquette_mean,
    reverse_kl_backward,
    topological_charge,
    train_flow,
)


def _ess(flow, action, n=2048, seed=5):
    with torch.no_grad():
        x, logq = flow.sample(n, generator=torch.Generator().manual_seed(seed))
        return effective_sample_size(-action(x) - logq)


def test_training_raises_the_effective_sample_size():
    torch.manual_seed(0)
    S = Phi4Action(-4.0, 8.0)
    flow = make_phi4_flow(4, n_layers=4, coupling="spline", hidden=(8,), bound=4.0)
    before = _ess(flow, S)
    hist = train_flow(flow, S, steps=150, batch_size=128, lr=5e-3, seed=0, progress=False)
    after = _ess(flow, S)
    assert before < 0.01 and after > 0.3, (before, after)  # 0.46 with this seed
    assert sum(hist.loss[-20:]) < sum(hist.loss[:20])
    assert hist.lr[0] == pytest.approx(5e-3) and hist.lr[-1] < 5e-4  # cosine decay


def test_checkpoint_resumes_and_restores(tmp_path):
    S = Phi4Action(-4.0, 8.0)
    ckpt = tmp_path / "flow.pt"
    flow = make_phi4_flow(4, n_layers=2, hidden=(4,))
    hist = train_flow(flow, S, steps=12, batch_size=16, checkpoint=ckpt, checkpoint_every=5, progress=False)
    assert ckpt.exists() and hist.steps == 12
    fresh = make_phi4_flow(4, n_layers=2, hidden=(4,))
    again = train_flow(fresh, S, steps=12, batch_size=16, checkpoint=ckpt, progress=False)
    assert again.steps == 12 and again.loss == hist.loss  # nothing left to do: restored, not retrained
    x = torch.randn(3, 4, 4)
    torch.testing.assert_close(fresh.log_prob(x), flow.log_prob(x))
    longer = train_flow(fresh, S, steps=15, batch_size=16, checkpoint=ckpt, progress=False)
    assert longer.steps == 15 and longer.loss[:12] == hist.loss


def test_training_argument_errors():
    S = Phi4Action(-4.0, 8.0)
    flow = make_phi4_flow(4, n_layers=2, hidden=(4,))
    with pytest.raises(ParameterError, match="steps must be >= 1"):
        train_flow(flow, S, steps=0)
    with pytest.raises(ParameterError, match="schedule must be 'cosine' or 'constant'"):
        train_flow(flow, S, steps=1, schedule="linear")


@pytest.mark.slow
def test_u1_flow_metropolis_reproduces_the_exact_plaquette():
    beta, L = 2.0, 4
    S = U1Action(beta)
    torch.manual_seed(1)
    flow = make_u1_flow(L, n_layers=8, bins=6, hidden=(8,))
    train_flow(flow, S, steps=150, batch_size=128, lr=5e-3, seed=1, progress=False)
    r = flow_metropolis(flow, S, n_steps=16000, batch_size=4000, measure={"P": plaquette_mean}, seed=2)
    assert r.acceptance > 0.15  # an imperfect flow: the Metropolis step must still make it exact
    est = mean_with_error(r.observables["P"])
    assert est.agrees_with(exact_plaquette(beta, volume=L * L), sigmas=3.5), (est, exact_plaquette(beta, L * L))
    assert est.error < 0.01


def test_u1_hmc_reproduces_the_exact_plaquette():
    beta, L = 1.5, 4
    x0 = (torch.rand(64, 2, L, L, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1) * math.pi
    r = hmc(U1Action(beta), x0, n_traj=300, n_tune=50, n_therm=50,
            measure={"P": plaquette_mean, "Q": topological_charge}, seed=0)
    est = mean_with_error(r.observables["P"])
    assert est.agrees_with(exact_plaquette(beta, volume=L * L), sigmas=3.5), (est, exact_plaquette(beta, L * L))
    assert est.error < 0.01
    q2 = mean_with_error(r.observables["Q"] ** 2)  # β = 1.5 on 4x4: Q still moves, ⟨Q²⟩ ≈ 0.43
    assert q2.agrees_with(exact_charge_variance(beta, L * L), sigmas=3.5), (q2, exact_charge_variance(beta, L * L))


@pytest.mark.gpu
def test_flow_training_sampling_and_hmc_on_cuda():
    dev = torch.device("cuda")
    S = Phi4Action(-4.0, 8.0)
    flow = make_phi4_flow(4, n_layers=2, coupling="spline", hidden=(8,)).to(dev)
    hist = train_flow(flow, S, steps=20, batch_size=64, progress=False)
    assert hist.steps == 20
    r = flow_metropolis(flow, S, n_steps=512, seed=0)
    assert r.x.device.type == "cuda" and 0 < r.acceptance <= 1
    h = hmc(S, torch.zeros(8, 4, 4, device=dev), n_traj=5, n_tune=5, seed=0)
    assert h.x.device.type == "cuda"
    u1 = make_u1_flow(4, n_layers=2, hidden=(8,)).to(dev)
    x, logq = u1.sample(4)
    torch.testing.assert_close(u1.log_prob(x), logq, atol=1e-4, rtol=1e-4)
    plaq = PlaquetteFlow(4, hidden=(8,)).to(dev)
    train_flow(plaq, U1Action(2.0), steps=5, batch_size=32, progress=False)
    x, logq = plaq.sample(4)
    assert x.device.type == "cuda"
    torch.testing.assert_close(plaq.log_prob(x), logq, atol=1e-4, rtol=1e-4)


def _grad_vector(flow):
    return torch.cat([p.grad.flatten() for p in flow.parameters()])


@pytest.mark.parametrize("coupling", ["affine", "spline"])
def test_path_gradient_equals_the_reverse_kl_gradient_in_expectation(coupling):
    """Same prior draws, both estimators: their difference is the score term ∂_θ log q_θ(x) at fixed x
    (checked exactly per batch), whose mean over batches is zero (checked within errors)."""
    S = Phi4Action(-4.0, 8.0)
    torch.manual_seed(0)
    flow = make_phi4_flow(2, n_layers=2, coupling=coupling, hidden=(4,), bound=4.0, dtype=torch.float64)
    with torch.no_grad():  # move away from the identity so that every term is non-trivial
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    diffs = []
    for k in range(100):
        grads = {}
        for mode in ("total", "path"):
            flow.zero_grad(set_to_none=True)
            x, _, _ = reverse_kl_backward(flow, S, 256, gradient=mode, generator=torch.Generator().manual_seed(k))
            grads[mode] = _grad_vector(flow)
        flow.zero_grad(set_to_none=True)
        flow.log_prob(x).mean().backward()  # the score term, at the batch's (fixed) samples
        torch.testing.assert_close(grads["total"] - grads["path"], _grad_vector(flow), rtol=1e-8, atol=1e-10)
        diffs.append(grads["total"] - grads["path"])
    d = torch.stack(diffs)
    varies = d.std(0) > 1e-9
    assert varies.sum() > 100  # the estimators really differ batch by batch ...
    z = d[:, varies].mean(0) / (d[:, varies].std(0) / len(d) ** 0.5)
    assert z.abs().max() < 5 and (z**2).mean() < 2, (z.abs().max(), (z**2).mean())  # ... but not in mean


def test_path_gradient_training_raises_the_effective_sample_size():
    torch.manual_seed(0)
    S = Phi4Action(-4.0, 8.0)
    flow = make_phi4_flow(4, n_layers=4, coupling="spline", hidden=(8,), bound=4.0)
    hist = train_flow(flow, S, steps=150, batch_size=128, lr=5e-3, seed=0, progress=False, gradient="path")
    assert _ess(flow, S) > 0.3, _ess(flow, S)
    assert sum(hist.loss[-20:]) < sum(hist.loss[:20])
    with pytest.raises(ParameterError, match="gradient must be 'total' or 'path'"):
        train_flow(flow, S, steps=1, gradient="score")
