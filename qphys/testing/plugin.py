"""pytest plugin (entry point ``pytest11``): ``--qphys-device NAME`` for the conformance suite,
and the ``qphys_check_device`` fixture that wraps :func:`qphys.testing.check_device`.

A plugin's own test suite can check its device in one test::

    def test_conformance(qphys_check_device):
        qphys_check_device("mydevice.sim", shots=20000)

which fails with the report's failures (and lists the skips) when a check fails.
"""

from __future__ import annotations

import pytest


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


@pytest.fixture
def qphys_check_device():
    """``qphys_check_device(device, **kwargs)`` runs :func:`qphys.testing.check_device` and fails
    the test, showing the report, when any check failed; it returns the :class:`Report`."""

    def run(device, **kwargs):
        from qphys.testing.check import check_device

        report = check_device(device, **kwargs)
        if not report.ok:
            pytest.fail(f"device conformance failed:\n{report.format()}", pytrace=False)
        return report

    return run
