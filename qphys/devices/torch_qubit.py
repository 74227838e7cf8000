"""``torch.qubit``: the default device, a thin driver over :mod:`qphys.sim.statevector`."""

from __future__ import annotations

import os
import weakref

import torch

from qphys._random import seeded_generator
from qphys.circuit import Circuit
from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.errors import DeviceOptionError, ResourceError, UnsupportedOperationError
from qphys.ops import registered_names
from qphys.sim.statevector import measure as M
from qphys.sim.statevector.adjoint import adjoint_vjp
from qphys.sim.statevector.apply import run_circuit

_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}


def parse_dtype(dtype) -> torch.dtype:
    """``"complex64"``/``"complex128"`` or the torch dtype itself."""
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if dtype in _DTYPES.values():
        return dtype
    raise DeviceOptionError(f"dtype must be 'complex64' or 'complex128', got {dtype!r}")


def parse_torch_device(torch_device) -> torch.device:
    try:
        dev = torch.device(torch_device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceOptionError(f"torch_device {torch_device!r} is not a torch device: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceOptionError(
            f"torch_device={torch_device!r} but CUDA is not available here; use torch_device='cpu'"
        )
    return dev


def available_memory(dev: torch.device) -> int:
    """Bytes that can be allocated now on ``dev``."""
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


class TorchQubitDevice(Device):
    """Batched state-vector simulator in pure torch (CPU or CUDA), differentiable by backprop
    and adjoint.

    Args:
        shots: default number of shots (``None``: exact).
        seed: seed of the sampling generator.
        dtype: ``"complex64"`` (default) or ``"complex128"``.
        torch_device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        max_memory: bytes the simulation may use (default: what is free now).

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(wires=1).h(0).expval(qphys.X(0))
        >>> round(float(qphys.execute(c, "torch.qubit").expvals[0]), 6)  # complex64: 0.99999994
        1.0
    """

    name = "torch.qubit"
    capabilities = Capabilities(
        families=frozenset({"qubit"}),
        operations=frozenset(registered_names("qubit")),
        native_diff=("backprop", "adjoint"),
        batching=True,
    )
    #: states plus temporaries a gate needs, in units of one state
    WORKSPACE_FACTOR = 4

    def __init__(self, *, shots=None, seed=None, dtype="complex64", torch_device="cpu", max_memory=None):
        super().__init__(shots=shots, seed=seed)
        self.dtype = parse_dtype(dtype)
        self.torch_device = parse_torch_device(torch_device)
        if max_memory is not None and (not isinstance(max_memory, int) or max_memory <= 0):
            raise DeviceOptionError(f"max_memory must be a positive number of bytes, got {max_memory!r}")
        self.max_memory = max_memory
        # final states of circuits marked ``keep_final_state``, for the vjp that follows
        self._final_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_final_states", None)  # a transient cache of weak references
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._final_states = weakref.WeakKeyDictionary()

    def memory_estimate(self, circuit: Circuit) -> int:
        """Bytes needed to simulate ``circuit`` (state vector times workspace factor)."""
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        return (circuit.batch_size or 1) * 2**circuit.num_wires * itemsize * self.WORKSPACE_FACTOR

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        if config.shots is not None:
            for c in circuits:
                for m in c.measurements:
                    if m.kind == "var" and len(m.obs.terms()) != 1:
                        raise UnsupportedOperationError(
                            f"var of a sum of {len(m.obs.terms())} terms cannot be estimated from one "
                            "measurement setting; use shots=None or measure each term's var"
                        )
        limit = self.max_memory or available_memory(self.torch_device)
        for c in circuits:
            need = self.memory_estimate(c)
            if need > limit:
                raise ResourceError(
                    f"simulating {c.num_wires} qubits (batch {c.batch_size or 1}, {self.dtype}) "
                    f"needs about {fmt_bytes(need)} ({need} bytes) but only {fmt_bytes(limit)} is "
                    "available; use fewer qubits, a smaller batch, dtype='complex64', or a "
                    "matrix-product-state device such as aer.matrix_product_state"
                )
        return circuits

    def execute(self, circuits, config):
        gen = seeded_generator(config.seed) if config.shots is not None else None
        return [self._run_one(c, config, gen) for c in circuits]

    def _run_one(self, circuit: Circuit, config: RunConfig, gen) -> Result:
        n = circuit.num_wires
        psi = run_circuit(circuit, dtype=self.dtype, device=self.torch_device)
        if circuit.keep_final_state:
            self._final_states[circuit] = psi.detach()
        batched = circuit.batch_size is not None
        shots = config.shots
        values = []
        for m in circuit.measurements:
            if m.kind == "state":
                v = psi
            elif m.kind == "probs":
                p = M.probs(psi, m.wires, n)
                if shots is not None:
                    idx = M.sample_indices(p, shots, gen)
                    p = torch.nn.functional.one_hot(idx, p.shape[-1]).sum(1).to(p.dtype) / shots
                    p = p.to(self.torch_device)
                v = p
            elif m.kind in ("expval", "var"):
                if shots is None:
                    v = M.expval(psi, m.obs, n) if m.kind == "expval" else M.variance(psi, m.obs, n)
                else:
                    v = self._sampled_expval(psi, m, n, shots, gen)
            elif m.kind in ("sample", "counts"):
                wires = m.wires if m.wires is not None else tuple(range(n))
                idx = M.sample_indices(M.probs(psi, wires, n), shots, gen)
                bits = M.indices_to_bits(idx, len(wires))
                if m.kind == "sample":
                    v = bits
                else:
                    v = [_counts(row) for row in bits]
                    v = v if batched else v[0]
                    values.append(v)
                    continue
            else:  # pragma: no cover - preprocess rejects other kinds
                raise AssertionError(m.kind)
            values.append(v if batched else v[0])
        return Result(tuple(values), tuple(circuit.measurements), {"device": self.name})

    def _sampled_expval(self, psi, m, n, shots, gen):
        terms = m.obs.terms()
        if m.kind == "var":  # a single term (preprocess rejects sums)
            s = M.term_samples(psi, terms[0][1], n, shots, gen) * terms[0][0]
            v = s.var(dim=1, unbiased=False)
        else:
            v = sum(c * M.term_samples(psi, f, n, shots, gen).mean(dim=1) for c, f in terms)
        return torch.as_tensor(v, device=self.torch_device).to(psi.real.dtype)

    def vjp(self, circuits, trainable, grad_outputs, config):
        return [
            adjoint_vjp(
                c, t, g, dtype=self.dtype, device=self.torch_device,
                final_state=self._final_states.pop(c, None),
            )
            for c, t, g in zip(circuits, trainable, grad_outputs)
        ]


def _counts(bits_row) -> dict[str, int]:
    strings = ["".join(map(str, r)) for r in bits_row.tolist()]
    out: dict[str, int] = {}
    for s in strings:
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))
