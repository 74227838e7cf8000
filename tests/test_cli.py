"""The ``qphys`` command line, run as a user runs it (a subprocess of the installed script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QPHYS = [sys.executable, "-m", "qphys.cli"]


def run(*args, cwd=None, timeout=300):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    return subprocess.run([*QPHYS, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_devices_lists_torch_qubit():
    p = run("devices")
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("torch.qubit"))
    assert "yes" in line and "qubit" in line and "backprop,adjoint" in line
    p = run("devices", "--json")
    assert p.returncode == 0, p.stderr
    names = [r["name"] for r in json.loads(p.stdout)]
    assert "torch.qubit" in names


def test_check_device_torch_qubit_passes(tmp_path):
    p = run("check-device", "torch.qubit", cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert " passed" in p.stdout and " failed" not in p.stdout


def test_demo_quick_classifier_writes_plot(tmp_path):
    out = tmp_path / "demo"
    p = run("demo", "--quick", "--section", "classifier", "--no-progress", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    plot = out / "classifier_loss.png"
    assert plot.is_file() and plot.stat().st_size > 1000
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((out / "results.json").read_text())
    acc = results["classifier"]["test_accuracy"]
    assert 0.0 <= acc <= 1.0
    assert "test accuracy" in p.stdout


def test_demo_unknown_section_is_an_error(tmp_path):
    from qphys.demo import run_demo

    with pytest.raises(ValueError, match=r"unknown demo section\(s\) \['nosuch'\]; available: .*classifier"):
        run_demo(out_dir=tmp_path, quick=True, progress=False, only=["nosuch"])


@pytest.mark.parametrize("argv", [["--help"], ["devices", "--help"], ["check-device", "--help"], ["demo", "--help"]])
def test_help(argv, capsys):
    from qphys.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 0
    assert "usage: qphys" in capsys.readouterr().out


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "qphys"
    assert script.exists(), "the qphys console script is not installed next to the interpreter"


def test_check_device_passes_extra_args_to_pytest(monkeypatch):
    import pytest as pytest_module

    from qphys import cli

    seen = {}
    monkeypatch.setattr(pytest_module, "main", lambda argv: seen.setdefault("argv", argv) and 0)
    assert cli.main(["check-device", "torch.qubit", "--shots", "100", "--", "-x", "-k", "test_gate"]) == 0
    argv = seen["argv"]
    assert argv[argv.index("--qphys-device") + 1] == "torch.qubit"
    assert argv[argv.index("--qphys-shots") + 1] == "100"
    assert argv[-3:] == ["-x", "-k", "test_gate"]
    with pytest.raises(SystemExit):
        cli.main(["devices", "--", "-x"])
