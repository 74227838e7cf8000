"""``sf.fock``, ``sf.gaussian``, ``sf.bosonic``: Strawberry Fields backends as qphys devices.

Strawberry Fields has no batch axis, so a batched circuit runs one program per batch element.
Gradients come from qphys' generic parameter-shift rules (exact for Gaussian gates in Gaussian
circuits measuring quadratic observables) or finite differences (``diff_method="best"`` picks).
"""

from __future__ import annotations

import numpy as np
import torch

from qphys.devices.base import Capabilities, Device, Result, RunConfig
from qphys.devices.options import check_shots_observables, parse_cutoff
from qphys.errors import UnsupportedOperationError
from qphys.ops.cv import GAUSSIAN_GATES, NON_GAUSSIAN_GATES, non_gaussian_gates
from qphys_strawberryfields.convert import sf, to_program


class _SFDevice(Device):
    backend = "fock"
    capabilities = Capabilities()

    def __init__(self, *, shots=None, seed=None, cutoff=10):
        super().__init__(shots=shots, seed=seed)
        self.cutoff = parse_cutoff(cutoff)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} cutoff={self.cutoff} shots={self.shots}>"

    def preprocess(self, circuits, config):
        if NON_GAUSSIAN_GATES[0] not in self.capabilities.operations:
            for c in circuits:
                bad = non_gaussian_gates(c)
                if bad:
                    raise UnsupportedOperationError(
                        f"device {self.name!r} (Strawberry Fields {self.backend} backend) runs Gaussian "
                        f"gates only; the circuit has {', '.join(bad)}; use sf.fock or torch.fock"
                    )
        circuits = super().preprocess(circuits, config)
        check_shots_observables(self.name, circuits, config, number_ok=False)
        return circuits

    def _engine(self):
        return sf.Engine(self.backend, backend_options={"cutoff_dim": self.cutoff})

    def _program(self, circuit, b):
        return to_program(circuit, b)

    def execute(self, circuits, config: RunConfig):
        rng = np.random.default_rng(config.seed)
        return [self._run_one(c, config, rng) for c in circuits]

    def _run_one(self, circuit, config, rng) -> Result:
        batched = circuit.batch_size is not None
        per_elem = []
        for b in range(circuit.batch_size or 1):
            state = self._engine().run(self._program(circuit, b)).state
            per_elem.append([self._measure(state, circuit, b, m, config, rng) for m in circuit.measurements])
        values = []
        for k, m in enumerate(circuit.measurements):
            col = [row[k] for row in per_elem]
            if m.kind == "state":
                v = col if batched else col[0]
            else:
                v = torch.as_tensor(np.stack(col), dtype=torch.float64)
                v = v if batched else v[0]
            values.append(v)
        return Result(tuple(values), tuple(circuit.measurements), {"device": self.name, "cutoff": self.cutoff})

    # ---- measurements ----------------------------------------------------------------------
    def _moments(self, state, obs, n_modes):
        if obs.kind in ("X", "P", "Quad"):
            return state.quad_expectation(obs.modes[0], obs.phi)
        if obs.kind == "N":
            return state.mean_photon(obs.modes[0])
        A, d, k = obs.on_modes(tuple(range(n_modes)))
        return state.poly_quad_expectation(A, d, k)

    def _measure(self, state, circuit, b, m, config, rng):
        n = circuit.num_wires
        if m.kind == "state":
            return self._state(state)
        if m.kind == "fock_probs":
            p = self._all_fock_probs(state, n)
            modes = m.wires if m.wires is not None else tuple(range(n))
            rest = tuple(i for i in range(n) if i not in modes)
            p = p.sum(axis=rest) if rest else p
            kept = sorted(modes)
            p = np.transpose(p, [kept.index(i) for i in modes]).reshape(-1)
            if config.shots is not None:
                p = np.clip(p, 0, None)
                p = rng.multinomial(config.shots, p / p.sum()) / config.shots
            return p
        if m.kind == "homodyne":
            return self._homodyne(circuit, b, state, m.wires[0], m.obs.phi, config.shots, rng)
        if config.shots is not None:
            s = self._homodyne(circuit, b, state, m.obs.modes[0], m.obs.phi, config.shots, rng)
            return s.mean() if m.kind == "expval" else s.var()
        mean, var = self._moments(state, m.obs, n)
        return float(np.real(mean) if m.kind == "expval" else np.real(var))

    def _all_fock_probs(self, state, n):
        return np.real(state.all_fock_probs())

    def _state(self, state):
        return torch.as_tensor(state.ket()).reshape(-1)

    def _homodyne(self, circuit, b, state, mode, phi, shots, rng):
        # the state is Gaussian: homodyne outcomes are exactly normal with these moments
        mean, var = state.quad_expectation(mode, phi)
        return rng.normal(float(mean), float(np.sqrt(max(var, 0.0))), size=shots)


