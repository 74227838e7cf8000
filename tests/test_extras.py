"""Optional dependencies are extras: the core imports with torch, numpy, scipy and tqdm only.

Each check runs a fresh interpreter whose ``sys.meta_path`` starts with a finder that refuses
every package of the optional extras (``rl``, ``kernels``, ``plots``), as if they were not
installed. The core must import and run; the kernels' scikit-learn estimator and every plot must
raise :class:`~qphys.errors.MissingDependencyError` naming the ``pip install "qphys[...]"`` that
fixes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]

#: top-level modules of each optional extra (the import names of its distributions)
EXTRA_MODULES = {
    "rl": ["gymnasium", "stable_baselines3", "stim", "pymatching", "rich"],
    "kernels": ["sklearn"],
    "plots": ["matplotlib"],
}
BLOCKED = sorted(m for mods in EXTRA_MODULES.values() for m in mods)

PRELUDE = textwrap.dedent(
    """
    import json, sys

    BLOCKED = set({blocked!r})

    class Blocker:
        '''Refuse the optional packages, as if they were not installed.'''
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    """
)


def run_without_extras(body: str, blocked=BLOCKED) -> dict:
    """Run ``body`` (which fills the dict ``out``) with ``blocked`` packages unimportable."""
    code = PRELUDE.format(blocked=list(blocked)) + "out = {}\n" + textwrap.dedent(body) + "\nprint(json.dumps(out))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_core_imports_and_runs_without_any_extra():
    out = run_without_extras(
        """
        import qphys, qphys.nn, qphys.templates, qphys.generative, qphys.kernels, qphys.jobs
        import qphys.testing, qphys.plots, qphys.cv, qphys.demo, qphys.cli
        c = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1))
        out["zz"] = float(qphys.execute(c).expvals[0])
        import torch
        from qphys.templates import zz_feature_map
        out["gram"] = list(qphys.kernels.QuantumKernel(zz_feature_map).matrix(torch.rand(3, 2)).shape)
        out["loaded"] = sorted(m for m in BLOCKED if m in sys.modules)
        """
    )
    assert out == {"zz": pytest.approx(1.0, abs=1e-6), "gram": [3, 3], "loaded": []}


#: what needs an extra, and the extra that the error must name
NEEDS_EXTRA = [
    ("from qphys.kernels import QSVC", "kernels"),
    ("import qphys.kernels.qsvc", "kernels"),
    ("qphys.plots.figure()", "plots"),
    ("qphys.plots.gram_matrices([('K', torch.eye(3))])", "plots"),
    ("qphys.plots.loss_and_decision_boundary([1.0, 0.5], lambda g: g[:, 0], torch.rand(4, 2), [0, 1, 0, 1])", "plots"),
    ("qphys.plots.distribution_bars(torch.ones(4) / 4, torch.ones(4) / 4)", "plots"),
]


def test_missing_extra_raises_missing_dependency_error():
    out = run_without_extras(
        f"""
        import torch, qphys, qphys.plots
        from qphys.errors import MissingDependencyError
        for statement in {[st for st, _ in NEEDS_EXTRA]!r}:
            try:
                exec(statement)
            except MissingDependencyError as exc:
                out[statement] = str(exc)
            else:
                out[statement] = "no error"
        """
    )
    for statement, extra in NEEDS_EXTRA:
        assert 'pip install "qphys[' + extra + ']"' in out[statement], (statement, out[statement])


def test_the_blocker_itself_lets_present_packages_through():
    """The same harness with nothing of the extras blocked: QSVC and plots work (so the checks above can fail)."""
    out = run_without_extras(
        """
        from qphys.kernels import QSVC
        import qphys.plots
        out["qsvc"] = QSVC.__name__
        out["figure"] = type(qphys.plots.figure()).__name__
        """,
        blocked=["no_such_package_xyz"],
    )
    assert out == {"qsvc": "QSVC", "figure": "Figure"}


def test_pyproject_extras_match_the_blocked_modules():
    """Core dependencies are exactly the light ones; each extra lists its packages; ``all`` has every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in project["dependencies"]}
    assert core == {"torch", "numpy", "scipy", "tqdm", "platformdirs"}
    extras = project["optional-dependencies"]
    dist = {"sklearn": "scikit-learn", "stable_baselines3": "stable-baselines3"}
    for extra, modules in EXTRA_MODULES.items():
        names = {d.split(">")[0].split("=")[0].strip().lower() for d in extras[extra]}
        assert {dist.get(m, m) for m in modules} == names, extra
    (all_spec,) = extras["all"]
    listed = set(all_spec.split("[", 1)[1].rstrip("]").split(","))
    assert listed == set(extras) - {"all", "test", "bench"}
