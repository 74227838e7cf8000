"""The Device layer: the :class:`Device` ABC, its configuration and results, and the registry."""

from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.devices.registry import device, device_names, devices

__all__ = ["Device", "Capabilities", "RunConfig", "Result", "device", "devices", "device_names"]
