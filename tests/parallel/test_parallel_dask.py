"""Reliability on a real Dask ``LocalCluster`` (worker processes, 2 workers), one cluster per module.

Work really runs on the workers; results equal the local ones; a worker killed mid-computation
loses nothing and adds nothing; an unreachable or vanished scheduler raises ``ClusterError``
naming its address, promptly.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch

import qphys
from qphys.errors import ClusterError

distributed = pytest.importorskip("distributed")

from distributed import get_task_stream  # noqa: E402

from qphys.kernels import QuantumKernel  # noqa: E402
from qphys.templates import zz_feature_map  # noqa: E402

#: seconds any single wait in this module may take before the test fails instead of hanging
WAIT = 120


@pytest.fixture(scope="module")
def cluster():
    ex = qphys.parallel.dask(n_workers=2, torch_threads=1, memory_limit="2GiB")
    try:
        yield ex
    finally:
        ex.shutdown()


def slow_feature_map(circuit, x):
    time.sleep(0.3)  # long enough to kill a worker while tiles are running
    return zz_feature_map(circuit, x, reps=1)


def test_workers_are_processes_with_torch_threads_set_and_no_trim_threshold(cluster):
    info = cluster.client.run(lambda: (os.getpid(), torch.get_num_threads(),
                                       os.environ.get("MALLOC_TRIM_THRESHOLD_")))
    assert len(info) == 2 and cluster.workers == 2
    pids = {v[0] for v in info.values()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(v[1] == 1 and v[2] is None for v in info.values())


def test_gram_tiles_run_on_both_workers_and_equal_the_local_matrix(cluster, dev128):
    torch.manual_seed(0)
    X = torch.rand(40, 4, dtype=torch.float64)
    local = QuantumKernel(zz_feature_map, dev128).matrix(X)
    kernel = QuantumKernel(zz_feature_map, dev128, executor=cluster, tile_size=10)
    with get_task_stream(cluster.client) as stream:
        K = kernel.matrix(X)
    torch.testing.assert_close(K, local, atol=1e-12, rtol=0)
    assert torch.equal(K, K.T)
    tiles = [t for t in stream.data if t["key"].startswith("gram_tile")]
    assert len(tiles) == kernel.last_stats["tiles"] == 10  # upper triangle of 4 x 4 blocks
    per_worker = {}
    for t in tiles:
        per_worker[t["worker"]] = per_worker.get(t["worker"], 0) + 1
    assert len(per_worker) == 2, per_worker  # both workers computed tiles
    Y = torch.rand(7, 4, dtype=torch.float64)
    torch.testing.assert_close(kernel.matrix(X, Y), QuantumKernel(zz_feature_map, dev128).matrix(X, Y),
                               atol=1e-12, rtol=0)


def test_qsvc_passes_the_executor_to_a_copy_of_its_kernel(cluster, dev128):
    import numpy as np
    from sklearn.base import clone

    from qphys.kernels import QSVC

    X = np.array([[0.1, 0.2], [0.2, 0.1], [2.0, 2.5], [2.4, 2.1], [0.15, 0.12], [2.2, 2.3]])
    y = [0, 0, 1, 1, 0, 1]
    kernel = QuantumKernel(zz_feature_map, dev128)
    with get_task_stream(cluster.client) as stream:
        remote = QSVC(kernel, executor=cluster).fit(X, y)
        decision = remote.decision_function(X)
    assert remote.kernel_.executor is cluster and kernel.executor is None  # the user's kernel is unchanged
    assert sum(t["key"].startswith("gram_tile") for t in stream.data) >= 2  # fit and decision_function
    np.testing.assert_allclose(decision, QSVC(kernel).fit(X, y).decision_function(X), atol=1e-9)
    assert clone(remote).executor is cluster


def test_sharded_execute_with_gradients_on_the_cluster(cluster, dev128):
    torch.manual_seed(2)
    x = torch.rand(9, 2, dtype=torch.float64, requires_grad=True)
    w = torch.rand(2, dtype=torch.float64, requires_grad=True)

    def run(executor):
        x.grad = w.grad = None
        c = qphys.Circuit(wires=2).ry(x[:, 0], 0).ry(x[:, 1], 1).cx(0, 1).rx(w[0], 0).rz(w[1], 1).ry(w[0], 1)
        r = qphys.execute(c.expval(qphys.Z(0) @ qphys.X(1)), dev128, executor=executor)
        r.values[0].pow(2).sum().backward()
        return r.values[0].detach(), x.grad.clone(), w.grad.clone(), r.metadata

    ref, got = run(None), run(cluster)
    assert got[3]["shards"] == 2 and got[3]["diff_method"] == "adjoint"
    for a, b in zip(got[:3], ref[:3]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_quantum_layer_trains_on_the_cluster_like_locally(cluster, dev128):
    from qphys.templates import angle_embedding, hardware_efficient

    def circuit(x, w):
        c = angle_embedding(qphys.Circuit(wires=2), x)
        return hardware_efficient(c, w).expval(qphys.Z(0)).expval(qphys.Z(1))

    torch.manual_seed(3)
    x, y = torch.rand(16, 2, dtype=torch.float64), torch.rand(16, 2, dtype=torch.float64)
    trained = []
    for executor in (None, cluster):
        torch.manual_seed(0)
        layer = qphys.nn.QuantumLayer(circuit, {"w": (2, 2, 2)}, device=dev128, executor=executor,
                                      diff_method="adjoint").to(torch.float64)
        opt = torch.optim.SGD(layer.parameters(), lr=0.3)
        for _ in range(3):
            opt.zero_grad()
            loss = ((layer(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        trained.append(layer.w.detach().clone())
    torch.testing.assert_close(trained[0], trained[1], atol=1e-12, rtol=0)


def test_sweep_on_the_cluster_equals_the_serial_sweep(cluster):
    grid = {"a": [1, 2], "b": [0.5]}
    serial = qphys.parallel.sweep(_point, grid, seeds=2, progress=False)
    remote = qphys.parallel.sweep(_point, grid, seeds=2, executor=cluster, progress=False)
    assert [r["result"][0] for r in remote] == [r["result"][0] for r in serial]
    assert {r["result"][1] for r in remote} <= set(cluster.worker_pids().values())


def _point(a, b, seed):
    import numpy as np

    return [float(a * b + np.random.default_rng(seed).random()), os.getpid()]


def test_a_worker_killed_mid_computation_loses_nothing_and_adds_nothing(cluster, dev128):
    torch.manual_seed(4)
    X = torch.rand(24, 3, dtype=torch.float64)
    local = QuantumKernel(lambda c, x: zz_feature_map(c, x, reps=1), dev128).matrix(X)
    kernel = QuantumKernel(slow_feature_map, dev128, executor=cluster, tile_size=4)  # 21 tiles
    pids = cluster.worker_pids()
    box: dict = {}

    def compute():
        try:
            box["K"] = kernel.matrix(X)
        except BaseException as exc:  # pragma: no cover - reported below
            box["error"] = exc

    with get_task_stream(cluster.client) as stream:
        t = threading.Thread(target=compute)
        t.start()
        victim = None
        deadline = time.monotonic() + WAIT
        while victim is None and time.monotonic() < deadline:
            busy = [w for w, keys in cluster.client.processing().items()
                    if any(str(k).startswith("gram_tile") for k in keys)]
            if len(busy) == 2:  # both workers hold tiles: kill one 0.4 s into its tile (0.6 s each)
                time.sleep(0.4)
                victim = busy[0]
            else:
                time.sleep(0.02)
        assert victim is not None, "no tile was running"
        os.kill(pids[victim], signal.SIGKILL)
        t.join(WAIT)
    assert not t.is_alive(), "the computation hung after the worker was killed"
    assert "error" not in box, box.get("error")
    torch.testing.assert_close(box["K"], local, atol=1e-12, rtol=0)
    assert kernel.last_stats["tiles"] == 21
    tiles = [x for x in stream.data if x["key"].startswith("gram_tile")]
    assert 21 <= len(tiles) <= 23  # every tile once, plus re-runs of those the dead worker held
    new_pids = cluster.worker_pids()
    assert pids[victim] not in new_pids.values()  # the nanny started a new worker process
    deadline = time.monotonic() + WAIT
    while len(cluster.worker_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)


def test_an_unreachable_scheduler_raises_promptly_naming_the_address():
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 within 2 s"):
        qphys.parallel.dask("tcp://127.0.0.1:9", timeout=2)
    assert time.monotonic() - t0 < 30


def test_a_scheduler_that_goes_away_raises_cluster_error_naming_it(dev128):
    ex = qphys.parallel.dask(n_workers=1, processes=False)
    address = ex.address
    try:
        c = qphys.Circuit(wires=1).rx(torch.rand(4), 0).expval(qphys.Z(0))
        assert qphys.execute(c, dev128, executor=ex).values[0].shape == (4,)
        future = ex.submit(time.sleep, 2)
        ex.cluster.sync(ex.cluster.scheduler.close)
        t0 = time.monotonic()
        with pytest.raises(ClusterError, match=f"the Dask scheduler at {address} is gone"):
            qphys.parallel.run_tasks(ex, time.sleep, [(2,)])
        with pytest.raises(Exception):  # noqa: B017 - cancelled or ClusterError, never a hang
            future.result(timeout=WAIT)
        assert time.monotonic() - t0 < WAIT
    finally:
        ex.shutdown(wait=False)


def test_decoder_evaluation_runs_on_both_workers_with_the_serial_counts(cluster):
    from qphys.rl.codes import ToricCode, surface_code_memory_circuit
    from qphys.rl.decoders import MWPMDecoder, evaluate

    code, circuit = ToricCode(5), surface_code_memory_circuit(3, p=0.01)
    serial = evaluate(MWPMDecoder(code), code, "bitflip", 0.08, 8000, seed=21, batch_size=1000)
    with get_task_stream(cluster.client) as stream:
        remote = evaluate(MWPMDecoder(code), code, "bitflip", 0.08, 8000, seed=21, batch_size=1000,
                          executor=cluster)
    assert remote.failures == serial.failures > 0
    tasks = [t for t in stream.data if t["key"].startswith("evaluate_shipped")]
    assert len(tasks) == 8 and len({t["worker"] for t in tasks}) == 2  # one chunk per task, both workers
    s_stim = evaluate(MWPMDecoder(circuit), circuit, shots=3000, seed=5, batch_size=1000)
    r_stim = evaluate(MWPMDecoder(circuit), circuit, shots=3000, seed=5, batch_size=1000, executor=cluster)
    assert r_stim.failures == s_stim.failures > 0
