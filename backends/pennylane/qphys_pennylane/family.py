"""``pennylane.<name>``: every installed PennyLane qubit device as a qphys device.

``qphys.device("pennylane.lightning.qubit")`` wraps ``qml.device("lightning.qubit")``. Circuits
become PennyLane tapes (:func:`qphys_pennylane.to_pennylane`) and run through
:func:`pennylane.execute`, so PennyLane's own preprocessing applies: a batched qphys circuit
becomes one broadcast tape, which devices with native broadcasting (``default.qubit``) run at
once and the others (``lightning.qubit``) get split by PennyLane into one tape per batch
element, all sent in the same device call.

Shots: ``shots=N`` means N samples per measurement setting, as on every qphys device
(:mod:`qphys.measurements`): qphys groups the observables' terms into qubit-wise commuting
settings, and each setting becomes one tape (the circuit, the setting's basis change, and
``qml.sample`` of every wire), estimated by qphys from the samples. PennyLane's own grouping
(``split_non_commuting``) would measure differently grouped terms with their own shots.

Gradients: the device overrides :meth:`PennyLaneDevice.execute_and_vjp` for
``method="adjoint"``, so ``diff_method="adjoint"`` (and ``"best"`` for exact ``expval``
circuits) asks PennyLane for the vector-Jacobian product computed with the PennyLane device's
own best method (adjoint differentiation on
``lightning.qubit``, backprop on ``default.qubit``; choose with ``diff_method=`` here). This
keeps qphys' differentiation contract intact: qphys decides *when* to differentiate and by which
method (parameter shift batches every shifted circuit into one :meth:`execute`, one
``qml.execute`` call), and the PennyLane device decides *how* when the device does it. The other
design, executing through PennyLane's torch interface and calling that "backprop", would hide a
non-torch computation behind qphys' ``backprop`` label, whose meaning is "the device computes in
torch".

Examples:
    >>> import torch, qphys
    >>> dev = qphys.device("pennylane.lightning.qubit")
    >>> theta = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    >>> c = qphys.Circuit(wires=1).ry(theta, 0).expval(qphys.Z(0))
    >>> r = qphys.execute(c, dev, diff_method="adjoint")
    >>> r.expvals.sum().backward()
    >>> round(float(theta.grad), 6)  # -sin(0.4)
    -0.389418
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict

import numpy as np
import pennylane as qml
import torch

from qphys.circuit import Circuit
from qphys.devices.base import Capabilities, Device, Result, RunConfig, detached_with_trainable
from qphys.errors import (
    DeviceNotFoundError,
    DeviceOptionError,
    DifferentiationError,
    MissingDependencyError,
    UnsupportedOperationError,
)
from qphys.measurements import check_sampled, estimate, plan
from qphys.ops import registered_names
from qphys_pennylane.catalog import NOT_QUBIT, PREFIX, installed_plugins, pennylane_device_names
from qphys_pennylane.convert import to_pennylane

log = logging.getLogger(__name__)

#: devices whose ``qml.state()`` is not a state vector (density matrix / no state at all).
NO_STATE_VECTOR = {"default.mixed", "default.clifford", "default.tensor", "null.qubit"}
#: qphys gates ``default.clifford`` simulates (its stabilizer simulator rejects every other gate).
CLIFFORD_GATES = frozenset({"i", "x", "y", "z", "h", "s", "sdg", "sx", "cx", "cy", "cz", "swap", "iswap"})
PL_DIFF_METHODS = ("best", "adjoint", "backprop", "parameter-shift", "finite-diff")


def _installed() -> dict:
    return installed_plugins()


def capabilities_for(pl_name: str) -> Capabilities:
    """Capabilities of ``pennylane.<pl_name>`` (qubit circuits, every qphys gate; Clifford gates only
    on ``default.clifford``)."""
    measurements = {"expval", "var", "probs", "sample", "counts", "state"}
    if pl_name in NO_STATE_VECTOR:
        measurements.discard("state")
    operations = frozenset(registered_names("qubit"))
    if pl_name == "default.clifford":
        operations &= CLIFFORD_GATES
    return Capabilities(
        families=frozenset({"qubit"}),
        operations=operations,
        measurements=frozenset(measurements),
        exact=True,
        shots=True,
        native_diff=("adjoint",),
        batching=True,
    )


class PennyLaneDevice(Device):
    """A qphys device that runs circuits on the PennyLane device ``pl_name``.

    Args:
        pl_name: PennyLane device name (``"default.qubit"``, ``"lightning.qubit"``...).
        shots: default shots (``None``: exact).
        seed: seed of the PennyLane device's sampler; the same seed reproduces the same samples.
        diff_method: the PennyLane method :meth:`vjp` uses (``"best"``: the device's best,
            adjoint on lightning).
        device_kwargs: extra keyword arguments of ``qml.device`` (e.g. ``{"c_dtype": np.complex64}``).

    Raises:
        DeviceOptionError: an unknown ``diff_method`` or ``device_kwargs`` the PennyLane device
            rejects.

    Examples:
        >>> import qphys
        >>> dev = qphys.device("pennylane.default.qubit", shots=100, seed=1)
        >>> dev.name
        'pennylane.default.qubit'
    """

    def __init__(self, pl_name: str, *, shots=None, seed=None, diff_method: str = "best",
                 device_kwargs: dict | None = None):
        super().__init__(shots=shots, seed=seed)
        if diff_method not in PL_DIFF_METHODS:
            raise DeviceOptionError(
                f"device {PREFIX + pl_name!r}: diff_method must be one of {', '.join(PL_DIFF_METHODS)}, "
                f"got {diff_method!r}"
            )
        self.pl_name = pl_name
        self.name = PREFIX + pl_name
        self.capabilities = capabilities_for(pl_name)
        self.diff_method = diff_method
        self.device_kwargs = dict(device_kwargs or {})
        self._cache: dict = {}
        self._pl_device(1, None)  # fail now (bad kwargs), not when compute is spent

    def _pl_device(self, num_wires: int, seed):
        key = num_wires
        if seed is None and key in self._cache:
            return self._cache[key]
        kwargs = dict(self.device_kwargs)
        if seed is not None:
            kwargs["seed"] = seed
        try:
            dev = qml.device(self.pl_name, wires=num_wires, **kwargs)
        except TypeError as exc:
            raise DeviceOptionError(
                f"device {self.name!r}: qml.device({self.pl_name!r}) rejected device_kwargs "
                f"{sorted(kwargs)}: {exc}"
            ) from None
        except ImportError as exc:  # e.g. default.tensor without quimb
            raise MissingDependencyError(
                f"device {self.name!r}: PennyLane's {self.pl_name!r} needs a package that is not installed "
                f"({exc}); install it, or use pennylane.default.qubit"
            ) from None
        if seed is None:
            self._cache[key] = dev
        return dev

    def _groups(self, circuits):
        groups = defaultdict(list)
        for k, c in enumerate(circuits):
            groups[c.num_wires].append(k)
        return groups

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        if config.shots is not None:
            for c in circuits:
                check_sampled(c.with_measurements([m for m in c.measurements if m.kind != "state"]))
        return circuits

    def execute(self, circuits, config: RunConfig) -> list[Result]:
        out: list[Result | None] = [None] * len(circuits)
        for g, (n, idx) in enumerate(sorted(self._groups(circuits).items())):
            seed = None if config.seed is None else config.seed + g
            dev = self._pl_device(n, seed)
            tapes, plans = [], []
            for k in idx:
                plans.append((k, self._tapes(circuits[k], config.shots, tapes)))
            log.debug("running %d tape(s) on %s", len(tapes), self.pl_name)
            results = qml.execute(tapes, dev, diff_method=None)
            for k, (exact, sampled) in plans:
                c = circuits[k]
                values = [None] * len(c.measurements)
                if exact is not None:
                    t, which = exact
                    vals = (results[t],) if len(which) == 1 else tuple(results[t])
                    for i, v in zip(which, vals):
                        values[i] = v
                if sampled is not None:
                    which, sp, first = sampled
                    rows = c.batch_size or 1
                    bits = [_bits(results[first + j], rows, n) for j in range(len(sp.settings))]
                    for i, dec in zip(which, sp.decoders):
                        v = estimate(dec, bits)
                        values[i] = v if c.batch_size is not None else v[0]
                out[k] = self._result(c, values)
        return out

    def _tapes(self, circuit: Circuit, shots, tapes: list):
        """Append the tapes of ``circuit`` to ``tapes``: one analytic tape for the exact values
        (all of them when ``shots`` is None; the state otherwise), and with shots one tape per
        measurement setting. Returns ``(exact, sampled)`` bookkeeping."""
        base = to_pennylane(circuit, shots=None, keep_torch=False)
        ms = list(base.measurements)
        exact_idx = list(range(len(ms))) if shots is None else [
            i for i, m in enumerate(circuit.measurements) if m.kind == "state"
        ]
        exact = sampled = None
        if exact_idx:
            exact = (len(tapes), exact_idx)
            tapes.append(qml.tape.QuantumScript(base.operations, [ms[i] for i in exact_idx], shots=None))
        which = [i for i in range(len(ms)) if i not in exact_idx]
        if which:
            sp = plan(circuit.with_measurements([circuit.measurements[i] for i in which]))
            sampled = (which, sp, len(tapes))
            wires = list(range(circuit.num_wires))
            for setting in sp.settings:
                rot = [qml.QubitUnitary(m, wires=list(w)) for m, w in setting.rotations()]
                tapes.append(qml.tape.QuantumScript(base.operations + rot, [qml.sample(wires=wires)], shots=shots))
        return exact, sampled

    def _result(self, circuit: Circuit, values) -> Result:
        ms = circuit.measurements
        batched = circuit.batch_size is not None
        out = [_convert_value(m, v, circuit, batched) for m, v in zip(ms, values)]
        return Result(tuple(out), tuple(ms), {"device": self.name})

    def execute_and_vjp(self, circuits, config, *, trainable=None, method="parameter-shift"):
        """:meth:`qphys.devices.Device.execute_and_vjp`; ``method="adjoint"`` returns a ``vjp_fn``
        that asks PennyLane for the vector-Jacobian product with the PennyLane device's own
        gradient (``diff_method`` option; adjoint on lightning, backprop on default.qubit)."""
        if method != "adjoint":
            return super().execute_and_vjp(circuits, config, trainable=trainable, method=method)
        circuits, trainable = detached_with_trainable(circuits, trainable)
        if config.shots is not None:
            raise DifferentiationError(
                f"device {self.name!r}: adjoint needs exact results, but shots={config.shots}; use "
                "diff_method='parameter-shift' or shots=None"
            )
        results = self.execute(circuits, config)
        return results, functools.partial(self._vjp_float64, circuits, trainable)

    def _vjp_float64(self, circuits, trainable, grad_outputs):
        # qphys calls this from inside a torch backward pass, where grad mode is off. Results of
        # lightning.qubit through PennyLane's torch interface (Hamiltonians of several terms)
        # take torch's default dtype; float32 there costs ~1e-8 of gradient accuracy, so the
        # default is float64 for the duration of the call (restored afterwards).
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            with torch.enable_grad():
                return self._vjp(circuits, trainable, grad_outputs)
        finally:
            torch.set_default_dtype(previous)

    def _vjp(self, circuits, trainable, grad_outputs):
        grads_out: list = [None] * len(circuits)
        for n, idx in sorted(self._groups(circuits).items()):
            dev = self._pl_device(n, None)
            tapes, params = [], []
            for k in idx:
                c = circuits[k]
                ps = []
                for i, j in trainable[k]:
                    t = torch.as_tensor(c.operations[i].params[j], dtype=torch.float64).detach().clone()
                    t.requires_grad_(True)
                    c = c.with_param(i, j, t)
                    ps.append(t)
                params.append(ps)
                tapes.append(to_pennylane(c, shots=None, keep_torch=True))
            results = qml.execute(tapes, dev, diff_method=self.diff_method, interface="torch")
            total = 0
            for k, res in zip(idx, results):
                ms = circuits[k].measurements
                values = (res,) if len(ms) == 1 else tuple(res)
                for v, g in zip(values, grad_outputs[k]):
                    if g is not None and torch.is_tensor(v):
                        total = total + (v * torch.as_tensor(g, dtype=v.dtype).reshape(v.shape)).sum()
            flat = [p for ps in params for p in ps]
            if torch.is_tensor(total) and total.requires_grad and flat:
                grads = torch.autograd.grad(total, flat, allow_unused=True)
            else:
                grads = [None] * len(flat)
            pos = 0
            for k, ps in zip(idx, params):
                gs = []
                for p in ps:
                    g = grads[pos]
                    pos += 1
                    gs.append(torch.zeros_like(p) if g is None else g.detach())
                grads_out[k] = gs
        return grads_out


def _bits(value, rows: int, n: int) -> np.ndarray:
    """``qml.sample`` of every wire as ``(rows, shots, n)`` uint8 bits (column ``w`` = wire ``w``)."""
    arr = np.asarray(value)
    return arr.reshape(rows, -1, n).astype(np.uint8)


def _convert_value(m, v, circuit, batched):
    if m.kind == "counts":
        dicts = v if batched else [v]
        conv = [dict(sorted((str(k), int(c)) for k, c in d.items())) for d in dicts]
        return conv if batched else conv[0]
    t = torch.as_tensor(np.asarray(v)) if not torch.is_tensor(v) else v
    if m.kind == "sample":
        k = circuit.num_wires if m.wires is None else len(m.wires)
        lead = (-1,) if not batched else (circuit.batch_size, -1)
        return t.to(torch.int64).reshape(*lead, k)
    if m.kind == "state":
        return t.to(torch.complex128)
    return t.to(torch.float64)


class PennyLaneFamily:
    """Factory behind the ``pennylane.*`` entry point: one qphys device per PennyLane device.

    Examples:
        >>> from qphys_pennylane import PennyLaneFamily
        >>> "pennylane.lightning.qubit" in PennyLaneFamily.available_names()
        True
    """

    OPTIONS = ("shots", "seed", "diff_method", "device_kwargs")

    @classmethod
    def available_names(cls) -> list[str]:
        """``pennylane.<name>`` for every installed PennyLane qubit device."""
        return pennylane_device_names()

    @classmethod
    def _pl_name(cls, name: str) -> str:
        if not name.startswith(PREFIX):
            raise DeviceNotFoundError(f"{name!r} is not a pennylane.* device name")
        pl_name = name[len(PREFIX):]
        installed = _installed()
        if pl_name not in installed:
            raise DeviceNotFoundError(
                f"no PennyLane device named {pl_name!r} is installed (for {name!r}); installed: "
                f"{', '.join(cls.available_names())}. Install the PennyLane plugin that provides it."
            )
        if pl_name in NOT_QUBIT:
            raise UnsupportedOperationError(
                f"PennyLane device {pl_name!r} does not simulate qubits; qphys' pennylane.* devices "
                "run qubit circuits (use e.g. pennylane.default.qubit)"
            )
        return pl_name

    @classmethod
    def capabilities_for(cls, name: str) -> Capabilities:
        return capabilities_for(cls._pl_name(name))

    @classmethod
    def create(cls, name: str, **options) -> PennyLaneDevice:
        """Build ``pennylane.<name>``; options: shots, seed, diff_method, device_kwargs.

        Raises:
            DeviceNotFoundError: no such PennyLane device installed.
            DeviceOptionError: an unknown option.
        """
        pl_name = cls._pl_name(name)
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise DeviceOptionError(
                f"device {name!r} got unknown option(s) {', '.join(unknown)}; its options are: "
                f"{', '.join(cls.OPTIONS)} (PennyLane device arguments go in device_kwargs={{...}})"
            )
        return PennyLaneDevice(pl_name, **options)
