"""The prepared GPU run (``scripts/gpu_check.sh``, ``benchmarks/gpu.py``) exercised on the CPU.

The GPU machine is lent for minutes at a time: these dry runs make sure the one GPU run does not fail on
a typo, a renamed API or a broken step of the script.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH_PARTS = ["bandwidth", "variational", "gram", "born", "fock", "decoder", "linear_optics", "nqs", "flows"]


def _load_gpu_benchmark():
    spec = importlib.util.spec_from_file_location("qphys_gpu_benchmark", ROOT / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_cpu_dry_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env["PYTHON"] = sys.executable
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--cpu", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    summary = (tmp_path / "gpu_check.log").read_text()
    assert proc.returncode == 0, summary + proc.stderr + (tmp_path / "gpu_bench.log").read_text()[-4000:]
    assert "done: 0 failed step(s)" in summary
    assert "gpu-tests: ok" in summary and "skipped" in (tmp_path / "gpu_tests.log").read_text()

    data = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert data["env"]["torch"] and data["env"]["gpu"] is None
    for part in BENCH_PARTS:
        assert data["parts"][part]["status"] == "ok", (part, data["parts"][part])
        rows = [r for r in data["rows"] if r["part"] == part]
        assert rows and not any("skipped" in r for r in rows), (part, rows)
    modes = {(r["mode"], r["n"], r["batch"]) for r in data["rows"] if r["part"] == "variational"}
    assert modes == {(m, n, b) for m in ("forward", "forward+backward (adjoint)", "forward+backward (backprop)")
                     for n in (6, 8) for b in (1, 4)}
    forward = [r for r in data["rows"] if r["part"] == "variational" and r["mode"] == "forward"]
    assert all(r["ms"] > 0 and 0 < r["fraction_of_bound_per_gate"] for r in forward)
    gram = next(r for r in data["rows"] if r["part"] == "gram")
    assert gram["max_abs_diff_vs_cpu_complex128"] < 1e-5 and gram["max_abs_diag_minus_1"] < 1e-5

    markdown = (tmp_path / "gpu_bench.md").read_text()
    assert markdown.startswith("## GPU") and "Command: `scripts/gpu_check.sh --cpu`" in markdown
    assert "### Summary: variational step" in markdown
    for part in BENCH_PARTS:
        assert f"### {part}\n" in markdown


def test_tensorcircuit_agrees_with_torch_qubit(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("tensorcircuit")
    gpu = _load_gpu_benchmark()
    bench = gpu.Bench("cpu", tiny=True, deadline=None, out=tmp_path / "tc.json")
    gpu.part_tensorcircuit(bench)
    rows = [r for r in bench.data["rows"] if r["part"] == "tensorcircuit"]
    assert [(r["n"], r["batch"]) for r in rows] == [(6, 1), (6, 4)]
    for row in rows:
        assert "skipped" not in row, row
        assert row["max_abs_grad_diff_vs_qphys"] < 1e-5 and row["max_abs_value_diff_vs_qphys"] < 1e-5


def test_gate_counts_of_the_variational_circuit():
    gpu = _load_gpu_benchmark()
    gates, passes = gpu.gate_counts(6)
    # RY embedding + 4 x (RY, RZ on each wire + a 6-CNOT ring)
    assert gates == 6 + 4 * (2 * 6 + 6)
    # fused passes (plus the product-state pass and the <Z0> read) are fewer than the gates
    assert 2 < passes < gates


def test_gpu_benchmark_rejects_unknown_parts(capsys):
    gpu = _load_gpu_benchmark()
    with pytest.raises(SystemExit):
        gpu.main(["--cpu", "--parts", "variational,warp_drive"])
    assert "unknown parts ['warp_drive']" in capsys.readouterr().err
