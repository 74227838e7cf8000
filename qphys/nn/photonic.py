"""``PhotonicLayer``: the continuous-variable quantum neural network layer as a torch module.

Each layer is Killoran et al.'s (2019) ``interferometer -> squeezers -> interferometer ->
displacements -> Kerr`` on ``num_modes`` modes (:func:`qphys.templates.cv_neural_net_layer`).
Inputs are encoded by displacement or squeezing; outputs are quadrature expectations, photon
numbers or Fock probabilities. A whole batch runs as one batched circuit on ``torch.fock`` (or,
with ``kerr=False``, on ``torch.gaussian``), differentiated by backprop.
"""

from __future__ import annotations

import torch
from torch import nn

from qphys import cv
from qphys.circuit import Circuit
from qphys.devices import device as make_device
from qphys.diff import execute
from qphys.errors import ConfigError, ParameterError
from qphys.templates.cv import (
    cv_layer_shapes,
    cv_neural_net_layer,
    displacement_embedding,
    squeezing_embedding,
)

OUTPUTS = ("x", "p", "quadratures", "n", "fock_probs")
ENCODINGS = ("displacement", "squeezing", None)


class PhotonicLayer(nn.Module):
    """A stack of CV QNN layers with input encoding and a chosen readout.

    Args:
        num_modes: optical modes ``M``.
        num_layers: CV QNN layers stacked in one circuit.
        cutoff: Fock cutoff of the default ``torch.fock`` device.
        encoding: ``"displacement"`` (``D(x_i, 0)`` on mode ``i``), ``"squeezing"``
            (``S(x_i, 0)``) or ``None`` (no input; ``forward()`` takes no features).
        output: ``"x"`` (``<x_i>``, ``(B, M)``), ``"p"``, ``"quadratures"`` (``<x_i>`` then
            ``<p_i>``, ``(B, 2M)``), ``"n"`` (photon numbers, ``(B, M)``) or ``"fock_probs"``
            (``(B, cutoff**M)``).
        kerr: include the Kerr gates (``False`` gives a Gaussian layer).
        device: a device name or instance (default ``torch.fock`` with ``cutoff``).
        init_std: weights start as ``init_std * N(0, 1)`` (PennyLane's CV demo uses 0.05).
        seed: seed for the initial weights.

    Examples:
        >>> import torch
        >>> from qphys.nn import PhotonicLayer
        >>> layer = PhotonicLayer(2, num_layers=2, cutoff=6, output="n", seed=0)
        >>> layer(torch.rand(5, 2)).shape
        torch.Size([5, 2])
    """

    def __init__(self, num_modes: int, num_layers: int = 1, *, cutoff: int = 10, encoding="displacement",
                 output: str = "x", kerr: bool = True, device=None, init_std: float = 0.05,
                 seed: int | None = None):
        super().__init__()
        if isinstance(num_modes, bool) or not isinstance(num_modes, int) or num_modes < 1:
            raise ConfigError(f"num_modes must be a positive integer, got {num_modes!r}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ConfigError(f"num_layers must be a positive integer, got {num_layers!r}")
        if encoding not in ENCODINGS:
            raise ConfigError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if output not in OUTPUTS:
            raise ConfigError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.num_modes, self.num_layers = num_modes, num_layers
        self.encoding, self.output, self.kerr = encoding, output, kerr
        if device is None:
            device = make_device("torch.fock", cutoff=cutoff)
        elif isinstance(device, str):
            device = make_device(device, cutoff=cutoff) if device.endswith("fock") else make_device(device)
        self.device = device
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.weights = nn.ParameterDict({
            name: nn.Parameter(init_std * torch.randn((num_layers,) + shape, generator=gen, dtype=torch.float64))
            for name, shape in cv_layer_shapes(num_modes).items()
        })

    def circuit(self, x: torch.Tensor | None = None) -> Circuit:
        """The photonic circuit for inputs ``x`` (``(B, M)``, ``(M,)`` or ``None``)."""
        c = Circuit(modes=self.num_modes)
        if self.encoding is not None:
            if x is None:
                raise ParameterError(f"PhotonicLayer with encoding={self.encoding!r} needs input features")
            if x.shape[-1] != self.num_modes:
                raise ParameterError(
                    f"PhotonicLayer on {self.num_modes} mode(s) needs {self.num_modes} features per "
                    f"sample, got shape {tuple(x.shape)}"
                )
            embed = displacement_embedding if self.encoding == "displacement" else squeezing_embedding
            embed(c, x.to(torch.float64))
        for layer in range(self.num_layers):
            cv_neural_net_layer(c, **{n: w[layer] for n, w in self.weights.items()}, kerr=self.kerr)
        M = self.num_modes
        if self.output in ("x", "quadratures"):
            for i in range(M):
                c.expval(cv.X(i))
        if self.output in ("p", "quadratures"):
            for i in range(M):
                c.expval(cv.P(i))
        if self.output == "n":
            for i in range(M):
                c.expval(cv.N(i))
        if self.output == "fock_probs":
            c.fock_probs()
        return c

    def forward(self, x: torch.Tensor | None = None) -> torch.Tensor:
        r = execute(self.circuit(x), self.device)
        self.last_metadata = r.metadata
        if self.output == "fock_probs":
            return r.values[0]
        return r.expvals

    def extra_repr(self):
        return (f"num_modes={self.num_modes}, num_layers={self.num_layers}, encoding={self.encoding!r}, "
                f"output={self.output!r}, device={self.device.name}")


__all__ = ["PhotonicLayer"]
