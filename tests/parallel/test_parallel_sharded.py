"""``qphys.execute(..., executor=)``: shards equal the unsharded run, gradients flow on every device.

Thread pools run the real sharding code (plan, detached CPU shards, pickled device, reassembly,
vector-Jacobian products per shard) without process start-up; one test uses worker processes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import qphys
from qphys.diff.sharded import ShardedRun
from qphys.errors import ConfigError, DifferentiationError
from qphys.parallel import FuturesExecutor


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(max_workers=3) as p:
        yield p


def layer_circuit(x, w, *, probs=True):
    c = qphys.Circuit(wires=3)
    for q in range(3):
        c.ry(x[:, q], q)
    c.cx(0, 1).cx(1, 2).rx(w[0], 0).ry(w[1], 1).rz(w[2], 2).crx(w[3], 2, 0)
    c.expval(qphys.Z(0)).expval(qphys.X(1) @ qphys.Z(2))
    return c.var(qphys.Y(2)).probs([0, 2]) if probs else c


def _values_and_grads(circuits_fn, device, method, executor, inputs):
    for t in inputs:
        t.grad = None
    results = qphys.execute(circuits_fn(), device, diff_method=method, executor=executor)
    results = results if isinstance(results, list) else [results]
    loss = sum((v.to(torch.float64) * (k + 1)).sin().sum() for r in results for k, v in enumerate(r.values))
    loss.backward()
    return [v.detach().clone() for r in results for v in r.values], [t.grad.clone() for t in inputs], results


@pytest.mark.parametrize("method,probs", [("adjoint", False), ("parameter-shift", True), ("finite-diff", True)])
def test_sharded_values_and_gradients_equal_the_unsharded_run(method, probs, pool, dev128):
    torch.manual_seed(1)
    x = torch.rand(11, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(4, dtype=torch.float64, requires_grad=True)

    def circuits():  # a batched circuit, a smaller batch of the same, an unbatched one
        return [layer_circuit(x, w, probs=probs), layer_circuit(x[3:5], w, probs=probs),
                layer_circuit(x[:1], w, probs=probs)]

    ref_vals, ref_grads, _ = _values_and_grads(circuits, dev128, method, None, [x, w])
    vals, grads, results = _values_and_grads(circuits, dev128, method, pool, [x, w])
    assert results[0].metadata["shards"] == 3 and results[0].metadata["diff_method"] == method
    for a, b in zip(vals, ref_vals):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_a_batched_circuit_is_cut_inside_its_batch(pool, dev128):
    x = torch.rand(10, 3, dtype=torch.float64)
    c = layer_circuit(x, torch.rand(4, dtype=torch.float64))
    run = ShardedRun(dev128, [c, c], dev128.default_config, FuturesExecutor(pool))
    sizes = [[(p.circuit, p.stop - p.start) for p in pieces] for pieces in run.shards]
    assert sizes == [[(0, 7)], [(0, 3), (1, 4)], [(1, 6)]]  # 20 elements over 3 workers: 7, 7, 6
    assert all(t.device.type == "cpu" and not t.requires_grad
               for cs in run.shard_circuits for c in cs for op in c.operations for t in op.params
               if torch.is_tensor(t))


def test_backprop_with_an_executor_names_the_methods_that_work_and_best_picks_one(pool, dev128):
    w = torch.rand(4, dtype=torch.float64, requires_grad=True)
    c = layer_circuit(torch.rand(4, 3, dtype=torch.float64), w, probs=False)
    with pytest.raises(DifferentiationError, match="backprop' cannot run with an executor.*'adjoint' or "
                                                   "'parameter-shift' or 'finite-diff'"):
        qphys.execute(c, dev128, diff_method="backprop", executor=pool)
    r = qphys.execute(c, dev128, executor=pool)
    assert r.metadata["diff_method"] == "adjoint"
    probs = layer_circuit(torch.rand(4, 3, dtype=torch.float64), w)
    assert qphys.execute(probs, dev128, executor=pool).metadata["diff_method"] == "parameter-shift"


def test_shots_shards_are_seeded_per_shard_and_independent_of_workers_with_a_fixed_shard_size():
    dev = qphys.device("torch.qubit", shots=200, seed=5)
    x = torch.rand(12, 3, dtype=torch.float64)
    c = layer_circuit(x, torch.rand(4, dtype=torch.float64))
    runs = []
    for workers in (1, 2, 3):
        with ThreadPoolExecutor(workers) as p:
            ex = FuturesExecutor(p, shard_size=4)
            runs.append(qphys.execute(c, dev, executor=ex).values)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)
    with ThreadPoolExecutor(2) as p:
        again = qphys.execute(c, dev, executor=FuturesExecutor(p, shard_size=4)).values
    assert all(torch.equal(a, b) for a, b in zip(runs[0], again))


def test_sample_and_counts_shards_concatenate(pool):
    dev = qphys.device("torch.qubit", shots=50, seed=2)
    c = qphys.Circuit(wires=2).rx(torch.rand(7), 0).cx(0, 1).sample().counts()
    r = qphys.execute(c, dev, executor=pool)
    assert r.samples.shape == (7, 50, 2) and len(r.counts) == 7
    assert all(sum(d.values()) == 50 for d in r.counts)


def test_cv_devices_shard_with_gradients(pool):
    dev = qphys.device("torch.gaussian")
    r_ = torch.tensor([0.1, 0.3, 0.2, 0.5, 0.4], dtype=torch.float64, requires_grad=True)
    phi = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    from qphys.cv import N, X

    def circuit():
        return (qphys.Circuit(modes=2).displacement(r_, 0.0, 0).squeezing(0.2, phi, 1)
                .beamsplitter(0.4, 0.1, 0, 1).expval(X(0)).expval(N(1)))

    ref, ref_g, _ = _values_and_grads(lambda: [circuit()], dev, "parameter-shift", None, [r_, phi])
    got, got_g, _ = _values_and_grads(lambda: [circuit()], dev, "parameter-shift", pool, [r_, phi])
    for a, b in zip(got + got_g, ref + ref_g):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_aer_spreads_its_bindings_and_keeps_exact_values():
    pytest.importorskip("qphys_qiskit")
    dev = qphys.device("aer.statevector")
    assert dev.capabilities.executor
    x = torch.rand(9, 3, dtype=torch.float64)
    w = torch.rand(4, dtype=torch.float64, requires_grad=True)
    ref_v, ref_g, _ = _values_and_grads(lambda: layer_circuit(x, w), dev, "parameter-shift", None, [w])
    from qphys_qiskit import aer

    calls = []
    original = aer.aer_run_task

    def counting(*a):
        calls.append(1)
        return original(*a)

    try:
        aer.aer_run_task = counting
        with ThreadPoolExecutor(2) as p:
            v, g, _ = _values_and_grads(lambda: layer_circuit(x, w), dev, "parameter-shift", p, [w])
    finally:
        aer.aer_run_task = original
    assert len(calls) >= 2  # the forward job and the gradient job ran as executor tasks
    for a, b in zip(v + g, ref_v + ref_g):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


class _Unpicklable(qphys.Device):
    name = "unpicklable"

    def __init__(self):
        super().__init__()
        import threading

        self.lock = threading.Lock()
        self.capabilities = qphys.device("torch.qubit").capabilities

    def execute(self, circuits, config):  # pragma: no cover - never reached
        raise AssertionError


def test_a_device_that_cannot_travel_is_named_before_anything_runs(pool):
    c = qphys.Circuit(wires=1).rx(0.1, 0).expval(qphys.Z(0))
    with pytest.raises(ConfigError, match="device 'unpicklable' cannot be sent to the executor's workers"):
        qphys.execute(c, _Unpicklable(), executor=pool)
