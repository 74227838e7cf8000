"""``torch.fock``: photonic circuits in a truncated Fock basis, a thin driver over
:mod:`qphys.sim.fock` (batched, differentiable by backprop, CPU or CUDA)."""

from __future__ import annotations

import logging

import torch

from qphys._random import seeded_generator
from qphys._warn import warn
from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.devices.options import (
    available_memory,
    check_amplitudes,
    check_finite,
    check_shots_observables,
    fmt_bytes,
    parse_cutoff,
    parse_dtype,
    parse_max_memory,
    parse_torch_device,
)
from qphys.errors import DeviceOptionError, ResourceError
from qphys.ops import registered_names
from qphys.sim import fock as F
from qphys.sim.fock import TruncationWarning
from qphys.sim.fock import measure as FM

log = logging.getLogger(__name__)

CV_MEASUREMENTS = frozenset({"expval", "var", "fock_probs", "homodyne", "state"})


class TorchFockDevice(Device):
    """Batched truncated-Fock-basis simulator of photonic circuits in pure torch.

    Args:
        shots: default number of shots (``None``: exact).
        seed: seed of the sampling generator.
        cutoff: Fock levels kept per mode (photon numbers ``0..cutoff-1``), at least 2.
        dtype: ``"complex128"`` (default; the gate recurrences need it for 1e-8 accuracy) or
            ``"complex64"``.
        torch_device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        trace_warning: warn (:class:`~qphys.sim.fock.TruncationWarning`, once per device
            instance; later occurrences are logged at INFO) when more than this probability leaks
            past the cutoff in any batch element.
        max_memory: bytes the simulation may use (default: what is free now).

    ``Result.metadata["trace"]`` holds the norm of the final state per batch element and
    ``metadata["lost_probability"]`` the largest ``1 - trace``.

    Examples:
        >>> import qphys
        >>> from qphys import cv
        >>> c = qphys.Circuit(modes=1).displacement(0.5, 0.0, 0).expval(cv.N(0))
        >>> r = qphys.execute(c, qphys.device("torch.fock", cutoff=12))
        >>> round(float(r.expvals[0]), 6)
        0.25
    """

    name = "torch.fock"
    capabilities = Capabilities(
        families=frozenset({"cv"}),
        operations=frozenset(registered_names("cv")),
        observables=frozenset({"CVObservable"}),
        measurements=CV_MEASUREMENTS,
        native_diff=("backprop",),
        batching=True,
    )
    WORKSPACE_FACTOR = 6

    def __init__(self, *, shots=None, seed=None, cutoff=10, dtype="complex128", torch_device="cpu",
                 trace_warning=1e-3, max_memory=None):
        super().__init__(shots=shots, seed=seed)
        self.cutoff = parse_cutoff(cutoff)
        self.dtype = parse_dtype(dtype)
        self.torch_device = parse_torch_device(torch_device)
        if isinstance(trace_warning, bool) or not isinstance(trace_warning, (int, float)) or not 0 <= trace_warning < 1:
            raise DeviceOptionError(f"trace_warning must be a probability in [0, 1), got {trace_warning!r}")
        self.trace_warning = float(trace_warning)
        self.max_memory = parse_max_memory(max_memory)
        self._warned = False

    def __repr__(self):
        return f"<TorchFockDevice 'torch.fock' cutoff={self.cutoff} shots={self.shots}>"

    def memory_estimate(self, circuit, shots: int | None = None) -> int:
        """Bytes to simulate ``circuit`` (state times workspace) and, with ``shots``, to sample it
        (about 40 bytes per shot, batch row and sampled measurement)."""
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        rows = circuit.batch_size or 1
        need = rows * (self.cutoff + 2) ** circuit.num_wires * itemsize * self.WORKSPACE_FACTOR
        if shots is not None:
            sampled = sum(1 for m in circuit.measurements if m.kind in ("homodyne", "fock_probs", "expval", "var"))
            need += rows * shots * 40 * sampled
        return need

    def displacement_bound(self) -> float:
        """Largest ``|r|`` of a displacement this cutoff and precision represent: the matrix holds
        ``r**(2 cutoff - 2)``, which must not overflow (far beyond it, the whole state lies past
        the cutoff anyway)."""
        return 0.5 * torch.finfo(self.dtype.to_real()).max ** (1.0 / (2 * self.cutoff - 1))

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        check_shots_observables(self.name, circuits, config, number_ok=True)
        check_amplitudes(self.name, circuits, {"displacement": {0: self.displacement_bound()}}, {
            "displacement": (f"such a coherent state lies entirely beyond cutoff {self.cutoff}: use torch.gaussian "
                             "(exact for Gaussian circuits) or a smaller amplitude"),
        })
        limit = self.max_memory or available_memory(self.torch_device)
        for c in circuits:
            need = self.memory_estimate(c, config.shots)
            if need > limit:
                raise ResourceError(
                    f"simulating {c.num_wires} modes at cutoff {self.cutoff} (batch {c.batch_size or 1}"
                    f"{'' if config.shots is None else f', {config.shots} shots'}) needs about {fmt_bytes(need)} but "
                    f"only {fmt_bytes(limit)} is available; lower the cutoff, use fewer modes or fewer shots, or use "
                    "torch.gaussian for Gaussian circuits"
                )
        return circuits

    def execute(self, circuits, config: RunConfig):
        gen = seeded_generator(config.seed) if config.shots is not None else None
        return [self._run_one(c, config, gen) for c in circuits]

    def _run_one(self, circuit, config, gen) -> Result:
        psi = F.run_circuit(circuit, cutoff=self.cutoff, dtype=self.dtype, device=self.torch_device)
        batched = circuit.batch_size is not None
        shots = config.shots
        with torch.no_grad():
            tr = FM.trace(psi)
        check_finite(self.name, circuit, [tr], str(self.dtype).replace("torch.", ""))
        values = []
        for m in circuit.measurements:
            if m.kind == "state":
                v = psi.reshape(psi.shape[0], -1)
            elif m.kind == "fock_probs":
                v = FM.fock_probs(psi, m.wires)
                if shots is not None:
                    w = v.detach().clamp_min(0).cpu().double()
                    idx = torch.multinomial(w, shots, replacement=True, generator=gen)
                    counts = torch.zeros(w.shape, dtype=torch.float64).scatter_add_(
                        1, idx, torch.ones(idx.shape, dtype=torch.float64))
                    v = (counts / shots).to(dtype=v.dtype, device=v.device)
            elif m.kind == "homodyne":
                v = FM.homodyne_samples(psi, m.wires[0], m.obs.phi, shots, gen)
            elif m.kind in ("expval", "var"):
                if shots is None:
                    v = FM.expval(psi, m.obs) if m.kind == "expval" else FM.variance(psi, m.obs)
                else:
                    v = self._sampled(psi, m, shots, gen)
            else:  # pragma: no cover - preprocess rejects other kinds
                raise AssertionError(m.kind)
            values.append(v if batched else v[0])
        lost = float((1 - tr.detach()).max())
        if lost > self.trace_warning and not self._warned:
            self._warned = True  # once per device; later runs log at INFO
            warn(
                f"torch.fock: probability {lost:.3g} leaked past cutoff {self.cutoff} (threshold "
                f"{self.trace_warning:g}); results are truncated, raise cutoff= or reduce "
                "squeezing/displacement",
                TruncationWarning,
            )
        elif lost > self.trace_warning:
            log.info("torch.fock: %.3g probability lost past cutoff %d", lost, self.cutoff)
        meta = {
            "device": self.name,
            "cutoff": self.cutoff,
            "trace": tr.detach() if batched else tr.detach()[0],
            "lost_probability": lost,
        }
        return Result(tuple(values), tuple(circuit.measurements), meta)

    def _sampled(self, psi, m, shots, gen):
        obs = m.obs
        if obs.kind == "N":
            p = FM.fock_probs(psi, obs.modes).detach().clamp_min(0).cpu().double()
            s = torch.multinomial(p, shots, replacement=True, generator=gen).double()
        else:
            s = FM.homodyne_samples(psi, obs.modes[0], obs.phi, shots, gen).double().cpu()
        v = s.mean(1) if m.kind == "expval" else s.var(1, unbiased=False)
        return v.to(device=psi.device, dtype=psi.real.dtype)
