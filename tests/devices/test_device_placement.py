"""Device placement checked on the CPU with PyTorch's ``meta`` device.

A meta tensor has a shape and a dtype but no values: every operation on it runs shape-only, and
mixing it with a CPU tensor, or reading a value back (``.item()``, ``float()``, ``.numpy()``, a
boolean mask), raises. Running a CUDA path with ``torch_device="meta"`` therefore finds, on a
machine without a GPU, the two CUDA bugs a CPU run cannot: a tensor created on the CPU inside a
computation that should stay on the device, and a host synchronisation inside a hot loop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qphys
from qphys import Hermitian, X, Y, Z
from qphys.errors import ParameterError, ResourceError
from qphys.generative.losses import kl, mmd, nll
from qphys.generative.metrics import kl_divergence
from qphys.sim import linear_optics as lo
from qphys.sim.statevector import plan
from qphys.templates import angle_embedding, hardware_efficient
from qphys.testing.reference import GATES

META = torch.device("meta")


def _meta_param(batch):
    return torch.zeros(batch if batch else (), device=META, requires_grad=True)


@pytest.mark.parametrize("method", ["backprop", "adjoint"])
@pytest.mark.parametrize("batch", [None, 3])
def test_every_gate_runs_on_the_device_without_reading_values_back(method, batch):
    dev = qphys.device("torch.qubit", torch_device="meta")
    for name, (k, m, _) in GATES.items():
        c = qphys.Circuit(wires=4)
        for w in range(4):
            c.h(w)
        params = [_meta_param(batch) for _ in range(m)]
        getattr(c, name)(*params, *range(k))
        c.cx(0, 1).rzz(_meta_param(None), 1, 3)
        c.expval(Z(0) @ X(3)).expval(0.5 * Y(2) - Z(1)).expval(Hermitian(np.diag([1.0, -0.5]), 1))
        r = qphys.execute(c, dev, diff_method=method)
        assert r.expvals.device == META, name
        r.expvals.sum().backward()
        assert all(p.grad is not None and p.grad.device == META for p in params), name


def test_measurements_and_matrix_operations_stay_on_the_device():
    dev = qphys.device("torch.qubit", torch_device="meta", dtype="complex128")
    c = qphys.Circuit(wires=3).state_prep(torch.ones(4, dtype=torch.complex128) / 2, [0, 2])
    c.unitary(torch.eye(2, dtype=torch.complex128), [1]).crx(_meta_param(5), 2, 0)
    c.probs([2, 0]).var(X(1)).state().expval(Y(0))
    r = qphys.execute(c, dev)
    assert all(v.device == META for v in r.values)
    assert r.values[0].shape == (5, 4) and r.state.shape == (5, 8)


def test_the_gpu_benchmark_circuit_stays_on_the_device():
    """``benchmarks/gpu.py``'s variational circuit, with its inputs and weights on the device."""
    dev = qphys.device("torch.qubit", torch_device="meta")
    for method in ("backprop", "adjoint"):
        x = torch.zeros(4, 8, device=META)
        w = torch.zeros(4, 8, 2, device=META, requires_grad=True)
        c = hardware_efficient(angle_embedding(qphys.Circuit(wires=8), x), w).expval(Z(0))
        (g,) = torch.autograd.grad(qphys.execute(c, dev, diff_method=method).expvals.sum(), w)
        assert g.device == META and g.shape == w.shape


def test_linear_optics_and_gaussian_stay_on_the_device():
    a = torch.zeros(8, 15, device=META, dtype=torch.float64, requires_grad=True)
    U = lo.mesh_unitary(a, torch.zeros(8, 15, device=META, dtype=torch.float64))
    p = lo.probabilities(U, (1, 0, 1, 0, 1, 1))
    p.sum().backward()
    assert p.device == META and a.grad.device == META
    assert lo.threshold_probabilities(p.detach(), 6, 4).device == META
    g = qphys.Circuit(modes=2).squeezing(torch.zeros((), device=META), 0.0, 0).beamsplitter(0.7, 0.0, 0, 1)
    g.expval(qphys.cv.N(0)).var(qphys.cv.X(1))
    assert qphys.execute(g, qphys.device("torch.gaussian", torch_device="meta")).expvals.device == META


def test_born_machine_losses_follow_the_model_device():
    """A model on the GPU against a target on the CPU: no device mismatch, no boolean-mask sync."""
    target = torch.tensor([0.5, 0.0, 0.25, 0.25], dtype=torch.float64)
    model = torch.zeros(4, dtype=torch.float64, device=META)
    for value in (kl(model, target), nll(model, target), mmd(model, target), kl_divergence(target, model)):
        assert value.device == META and value.shape == ()


def test_kl_and_nll_keep_their_values_and_gradients():
    p = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64, requires_grad=True)
    value = kl_divergence(p, q)
    value.backward()
    assert float(value.detach()) == pytest.approx(np.log(2))
    torch.testing.assert_close(q.grad, torch.tensor([-2.0, -2.0, 0.0], dtype=torch.float64))
    assert torch.isfinite(p.grad).all() and float(p.grad[2]) == 0.0
    assert float(nll(q.detach(), p.detach())) == pytest.approx(np.log(4))


def test_backprop_memory_is_checked_before_autograd_records():
    """Backprop keeps about one state per fused step: a ResourceError naming adjoint, not an OOM."""
    x, w = torch.rand(2, 10), torch.rand(4, 10, 2, requires_grad=True)
    c = hardware_efficient(angle_embedding(qphys.Circuit(wires=10), x), w).expval(Z(0))
    probe = qphys.device("torch.qubit")
    forward, backprop = probe.memory_estimate(c), probe.memory_estimate(c, backprop=True)
    assert backprop > 8 * forward
    dev = qphys.device("torch.qubit", max_memory=2 * forward)
    with pytest.raises(ResourceError, match="diff_method='adjoint'"):
        qphys.execute(c, dev, diff_method="backprop")
    out = qphys.execute(c, dev, diff_method="adjoint").expvals  # depth-independent memory: fits
    out.sum().backward()
    with torch.no_grad():  # nothing is recorded: the forward estimate applies
        qphys.execute(c, dev, diff_method="backprop")


def test_composed_permutation_index_caches_only_the_composition():
    plan.gather_index.cache_clear()
    plan.composed_index.cache_clear()
    c = qphys.Circuit(wires=6)
    for q in range(6):
        c.cx(q, (q + 1) % 6)
    c.h(0).expval(Z(0))
    qphys.execute(c, "torch.qubit")
    assert plan.gather_index.cache_info().currsize == 0
    assert plan.composed_index.cache_info().currsize == 1


def test_cpu_parameters_are_still_checked_when_appended():
    with pytest.raises(ParameterError, match="nan or inf"):
        qphys.Circuit(wires=1).rx(torch.tensor(float("nan")), 0)
    qphys.Circuit(wires=1).rx(torch.tensor(0.1), 0).check_finite()
