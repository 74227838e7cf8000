"""Who owns a ledger row: the process identity and its liveness.

A row being worked on carries ``owner = "<host>|<pid>|<start>"`` (``start``: the process start
time from ``/proc/<pid>/stat`` on Linux, so that a recycled pid is not mistaken for the owner;
``-`` elsewhere) and ``lease_until``, a time the owner keeps pushing forward while it works.

Another process may take a row over only when its owner is gone:

- same host: the pid no longer exists, is a zombie, or belongs to a process started at another
  time (a SIGKILLed owner is recognised at once, whatever its lease says);
- another host (a ledger on a shared disk): the lease has expired.

Examples:
    >>> from qphys.jobs.lease import owner_alive, this_process
    >>> owner_alive(this_process(), lease_until=None)
    True
    >>> owner_alive("elsewhere|1|-", lease_until=0.0)  # another host, lease expired long ago
    False
"""

from __future__ import annotations

import os
import socket
import time
from functools import lru_cache


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of ``pid`` from ``/proc`` (``None`` where there is no ``/proc``
    entry or it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    # the command name (field 2) is parenthesised and may contain spaces: split after it
    rest = text[text.rfind(")") + 2:].split()
    if len(rest) < 20:
        return None
    return rest[0], rest[19]


@lru_cache(maxsize=1)
def hostname() -> str:
    """This machine's name, as recorded in ``owner``."""
    return socket.gethostname() or "localhost"


def this_process() -> str:
    """``"<host>|<pid>|<start>"`` of the calling process (computed per call: a forked child is
    another owner)."""
    pid = os.getpid()
    stat = _proc_stat(pid)
    return f"{hostname()}|{pid}|{stat[1] if stat else '-'}"


def describe(owner: str | None) -> str:
    """``"pid 123 on host"`` for messages."""
    if not owner:
        return "no process"
    parts = owner.split("|")
    if len(parts) != 3:
        return repr(owner)
    return f"pid {parts[1]} on {parts[0]}"


def owner_alive(owner: str | None, lease_until: float | None, *, now: float | None = None) -> bool:
    """Whether the process named ``owner`` may still be working on its row (see the module docstring)."""
    if not owner:
        return False
    parts = owner.split("|")
    if len(parts) != 3:
        return False
    host, pid_text, start = parts
    if host != hostname():
        return lease_until is not None and lease_until > (time.time() if now is None else now)
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return start == (_proc_stat(pid) or ("", "-"))[1] or start == "-"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:  # pragma: no cover - e.g. pid out of range
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: the pid exists, trust it
    state, started = stat
    if state in ("Z", "X"):
        return False
    return start == "-" or started == start


__all__ = ["this_process", "owner_alive", "describe", "hostname"]
