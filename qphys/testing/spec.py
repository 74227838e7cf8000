"""``DeviceSpec``: which device (name, options, shots) a conformance run targets."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeviceSpec:
    """A device to check: ``name``, constructor ``options``, ``shots`` (``None``: exact).

    ``atol`` is the tolerance for exact comparisons; with shots, tests derive a statistical
    tolerance (``sigmas`` standard errors) instead.
    """

    name: str
    options: dict = field(default_factory=dict)
    shots: int | None = None
    atol: float = 1e-5
    sigmas: float = 5.0

    def make(self):
        """Build the device."""
        import qphys

        opts = dict(self.options)
        if self.shots is not None:
            opts["shots"] = self.shots
        return qphys.device(self.name, **opts)

    def tol(self, spread: float = 1.0) -> float:
        """Absolute tolerance: ``atol`` exact, else ``sigmas * spread / sqrt(shots)``."""
        if self.shots is None:
            return self.atol
        return self.atol + self.sigmas * spread / math.sqrt(self.shots)

    @property
    def id(self) -> str:
        extra = f"-shots{self.shots}" if self.shots else ""
        opts = "-".join(f"{k}={v}" for k, v in sorted(self.options.items()) if k != "noise_model")
        return self.name + extra + (f"-{opts}" if opts else "")


def specs_from_config(config, default):
    """``DeviceSpec`` list from ``--qphys-device`` options, else ``default``."""
    names = config.getoption("qphys_device", default=None)
    if not names:
        return list(default or [])
    shots = config.getoption("qphys_shots", default=None)
    raw = config.getoption("qphys_device_options", default=None)
    options = json.loads(raw) if raw else {}
    return [DeviceSpec(n, options=options, shots=shots, atol=1e-5 if shots is None else 0.0) for n in names]
