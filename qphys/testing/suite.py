"""Plumbing shared by the conformance suites: parametrization, cached devices and the device
fixtures that let pytest run the checks. Nothing here needs pytest to be importable."""

from __future__ import annotations

from collections.abc import Callable

from qphys.errors import CredentialsError
from qphys.testing.harness import parameters, skip
from qphys.testing.spec import DeviceSpec, specs_from_config

_DEVICES: dict = {}


def parametrize_device_specs(metafunc) -> None:
    """pytest's ``pytest_generate_tests`` for a conformance module: ``device_spec`` from
    ``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``, then the check's own parameters
    (:func:`qphys.testing.harness.parametrize`)."""
    if "device_spec" in metafunc.fixturenames:
        specs = specs_from_config(metafunc.config, getattr(metafunc.module, "CONFORMANCE_DEVICES", None))
        metafunc.parametrize("device_spec", specs, ids=[s.id for s in specs], scope="module")
    for names, rows in reversed(parameters(metafunc.function)):  # innermost first, as pytest's marks
        metafunc.parametrize(",".join(names), rows)


def device_for(spec: DeviceSpec, family: str):
    """The device ``spec`` describes (built once per spec and reused), or a skip when it cannot
    be built for lack of credentials or does not run ``family`` (``"qubit"``/``"cv"``) circuits."""
    key = (spec.name, repr(sorted(spec.options.items())), spec.shots)
    if key not in _DEVICES:
        try:
            _DEVICES[key] = spec.make()
        except CredentialsError as exc:
            skip(f"{spec.name}: no credentials ({exc})")
    dev = _DEVICES[key]
    if family not in dev.capabilities.families:
        kind = {"cv": "photonic", "linear_optics": "linear-optical"}.get(family, family)
        skip(f"{dev.name} runs {sorted(dev.capabilities.families)} circuits, not {kind} ones")
    return dev


def device_fixture(family: str, name: str) -> Callable:
    """The fixture ``name`` of a conformance module: the device of ``device_spec`` (built once per
    spec), skipped unless it runs ``family`` circuits. A pytest fixture where pytest is installed;
    without pytest, the plain function (:func:`qphys.testing.check_device` passes devices itself)."""

    def device(device_spec: DeviceSpec):
        return device_for(device_spec, family)

    device.__name__ = device.__qualname__ = name
    device.__doc__ = f"The device ``device_spec`` describes (built once per spec), skipped unless it runs {family} circuits."
    try:
        import pytest
    except ImportError:  # pragma: no cover - exercised in a subprocess that blocks pytest
        return device
    return pytest.fixture(device, name=name)
