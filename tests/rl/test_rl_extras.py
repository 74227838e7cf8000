"""qphys.rl without its extra: a clear MissingDependencyError naming ``pip install "qphys[rl]"``.

One fresh interpreter puts a finder at the front of ``sys.meta_path`` that refuses one package of the
``rl`` extra at a time, as if it were not installed, and imports qphys.rl and two of its submodules
(a failed import leaves nothing behind, so the cases can run one after the other); last, with nothing
refused, everything must import.
"""

import json
import subprocess
import sys

import pytest

RL_PACKAGES = ["gymnasium", "stable_baselines3", "stim", "pymatching"]
TARGETS = ["qphys.rl", "qphys.rl.decoding", "qphys.rl.agents"]

SCRIPT = f"""
import importlib, json, sys

class Blocker:
    blocked = None

    def find_spec(self, name, path=None, target=None):
        if self.blocked is not None and name.split(".")[0] == self.blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

blocker = Blocker()
sys.meta_path.insert(0, blocker)
import qphys  # the core imports without the rl extra
from qphys.errors import MissingDependencyError

out = {{}}
for blocked in {RL_PACKAGES!r} + [None]:
    blocker.blocked = blocked
    lines = []
    for target in {TARGETS!r}:
        try:
            importlib.import_module(target)
        except MissingDependencyError as exc:
            lines.append("MISSING: " + str(exc))
        else:
            lines.append("IMPORTED")
    out[str(blocked)] = lines
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def outcomes() -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("blocked", RL_PACKAGES)
def test_missing_rl_extra_names_the_install_command(outcomes, blocked):
    lines = outcomes[blocked]
    assert len(lines) == len(TARGETS), lines
    for line in lines:
        assert line.startswith("MISSING:"), lines
        assert f"package {blocked!r}" in line and 'pip install "qphys[rl]"' in line


def test_with_the_extra_present_qphys_rl_imports(outcomes):
    """The same harness with nothing refused: everything imports (so the checks above can fail)."""
    assert outcomes["None"] == ["IMPORTED"] * len(TARGETS)
