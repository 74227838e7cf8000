""":class:`QuantumLayer`: a parametrized circuit as a ``torch.nn.Module``."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from qphys.circuit import Circuit
from qphys.diff import execute
from qphys.errors import ParameterError


class QuantumLayer(torch.nn.Module):
    """Wrap ``circuit_fn(inputs, **weights) -> Circuit`` as a module.

    The circuit's ``expval``/``var`` measurements are the outputs: shape ``(B, n_outputs)`` for
    inputs ``(B, F)``, ``(n_outputs,)`` for ``(F,)``. Weights are ``torch.nn.Parameter``s
    initialised uniformly in ``[0, 2π)`` (or by ``init``).

    Args:
        circuit_fn: builds the circuit from a batch of inputs and the weights.
        weight_shapes: ``{"name": shape}`` of the trainable weights.
        device: device name or instance (default ``"torch.qubit"``).
        diff_method: see :func:`qphys.execute`.
        init: ``init(tensor)`` in place, e.g. ``torch.nn.init.normal_``.

    Examples:
        >>> import torch, qphys
        >>> from qphys.templates import angle_embedding, hardware_efficient
        >>> def circuit(x, w):
        ...     c = angle_embedding(qphys.Circuit(wires=2), x)
        ...     return hardware_efficient(c, w).expval(qphys.Z(0))
        >>> layer = qphys.nn.QuantumLayer(circuit, {"w": (2, 2, 2)})
        >>> layer(torch.rand(5, 2)).shape
        torch.Size([5, 1])
    """

    def __init__(
        self,
        circuit_fn: Callable[..., Circuit],
        weight_shapes: dict[str, tuple[int, ...] | int],
        *,
        device="torch.qubit",
        diff_method: str = "best",
        init: Callable[[torch.Tensor], object] | None = None,
        shots=None,
    ):
        super().__init__()
        self.circuit_fn = circuit_fn
        self.diff_method = diff_method
        if isinstance(device, str):
            from qphys.devices import device as make

            device = make(device)
        self.device = device
        self.shots = shots
        for name, shape in weight_shapes.items():
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            w = torch.empty(shape, dtype=torch.get_default_dtype())
            if init is None:
                torch.nn.init.uniform_(w, 0.0, 2 * math.pi)
            else:
                init(w)
            self.register_parameter(name, torch.nn.Parameter(w))
        self.weight_names = tuple(weight_shapes)

    def circuit(self, inputs: torch.Tensor) -> Circuit:
        """The circuit this layer runs for ``inputs``."""
        circuit = self.circuit_fn(inputs, **{n: getattr(self, n) for n in self.weight_names})
        if not isinstance(circuit, Circuit):
            raise ParameterError(
                f"circuit_fn must return a qphys.Circuit, got {type(circuit).__name__}"
            )
        return circuit

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim == 2 and inputs.shape[0] == 0:
            raise ParameterError("QuantumLayer got an empty batch")
        circuit = self.circuit(inputs)
        kwargs = {} if self.shots is None else {"shots": self.shots}
        result = execute(circuit, self.device, diff_method=self.diff_method, **kwargs)
        out = result.expvals
        if inputs.ndim == 2 and circuit.batch_size is None:
            out = out.expand(inputs.shape[0], -1)
        return out.to(inputs.dtype if inputs.is_floating_point() else torch.get_default_dtype())
