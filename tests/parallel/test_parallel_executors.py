"""qphys.parallel without a Dask cluster: executors, seeds, shards, sweeps (resuming after a kill),
SLURM/PBS job scripts, and the one-worker-per-GPU specs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import qphys
from qphys.errors import ConfigError, MissingDependencyError, ResourceError
from qphys.parallel import (
    FuturesExecutor,
    as_executor,
    gpu_worker_specs,
    load_store,
    payload,
    shard_ranges,
    spawn_seeds,
    sweep,
    worker_environment,
)


def square_with_pid(x, seed):
    return {"y": x * x, "pid": os.getpid(), "seed_mod": seed % 1000}


def noisy_mean(mu, seed):
    return float(np.random.default_rng(seed).normal(mu, 1.0, size=100).mean())


def test_local_executor_runs_tasks_and_sweeps_in_other_processes_with_torch_threads_set():
    grid = [{"x": 1}, {"x": 2}, {"x": 3}]
    serial = sweep(square_with_pid, grid, progress=False)
    with qphys.parallel.local(workers=2, torch_threads=1) as ex:
        assert ex.workers == 2
        threads = ex.submit(_torch_threads).result(timeout=120)
        remote = sweep(square_with_pid, grid, executor=ex, progress=False)
    assert threads == 1
    assert [r["result"]["y"] for r in remote] == [1, 4, 9]
    assert [r["result"]["seed_mod"] for r in remote] == [r["result"]["seed_mod"] for r in serial]
    assert {r["result"]["pid"] for r in remote}.isdisjoint({os.getpid()})


def _torch_threads():
    import torch

    return torch.get_num_threads()


def test_as_executor_accepts_futures_executors_and_rejects_the_rest():
    pool = ThreadPoolExecutor(max_workers=3)
    ex = as_executor(pool)
    assert isinstance(ex, FuturesExecutor) and ex.workers == 3
    assert as_executor(ex) is ex and as_executor(None) is None
    import copy

    assert copy.deepcopy(ex) is ex  # sklearn's clone shares executors
    with pytest.raises(ConfigError, match="concurrent.futures.Executor, got str"):
        as_executor("tcp://somewhere:8786")
    with pytest.raises(ConfigError, match="executor must be"):
        qphys.RunConfig(executor=42)
    assert isinstance(qphys.RunConfig(executor=pool).executor, FuturesExecutor)
    pool.shutdown()


def test_counts_are_validated_before_anything_starts():
    with pytest.raises(ConfigError, match="workers must be a positive integer"):
        qphys.parallel.local(workers=0)
    with pytest.raises(ConfigError, match="torch_threads must be a positive integer"):
        qphys.parallel.dask(torch_threads=0)
    with pytest.raises(ConfigError, match="n_workers and cluster options apply to the embedded LocalCluster"):
        qphys.parallel.dask("tcp://127.0.0.1:1", n_workers=2)


def test_unpicklable_things_are_named_before_any_task_runs():
    import threading

    with pytest.raises(ConfigError, match="the lock cannot be sent to the executor's workers"):
        payload(threading.Lock(), "the lock")


def test_spawned_seeds_do_not_depend_on_how_many_are_drawn():
    a, b = spawn_seeds(11, 4), spawn_seeds(11, 9)
    assert a == b[:4] and len(set(b)) == 9
    assert all(0 <= s < 2**63 for s in b)
    children = np.random.SeedSequence(11).spawn(2)
    assert a[0] == int(children[0].generate_state(1, np.uint64)[0] >> np.uint64(1))


def test_shard_ranges_cover_everything_once():
    for total in (1, 7, 100):
        for shards in (1, 3, 8):
            r = shard_ranges(total, shards=shards)
            assert r[0][0] == 0 and r[-1][1] == total
            assert all(a < b for a, b in r) and all(r[i][1] == r[i + 1][0] for i in range(len(r) - 1))
            assert max(b - a for a, b in r) - min(b - a for a, b in r) <= 1
    assert shard_ranges(0, shards=3) == []


def test_worker_environment_unsets_the_trim_threshold():
    env = worker_environment(3)
    assert env["MALLOC_TRIM_THRESHOLD_"] is None  # Dask's nanny reads None as "do not set"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == 3


# ---- sweeps ---------------------------------------------------------------------------------------
def test_sweep_records_grid_times_seeds_in_order_with_shared_replicate_seeds():
    recs = sweep(noisy_mean, {"mu": [0.0, 5.0]}, seeds=3, seed=4, progress=False)
    assert [(r["params"]["mu"], r["replicate"]) for r in recs] == [(0.0, 0), (0.0, 1), (0.0, 2),
                                                                    (5.0, 0), (5.0, 1), (5.0, 2)]
    seeds = spawn_seeds(4, 3)
    assert [r["seed"] for r in recs] == seeds * 2
    assert recs[3]["result"] == pytest.approx(recs[0]["result"] + 5.0)  # common random numbers
    threaded = sweep(noisy_mean, {"mu": [0.0, 5.0]}, seeds=3, seed=4, progress=False,
                     executor=ThreadPoolExecutor(2))
    assert [r["result"] for r in threaded] == [r["result"] for r in recs]


def test_sweep_validates_grid_and_store():
    with pytest.raises(ConfigError, match="grid\\['lr'\\] is empty"):
        sweep(noisy_mean, {"lr": []})
    with pytest.raises(ConfigError, match="grid must be a dict"):
        sweep(noisy_mean, 3)
    with pytest.raises(ConfigError, match="needs a fixed seed"):
        sweep(noisy_mean, {"mu": [1.0]}, seed=None, store="x.jsonl")


KILLABLE_SWEEP = textwrap.dedent(
    """
    import sys, time
    from qphys.parallel import sweep

    def slow_square(x, seed):
        time.sleep(0.4)
        return x * x

    sweep(slow_square, {"x": list(range(12))}, store=sys.argv[1], progress=False)
    """
)


def test_a_killed_sweep_rerun_computes_only_the_missing_points(tmp_path):
    store = tmp_path / "sweep.jsonl"
    script = tmp_path / "killable_sweep.py"
    script.write_text(KILLABLE_SWEEP)
    proc = subprocess.Popen([sys.executable, str(script), str(store)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if store.exists() and len(load_store(store)) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"the sweep ended before it was killed (rc {proc.returncode})")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done_before = {r["params"]["x"] for r in load_store(store)}
    assert 3 <= len(done_before) < 12

    computed = []

    def counting_square(x, seed):
        computed.append(x)
        return x * x

    recs = sweep(counting_square, {"x": list(range(12))}, store=store, progress=False)
    assert sorted(computed) == sorted(set(range(12)) - done_before)  # only what was missing
    assert [r["result"] for r in recs] == [x * x for x in range(12)]
    assert len(load_store(store)) == 12  # each record written once
    again = []
    sweep(lambda x, seed: again.append(x), {"x": list(range(12))}, store=store, progress=False)
    assert again == []


def test_a_torn_last_line_is_skipped(tmp_path):
    store = tmp_path / "s.jsonl"
    rec = {"params": {"x": 1}, "replicate": 0, "seed": spawn_seeds(0, 1)[0], "result": 1, "seconds": 0.0}
    store.write_text(json.dumps(rec) + "\n" + '{"params": {"x": 2}, "repl')
    assert load_store(store) == [rec]


# ---- batch systems and GPUs -----------------------------------------------------------------------
def test_slurm_job_script_asks_for_cores_memory_walltime_and_one_task_per_worker():
    with qphys.parallel.slurm(cores=8, memory="16GB", walltime="02:30:00", jobs=0, torch_threads=2,
                              queue="gpu", account="qml") as ex:
        script = ex.cluster.job_script()
    assert "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH --mem=15G" in script  # dask-jobqueue writes 16 GB as 15 GiB
    assert "#SBATCH -t 02:30:00" in script
    assert "#SBATCH -p gpu" in script and "#SBATCH -A qml" in script
    assert "-m distributed.cli.dask_worker" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script  # 4 workers x 2 torch threads = 8 cores
    assert "--nanny" in script
    line = next(ln for ln in script.splitlines() if "DASK_INTERNAL_INHERIT_CONFIG" in ln)
    import dask.config

    cfg = dask.config.deserialize(line.split("=", 1)[1])
    env = cfg["distributed"]["nanny"]["pre-spawn-environ"]
    assert env["MALLOC_TRIM_THRESHOLD_"] is None and env["OMP_NUM_THREADS"] == 2


def test_pbs_job_script_and_impossible_splits():
    with qphys.parallel.pbs(cores=4, memory="8GB", walltime="00:10:00", jobs=0) as ex:
        script = ex.cluster.job_script()
    assert "#PBS -l select=1:ncpus=4:mem=8GB" in script and "#PBS -l walltime=00:10:00" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script
    with pytest.raises(ConfigError, match="3 worker processes x 2 torch threads need 6 cores but a job has cores=4"):
        qphys.parallel.jobqueue_cluster("slurm", cores=4, memory="8GB", processes=3, torch_threads=2)
    with pytest.raises(ConfigError, match="system must be 'slurm', 'pbs' or 'sge', got 'lsf'"):
        qphys.parallel.jobqueue_cluster("lsf", cores=4, memory="8GB")


def test_sge_job_script_asks_for_slots_per_slot_memory_walltime_and_the_worker_config():
    with qphys.parallel.sge(cores=8, memory="32GB", walltime="04:00:00", jobs=0, torch_threads=2,
                            parallel_environment="threaded", queue="long.q", project="qml") as ex:
        script = ex.cluster.job_script()
    assert "#$ -pe threaded 8" in script
    assert "#$ -l h_vmem=3814M" in script  # 32 GB over 8 slots, per slot as SGE counts it
    assert "#$ -l h_rt=04:00:00" in script and "#$ -q long.q" in script and "#$ -P qml" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script and "--nanny" in script
    assert "DASK_INTERNAL_INHERIT_CONFIG" in script


def test_one_worker_per_gpu_specs_pin_each_worker_to_its_gpu():
    specs = gpu_worker_specs(["0", "1", "GPU-7f3a"])
    assert [s["options"]["env"]["CUDA_VISIBLE_DEVICES"] for s in specs.values()] == ["0", "1", "GPU-7f3a"]
    assert all(s["options"]["nthreads"] == 1 and s["options"]["resources"] == {"GPU": 1} for s in specs.values())
    with pytest.raises(ConfigError, match="distinct"):
        gpu_worker_specs(["0", "0"])
    with pytest.raises(ResourceError, match="at least one"):
        gpu_worker_specs([])


def test_cuda_executor_without_gpus_says_so(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ResourceError, match="no CUDA device is visible"):
        qphys.parallel.cuda()


def test_cuda_executor_asked_for_dask_cuda_without_it_names_the_extra():
    pytest.importorskip("distributed")
    import importlib.util

    if importlib.util.find_spec("dask_cuda") is not None:
        pytest.skip("dask-cuda is installed here")
    with pytest.raises(MissingDependencyError, match="dask_cuda"):
        qphys.parallel.cuda(["0"], use_dask_cuda=True)


def one_worker_per_gpu_env():
    return os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_gpu_workers_each_see_their_own_gpu_id():
    """The real CUDA_VISIBLE_DEVICES mechanism, on CPU workers: each worker process gets its id."""
    pytest.importorskip("distributed")
    with qphys.parallel.cuda(["0", "1"], use_dask_cuda=False) as ex:
        seen = ex.client.run(one_worker_per_gpu_env)
    assert sorted(v[0] for v in seen.values()) == ["0", "1"]
    assert all(v[1] is None for v in seen.values())


def test_cluster_kernel_example_renders_its_slurm_job_script(capsys):
    import runpy
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "cluster_kernel.py"
    main = runpy.run_path(str(example), run_name="cluster_kernel_example")["main"]
    assert main(["--cluster", "slurm", "--job-script", "--cores", "16", "--memory", "32GB",
                 "--walltime", "03:00:00", "--torch-threads", "2", "--queue", "short"]) == 0
    script = capsys.readouterr().out
    assert "#SBATCH --cpus-per-task=16" in script and "#SBATCH -t 03:00:00" in script
    assert "#SBATCH -p short" in script and "#SBATCH --mem=30G" in script
    assert "--nworkers 8" in script and "--nthreads 1" in script and "DASK_INTERNAL_INHERIT_CONFIG" in script
