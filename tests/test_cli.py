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


HEAVY_FRAMEWORKS = ("qiskit", "qiskit_aer", "qiskit_ibm_runtime", "pennylane", "strawberryfields", "thewalrus",
                    "perceval", "exqalibur")


def test_devices_listing_imports_no_plugin_framework():
    """`qphys devices` reads entry-point metadata: no plugin framework is imported (they cost seconds)."""
    code = (
        "import sys\n"
        "from qphys import cli\n"
        "status = cli.main(['devices'])\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY_FRAMEWORKS!r})\n"
        "print('HEAVY', heavy, status)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == "HEAVY [] 0", p.stdout[-3000:]
    names = [ln.split()[0] for ln in p.stdout.splitlines()[1:-2]]
    # families are expanded through their plugins' metadata-only listers (where installed)
    for installed, expected in (("qphys_qiskit", "ibm.fake_manila"), ("qphys_pennylane", "pennylane.default.qubit")):
        if __import__("importlib").util.find_spec(installed) is not None:
            assert expected in names
    torch_qubit = next(ln for ln in p.stdout.splitlines() if ln.startswith("torch.qubit "))
    assert "backprop,adjoint" in torch_qubit  # qphys' own devices show capabilities


def test_devices_capabilities_loads_plugins():
    p = run("devices", "--capabilities", "--json")
    assert p.returncode == 0, p.stderr
    rows = {r["name"]: r for r in json.loads(p.stdout)}
    assert "capabilities" in rows["torch.qubit"] and all("capabilities" in r or "error" in r for r in rows.values())


def test_devices_prints_no_warning():
    """Listing builds no fake IBM backend (one of them warns about its calibration data when built)."""
    env = dict(os.environ, PYTHONWARNINGS="default")
    p = subprocess.run([*QPHYS, "devices"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Warning" not in p.stderr, p.stderr[-2000:]
    assert "ibm.fake_manila" in p.stdout


def test_check_device_torch_qubit_passes(tmp_path):
    p = run("check-device", "torch.qubit", cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    summary = p.stdout.strip().splitlines()[-1]
    assert summary.startswith("torch.qubit (exact): ") and " 0 failed" in summary
    assert int(summary.split(": ")[1].split(" passed")[0]) >= 40


def test_check_device_unknown_name_is_one_line():
    p = run("check-device", "torch.qbit")
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr[-3000:]
    assert lines[0].startswith("qphys: error: no device named 'torch.qbit'") and "torch.qubit" in lines[0]


def test_check_device_select_and_failure_exit_status(capsys):
    from qphys import cli

    assert cli.main(["check-device", "torch.qubit", "-k", "test_gate[cx]", "-v"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PASSED   conformance_qubit::test_gate[cx]"
    assert out[-1].startswith("torch.qubit (exact): 1 passed, 0 failed, 0 skipped")
    # torch.fock passes at its default cutoff (10); at cutoff 4 the squeezed vacuum is truncated,
    # the check fails (exit 1) and its message points at the cutoff
    assert cli.main(["check-device", "torch.fock", "-k", "test_squeezing"]) == 0
    capsys.readouterr()
    assert cli.main(["check-device", "torch.fock", "-k", "test_squeezing", "--options", '{"cutoff": 4}']) == 1
    out = capsys.readouterr().out
    assert "FAILED   conformance_cv::test_squeezing: squeezed vacuum" in out
    assert "past its Fock cutoff: raise its cutoff" in out


def test_check_device_bad_options_and_empty_selection(capsys):
    from qphys import cli

    assert cli.main(["check-device", "torch.qubit", "--options", "dtype=complex128"]) == 2
    assert "--options must be a JSON object" in capsys.readouterr().err
    assert cli.main(["check-device", "torch.qubit", "-k", "no_such_check"]) == 2
    assert "no conformance check matches --select 'no_such_check'" in capsys.readouterr().err


def test_demo_quick_classifier_writes_plot(tmp_path):
    out = tmp_path / "demo"
    p = run("demo", "--quick", "--section", "classifier", "--no-progress", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    plot = out / "classifier_loss.png"
    assert plot.is_file() and plot.stat().st_size > 1000
    head = plot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert width > 2 * height  # two panels: the loss and the decision boundary
    results = json.loads((out / "results.json").read_text())
    acc = results["classifier"]["test_accuracy"]
    assert 0.0 <= acc <= 1.0
    assert "test accuracy" in p.stdout


def test_demo_unknown_section_is_an_error(tmp_path):
    from qphys.demo import run_demo
    from qphys.errors import ConfigError

    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"unknown demo section\(s\) \['nosuch'\]; available: .*classifier"):
        run_demo(out_dir=out, quick=True, progress=False, only=["nosuch"])
    assert not out.exists()  # nothing written before the check


def test_demo_unknown_section_on_the_command_line(tmp_path, capsys):
    from qphys import cli

    assert cli.main(["demo", "--section", "foo", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qphys: error: unknown demo section(s) ['foo']; available: classifier, kernels")
    assert err.count("\n") == 1


def test_demo_help_lists_the_sections(capsys):
    from qphys.cli import build_parser
    from qphys.demo import sections

    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--help"])
    out = capsys.readouterr().out
    for sec in sections():
        assert f"  {sec.name:14} {sec.title}" in out


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


def test_bench_runs_scripts_from_a_folder_not_from_the_package(tmp_path, capsys):
    from qphys import cli

    assert cli.main(["bench", "--dir", str(tmp_path / "none")]) == 2
    assert "no benchmarks folder at" in capsys.readouterr().err
    (tmp_path / "hello.py").write_text("import sys; print('quick' if '--quick' in sys.argv else 'full')")
    (tmp_path / "_helper.py").write_text("raise SystemExit(3)")
    assert cli.main(["bench", "--dir", str(tmp_path), "--quick"]) == 0
    assert cli.main(["bench", "nosuch", "--dir", str(tmp_path)]) == 2
    assert "no benchmark named nosuch; available: hello" in capsys.readouterr().err


def test_wheel_ships_only_the_qphys_package(tmp_path):
    """benchmarks/, examples/ and tests/ stay out of the installed distribution."""
    import shutil
    import zipfile

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    for name in ("qphys", "benchmarks", "examples"):
        shutil.copytree(root / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "w"),
         str(src)], capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    (wheel,) = (tmp_path / "w").glob("qphys-*.whl")
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"qphys"}
