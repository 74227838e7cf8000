"""``qphys.devices`` is both the subpackage and the listing function."""

import importlib

import qphys


def test_devices_is_callable_and_lists_torch_qubit():
    names = [r["name"] for r in qphys.devices()]
    assert "torch.qubit" in names


def test_device_submodules_import_through_the_package_attribute():
    mod = importlib.import_module("qphys.devices.torch_qubit")
    assert qphys.devices.torch_qubit is mod
    assert qphys.devices.torch_qubit.TorchQubitDevice.name == "torch.qubit"
