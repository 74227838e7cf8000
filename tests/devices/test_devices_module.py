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


def test_torch_qubit_device_pickles_and_keeps_working():
    import pickle

    import torch

    dev = qphys.device("torch.qubit", dtype="complex128", shots=None)
    theta = torch.tensor(0.4, requires_grad=True)
    c = qphys.Circuit(wires=1).rx(theta, 0).expval(qphys.Z(0))
    qphys.execute(c, dev, diff_method="adjoint").expvals.sum().backward()  # fills its cache
    clone = pickle.loads(pickle.dumps(dev))
    assert clone.dtype == torch.complex128
    out = qphys.execute(c, clone, diff_method="adjoint").expvals
    assert torch.allclose(out, torch.cos(theta.detach()).reshape(1).to(out.dtype))
