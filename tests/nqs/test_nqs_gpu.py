"""CUDA paths of qphys.nqs (skipped without CUDA): the same numbers as on the CPU."""

import pytest
import torch

from qphys.nqs import RBM, VMC, MetropolisSampler, chain, heisenberg, local_values, log_derivatives

pytestmark = pytest.mark.gpu


def test_rbm_local_energies_and_jacobians_on_cuda_match_cpu():
    h = heisenberg(chain(8), marshall_sign=True)
    cpu = RBM(8, alpha=2, init_std=0.3, seed=0)
    gpu = RBM(8, alpha=2, init_std=0.3, seed=0).cuda()
    sigma = 1.0 - 2.0 * torch.randint(0, 2, (64, 8), generator=torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(local_values(h, gpu, sigma.cuda()).cpu(), local_values(h, cpu, sigma))
    torch.testing.assert_close(log_derivatives(gpu, sigma.cuda()).cpu(), log_derivatives(cpu, sigma))


def test_metropolis_and_vmc_run_on_cuda():
    h = heisenberg(chain(8), marshall_sign=True)
    model = RBM(8, alpha=1, seed=0).cuda()
    sampler = MetropolisSampler(8, moves="exchange", bonds=chain(8).edges, n_chains=2048, seed=0)
    samples = sampler.sample(model, 4096)
    assert samples.sigma.is_cuda and float(samples.flat.sum(-1).abs().max()) == 0.0
    vmc = VMC(h, model, sampler, n_samples=2048)
    history = vmc.run(30, progress=False)
    assert history.energy[-1] < history.energy[0]
