"""``torch.gaussian``: exact Gaussian simulation (means and covariance), a thin driver over
:mod:`qphys.sim.gaussian` (batched, differentiable by backprop, CPU or CUDA, many modes)."""

from __future__ import annotations

import math

import torch

from qphys._random import seeded_generator
from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.devices.options import (
    available_memory,
    check_amplitudes,
    check_finite,
    check_shots_observables,
    fmt_bytes,
    parse_real_dtype,
    parse_torch_device,
)
from qphys.errors import ResourceError, UnsupportedOperationError
from qphys.ops.cv import GAUSSIAN_GATES, non_gaussian_gates
from qphys.sim import gaussian as GS


class TorchGaussianDevice(Device):
    """Exact simulator of Gaussian photonic circuits through means and covariance matrices.

    Args:
        shots: default number of shots (``None``: exact); with shots, ``homodyne`` samples and
            quadrature expectations are estimated from exact normal draws.
        seed: seed of the sampling generator.
        dtype: ``"float64"`` (default) or ``"float32"``.
        torch_device: ``"cpu"``, ``"cuda"``...

    ``state()`` returns the pair ``(means (B, 2m), covariance (B, 2m, 2m))`` in ``xxpp`` order.

    Examples:
        >>> import qphys
        >>> from qphys import cv
        >>> c = qphys.Circuit(modes=2).squeezing(0.5, 0.0, 0).beamsplitter(0.7, 0.0, 0, 1)
        >>> r = qphys.execute(c.expval(cv.N(0)), qphys.device("torch.gaussian"))
        >>> round(float(r.expvals[0]), 4)  # sinh(0.5)^2 cos(0.7)^2
        0.1588
    """

    name = "torch.gaussian"
    capabilities = Capabilities(
        families=frozenset({"cv"}),
        operations=frozenset(GAUSSIAN_GATES),
        observables=frozenset({"CVObservable"}),
        measurements=frozenset({"expval", "var", "homodyne", "state"}),
        native_diff=("backprop",),
        batching=True,
    )

    def __init__(self, *, shots=None, seed=None, dtype="float64", torch_device="cpu"):
        super().__init__(shots=shots, seed=seed)
        self.dtype = parse_real_dtype(dtype)
        self.torch_device = parse_torch_device(torch_device)

    def preprocess(self, circuits, config):
        for c in circuits:
            bad = non_gaussian_gates(c)
            if bad:
                raise UnsupportedOperationError(
                    f"device 'torch.gaussian' simulates Gaussian circuits only; the circuit has "
                    f"non-Gaussian gate(s) {', '.join(bad)}; use torch.fock (cutoff=...) for them"
                )
        circuits = super().preprocess(circuits, config)
        check_shots_observables(self.name, circuits, config, number_ok=False)
        big = torch.finfo(self.dtype).max
        squeeze = (math.log(big) - 2) / 2  # covariance entries grow like e^{2r}
        fix = ("this is far beyond any physical squeezing (r = 1 is 8.7 dB); use a smaller r"
               + (", or dtype='float64'" if self.dtype != torch.float64 else ""))
        check_amplitudes(self.name, circuits, {
            "squeezing": {0: squeeze}, "two_mode_squeezing": {0: squeeze}, "displacement": {0: math.sqrt(big) / 4},
        }, {"squeezing": fix, "two_mode_squeezing": fix,
            "displacement": "means this large overflow the moments; use a smaller r"})
        if config.shots is not None:
            limit = available_memory(self.torch_device)
            for c in circuits:
                sampled = sum(1 for m in c.measurements if m.kind in ("homodyne", "expval", "var"))
                need = (c.batch_size or 1) * config.shots * 24 * sampled
                if need > limit:
                    raise ResourceError(
                        f"sampling {config.shots} shots (batch {c.batch_size or 1}, {sampled} sampled measurement(s)) "
                        f"needs about {fmt_bytes(need)} but only {fmt_bytes(limit)} is available; use fewer shots, "
                        "or shots=None for exact values"
                    )
        return circuits

    def execute(self, circuits, config: RunConfig):
        gen = seeded_generator(config.seed) if config.shots is not None else None
        return [self._run_one(c, config, gen) for c in circuits]

    def _run_one(self, circuit, config, gen) -> Result:
        mu, V = GS.run_circuit(circuit, dtype=self.dtype, device=self.torch_device)
        check_finite(self.name, circuit, [mu, V], str(self.dtype).replace("torch.", ""))
        batched = circuit.batch_size is not None
        shots = config.shots
        values = []
        for m in circuit.measurements:
            if m.kind == "state":
                values.append((mu, V) if batched else (mu[0], V[0]))
                continue
            if m.kind == "homodyne":
                v = GS.homodyne_samples(mu, V, m.wires[0], m.obs.phi, shots, gen)
            elif shots is None:
                v = GS.expval(mu, V, m.obs) if m.kind == "expval" else GS.variance(mu, V, m.obs)
            else:
                s = GS.homodyne_samples(mu, V, m.obs.modes[0], m.obs.phi, shots, gen)
                v = s.mean(1) if m.kind == "expval" else s.var(1, unbiased=False)
            values.append(v if batched else v[0])
        check_finite(self.name, circuit, [v for v in values if torch.is_tensor(v)], str(self.dtype).replace("torch.", ""))
        return Result(tuple(values), tuple(circuit.measurements), {"device": self.name})
