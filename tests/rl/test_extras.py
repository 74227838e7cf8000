"""qphys.rl without its extra: a clear MissingDependencyError naming ``pip install "qphys[rl]"``.

Each case runs a fresh interpreter whose ``sys.meta_path`` starts with a finder that refuses one package
of the ``rl`` extra, as if it were not installed, then imports qphys.rl (or one of its submodules).
"""

import subprocess
import sys
import textwrap

import pytest

BLOCKER = textwrap.dedent(
    """
    import sys

    BLOCKED = {blocked!r}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    import qphys  # the core imports without the rl extra
    import importlib
    from qphys.errors import MissingDependencyError
    for target in {targets!r}:
        try:
            importlib.import_module(target)
        except MissingDependencyError as exc:
            print("MISSING:", exc)
        else:
            print("IMPORTED")
    """
)


TARGETS = ["qphys.rl", "qphys.rl.decoding", "qphys.rl.agents"]


def run_blocked(blocked: str) -> list[str]:
    """One line per module of TARGETS: ``MISSING: <message>`` or ``IMPORTED``."""
    code = BLOCKER.format(blocked=blocked, targets=TARGETS)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()


@pytest.mark.parametrize("blocked", ["gymnasium", "stable_baselines3", "stim", "pymatching"])
def test_missing_rl_extra_names_the_install_command(blocked):
    lines = run_blocked(blocked)
    assert len(lines) == len(TARGETS), lines
    for line in lines:
        assert line.startswith("MISSING:"), lines
        assert f"package {blocked!r}" in line and 'pip install "qphys[rl]"' in line


def test_with_the_extra_present_qphys_rl_imports():
    """The same harness blocking a package outside the extra: everything imports (so the test can fail)."""
    assert run_blocked("no_such_package_xyz") == ["IMPORTED"] * len(TARGETS)
