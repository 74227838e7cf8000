"""The four differentiation methods agree: backprop, adjoint, parameter-shift, finite-diff.

Also: parameter shift sends every shifted circuit of a backward pass in ONE ``device.execute``
call, and second derivatives through backprop match finite differences of first derivatives.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qphys
from qphys import Hermitian, X, Y, Z
from qphys.devices import Device
from qphys.testing.reference import GATES

PARAM_GATES = [(name, k, m) for name, (k, m, _) in GATES.items() if m > 0]

METHODS = ("backprop", "adjoint", "parameter-shift", "finite-diff")
OBS = [Z(0), 0.7 * X(1) @ Y(2) - 0.4 * Z(2)]


def _grads(circuit, leaves, method, *, device, reducer):
    for p in leaves:
        p.grad = None
    r = qphys.execute(circuit, device, diff_method=method)
    assert r.metadata["diff_method"] == method
    reducer(r).backward()
    return [p.grad.clone() for p in leaves]


def _expval_loss(r):
    return (r.expvals * torch.tensor([1.0, -0.6], dtype=r.expvals.dtype)).sum()


def _circuit(factory, seed, batch=None, measure="expval"):
    c, _ = factory(seed, 3, 18, batch=batch, trainable=True, gates=PARAM_GATES + [("cx", 2, 0)],
                               unitaries=False)
    if measure == "expval":
        for o in OBS:
            c.expval(o)
    elif measure == "var":
        c.var(X(0) @ Z(1)).var(Hermitian(np.array([[0.5, 0.2j], [-0.2j, -1.0]]), 2))
    else:
        c.probs([2, 0])
    return c


def _compare(all_grads, tol):
    ref = all_grads[METHODS[0]] if METHODS[0] in all_grads else next(iter(all_grads.values()))
    for method, grads in all_grads.items():
        for g, r in zip(grads, ref):
            np.testing.assert_allclose(g.numpy(), r.numpy(), atol=tol, rtol=0, err_msg=method)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("batch", [None, 3])
def test_four_methods_agree_on_expval(seed, batch, dev128, random_circuit):
    c = _circuit(random_circuit, seed, batch)
    leaves = c.leaves
    assert leaves, "the random circuit must have trainable parameters"
    grads = {m: _grads(c, leaves, m, device=dev128, reducer=_expval_loss) for m in METHODS}
    _compare(grads, 1e-7)
    assert any(float(g.abs().max()) > 1e-3 for g in grads["backprop"])


@pytest.mark.parametrize("measure", ["var", "probs"])
@pytest.mark.parametrize("batch", [None, 2])
def test_var_and_probs_backprop_shift_fd_agree(measure, batch, dev128, random_circuit):
    c = _circuit(random_circuit, 10 + (batch or 0), batch, measure)
    w = torch.tensor([0.3, -1.0, 0.8, 0.5], dtype=torch.float64)

    def reducer(r):
        v = r.values
        return (v[0] + 0.5 * v[1]).sum() if measure == "var" else (v[0] * w).sum()

    grads = {m: _grads(c, c.leaves, m, device=dev128, reducer=reducer)
             for m in ("backprop", "parameter-shift", "finite-diff")}
    _compare(grads, 1e-7)
    assert any(float(g.abs().max()) > 1e-3 for g in grads["backprop"])


def test_adjoint_refuses_var_with_clear_error(dev128, random_circuit):
    c = _circuit(random_circuit, 20, None, "var")
    with pytest.raises(qphys.errors.DifferentiationError, match="adjoint differentiation does not apply: it supports expval measurements only, and the circuit measures 'var'"):
        qphys.execute(c, dev128, diff_method="adjoint")


def test_shared_parameter_and_complex64(dev128):
    """One tensor used by several gates; complex64 device gradients stay close to complex128."""
    theta = torch.tensor([0.4, -0.9], dtype=torch.float64, requires_grad=True)
    ref = None
    for dev in (dev128, qphys.device("torch.qubit")):
        for m in METHODS:
            theta.grad = None
            c = qphys.Circuit(wires=2).rx(theta[0], 0).crz(theta[0] * 2, 0, 1).ry(theta[1], 1).rzz(theta[1], 0, 1)
            c.expval(X(0) @ Z(1) + 0.5 * Y(1))
            qphys.execute(c, dev, diff_method=m).expvals.sum().backward()
            if ref is None:
                ref = theta.grad.clone()
            tol = 1e-8 if dev is dev128 else (2e-3 if m == "finite-diff" else 2e-5)
            np.testing.assert_allclose(theta.grad.numpy(), ref.numpy(), atol=tol, err_msg=f"{m} {dev.dtype}")


class CountingDevice(Device):
    """Wraps ``torch.qubit`` (no native differentiation) and records every ``execute`` call."""

    name = "counting"

    def __init__(self, *, shots=None, seed=None):
        super().__init__(shots=shots, seed=seed)
        self.inner = qphys.device("torch.qubit", dtype="complex128", shots=shots, seed=seed)
        from dataclasses import replace

        self.capabilities = replace(self.inner.capabilities, native_diff=())
        self.calls = []

    def execute(self, circuits, config):
        self.calls.append(len(circuits))
        return self.inner.execute(circuits, config)


@pytest.mark.parametrize("method", ["parameter-shift", "finite-diff"])
@pytest.mark.parametrize("shots", [None, 1000])
def test_one_execute_call_per_backward(method, shots, random_circuit):
    dev = CountingDevice(shots=shots, seed=3)
    circuits = [_circuit(random_circuit, 30, 4), _circuit(random_circuit, 31, None)]
    assert dev.capabilities.native_diff == ()
    rs = qphys.execute(circuits, dev, diff_method=method)
    assert dev.calls == [2], "forward: one call with both circuits"
    loss = sum(_expval_loss(r) for r in rs)
    loss.backward()
    assert len(dev.calls) == 2, f"backward must send ONE execute call, got {len(dev.calls) - 1}"
    n_params = sum(len(c.leaves) for c in circuits)
    assert dev.calls[1] >= 2 * n_params, "the one call carries all shifted circuits of all circuits"
    # "best" on this device (no native diff) is parameter shift
    r = qphys.execute(circuits[0], dev)
    assert r.metadata["diff_method"] == "parameter-shift"


def test_shift_gradient_with_shots_is_statistically_right():
    """Parameter shift with shots: within 5 standard errors of the exact gradient."""
    theta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(wires=2).ry(theta, 0).crx(theta * 1.5, 0, 1).expval(Z(1))
    qphys.execute(c, qphys.device("torch.qubit", shots=20000, seed=5)).expvals.sum().backward()
    exact = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    c2 = qphys.Circuit(wires=2).ry(exact, 0).crx(exact * 1.5, 0, 1).expval(Z(1))
    qphys.execute(c2, qphys.device("torch.qubit", dtype="complex128")).expvals.sum().backward()
    # the four-term crx rule contributes 1.5 * sum|c| = 1.5 and ry's rule 1 standard deviation
    assert abs(float(theta.grad) - float(exact.grad)) < 5 * 2.5 / math.sqrt(20000)


def _first_derivative(x, create_graph=False):
    c = qphys.Circuit(wires=2).ry(x[0], 0).rx(x[1], 1).crz(x[0] * x[1], 0, 1).cry(x[1], 1, 0)
    c.rxx(x[0] - x[1], 0, 1).expval(Z(0) @ X(1) + 0.3 * Y(0))
    val = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128"), diff_method="backprop").expvals.sum()
    (g,) = torch.autograd.grad(val, x, create_graph=create_graph)
    return g


def test_second_derivatives_backprop_vs_finite_differences():
    x0 = torch.tensor([0.4, -1.3], dtype=torch.float64)
    x = x0.clone().requires_grad_(True)
    g = _first_derivative(x, create_graph=True)
    hess = torch.stack([torch.autograd.grad(g[i], x, retain_graph=True)[0] for i in range(2)])
    h = 1e-5
    fd = torch.zeros(2, 2, dtype=torch.float64)
    for j in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[j] = h
        gp = _first_derivative((x0 + e).requires_grad_(True))
        gm = _first_derivative((x0 - e).requires_grad_(True))
        fd[:, j] = (gp - gm) / (2 * h)
    np.testing.assert_allclose(hess.numpy(), fd.numpy(), atol=1e-7)
    np.testing.assert_allclose(hess.numpy(), hess.numpy().T, atol=1e-10)
    assert float(hess.abs().max()) > 1e-2


def test_gradient_through_unitary_matrix_backprop():
    """Backprop through a matrix-valued parameter (unitary built from a trainable generator)."""
    a = torch.tensor(0.37, dtype=torch.float64, requires_grad=True)
    gen = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.complex128)

    def f(t):
        u = torch.matrix_exp(-1j * t.to(torch.complex128) * gen / 2)  # = RX(t)
        c = qphys.Circuit(wires=2).h(1).unitary(u, 0).cx(0, 1).expval(Z(0) + X(1))
        return qphys.execute(c, qphys.device("torch.qubit", dtype="complex128"), diff_method="backprop").expvals.sum()

    f(a).backward()
    h = 1e-6
    fd = (f(torch.tensor(0.37 + h, dtype=torch.float64)) - f(torch.tensor(0.37 - h, dtype=torch.float64))) / (2 * h)
    assert abs(float(a.grad) - float(fd)) < 1e-8
    assert abs(float(a.grad) + math.sin(0.37)) < 1e-8  # <Z0> = cos t, <X1> = 1
