""":class:`QuantumLayer`: a parametrized circuit as a ``torch.nn.Module``."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

from qphys.circuit import Circuit
from qphys.devices import Device
from qphys.devices import device as make_device
from qphys.diff import DEVICE_DEFAULT, execute
from qphys.errors import DeviceOptionError, ParameterError, UnsupportedOperationError
from qphys.parallel import as_executor

#: Measurement kinds a layer returns, and how many output columns each gives.
LAYER_KINDS = ("expval", "var", "probs")


class QuantumLayer(torch.nn.Module):
    """Wrap ``circuit_fn(inputs, **weights) -> Circuit`` as a module.

    The circuit's measurements are the outputs, concatenated on the last axis in measurement
    order: one column per ``expval``/``var``, ``2**k`` columns per ``probs`` of ``k`` wires (a
    probability head). Shape ``(B, n_outputs)`` for inputs ``(B, F)``, ``(n_outputs,)`` for
    ``(F,)``. Weights are ``torch.nn.Parameter``s initialised uniformly in ``[0, 2π)`` (or by
    ``init``).

    Precision follows the model: the simulation runs in the complex dtype of the wider of the
    layer's parameters and the inputs (``layer.to(torch.float64)`` or float64 inputs run a
    ``torch.*`` device in ``complex128``; never below the device's own ``dtype``), and the
    output has that real dtype. ``set_device`` switches device or shots after construction.

    Args:
        circuit_fn: builds the circuit from a batch of inputs and the weights.
        weight_shapes: ``{"name": shape}`` of the trainable weights.
        device: device name or instance (default ``"torch.qubit"``).
        diff_method: see :func:`qphys.execute`.
        init: ``init(tensor)`` in place, e.g. ``torch.nn.init.normal_``.
        shots: shots for every forward pass (``None``: the device's own setting).
        executor: run each forward pass on an executor's workers (:mod:`qphys.parallel`): the
            batch is split into shards, and on backward each worker returns the vector-Jacobian
            product of its shard (``diff_method="best"`` picks adjoint or parameter shift).

    Examples:
        >>> import torch, qphys
        >>> from qphys.templates import angle_embedding, hardware_efficient
        >>> def circuit(x, w):
        ...     c = angle_embedding(qphys.Circuit(wires=2), x)
        ...     return hardware_efficient(c, w).expval(qphys.Z(0))
        >>> layer = qphys.nn.QuantumLayer(circuit, {"w": (2, 2, 2)})
        >>> layer(torch.rand(5, 2)).shape
        torch.Size([5, 1])
        >>> layer.to(torch.float64)(torch.rand(5, 2)).dtype  # simulated in complex128
        torch.float64
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
        executor=None,
    ):
        super().__init__()
        self.circuit_fn = circuit_fn
        self.diff_method = diff_method
        self.device: Device = make_device(device) if isinstance(device, str) else device
        self.shots = shots
        self.executor = as_executor(executor)
        self._twins: dict[torch.dtype, Device] = {}
        for name, shape in weight_shapes.items():
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            w = torch.empty(shape, dtype=torch.get_default_dtype())
            if init is None:
                torch.nn.init.uniform_(w, 0.0, 2 * math.pi)
            else:
                init(w)
            self.register_parameter(name, torch.nn.Parameter(w))
        self.weight_names = tuple(weight_shapes)

    def set_device(self, device, **options) -> QuantumLayer:
        """Run on another device, or with other shots; returns the layer.

        Args:
            device: a device name (built with ``options``, e.g. ``shots=1000, seed=1``) or a
                :class:`~qphys.devices.Device` instance (then no options).
            **options: device options (see ``qphys.device``).

        Raises:
            DeviceOptionError: options given with a device instance.

        Examples:
            >>> import torch, qphys
            >>> layer = qphys.nn.QuantumLayer(lambda x, w: qphys.Circuit(wires=1).ry(x[..., 0] + w, 0)
            ...                               .expval(qphys.Z(0)), {"w": ()})
            >>> layer.set_device("torch.qubit", shots=1000, seed=1).device.shots
            1000
        """
        if not isinstance(device, str):
            if options:
                raise DeviceOptionError(
                    f"set_device got a device instance and options {sorted(options)}; pass a device "
                    "name with options (set_device('torch.qubit', shots=1000)) or a configured instance"
                )
            self.device = device
        else:
            self.device = make_device(device, **options)
        self.shots = None  # the new device's own shots apply
        self._twins = {}
        return self

    def circuit(self, inputs: torch.Tensor) -> Circuit:
        """The circuit this layer runs for ``inputs``."""
        circuit = self.circuit_fn(inputs, **{n: getattr(self, n) for n in self.weight_names})
        if not isinstance(circuit, Circuit):
            raise ParameterError(
                f"circuit_fn must return a qphys.Circuit, got {type(circuit).__name__}"
            )
        return circuit

    def precision(self, inputs: torch.Tensor | None = None) -> torch.dtype:
        """The real dtype of this layer's computation: the widest of its parameters and ``inputs``."""
        dtype = None
        for p in self.parameters():
            if p.is_floating_point():
                dtype = p.dtype if dtype is None else torch.promote_types(dtype, p.dtype)
        if inputs is not None and inputs.is_floating_point():
            dtype = inputs.dtype if dtype is None else torch.promote_types(dtype, inputs.dtype)
        return dtype or torch.get_default_dtype()

    def _device_for(self, real: torch.dtype) -> Device:
        """The device in a complex dtype at least as wide as ``real`` (torch devices only)."""
        dev = self.device
        current = getattr(dev, "dtype", None)
        if not isinstance(current, torch.dtype) or not current.is_complex:
            return dev  # not a torch simulator: it computes in its own precision
        want = torch.promote_types(current, real.to_complex())
        if want == current:
            return dev
        twin = self._twins.get(want)
        if twin is None:
            twin = copy.copy(dev)
            twin.dtype = want
            self._twins[want] = twin
        return twin

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim == 2 and inputs.shape[0] == 0:
            raise ParameterError("QuantumLayer got an empty batch")
        real = self.precision(inputs)
        circuit = self.circuit(inputs)
        bad = sorted({m.kind for m in circuit.measurements if m.kind not in LAYER_KINDS})
        if bad or not circuit.measurements:
            raise UnsupportedOperationError(
                f"a QuantumLayer returns {', '.join(LAYER_KINDS)} measurements as its outputs; the "
                f"circuit measures {', '.join(bad) if bad else 'nothing'}. Measure expval/var/probs in "
                "circuit_fn, or run other measurements with qphys.execute(layer.circuit(x), device)"
            )
        shots = DEVICE_DEFAULT if self.shots is None else self.shots
        result = execute(circuit, self._device_for(real), diff_method=self.diff_method, shots=shots,
                         executor=self.executor)
        cols = [v if m.kind == "probs" else v.unsqueeze(-1) for m, v in zip(circuit.measurements, result.values)]
        out = torch.cat([c.to(real) for c in cols], dim=-1)
        if inputs.ndim == 2 and circuit.batch_size is None:
            out = out.expand(inputs.shape[0], -1)
        return out