class SFFockDevice(_SFDevice):
    """Strawberry Fields' ``fock`` backend (truncated Fock basis, every CV gate).

    Args:
        shots: default shots (``None``: exact).
        seed: seed for sampling.
        cutoff: Fock cutoff (``cutoff_dim``), at least 2.

    Homodyne samples are drawn from the quadrature marginal Strawberry Fields computes for the
    state (its ``x_quad_values``), which is far faster than its one-shot-per-run measurement.

    Examples:
        >>> import qphys
        >>> qphys.device("sf.fock", cutoff=6).cutoff
        6
    """

    name = "sf.fock"
    backend = "fock"
    capabilities = Capabilities(
        families=frozenset({"cv"}),
        operations=frozenset(GAUSSIAN_GATES + NON_GAUSSIAN_GATES),
        observables=frozenset({"CVObservable"}),
        measurements=frozenset({"expval", "var", "fock_probs", "homodyne", "state"}),
    )

    #: quadrature grid of the homodyne marginal (points, half-width in units of sqrt(hbar))
    HOMODYNE_GRID = 801

    def _homodyne(self, circuit, b, state, mode, phi, shots, rng):
        # Strawberry Fields' fock backend measures homodyne one shot per engine run; instead,
        # sample from the exact marginal SF computes (x_quad_values: Wigner function integrated
        # over p) of the state rotated by R(-phi), on a grid wide enough for the cutoff.
        rotated = self._engine().run(to_program(circuit, b, rotate=(mode, -phi))).state
        half = np.sqrt(2.0) * (np.sqrt(2 * self.cutoff + 1) + 5.0)
        xvec = np.linspace(-half, half, self.HOMODYNE_GRID)
        dens = np.clip(np.real(rotated.x_quad_values(mode, xvec, xvec)), 0, None)
        step = xvec[1] - xvec[0]
        idx = rng.choice(len(xvec), size=shots, p=dens / dens.sum())
        return xvec[idx] + (rng.random(shots) - 0.5) * step


class SFGaussianDevice(_SFDevice):
    """Strawberry Fields' ``gaussian`` backend (exact, Gaussian gates only).

    ``cutoff`` is used only for ``fock_probs``. ``state()`` is ``(means, cov)`` in ``xxpp`` order.

    Examples:
        >>> import qphys
        >>> qphys.device("sf.gaussian").name
        'sf.gaussian'
    """

    name = "sf.gaussian"
    backend = "gaussian"
    capabilities = Capabilities(
        families=frozenset({"cv"}),
        operations=frozenset(GAUSSIAN_GATES),
        observables=frozenset({"CVObservable"}),
        measurements=frozenset({"expval", "var", "fock_probs", "homodyne", "state"}),
    )

    def _engine(self):
        return sf.Engine("gaussian")

    def _all_fock_probs(self, state, n):
        return np.real(state.all_fock_probs(cutoff=self.cutoff))

    def _state(self, state):
        return (torch.as_tensor(state.means()), torch.as_tensor(state.cov()))


class SFBosonicDevice(SFGaussianDevice):
    """Strawberry Fields' ``bosonic`` backend (linear combinations of Gaussians; here the
    Gaussian gates).

    Examples:
        >>> import qphys
        >>> qphys.device("sf.bosonic").name
        'sf.bosonic'
    """

    name = "sf.bosonic"
    backend = "bosonic"
    capabilities = Capabilities(
        families=frozenset({"cv"}),
        operations=frozenset(GAUSSIAN_GATES),
        observables=frozenset({"CVObservable"}),
        measurements=frozenset({"expval", "var", "homodyne", "state"}),
    )

    def _engine(self):
        return sf.Engine("bosonic")

    def _program(self, circuit, b):
        return to_program(circuit, b, decompose_interferometer=True)

    def preprocess(self, circuits, config):
        circuits = super().preprocess(circuits, config)
        for c in circuits:
            for m in c.measurements:
                if m.kind in ("expval", "var") and m.obs.kind == "PolyXP":
                    raise UnsupportedOperationError(
                        "device 'sf.bosonic': Strawberry Fields' bosonic states have no "
                        "poly_quad_expectation; measure X, P, quadratures or N, or use sf.gaussian"
                    )
        return circuits

    def _state(self, state):
        return (torch.as_tensor(state.means()), torch.as_tensor(state.covs()))
