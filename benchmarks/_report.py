"""Shared helpers for benchmarks: timing and writing one section of BENCHMARKS.md.

Each benchmark owns the block between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``;
re-running it replaces only that block.
"""

from __future__ import annotations

import platform
import re
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\nMeasured by the scripts in `benchmarks/` (run them with `make bench` or "
    "`.venv/bin/python benchmarks/NAME.py`). Peers run side by side in the same process; "
    "ratios are qphys speed-ups (peer time / qphys time). Figures are medians of repeated runs.\n"
)


def machine() -> str:
    """One line describing where the figures were taken."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"{gpu}, torch {torch.__version__}, Python {platform.python_version()}"
    )


def timeit(fn, *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def update_section(name: str, markdown: str, path: Path = REPORT) -> None:
    """Replace (or append) the ``name`` block of BENCHMARKS.md with ``markdown``."""
    text = path.read_text() if path.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def table(headers, rows) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def replace_block(text: str, name: str, markdown: str, *, within: str) -> str:
    """``text`` with the ``name`` block (``<!-- bench:NAME -->`` … ``<!-- /bench:NAME -->``) replaced.

    The block lives inside the ``within`` section, which must exist. A missing block is inserted
    before the section's ``Reproduce:`` line (or before its end marker when it has none); the rest of
    the file — other blocks of the section, hand-written notes, other sections — is left as it is.
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    outer = re.compile(re.escape(f"<!-- bench:{within} -->") + r"(.*?)" + re.escape(f"<!-- /bench:{within} -->"), re.S)
    match = outer.search(text)
    if match is None:
        raise ValueError(f"replace_block: no '{within}' section to put the '{name}' block in")
    body_start = match.start(1)
    reproduce = re.search(r"^Reproduce:", match.group(1), re.M)
    at = body_start + reproduce.start() if reproduce else match.end(1)
    return text[:at].rstrip("\n") + "\n\n" + block + "\n\n" + text[at:].lstrip("\n")


def update_block(section: str, name: str, markdown: str, *, intro: str, path: Path = REPORT) -> None:
    """Replace (or insert) the ``name`` block inside the ``section`` block of BENCHMARKS.md.

    The section is created with ``intro`` if it does not exist yet; an existing section keeps its
    intro, its other blocks and its hand-written text.
    """
    text = path.read_text() if path.exists() else HEADER
    if f"<!-- bench:{section} -->" not in text:
        update_section(section, intro, path)
        text = path.read_text()
    path.write_text(replace_block(text, name, markdown, within=section))
