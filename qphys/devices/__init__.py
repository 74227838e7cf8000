"""The Device layer: the :class:`Device` ABC, its configuration and results, and the registry.

``qphys.devices()`` lists the installed devices: this module is callable, so the name serves
both as the subpackage (``qphys.devices.torch_qubit``) and as the listing function.
"""

import sys
import types

from qphys.devices.base import Capabilities, Device, Result, RunConfig, VJPFunction, execute_and_compute_vjp
from qphys.devices.registry import DeviceFamily, device, device_listing, device_names, devices

__all__ = [
    "Device", "Capabilities", "RunConfig", "Result", "DeviceFamily", "VJPFunction", "execute_and_compute_vjp",
    "device", "devices", "device_names", "device_listing",
]


class _CallableModule(types.ModuleType):
    def __call__(self):
        """Same as :func:`qphys.devices.registry.devices`."""
        return devices()


sys.modules[__name__].__class__ = _CallableModule
