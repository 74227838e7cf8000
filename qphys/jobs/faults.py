"""Deterministic kill points: where a crash test may ``SIGKILL`` the running process.

The job code calls :func:`kill_point` at every place where a crash changes what a re-run must do
(a ledger transaction about to commit, the provider having accepted a job the client has not yet
recorded, a result fetched but not yet stored). Nothing happens unless the environment variable
``QPHYS_KILL_AT`` names the point, so the hook costs one dictionary lookup in normal runs.

``QPHYS_KILL_AT`` holds comma-separated entries ``name`` or ``name@n`` (kill the ``n``-th time this
process reaches ``name``, 1-based; default the first). The process kills itself with ``SIGKILL``
(no ``finally`` blocks, no ``atexit``, no flushing: like ``kill -9`` or a power cut for this
process), or ``os._exit(137)`` where there is no ``SIGKILL``.

:data:`KILL_POINTS` lists every point; ``tests/jobs`` reaches each of them and checks that a re-run
pays for no job twice, loses none and returns bit-identical results.

Examples:
    >>> from qphys.jobs.faults import KILL_POINTS, kill_point
    >>> kill_point("server.accepted")  # QPHYS_KILL_AT is not set: nothing happens
    >>> "server.accepted" in KILL_POINTS
    True
"""

from __future__ import annotations

import os
import signal

#: Environment variable naming the kill points of this process.
KILL_ENV = "QPHYS_KILL_AT"

#: Every kill point, in the order a job reaches them.
KILL_POINTS = (
    "ledger.claim.before_commit",  # inside the transaction that creates the row (key not yet durable)
    "ledger.claim.committed",  # row pending, idempotency key durable, nothing submitted
    "server.accepted",  # the provider accepted the job; the client has not heard back
    "runner.submitted",  # job id in hand, not yet in the ledger
    "ledger.submitted.before_commit",  # inside the transaction that records the job id
    "ledger.submitted.committed",  # row submitted with its job id
    "runner.fetched",  # result in hand, not yet in the ledger
    "ledger.done.before_commit",  # inside the transaction that stores the result
    "ledger.done.committed",  # row done
)

_reached: dict[str, int] = {}


def _targets() -> dict[str, int]:
    spec = os.environ.get(KILL_ENV, "")
    out: dict[str, int] = {}
    for entry in spec.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, _, nth = entry.partition("@")
        out[name] = int(nth) if nth else 1
    return out


def kill_point(name: str) -> None:
    """Kill this process here if ``QPHYS_KILL_AT`` names ``name`` (see the module docstring)."""
    if KILL_ENV not in os.environ:
        return
    nth = _targets().get(name)
    if nth is None:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == nth:
        sigkill = getattr(signal, "SIGKILL", None)
        if sigkill is not None:
            os.kill(os.getpid(), sigkill)
        os._exit(137)  # pragma: no cover - platforms without SIGKILL


__all__ = ["KILL_ENV", "KILL_POINTS", "kill_point"]
