"""The ``qphys`` command line: ``devices``, ``demo``, ``check-device``, ``jobs``, ``bench``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def _cmd_devices(args) -> int:
    from qphys.devices import device_listing, devices

    rows = devices() if args.capabilities else device_listing()
    if args.json:
        print(json.dumps([{k: (str(v) if k == "capabilities" else v) for k, v in r.items()} for r in rows], indent=2))
        return 0
    print(f"{'device':32} {'ok':3} {'families':9} {'diff':17} {'exact':5} {'shots':5} max_wires")
    for r in rows:
        caps = r.get("capabilities")
        if "error" in r or (args.capabilities and caps is None):
            print(f"{r['name']:32} no  ({r.get('error', 'not loadable')})")
        elif caps is None:  # a plugin's device: listed from its entry point, not imported
            print(f"{r['name']:32} {'?':3} ({r['provider']})")
        else:
            print(
                f"{r['name']:32} yes {'/'.join(sorted(caps.families)):9} "
                f"{','.join(caps.native_diff) or 'shift/fd':17} {str(caps.exact):5} {str(caps.shots):5} "
                f"{caps.max_wires or '-'}"
            )
    if not args.capabilities and any("capabilities" not in r for r in rows):
        print("plugin devices are listed without importing them; `qphys devices --capabilities` loads them "
              "and shows their capabilities")
    return 0


def _cmd_demo(args) -> int:
    from qphys.demo import run_demo

    results = run_demo(
        out_dir=args.out, quick=args.quick, progress=not args.no_progress, only=args.section, seed=args.seed
    )
    path = Path(args.out) / "results.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    print(f"\nresults: {path}")
    return 0


def _cmd_check_device(args) -> int:
    from qphys.errors import ConfigError
    from qphys.testing import check_device

    try:
        options = json.loads(args.options) if args.options else None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--options must be a JSON object, e.g. '{{\"dtype\": \"complex128\"}}' ({exc})") from None
    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"--options must be a JSON object, got {type(options).__name__}")
    report = check_device(args.name, shots=args.shots, options=options, select=args.select)
    if not report.checks:
        raise ConfigError(f"no conformance check matches --select {args.select!r}")
    print(report.format(verbose=args.verbose))
    return 0 if report.ok else 1


def _cmd_bench(args) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        print(f"qphys: error: no benchmarks folder at {root.resolve()}; the benchmarks ship with the source "
              "checkout, not the installed package: run from the repository root or pass --dir", file=sys.stderr)
        return 2
    scripts = sorted(root.glob("*.py")) if not args.names else [root / f"{n}.py" for n in args.names]
    missing = [s.stem for s in scripts if not s.is_file()]
    if missing:
        known = ", ".join(s.stem for s in sorted(root.glob("*.py")) if not s.name.startswith("_"))
        print(f"qphys: error: no benchmark named {', '.join(missing)}; available: {known}", file=sys.stderr)
        return 2
    status = 0
    for s in scripts:
        if s.name.startswith("_"):
            continue
        print(f"== {s.stem} ==", flush=True)
        cmd = [sys.executable, str(s)] + (["--quick"] if args.quick else [])
        status |= subprocess.call(cmd)
    return status


def _demo_epilog() -> str:
    from qphys.demo import sections

    rows = "\n".join(f"  {s.name:14} {s.title}" for s in sections())
    return f"sections (run in this order; pick some with --section NAME):\n{rows}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qphys", description="qphys: quantum ML on one Device layer")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser(
        "devices", help="list installed devices (plugins' capabilities with --capabilities)",
        description="List installed devices from entry-point metadata, without importing plugins (fast).",
    )
    d.add_argument("--json", action="store_true")
    d.add_argument(
        "--capabilities", action="store_true",
        help="load every device (imports the plugins' frameworks: seconds) and show its capabilities",
    )
    d.set_defaults(func=_cmd_devices)

    m = sub.add_parser(
        "demo", help="run the main job on the default device", epilog=_demo_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("--quick", action="store_true", help="smaller problems, for a fast look")
    m.add_argument("--no-progress", action="store_true", help="hide progress bars")
    m.add_argument("--out", default="out/demo", help="folder for plots and results.json")
    m.add_argument("--section", action="append", metavar="NAME",
                   help="run only this section (repeatable; the sections are listed below)")
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=_cmd_demo)

    c = sub.add_parser(
        "check-device", help="run the conformance suite on a device",
        description="Run the device conformance checks in-process (qphys.testing.check_device) and print "
        "failures, skips and a summary; exit status 1 when a check fails.",
    )
    c.add_argument("name")
    c.add_argument("--shots", type=int, default=None)
    c.add_argument("--options", default=None, help='device options as JSON, e.g. \'{"dtype": "complex128"}\'')
    c.add_argument("-k", "--select", default=None, metavar="TEXT",
                   help="run only the checks whose name contains TEXT (e.g. test_gate)")
    c.add_argument("-v", "--verbose", action="store_true", help="list passed checks too")
    c.set_defaults(func=_cmd_check_device)

    b = sub.add_parser("bench", help="run the benchmarks (side by side with peers)")
    b.add_argument("names", nargs="*", help="benchmark names (default: all)")
    b.add_argument("--quick", action="store_true")
    b.add_argument("--dir", default="benchmarks",
                   help="the benchmarks folder of a source checkout (default: ./benchmarks)")
    b.set_defaults(func=_cmd_bench)

    _add_jobs(sub)
    return p


def _add_jobs(sub) -> None:
    """``qphys jobs``: the remote-job ledger (see :mod:`qphys.jobs`)."""
    try:
        from qphys.jobs.cli import add_parser
    except ImportError:  # the ledger module is not part of this installation
        return
    add_parser(sub)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from qphys.errors import QphysError

    try:
        return int(args.func(args) or 0)
    except QphysError as exc:
        print(f"qphys: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
