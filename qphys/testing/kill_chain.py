"""Kill-and-rerun chains for transports: is every job paid exactly once?

A *chain* runs a fixed workload of jobs through :class:`qphys.jobs.JobRunner` in real processes,
kills each run with ``SIGKILL`` at a chosen kill point (:data:`qphys.jobs.faults.KILL_POINTS`,
through ``QPHYS_KILL_AT``), re-runs, and finally runs to completion. A correct transport and
runner leave the provider with exactly one accepted submission per distinct job, lose no job,
and return results bit-identical to an uninterrupted run. Several workers can also run the same
workload on one ledger at once (:func:`run_concurrent`).

The workload is ``jobs`` specs ``job-0 .. job-{jobs-1}`` run ``batch`` at a time; the payload of
``job-i`` is ``{"job": i}``. A transport under test is named by a factory ``"module:callable"``
called as ``factory(workdir)``; it must compute (or have its provider compute)
:func:`reference_result` for each payload, and the test counts the provider's accepted
submissions its own way. The built-in :func:`local_server` factory serves
:class:`~qphys.jobs.LocalServerTransport` around :class:`ComputeTransport`; a plugin tests its own
transport (a fake of its provider's API) the same way.

Examples:
    >>> import tempfile
    >>> from qphys.testing.kill_chain import reference_result, run_workload
    >>> out = run_workload("qphys.testing.kill_chain:local_server", tempfile.mkdtemp(), jobs=2, batch=2)
    >>> bool((out["job-1"] == reference_result(1)).all())
    True
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qphys.jobs import JobRunner, JobSpec, Ledger, LocalServerTransport, RetryPolicy, Transport
from qphys.jobs.faults import KILL_ENV

#: Return code of a process killed by SIGKILL (``subprocess`` reports ``-9``).
KILLED = -9


def reference_result(job: int, size: int = 4) -> np.ndarray:
    """The result of ``job-<job>``: seeded normal draws (the same bits in every process)."""
    return np.random.default_rng(job).standard_normal(size)


class ComputeTransport(Transport):
    """An in-process "provider" computing :func:`reference_result` for ``{"job": i}`` payloads."""

    name = "compute"
    can_reattach = False

    def __init__(self):
        self._jobs: dict[str, dict] = {}

    def submit(self, payload, idempotency_key):
        job_id = f"c-{len(self._jobs)}-{payload['job']}"
        self._jobs[job_id] = payload
        return job_id

    def result(self, job_id, timeout=None):
        payload = self._jobs.pop(job_id)
        return {"values": reference_result(int(payload["job"]))}


def local_server(workdir, latency: float = 0.0) -> LocalServerTransport:
    """Factory: a :class:`~qphys.jobs.LocalServerTransport` in ``workdir/server`` computing with
    :class:`ComputeTransport` (``QPHYS_CHAIN_LATENCY`` sets the server's latency)."""
    latency = float(os.environ.get("QPHYS_CHAIN_LATENCY", latency))
    return LocalServerTransport(Path(workdir) / "server", ComputeTransport(), latency=latency)


def _factory(name: str):
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_workload(factory: str, workdir, *, jobs: int = 6, batch: int = 3, device: str = "chain") -> dict:
    """Run the workload in this process; returns ``{"job-i": values}`` (see the module docstring)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    transport = _factory(factory)(workdir)
    ledger = Ledger(workdir / "jobs.sqlite", timeout=60.0)
    runner = JobRunner(device, transport, ledger=ledger,
                       retry=RetryPolicy(max_retries=10, base_delay=0.01, max_delay=0.2, seed=0), poll=0.05)
    specs = [JobSpec(f"job-{i}", {"job": i}, expected={"values": 4}) for i in range(jobs)]
    out = {}
    for start in range(0, jobs, batch):
        part = specs[start:start + batch]
        for spec, arrays in zip(part, runner.run_many(part)):
            out[spec.key] = arrays["values"]
    run_workload.last_stats = runner.stats.as_dict()
    return out


@dataclass
class RunRecord:
    """One process of a chain: its kill point (``None``: run to the end) and return code."""

    kill_at: str | None
    returncode: int
    stderr: str = ""
    stats: dict = field(default_factory=dict)


@dataclass
class ChainReport:
    """What a chain did: every run, and the final results (``None`` if the last run failed)."""

    runs: list[RunRecord]
    results: dict[str, np.ndarray] | None


def _base_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.pop(KILL_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
    env.update(extra or {})
    return env


def _load(out: Path) -> dict[str, np.ndarray]:
    with np.load(out, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def can_fork() -> bool:
    """Whether workers are forked from a pre-imported helper process (Linux) instead of started
    afresh (each fresh start re-imports torch: about 2 s of CPU)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class _Zygote:
    """A helper process that imports qphys once and forks one child per run.

    The children are ordinary processes with their own pids, killed by ``SIGKILL`` at their kill
    point exactly like freshly started ones; forking only saves the start-up.
    """

    def __init__(self, env: dict | None):
        self.proc = subprocess.Popen([sys.executable, "-m", "qphys.testing.kill_chain", "--zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_base_env(env))

    def run(self, runs: list[dict], timeout: float) -> list[dict]:
        self.proc.stdin.write(json.dumps(runs) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the kill-chain helper process exited with {self.proc.wait(timeout)}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck helper
                self.proc.kill()


def _fork_runs(runs: list[dict]) -> list[dict]:
    """In the helper: fork one child per run (all at once), wait for all, report each."""
    children = []
    for r in runs:
        err_path = Path(r["out"]).with_suffix(".err")
        pid = os.fork()
        if pid == 0:  # the child: a separate process from here on
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            code = 1
            try:
                os.environ.pop(KILL_ENV, None)
                os.environ.update(r.get("env") or {})
                if r.get("kill_at"):
                    os.environ[KILL_ENV] = r["kill_at"]
                _worker(r["factory"], r["workdir"], r["jobs"], r["batch"], r["out"])
                code = 0
            except BaseException:  # noqa: BLE001 - reported through the error file
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append((pid, err_path))
    report = []
    for pid, err_path in children:
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        text = err_path.read_text(errors="replace") if err_path.exists() else ""
        report.append({"returncode": rc, "stderr": text[-4000:], "stats": _stats(text)})
    return report


def _worker(factory, workdir, jobs, batch, out) -> None:
    results = run_workload(factory, workdir, jobs=jobs, batch=batch)
    tmp = Path(out).with_suffix(".tmp.npz")
    np.savez(tmp, **results)
    os.replace(tmp, out)
    print("STATS " + json.dumps(run_workload.last_stats), flush=True)


def _stats(text: str) -> dict:
    for line in text.splitlines():
        if line.startswith("STATS "):
            return json.loads(line[6:])
    return {}


def _spawn_runs(runs: list[dict], timeout: float) -> list[dict]:
    """Start one fresh interpreter per run (all at once), wait for all, report each."""
    procs = []
    for r in runs:
        cmd = [sys.executable, "-m", "qphys.testing.kill_chain", "--factory", r["factory"], "--workdir",
               r["workdir"], "--jobs", str(r["jobs"]), "--batch", str(r["batch"]), "--out", r["out"]]
        env = _base_env(r.get("env"))
        if r.get("kill_at"):
            env[KILL_ENV] = r["kill_at"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    report = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        report.append({"returncode": proc.returncode, "stderr": stderr[-4000:], "stats": _stats(stdout)})
    return report


class Chain:
    """Runs of one workload on one folder (a ledger and the transport's state).

    Args:
        factory: ``"module:callable"`` building the transport from the folder.
        workdir: the folder.
        jobs, batch: the workload.
        env: extra environment variables of every run.
        fork: fork runs from a helper process (default: where :func:`can_fork`).
        timeout: seconds per round of runs.

    Examples:
        >>> import tempfile
        >>> from qphys.testing.kill_chain import Chain
        >>> with Chain("qphys.testing.kill_chain:local_server", tempfile.mkdtemp()) as chain:  # doctest: +SKIP
        ...     killed = chain.round(["server.accepted@1", "runner.fetched@2"])  # two workers at once
        ...     [record.returncode for record, _ in killed + chain.round([None])]
        [-9, -9, 0]
    """

    def __init__(self, factory: str, workdir, *, jobs: int = 6, batch: int = 3, env: dict | None = None,
                 fork: bool | None = None, timeout: float = 300.0):
        self.factory, self.workdir, self.jobs, self.batch = factory, Path(workdir), jobs, batch
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env, self.timeout = dict(env or {}), timeout
        self._zygote = _Zygote(self.env) if (can_fork() if fork is None else fork) else None
        self._count = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()

    def round(self, kill_points: Sequence[str | None], env: dict | None = None) -> list[tuple[RunRecord, dict | None]]:
        """Start one worker per entry of ``kill_points`` at once; wait for all. Returns
        ``(record, results or None)`` per worker."""
        runs = []
        for point in kill_points:
            self._count += 1
            runs.append({"factory": self.factory, "workdir": str(self.workdir), "jobs": self.jobs, "batch": self.batch,
                         "out": str(self.workdir / f"run-{self._count}.npz"), "kill_at": point,
                         "env": {**self.env, **(env or {})}})
        report = self._zygote.run(runs, self.timeout) if self._zygote else _spawn_runs(runs, self.timeout)
        out = []
        for r, rep in zip(runs, report):
            record = RunRecord(r["kill_at"], rep["returncode"], rep["stderr"], rep["stats"])
            out.append((record, _load(Path(r["out"])) if rep["returncode"] == 0 else None))
        return out


def run_chain(factory: str, workdir, kill_points: Sequence[str], *, jobs: int = 6, batch: int = 3,
              env: dict | None = None, fork: bool | None = None, timeout: float = 300.0) -> ChainReport:
    """Run the workload once per kill point (each run killed there), then once to completion.

    Args:
        factory: ``"module:callable"`` building the transport from ``workdir``.
        workdir: folder of the ledger and whatever the transport keeps.
        kill_points: ``QPHYS_KILL_AT`` of each killed run (``"name"`` or ``"name@n"``).
        jobs, batch: the workload.
        env: extra environment variables of every run.
        fork: see :class:`Chain`.
        timeout: seconds per run.
    """
    with Chain(factory, workdir, jobs=jobs, batch=batch, env=env, fork=fork, timeout=timeout) as chain:
        runs, results = [], None
        for point in [*kill_points, None]:
            (record, results), = chain.round([point])
            runs.append(record)
    return ChainReport(runs, results)


def run_concurrent(factory: str, workdir, kill_points: Sequence[str | None], *, jobs: int = 6, batch: int = 3,
                   env: dict | None = None, fork: bool | None = None,
                   timeout: float = 300.0) -> list[tuple[RunRecord, dict | None]]:
    """Start one worker per entry of ``kill_points`` at once on one ledger; wait for all.

    Returns ``(record, results or None)`` per worker.
    """
    with Chain(factory, workdir, jobs=jobs, batch=batch, env=env, fork=fork, timeout=timeout) as chain:
        return chain.round(kill_points)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="one worker of a kill chain (see qphys.testing.kill_chain)")
    p.add_argument("--zygote", action="store_true", help="serve forked runs: one JSON list of runs per stdin line")
    p.add_argument("--factory")
    p.add_argument("--workdir")
    p.add_argument("--jobs", type=int, default=6)
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args(argv)
    if args.zygote:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_fork_runs(json.loads(line))), flush=True)
        return 0
    _worker(args.factory, args.workdir, args.jobs, args.batch, args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the chain
    sys.exit(main())
