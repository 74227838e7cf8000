"""``qphys jobs``: list the job ledger; ``qphys jobs resume``: finish submitted jobs.

``resume`` rebuilds each pending row's device by name (``qphys.device(row.device)``), asks it
for its transport (``device.job_transport()``) and fetches the result by job id, storing it in
the ledger so that re-running the script reuses it. Rows whose provider cannot re-attach
(in-process simulators) are marked ``lost`` and are simply resubmitted by the next run.
"""

from __future__ import annotations

import json
import time

from qphys.jobs.ledger import STATUSES, Ledger


def _fmt_time(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _cmd_list(args) -> int:
    ledger = Ledger(args.ledger)
    rows = ledger.records(status=args.status, device=args.device, limit=args.limit)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
        return 0
    print(f"ledger: {ledger.path} ({len(rows)} row(s) shown)")
    print(f"{'row':>5} {'device':28} {'status':9} {'job id':38} {'circuits':>8} {'tries':>5} {'updated':19} structure")
    for r in rows:
        print(
            f"{r.id:>5} {r.device:28} {r.status:9} {(r.job_id or '-'):38} {r.num_circuits or 0:>8} "
            f"{r.attempts:>5} {_fmt_time(r.updated):19} {r.structure or ''}"
        )
        if r.error and r.status in ("failed", "lost"):
            print(f"{'':>6}error: {r.error}")
    return 0


def resume(ledger: Ledger, *, device: str | None = None) -> dict[str, int]:
    """Fetch the results of every ``submitted`` row; returns counts ``done``/``lost``/``failed``.

    Examples:
        >>> import tempfile
        >>> from qphys.jobs import Ledger
        >>> from qphys.jobs.cli import resume
        >>> resume(Ledger(tempfile.mktemp()))
        {'done': 0, 'lost': 0, 'failed': 0, 'pending': 0}
    """
    from qphys.devices import device as make_device
    from qphys.errors import JobError, TransientJobError
    from qphys.jobs.transport import JobNotFoundError

    counts = {"done": 0, "lost": 0, "failed": 0, "pending": 0}
    transports: dict = {}
    for row in ledger.records(status="submitted", device=device):
        if row.device not in transports:
            dev = make_device(row.device)
            get = getattr(dev, "job_transport", None)
            if get is None:
                ledger.mark_lost(row.id, f"device {row.device!r} has no job transport; resubmit by re-running")
                counts["lost"] += 1
                continue
            transports[row.device] = get()
        transport = transports[row.device]
        if not transport.can_reattach:
            ledger.mark_lost(row.id, f"{transport.name} cannot re-attach jobs from another process")
            counts["lost"] += 1
            continue
        try:
            arrays = transport.result(row.job_id)
        except JobNotFoundError as exc:
            ledger.mark_lost(row.id, str(exc))
            counts["lost"] += 1
        except TransientJobError:
            counts["pending"] += 1
        except JobError as exc:
            ledger.mark_failed(row.id, str(exc))
            counts["failed"] += 1
        else:
            ledger.mark_done(row.id, arrays)
            counts["done"] += 1
    return counts


def _cmd_resume(args) -> int:
    ledger = Ledger(args.ledger)
    counts = resume(ledger, device=args.device)
    print(
        f"resumed from {ledger.path}: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['lost']} lost (will be resubmitted by the next run), {counts['pending']} still pending"
    )
    return 0 if counts["failed"] == 0 else 1


def add_parser(subparsers) -> None:
    """Add ``jobs`` (with ``list`` and ``resume``) to the ``qphys`` command line."""
    p = subparsers.add_parser("jobs", help="list the remote-job ledger; `qphys jobs resume` finishes pending jobs")
    p.add_argument("--ledger", default=None, help="ledger file (default: $QPHYS_HOME/jobs.sqlite)")
    p.set_defaults(func=_cmd_list, status=None, device=None, limit=50, json=False)
    sub = p.add_subparsers(dest="jobs_command")
    ls = sub.add_parser("list", help="list jobs (the default)")
    ls.add_argument("--status", choices=STATUSES, default=None)
    ls.add_argument("--device", default=None)
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_list)
    rs = sub.add_parser("resume", help="fetch the results of submitted jobs into the ledger")
    rs.add_argument("--device", default=None, help="only this device's jobs")
    rs.set_defaults(func=_cmd_resume)
