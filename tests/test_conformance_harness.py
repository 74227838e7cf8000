"""``qphys.testing.harness``: the conformance checks and ``check_device`` run without pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from qphys.testing.harness import CheckSkipped, cases, parametrize, raises, skip
from qphys.testing.suite import parametrize_device_specs

BLOCK_PYTEST = """
import importlib.abc
import sys

class _NoPytest(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, _NoPytest())
"""


def _run_without_pytest(body: str) -> subprocess.CompletedProcess:
    code = BLOCK_PYTEST + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_check_device_and_the_cli_run_without_pytest():
    proc = _run_without_pytest("""
        from qphys import cli
        from qphys.testing import check_device, harness
        assert harness.CheckSkipped.__module__ == "qphys.testing.harness"
        report = check_device("torch.gaussian")
        assert report.ok and report.skipped, report.format()
        status = cli.main(["check-device", "torch.qubit", "-k", "test_gate["])
        assert not [m for m in sys.modules if m.split(".")[0] in ("pytest", "_pytest")]
        print("exit", status)
    """)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[-1] == "exit 0"
    assert lines[-2].startswith("torch.qubit (exact): ") and " 0 failed" in lines[-2]
    assert int(lines[-2].split(": ")[1].split(" passed")[0]) >= 20  # every registered gate ran


def test_a_failed_check_without_pytest_is_reported():
    proc = _run_without_pytest("""
        from qphys.testing import check_device
        report = check_device("torch.fock", options={"cutoff": 4}, select="test_squeezing")
        print(report.format())
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "FAILED   conformance_cv::test_squeezing: squeezed vacuum" in proc.stdout
    assert "past its Fock cutoff" in proc.stdout


def test_skip_is_pytests_skip_under_pytest():
    with pytest.raises(pytest.skip.Exception, match="no kerr"):
        skip("no kerr")
    assert CheckSkipped is pytest.skip.Exception


def test_raises_checks_type_and_message():
    with raises((KeyError, ValueError), match="bad"):
        raise ValueError("bad value")
    with pytest.raises(AssertionError, match="expected ValueError to be raised, nothing was"):
        with raises(ValueError):
            pass
    with pytest.raises(AssertionError, match="its message 'fine' does not match 'bad'"):
        with raises(ValueError, match="bad"):
            raise ValueError("fine")
    with pytest.raises(TypeError, match="other"):  # other types propagate unchanged
        with raises(ValueError):
            raise TypeError("other")


def test_stacked_parametrize_expands_like_pytest():
    @parametrize("measure", ["expval", "probs"])
    @parametrize("a, b", [(1, 2), (3, 4)])
    def check(a, b, measure):
        pass

    assert list(cases(check)) == [
        ("[1-2-expval]", {"a": 1, "b": 2, "measure": "expval"}),
        ("[1-2-probs]", {"a": 1, "b": 2, "measure": "probs"}),
        ("[3-4-expval]", {"a": 3, "b": 4, "measure": "expval"}),
        ("[3-4-probs]", {"a": 3, "b": 4, "measure": "probs"}),
    ]


def pytest_generate_tests(metafunc):
    parametrize_device_specs(metafunc)  # the conformance modules' hook


@parametrize("measure", ["expval", "probs"])
@parametrize("a, b", [(1, 2), (3, 4)])
def test_harness_parameters_reach_pytest(request, a, b, measure):
    """The same ids under pytest, through the conformance modules' ``pytest_generate_tests``."""
    assert request.node.callspec.id == f"{a}-{b}-{measure}"


def test_pytest_parametrize_marks_are_expanded_too():
    """A conformance module still written with ``pytest.mark.parametrize`` runs under check_device."""

    @pytest.mark.parametrize("name", ["bs", pytest.param("bs_h")])
    @pytest.mark.parametrize("a, b", [(1, 2)])
    def check(a, b, name):
        pass

    assert list(cases(check)) == [
        ("[1-2-bs]", {"a": 1, "b": 2, "name": "bs"}),
        ("[1-2-bs_h]", {"a": 1, "b": 2, "name": "bs_h"}),
    ]


def test_a_new_family_module_is_found_by_its_name(monkeypatch):
    """``conformance_<family>`` with an underscore in the family (e.g. linear_optics) maps to it."""
    import types

    from qphys.testing import check

    module = types.ModuleType("qphys.testing.conformance_linear_optics")
    module.__all__ = ["test_one"]
    module.test_one = lambda device_spec, lo_device: None
    dev = __import__("qphys").device("torch.qubit")
    (result,) = check._run_module(module, check._spec("torch.qubit", {}, None), dev, None)
    assert result.outcome == "skipped" and "not linear-optical ones (1 checks)" in result.reason
