"""``LinearOpticsLayer``: single photons through a trainable interferometer as a torch module.

The circuit is ``mesh(W1) -> phase encoding of the features -> mesh(W2)`` on ``m`` modes with a
Fock input (``photons``): two rectangular Clements meshes of MZIs (:func:`qphys.templates.mzi_mesh`,
each universal) around one phase shifter per feature (phases on unmixed Fock inputs would be
global phases, hence the first mesh). The outputs are the probabilities of the output patterns
(photon-number resolving or threshold detection, optionally heralded) or the mean photon number
of each mode. A batch of inputs is one batched circuit: on ``torch.linear_optics`` it trains by
backprop; on sampling devices and remote QPUs (``quandela.*``) it trains by the photonic
parameter-shift rule, every shifted circuit of the batch in one job.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qphys.circuit import Circuit
from qphys.devices import Device
from qphys.devices import device as make_device
from qphys.diff import DEVICE_DEFAULT, execute
from qphys.errors import ConfigError, DeviceOptionError, ParameterError
from qphys.linear_optics import num_patterns, outcome_patterns, validate_photons
from qphys.templates.linear_optics import mesh_shapes, mzi_mesh, phase_encoding

OUTPUTS = ("probs", "threshold", "photon_numbers")


class LinearOpticsLayer(nn.Module):
    """A photonic (discrete-variable) neural layer.

    Args:
        photons: the input Fock state, e.g. ``(1, 0, 1, 0)`` (its length is the number of modes).
        num_features: features encoded as phases on modes ``0 .. num_features - 1`` (default: all
            modes).
        output: ``"probs"`` (output-pattern probabilities, photon-number resolving),
            ``"threshold"`` (click-pattern probabilities) or ``"photon_numbers"`` (``(B, m)``
            mean photons per mode).
        heralds: ``{mode: photons}`` to post-select on (``probs``/``photon_numbers``); the outputs
            are then conditional on the heralds.
        scale: features are encoded as phases ``scale * x``.
        device: a device name or instance (default ``torch.linear_optics``).
        diff_method: see :func:`qphys.execute` (``"best"``: backprop on torch, parameter shift
            elsewhere).
        shots: shots of every forward pass (``None``: the device's own).
        seed: seed of the initial angles (uniform in ``[0, 2 pi)``).

    Examples:
        >>> import torch
        >>> from qphys.nn import LinearOpticsLayer
        >>> layer = LinearOpticsLayer((1, 0, 1, 0), output="photon_numbers", seed=0)
        >>> out = layer(torch.rand(5, 4, dtype=torch.float64))
        >>> out.shape, bool(torch.allclose(out.sum(1), torch.full((5,), 2.0, dtype=torch.float64)))
        (torch.Size([5, 4]), True)
        >>> LinearOpticsLayer((1, 1, 0), output="threshold").output_size
        6
    """

    def __init__(self, photons, *, num_features: int | None = None, output: str = "probs", heralds=None,
                 scale: float = 1.0, device="torch.linear_optics", diff_method: str = "best", shots=None,
                 seed: int | None = None):
        super().__init__()
        self.photons = validate_photons(photons)
        m = len(self.photons)
        if m < 2:
            raise ConfigError(f"a LinearOpticsLayer needs at least 2 modes, got photons={self.photons}")
        if output not in OUTPUTS:
            raise ConfigError(f"output must be one of {OUTPUTS}, got {output!r}")
        if num_features is None:
            num_features = m
        if isinstance(num_features, bool) or not isinstance(num_features, int) or not 1 <= num_features <= m:
            raise ConfigError(f"num_features must be an integer in [1, {m}], got {num_features!r}")
        if output == "threshold" and heralds:
            raise ConfigError("heralds need photon-number-resolving outputs; use output='probs' or 'photon_numbers'")
        self.num_modes, self.num_features, self.output, self.scale = m, num_features, output, float(scale)
        self.heralds = dict(heralds or {})
        self.diff_method, self.shots = diff_method, shots
        self.device: Device = make_device(device) if isinstance(device, str) else device
        self._check_circuit = self._measure(Circuit(photons=self.photons))  # validates the heralds now
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.weights = nn.ParameterDict({
            f"{stage}_{name}": nn.Parameter(2 * math.pi * torch.rand(shape, generator=gen, dtype=torch.float64))
            for stage in ("mesh1", "mesh2") for name, shape in mesh_shapes(m).items()
        })

    @property
    def output_size(self) -> int:
        """Number of output features."""
        if self.output == "photon_numbers":
            return len(self._check_circuit.measurements[0].wires)
        return int(outcome_patterns(self._check_circuit, self._check_circuit.measurements[0]).shape[0])

    def _measure(self, c: Circuit) -> Circuit:
        if self.output == "photon_numbers":
            return c.photon_numbers(heralds=self.heralds or None)
        if self.output == "threshold":
            return c.probs(detection="threshold")
        return c.probs(heralds=self.heralds or None)

    def circuit(self, x: torch.Tensor) -> Circuit:
        """The circuit for features ``x`` (``(B, F)`` or ``(F,)``)."""
        if not torch.is_tensor(x) or x.shape[-1] != self.num_features or x.ndim not in (1, 2):
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ParameterError(
                f"LinearOpticsLayer encodes {self.num_features} feature(s) per sample; got {shape}, expected "
                f"({self.num_features},) or (B, {self.num_features})"
            )
        w = {k: v for k, v in self.weights.items()}
        c = Circuit(photons=self.photons)
        mzi_mesh(c, w["mesh1_phi_a"], w["mesh1_phi_b"], w["mesh1_phases"])
        phase_encoding(c, x.to(torch.float64), scale=self.scale)
        mzi_mesh(c, w["mesh2_phi_a"], w["mesh2_phi_b"], w["mesh2_phases"])
        return self._measure(c)

    def set_device(self, device, **options) -> LinearOpticsLayer:
        """Run on another device (a name built with ``options``, or an instance); returns the layer.

        Raises:
            DeviceOptionError: options given with a device instance.
        """
        if not isinstance(device, str):
            if options:
                raise DeviceOptionError("set_device got a device instance and options; pass a name with options")
            self.device = device
        else:
            self.device = make_device(device, **options)
        self.shots = None
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2 and x.shape[0] == 0:
            raise ParameterError("LinearOpticsLayer got an empty batch")
        shots = DEVICE_DEFAULT if self.shots is None else self.shots
        result = execute(self.circuit(x), self.device, diff_method=self.diff_method, shots=shots)
        self.last_metadata = result.metadata
        out = result.values[0]
        return out.to(x.dtype) if x.is_floating_point() else out

    def extra_repr(self) -> str:
        size = num_patterns(self.num_modes, sum(self.photons)) if self.output == "probs" and not self.heralds else None
        return (f"photons={self.photons}, output={self.output!r}, heralds={self.heralds or None}, "
                f"device={self.device.name}" + (f", patterns={size}" if size else ""))


__all__ = ["LinearOpticsLayer"]
