"""``qphys jobs``: list the job ledger; ``resume`` finishes submitted jobs; ``forget`` removes rows.

``resume`` rebuilds, for each unfinished row, the transport the job was submitted through from
the description recorded in the row (:meth:`qphys.jobs.Transport.rebuild_spec`: a factory and
non-secret keywords; credentials come from the provider's own mechanism), looks ``pending`` rows
up by their idempotency key, fetches results by job id and stores them, so that re-running the
script reuses them. A row it cannot serve — a job that ran in a process that is gone (in-process
simulators), a transport that cannot be rebuilt here, a row another live process owns — is left
untouched, and the listing says why; the next run of the script handles it.
"""

from __future__ import annotations

import json
import time

from qphys.jobs.lease import describe, owner_alive, this_process
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
        if r.error and r.status in ("failed", "lost", "submitted"):
            print(f"{'':>6}error: {r.error}")
    return 0


def resume(ledger: Ledger, *, device: str | None = None, timeout: float | None = 60.0) -> dict:
    """Finish the ``submitted`` (and look up the ``pending``) rows through their recorded transports.

    Args:
        ledger: the ledger.
        device: only this device's rows.
        timeout: most seconds to wait for one job's result (``None``: no limit); a job still
            running stays ``submitted``.

    Returns:
        Counts ``done``/``failed``/``lost``/``pending`` (still running or unreachable) and
        ``untouched`` (left as they were), and ``notes``: one line per row not finished, saying why.

    Examples:
        >>> import tempfile
        >>> from qphys.jobs import Ledger
        >>> from qphys.jobs.cli import resume
        >>> resume(Ledger(tempfile.mktemp()))
        {'done': 0, 'failed': 0, 'lost': 0, 'pending': 0, 'untouched': 0, 'notes': []}
    """
    from qphys.errors import JobError, JobTimeoutError, QphysError, TransientJobError
    from qphys.jobs.transport import JobNotFoundError, rebuild_transport

    counts: dict = {"done": 0, "failed": 0, "lost": 0, "pending": 0, "untouched": 0, "notes": []}
    transports: dict = {}
    rows = ledger.records(status="submitted", device=device) + ledger.records(status="pending", device=device)

    def leave(row, why):
        counts["untouched"] += 1
        counts["notes"].append(f"row {row.id} ({row.device}, job {row.job_id or '(no id yet)'}): {why}")

    for row in sorted(rows, key=lambda r: r.id):
        if owner_alive(row.owner, row.lease_until) and row.owner != this_process():
            leave(row, f"{describe(row.owner)} is running it now")
            continue
        spec = row.transport_spec
        if spec is None:
            leave(row, "it was submitted through a transport that cannot be rebuilt in another process (an "
                       "in-process simulator, or a ledger written before transports were recorded); re-run the "
                       "script to compute it")
            continue
        text = json.dumps(spec, sort_keys=True)
        if text not in transports:
            try:
                transports[text] = rebuild_transport(spec)
            except QphysError as exc:  # a missing plugin, missing credentials...
                transports[text] = exc
        transport = transports[text]
        if isinstance(transport, QphysError):
            leave(row, str(transport))
            continue
        if not transport.can_reattach:
            leave(row, f"{transport.name} cannot re-attach jobs from another process; re-run the script")
            continue
        claim = ledger.claim(row.device, row.job_key)
        if not claim.owned:
            leave(row, f"{describe(claim.record.owner)} is running it now")
            continue
        row = claim.record
        try:
            job_id = row.job_id if row.status == "submitted" else None
            if job_id is None:
                if transport.can_lookup:
                    job_id = transport.lookup(row.idempotency_key)
                job_id = job_id or ledger.side_log_job_id(row.idempotency_key)
                if job_id is None:
                    leave(row, "the provider has no job with its idempotency key (it was never accepted); the next "
                               "run of the script submits it")
                    continue
                ledger.mark_submitted(row.id, job_id)
            try:
                arrays = transport.result(job_id, timeout)
            except JobTimeoutError:
                counts["pending"] += 1
                counts["notes"].append(f"row {row.id}: job {job_id} is still running; resume again later")
            except JobNotFoundError as exc:
                ledger.mark_lost(row.id, str(exc))
                counts["lost"] += 1
            except TransientJobError as exc:
                counts["pending"] += 1
                counts["notes"].append(f"row {row.id}: job {job_id} could not be fetched now ({exc}); resume again later")
            except JobError as exc:
                ledger.mark_failed(row.id, str(exc))
                counts["failed"] += 1
            else:
                ledger.mark_done(row.id, arrays)
                counts["done"] += 1
        except (JobError, TransientJobError) as exc:
            counts["pending"] += 1
            counts["notes"].append(f"row {row.id}: {exc}")
        finally:
            current = ledger.get(row.id)
            if current.status != "done" and current.owner == this_process():
                ledger.release(row.id)
    return counts


def _cmd_resume(args) -> int:
    ledger = Ledger(args.ledger)
    counts = resume(ledger, device=args.device, timeout=args.timeout)
    print(
        f"resumed from {ledger.path}: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['lost']} lost (will be resubmitted by the next run), {counts['pending']} still pending, "
        f"{counts['untouched']} left untouched"
    )
    for note in counts["notes"]:
        print(f"  {note}")
    return 0 if counts["failed"] == 0 else 1


def _cmd_forget(args) -> int:
    ledger = Ledger(args.ledger)
    n = ledger.forget(args.rows)
    print(f"removed {n} row(s) from {ledger.path}")
    return 0


def add_parser(subparsers) -> None:
    """Add ``jobs`` (with ``list``, ``resume`` and ``forget``) to the ``qphys`` command line."""
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
    rs.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one job (default 60)")
    rs.set_defaults(func=_cmd_resume)
    fg = sub.add_parser("forget", help="remove rows from the ledger (their results are recomputed next time)")
    fg.add_argument("rows", type=int, nargs="+", help="row numbers, as `qphys jobs` lists them")
    fg.set_defaults(func=_cmd_forget)
