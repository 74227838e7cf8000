"""``torch.qubit`` on CUDA agrees with CPU: states, measurements, samples' distribution, and
gradients of every method. Skipped (``gpu`` marker) when CUDA is absent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qphys
from qphys import Hermitian, X, Y, Z
from qphys.testing import DeviceSpec

pytestmark = pytest.mark.gpu

if torch.cuda.is_available():
    # the conformance suite on the GPU (only where CUDA exists: the options would not build elsewhere)
    from qphys.testing.conformance_qubit import *  # noqa: F401,F403

    CONFORMANCE_DEVICES = [
        DeviceSpec("torch.qubit", options={"torch_device": "cuda", "dtype": "complex128"}, atol=1e-9),
        DeviceSpec("torch.qubit", options={"torch_device": "cuda", "dtype": "complex64"}, shots=20000, atol=2e-5),
    ]


def _devices(dtype):
    return qphys.device("torch.qubit", dtype=dtype), qphys.device("torch.qubit", dtype=dtype, torch_device="cuda")


def _circuit(x, batch_x=None):
    c = qphys.Circuit(wires=5)
    for w in range(5):
        c.h(w).ry(x[w], w)
    if batch_x is not None:
        c.rx(batch_x, 2)
    c.cx(0, 1).crz(x[5], 1, 3).rzz(x[6], 4, 0).ccx(0, 2, 4).iswap(3, 1).u(x[7], x[8], x[9], 2).cry(x[5], 4, 2)
    c.swap(0, 3).cswap(1, 2, 0).rxx(x[6], 1, 4).ryy(x[7], 2, 3).cp(x[8], 3, 0)
    c.expval(Z(0) @ X(3)).expval(0.5 * Y(2) - Z(4)).expval(Hermitian(np.diag([1.0, -0.5]), 1))
    return c


@pytest.mark.parametrize("dtype,tol", [("complex64", 2e-5), ("complex128", 1e-10)])
def test_cuda_state_and_measurements_match_cpu(dtype, tol):
    cpu, gpu = _devices(dtype)
    x = torch.linspace(-1.0, 2.0, 10, dtype=torch.float64)
    bx = torch.tensor([0.1, -0.7, 1.9], dtype=torch.float64)
    c = _circuit(x, bx).probs([3, 1]).var(X(2)).state()
    rc, rg = qphys.execute(c, cpu), qphys.execute(c, gpu)
    assert rg.state.device.type == "cuda"
    for vc, vg in zip(rc.values, rg.values):
        np.testing.assert_allclose(vg.detach().cpu().numpy(), vc.detach().numpy(), atol=tol)


@pytest.mark.parametrize("method", ["backprop", "adjoint", "parameter-shift"])
def test_cuda_gradients_match_cpu(method):
    grads = []
    for dev in _devices("complex128"):
        x = torch.linspace(-1.0, 2.0, 10, dtype=torch.float64, requires_grad=True)
        bx = torch.tensor([0.1, -0.7, 1.9], dtype=torch.float64, requires_grad=True)
        r = qphys.execute(_circuit(x, bx), dev, diff_method=method)
        r.expvals.sum().backward()
        grads.append((x.grad.clone(), bx.grad.clone()))
    for gc, gg in zip(grads[0], grads[1]):
        np.testing.assert_allclose(gg.cpu().numpy(), gc.numpy(), atol=1e-9)
    assert float(grads[0][0].abs().max()) > 1e-3


def test_cuda_sampling_is_seeded_and_statistically_right():
    dev = qphys.device("torch.qubit", torch_device="cuda", shots=20000, seed=7)
    c = qphys.Circuit(wires=2).ry(torch.tensor(1.1), 0).cx(0, 1).probs().sample()
    r1, r2 = qphys.execute(c, dev), qphys.execute(c, dev)
    torch.testing.assert_close(r1.samples.cpu(), r2.samples.cpu())
    p = np.cos(1.1 / 2) ** 2
    np.testing.assert_allclose(r1.probs.cpu().numpy(), [p, 0, 0, 1 - p], atol=5 * 0.5 / np.sqrt(20000))
