"""CUDA paths the static review of issue 16 fixed (skipped without CUDA; ``scripts/gpu_check.sh`` runs them).

Each test fails on the code before its fix: parameters read back one by one (a host synchronisation
per gate parameter), a CPU target against a CUDA model, a generator re-created on every call, a CPU
starting field for a CUDA flow, padding created on the CPU, the caching allocator's free blocks
counted as taken.
"""

from __future__ import annotations

import pytest
import torch

import qphys
from qphys import Z
from qphys.devices.options import available_memory
from qphys.errors import ParameterError
from qphys.generative import BornMachine, ChowLiuAnsatz
from qphys.generative.datasets import bars_and_stripes_distribution
from qphys.templates import amplitude_embedding, angle_embedding, hardware_efficient

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def test_circuits_with_cuda_parameters_build_without_host_synchronisation():
    x = torch.rand(8, 6, device=CUDA)
    w = torch.rand(4, 6, 2, device=CUDA, requires_grad=True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation raises
    try:
        c = hardware_efficient(angle_embedding(qphys.Circuit(wires=6), x), w).expval(Z(0))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    out = qphys.execute(c, qphys.device("torch.qubit", torch_device="cuda"), diff_method="adjoint").expvals
    assert out.device.type == "cuda" and out.shape == (8, 1)


def test_nan_cuda_parameters_are_rejected_before_execution():
    c = qphys.Circuit(wires=2).rx(torch.tensor(0.2, device=CUDA), 0)
    c.ry(torch.tensor([0.1, float("nan")], device=CUDA), 1).expval(Z(0))
    with pytest.raises(ParameterError, match=r"ry \(operation 1\): parameter contains nan or inf"):
        qphys.execute(c, qphys.device("torch.qubit", torch_device="cuda"))


def test_born_machine_trains_on_cuda_like_on_cpu():
    target = bars_and_stripes_distribution(2, 2)
    losses = {}
    for where in ("cpu", "cuda"):
        dev = qphys.device("torch.qubit", dtype="complex128", torch_device=where)
        bm = BornMachine(ChowLiuAnsatz.from_data(3, target, 4), 4, device=dev, seed=1)
        hist = bm.fit(target, loss="kl", optimizer="adam", steps=3, lr=0.05)
        losses[where] = (hist.loss, bm.loss(target, "nll").item(), bm.weights.detach().cpu())
    torch.testing.assert_close(torch.tensor(losses["cuda"][0]), torch.tensor(losses["cpu"][0]))
    assert losses["cuda"][1] == pytest.approx(losses["cpu"][1], abs=1e-9)
    torch.testing.assert_close(losses["cuda"][2], losses["cpu"][2])


def test_metropolis_sampler_keeps_its_cuda_generator_between_calls():
    from qphys.nqs import RBM, MetropolisSampler

    model = RBM(6, alpha=1, seed=0).cuda()
    sampler = MetropolisSampler(6, n_chains=32, seed=3, device="cuda")
    first = sampler.sample(model, 64)
    gen = sampler._gen
    sampler.reset()
    second = sampler.sample(model, 64)
    assert sampler._gen is gen  # not re-created (and re-seeded) on every call
    assert not torch.equal(first.sigma, second.sigma)


def test_flow_hmc_moves_the_starting_fields_to_the_flow():
    from qphys.lattice import Phi4Action, flow_hmc, make_phi4_flow

    flow = make_phi4_flow(4, n_layers=2, hidden=(8,)).to(CUDA)
    r = flow_hmc(flow, Phi4Action(-4.0, 8.0), torch.zeros(6, 4, 4), n_steps=4, step_size=0.1, n_leapfrog=3, seed=0)
    assert r.x.device.type == "cuda" and r.accepted.shape == (4, 6)


def test_amplitude_embedding_pads_cuda_features_on_cuda():
    c = amplitude_embedding(qphys.Circuit(wires=2), torch.ones(3, 3, device=CUDA), pad_with=0.0, normalize=True)
    p = qphys.execute(c.probs(), qphys.device("torch.qubit", torch_device="cuda")).probs
    torch.testing.assert_close(p.cpu(), torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0]] * 3), atol=1e-6, rtol=0)


def test_available_memory_counts_the_allocators_cached_blocks():
    block = torch.empty(1 << 30, dtype=torch.uint8, device=CUDA)  # 1 GiB, then freed into torch's cache
    del block
    free, _ = torch.cuda.mem_get_info(CUDA)
    cached = torch.cuda.memory_reserved(CUDA) - torch.cuda.memory_allocated(CUDA)
    assert cached >= 1 << 30
    assert available_memory(CUDA) >= free + cached - (64 << 20)
    torch.cuda.empty_cache()
