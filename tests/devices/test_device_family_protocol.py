"""The device-family protocol that ``qphys.devices.registry`` relies on for ``*`` entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from qphys_pennylane import PennyLaneFamily
from qphys_qiskit.ibm import IBMFamily

from qphys.devices import DeviceFamily, registry
from qphys.errors import DeviceNotFoundError


@pytest.mark.parametrize("family", [PennyLaneFamily, IBMFamily])
def test_plugin_families_implement_the_protocol(family):
    assert isinstance(family, DeviceFamily)


class NotAFamily:
    @classmethod
    def create(cls, name, **options):  # no available_names, no capabilities_for
        raise AssertionError("never called")


def test_a_broken_family_entry_point_is_named_in_the_error(monkeypatch):
    ep = EntryPoint(name="broken.*", value=f"{__name__}:NotAFamily", group=registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {"broken.*": ep})
    with pytest.raises(DeviceNotFoundError, match=r"'broken\.\*' .* is not a device family: it lacks "
                       r"available_names, capabilities_for"):
        registry.device("broken.thing")
