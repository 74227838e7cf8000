"""Plumbing shared by the conformance suites: device parametrization and cached devices."""

from __future__ import annotations

import pytest

from qphys.errors import CredentialsError
from qphys.testing.spec import DeviceSpec, specs_from_config

_DEVICES: dict = {}


def parametrize_device_specs(metafunc) -> None:
    """Parametrize ``device_spec`` from ``--qphys-device`` or the module's ``CONFORMANCE_DEVICES``."""
    if "device_spec" not in metafunc.fixturenames:
        return
    specs = specs_from_config(metafunc.config, getattr(metafunc.module, "CONFORMANCE_DEVICES", None))
    metafunc.parametrize("device_spec", specs, ids=[s.id for s in specs], scope="module")


def device_for(spec: DeviceSpec, family: str):
    """The device ``spec`` describes (built once per spec and reused), or a skip when it cannot
    be built for lack of credentials or does not run ``family`` (``"qubit"``/``"cv"``/
    ``"linear_optics"``) circuits."""
    key = (spec.name, repr(sorted(spec.options.items())), spec.shots)
    if key not in _DEVICES:
        try:
            _DEVICES[key] = spec.make()
        except CredentialsError as exc:
            pytest.skip(f"{spec.name}: no credentials ({exc})")
    dev = _DEVICES[key]
    if family not in dev.capabilities.families:
        kind = {"cv": "photonic", "linear_optics": "linear-optical"}.get(family, family)
        pytest.skip(f"{dev.name} runs {sorted(dev.capabilities.families)} circuits, not {kind} ones")
    return dev
