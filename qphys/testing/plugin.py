"""pytest plugin (entry point ``pytest11``): ``--qphys-device NAME`` for the conformance suite."""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("qphys")
    group.addoption(
        "--qphys-device",
        action="append",
        default=None,
        help="device name to run the qphys conformance suite on (repeatable)",
    )
    group.addoption(
        "--qphys-shots",
        action="store",
        type=int,
        default=None,
        help="shots for the conformance suite (default: exact)",
    )
    group.addoption(
        "--qphys-device-options",
        action="store",
        default=None,
        help="JSON object of device options for the conformance suite",
    )
