"""``torch.linear_optics``: single photons through linear optics, a thin driver over
:mod:`qphys.sim.linear_optics` (SLOS in torch: batched, differentiable by backprop, CPU or CUDA)."""

from __future__ import annotations

import torch

from qphys import linear_optics as lo
from qphys._random import seeded_generator
from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.devices.options import (
    available_memory,
    fmt_bytes,
    parse_dtype,
    parse_max_memory,
    parse_torch_device,
)
from qphys.errors import ResourceError, UnsupportedOperationError
from qphys.ops import registered_names
from qphys.sim import linear_optics as S


class TorchLinearOpticsDevice(Device):
    """All output-pattern amplitudes of single photons through an interferometer, by SLOS
    (Heurtel et al., Quantum 7, 931, 2023) in pure torch.

    A circuit's operations become one ``(B, m, m)`` unitary (one row per batch element), SLOS
    gives the probabilities of every ``n``-photon output pattern, and every measurement follows
    from those (:mod:`qphys.linear_optics`): exactly, or from ``shots`` patterns per batch row
    drawn from a seeded ``torch.Generator`` (all sampled measurements of a circuit share the same
    samples, as on hardware). Exact runs differentiate by backprop (``diff_method="best"``); every
    run also supports the photonic parameter-shift rule. Mean photon numbers without heralds
    need only ``|U|^2`` and skip SLOS.

    Args:
        shots: default number of samples per circuit (``None``: exact).
        seed: seed of the sampling generator.
        dtype: ``"complex128"`` (default) or ``"complex64"`` (half the memory, about 1e-6 accuracy).
        torch_device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        max_memory: bytes a run may use (default: what is free at run time); ``preprocess``
            raises :class:`~qphys.errors.ResourceError` with the estimate before allocating.

    Examples:
        >>> import math, qphys
        >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).probs()
        >>> qphys.execute(c, "torch.linear_optics").values[0].round(decimals=12).tolist()  # HOM dip
        [0.5, 0.0, 0.5]
    """

    name = "torch.linear_optics"
    capabilities = Capabilities(
        families=frozenset({"linear_optics"}),
        operations=frozenset(registered_names("linear_optics")),
        observables=frozenset(),
        measurements=lo.MEASUREMENTS,
        native_diff=("backprop",),
        batching=True,
    )

    def __init__(self, *, shots=None, seed=None, dtype="complex128", torch_device="cpu", max_memory=None):
        super().__init__(shots=shots, seed=seed)
        self.dtype = parse_dtype(dtype)
        self.torch_device = parse_torch_device(torch_device)
        self.max_memory = parse_max_memory(max_memory)

    def __repr__(self):
        return f"<TorchLinearOpticsDevice 'torch.linear_optics' dtype={self.dtype} shots={self.shots}>"

    # ---- validation ---------------------------------------------------------------------------------
    @staticmethod
    def _needs_slos(circuit, config) -> bool:
        return config.shots is not None or any(
            m.kind != "photon_numbers" or m.heralds for m in circuit.measurements
        )

    def memory_estimate(self, circuit, config: RunConfig, *, requires_grad: bool = False) -> int:
        """Bytes one run of ``circuit`` needs: SLOS (:func:`qphys.linear_optics.slos_memory`) plus
        the samples (int64 indices and uint8 patterns per shot)."""
        batch = circuit.batch_size or 1
        m, n = circuit.num_wires, circuit.num_photons
        need = 16 * batch * m * m * 4  # the unitary and its products
        if self._needs_slos(circuit, config):
            need += lo.slos_memory(m, n, batch, dtype=self.dtype, requires_grad=requires_grad,
                                   device=self.torch_device)
        if config.shots is not None:
            need += batch * config.shots * (8 + m) * 2
        return need

    def preprocess(self, circuits, config):
        """Check measurements and memory before anything is allocated.

        Raises:
            UnsupportedOperationError: ``state()`` with shots.
            ResourceError: a circuit needs more memory than ``max_memory`` (or what is free).
        """
        circuits = super().preprocess(circuits, config)
        limit = self.max_memory or available_memory(self.torch_device)
        grad = torch.is_grad_enabled()
        for c in circuits:
            if config.shots is not None and any(m.kind == "state" for m in c.measurements):
                raise UnsupportedOperationError(
                    f"device {self.name!r}: the state is not available with shots; use shots=None"
                )
            need = self.memory_estimate(c, config, requires_grad=grad and bool(c.trainable_params()))
            if need > limit:
                raise ResourceError(
                    f"{self.name}: {c.num_photons} photons in {c.num_wires} modes (batch {c.batch_size or 1}, "
                    f"{str(self.dtype).replace('torch.', '')}{', shots=' + str(config.shots) if config.shots else ''}) "
                    f"need about {fmt_bytes(need)} but {fmt_bytes(limit)} is available; use fewer photons or modes, "
                    "a smaller batch, complex64, fewer shots, or a sampling device (perceval.clifford)"
                )
        return circuits

    # ---- execution ----------------------------------------------------------------------------------
    def execute(self, circuits, config: RunConfig):
        gen = seeded_generator(config.seed) if config.shots is not None else None
        return [self._run_one(c, config, gen) for c in circuits]

    def _run_one(self, circuit, config: RunConfig, gen) -> Result:
        U = lo.circuit_unitary(circuit, dtype=self.dtype, device=self.torch_device)
        if not self._needs_slos(circuit, config):  # first moments need only |U|^2
            means = S.photon_numbers_exact(U, circuit.photons)
            values = [means.index_select(1, torch.tensor(m.wires, device=means.device)) for m in circuit.measurements]
            meta = {}
        else:
            amps = None
            if any(m.kind == "state" for m in circuit.measurements):
                amps = S.amplitudes(U, circuit.photons)
                probs = amps.real.square() + amps.imag.square()
            else:
                probs = S.probabilities(U, circuit.photons)
            values, meta = lo.values_from_probabilities(circuit, probs, shots=config.shots, generator=gen,
                                                        amplitudes=amps)
        values, meta = lo.unbatch(circuit, values, meta)
        meta["device"] = self.name
        return Result(tuple(values), tuple(circuit.measurements), meta)


__all__ = ["TorchLinearOpticsDevice"]
