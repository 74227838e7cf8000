"""The gradient bridge: ``Device.execute_and_vjp`` holds no hidden state, results are freed by
reference counting alone, and the one-call form runs in another process."""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import weakref
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

import qphys
from qphys import X, Y, Z
from qphys.devices import Device, RunConfig
from qphys.devices.base import execute_and_compute_vjp
from qphys.errors import DifferentiationError

METHODS = ("backprop", "adjoint", "parameter-shift", "finite-diff")


def _circuit(theta):
    c = qphys.Circuit(wires=2).ry(theta[0], 0).rx(theta[1], 1).cx(0, 1).crz(theta[0] * 0.5, 1, 0)
    return c.expval(Z(0) @ X(1) + 0.5 * Y(1)).expval(Z(1))


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_results_die_with_their_last_reference_without_gc(no_gc, method, backward):
    """With the garbage collector off, nothing may keep results alive after the user drops them:
    no reference cycle through the autograd node, no device-side cache."""
    theta = torch.tensor([0.3, -0.8], dtype=torch.float64, requires_grad=True)
    dev = qphys.device("torch.qubit", dtype="complex128")
    results = qphys.execute([_circuit(theta), _circuit(theta * 2)], dev, diff_method=method)
    assert results[0].metadata["diff_method"] == method
    refs = [weakref.ref(r) for r in results] + [weakref.ref(v) for r in results for v in r.values]
    if backward:
        sum(r.expvals.sum() for r in results).backward()
        assert theta.grad is not None
    del results
    alive = [r for r in refs if r() is not None]
    assert not alive, f"{method}: {len(alive)} result object(s) outlived their last reference"


def test_adjoint_state_kept_only_in_the_vjp_closure(no_gc):
    dev = qphys.device("torch.qubit")
    assert not any(isinstance(v, (dict, weakref.WeakKeyDictionary)) and v for v in vars(dev).values())
    theta = torch.tensor([0.3, -0.8], requires_grad=True)
    results, vjp_fn = dev.execute_and_vjp([_circuit(theta)], dev.default_config, method="adjoint")
    state_ref = weakref.ref(vjp_fn.args[2][0])  # the kept final state
    del results
    assert state_ref() is not None, "the closure keeps the forward state for the backward pass"
    del vjp_fn
    assert state_ref() is None, "dropping the closure frees the forward state"
    assert pickle.loads(pickle.dumps(dev)).dtype == dev.dtype


class NoNativeDevice(Device):
    """A device with nothing but ``execute``: the default ``execute_and_vjp`` must do."""

    name = "plain"

    def __init__(self, *, shots=None, seed=None):
        super().__init__(shots=shots, seed=seed)
        self.inner = qphys.device("torch.qubit", dtype="complex128")
        self.capabilities = qphys.Capabilities(operations=self.inner.capabilities.operations)
        self.calls = []

    def execute(self, circuits, config):
        self.calls.append(len(circuits))
        return self.inner.execute(circuits, config)


def _adjoint_reference(circuits, grad_outputs):
    dev = qphys.device("torch.qubit", dtype="complex128")
    return dev.execute_and_vjp(circuits, dev.default_config, method="adjoint")[1](grad_outputs)


@pytest.mark.parametrize("method", ["parameter-shift", "finite-diff"])
def test_default_execute_and_vjp_is_execute_plus_one_call_of_shifted_circuits(method):
    theta = torch.tensor([0.3, -0.8], dtype=torch.float64, requires_grad=True)
    circuits = [_circuit(theta), _circuit(theta * 2)]
    dev = NoNativeDevice()
    results, vjp_fn = dev.execute_and_vjp(circuits, dev.default_config, method=method)
    assert dev.calls == [2]
    assert [len(r.values) for r in results] == [2, 2]
    assert all(not v.requires_grad for r in results for v in r.values), "results are plain values"
    cot = [[torch.tensor(1.0, dtype=torch.float64), torch.tensor(-0.5, dtype=torch.float64)]] * 2
    grads = vjp_fn(cot)
    assert len(dev.calls) == 2 and dev.calls[1] >= 2 * 4, "ONE execute call with every shifted circuit"
    expected = _adjoint_reference(circuits, cot)
    tol = 1e-10 if method == "parameter-shift" else 1e-6
    for g, e in zip(grads, expected):
        torch.testing.assert_close(torch.stack(g), torch.stack(e), atol=tol, rtol=0)
    with pytest.raises(DifferentiationError, match="computes gradients by parameter-shift or finite-diff only"):
        dev.execute_and_vjp(circuits, dev.default_config, method="adjoint")


def test_adjoint_vjp_can_be_called_twice():
    """The kept state is used once; a second backward (retain_graph) re-runs the circuit."""
    theta = torch.tensor([0.3, -0.8], requires_grad=True)
    out = qphys.execute(_circuit(theta), diff_method="adjoint").expvals.sum()
    (g1,) = torch.autograd.grad(out, theta, retain_graph=True)
    (g2,) = torch.autograd.grad(out, theta)
    torch.testing.assert_close(g1, g2)


def _shard(payload: bytes):
    device, circuits, grad_outputs, config, trainable, method = pickle.loads(payload)
    results, grads = execute_and_compute_vjp(device, circuits, grad_outputs, config,
                                             trainable=trainable, method=method)
    return [[v.cpu() for v in r.values] for r in results], [[g.cpu() for g in gs] for gs in grads]


def test_execute_and_compute_vjp_runs_a_shard_in_another_process():
    """What a Dask executor will do: ship a device, circuits (CPU tensors) and cotangents to a
    worker, run forward + VJP there, ship results and gradients back."""
    theta = torch.tensor([0.3, -0.8], dtype=torch.float64)
    circuits = [_circuit(theta), _circuit(theta * 2)]
    trainable = [[(0, 0), (1, 0), (3, 0)]] * 2
    cot = [[torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)]] * 2
    dev = qphys.device("torch.qubit", dtype="complex128")
    jobs = [(dev, circuits, cot, RunConfig(), trainable, m) for m in ("adjoint", "parameter-shift")]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        remote = list(pool.map(_shard, [pickle.dumps(j) for j in jobs]))
    for job, (values, grads) in zip(jobs, remote):
        local_results, local_grads = execute_and_compute_vjp(*job[:4], trainable=trainable, method=job[5])
        for r, vs in zip(local_results, values):
            torch.testing.assert_close(torch.stack(list(r.values)), torch.stack(vs))
        for gs, rs in zip(local_grads, grads):
            torch.testing.assert_close(torch.stack(gs), torch.stack(rs), atol=1e-10, rtol=0)


def test_adjoint_error_names_only_the_condition_that_failed():
    theta = torch.tensor(0.3, requires_grad=True)
    c = qphys.Circuit(wires=1).rx(theta, 0).expval(Z(0))
    cases = [
        (qphys.device("torch.qubit", shots=100), c, r"it needs exact results, but shots=100"),
        (NoNativeDevice(), c, r"device 'plain' has no adjoint method \(native_diff=\(\)\)"),
        (qphys.device("torch.qubit"), qphys.Circuit(wires=1).unitary(torch.eye(2, dtype=torch.complex128)
                                                                    .requires_grad_(True), 0).expval(Z(0)),
         r"the matrix of 'unitary' \(operation 0\) is trainable"),
    ]
    for dev, circuit, reason in cases:
        with pytest.raises(DifferentiationError, match=r"adjoint differentiation does not apply: " + reason) as info:
            qphys.execute(circuit, dev, diff_method="adjoint")
        assert str(info.value).count(":") <= 2, f"one reason only: {info.value}"
