"""The layering of DESIGN.md §1, checked by import-linter (the contracts live in pyproject.toml):
layers import downward only, no import cycles, only the front ends import the ``qphys`` package
itself, qphys never imports a plugin, and plugins stay on qphys' public API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    run = _lint_imports()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
    for name in ("qphys layers", "no import cycles", "never imports a plugin", "public API", "front ends"):
        assert name in run.stdout, f"contract {name!r} is no longer checked"


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("qphys/ops/_probe.py", "import qphys.circuit", "qphys layers"),
        ("qphys/templates/_probe.py", "import qphys", "front ends"),
        ("backends/qiskit/qphys_qiskit/_probe.py", "import qphys.sim.statevector", "public API"),
        ("qphys/_probe.py", "import qphys_pennylane", "never imports a plugin"),
    ],
)
def test_contracts_catch_a_violation(module, line, contract, tmp_path):
    """Each contract can fail: a probe module with one forbidden import breaks exactly it."""
    path = ROOT / module
    assert not path.exists()
    path.write_text(line + "  # noqa: F401\n")
    try:
        run = _lint_imports()
    finally:
        path.unlink()
    assert run.returncode != 0
    broken = [ln for ln in run.stdout.splitlines() if ln.endswith("BROKEN")]
    assert len(broken) >= 1 and any(contract in ln for ln in broken), run.stdout[-3000:]
