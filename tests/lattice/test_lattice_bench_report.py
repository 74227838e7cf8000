"""benchmarks/lattice.py rewrites only its own blocks of BENCHMARKS.md (``_report.replace_block``)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _report():
    spec = importlib.util.spec_from_file_location("qphys_bench_report", ROOT / "benchmarks" / "_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DOC = """# Benchmarks

<!-- bench:other -->
other section
<!-- /bench:other -->

<!-- bench:lattice -->
intro

<!-- bench:lattice/phi4 -->
old phi4
<!-- /bench:lattice/phi4 -->

hand-written note

Reproduce: run it
<!-- /bench:lattice -->
"""


def test_replace_block_replaces_only_its_block():
    rep = _report()
    out = rep.replace_block(DOC, "lattice/phi4", "new phi4", within="lattice")
    assert "new phi4" in out and "old phi4" not in out
    assert out.replace("new phi4", "old phi4") == DOC  # nothing else moved


def test_replace_block_inserts_a_new_block_before_reproduce_and_keeps_notes():
    rep = _report()
    out = rep.replace_block(DOC, "lattice/u1-L4-beta6", "u1 figures", within="lattice")
    for kept in ("other section", "old phi4", "hand-written note", "intro"):
        assert kept in out
    assert out.index("hand-written note") < out.index("u1 figures") < out.index("Reproduce: run it")
    assert out.index("<!-- /bench:lattice/u1-L4-beta6 -->") < out.index("<!-- /bench:lattice -->")
    again = rep.replace_block(out, "lattice/u1-L4-beta6", "u1 figures v2", within="lattice")
    assert again.count("<!-- bench:lattice/u1-L4-beta6 -->") == 1 and "u1 figures v2" in again


def test_replace_block_needs_the_section():
    with pytest.raises(ValueError, match="no 'lattice' section"):
        _report().replace_block("# Benchmarks\n", "lattice/phi4", "x", within="lattice")


def test_update_block_creates_the_section_once(tmp_path):
    rep = _report()
    path = tmp_path / "B.md"
    rep.update_block("lattice", "lattice/a", "A", intro="intro text\n\nReproduce: x", path=path)
    rep.update_block("lattice", "lattice/b", "B", intro="other intro", path=path)
    text = path.read_text()
    assert text.count("<!-- bench:lattice -->") == 1 and "other intro" not in text
    assert text.index("A\n") < text.index("B\n") < text.index("Reproduce: x")
