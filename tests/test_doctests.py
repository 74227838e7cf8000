"""Docstring examples are tests: the default pytest run (``make test``) collects qphys/'s doctests."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_default_run_collects_the_package_doctests():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "qphys" in options["testpaths"]  # a bare `pytest` (make test) walks the package too
    files = ["qphys/__init__.py", "qphys/devices/torch_gaussian.py", "qphys/plots.py"]
    proc = subprocess.run(  # no --doctest-modules here: the configuration must switch it on
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *files],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    items = proc.stdout.splitlines()
    for doctest in ("qphys/__init__.py::qphys", "qphys/devices/torch_gaussian.py::qphys.devices.torch_gaussian.TorchGaussianDevice",
                    "qphys/plots.py::qphys.plots.gram_matrices"):
        assert doctest in items, doctest
