"""Neural quantum-state tomography (Torlai et al., Nat. Phys. 14, 447, 2018) from any qphys device.

1. :func:`measure` runs a state-preparation circuit in several Pauli bases on a qphys device
   (``torch.qubit`` shots, ``aer.*`` with noise, ``ibm.fake_*``...) and returns a
   :class:`MeasurementRecord`. Basis rotations are ``RY(θ)`` then ``RX(φ)`` on every qubit with
   batched angles, so all bases are one circuit structure (one transpilation on hardware).
2. :class:`Tomography` fits an ansatz — a real (positive) :class:`~qphys.nqs.ansatz.RBM` for real
   positive states, :class:`~qphys.nqs.ansatz.AmplitudePhase` for complex ones — by maximum
   likelihood: the model state is rotated into each basis and the negative log-likelihood of the
   recorded outcomes is minimised with Adam. The likelihood is exact (the model is normalised by
   enumeration), which limits this path to :data:`MAX_TOMOGRAPHY_QUBITS` qubits.
3. The baseline: :func:`classical_shadow` measures the same state in a uniformly random Pauli basis
   per shot (Huang, Kueng & Preskill 2020) and :func:`shadow_expectation` estimates Pauli-word
   observables from those snapshots; :func:`model_expectation` gives the tomographic model's value.

Outcomes are bits (``0`` is the +1 eigenvalue); wire 0 is the most significant bit.

Examples:
    >>> import qphys
    >>> from qphys.nqs import RBM
    >>> ghz = qphys.Circuit(wires=3).h(0).cx(0, 1).cx(1, 2)
    >>> record = measure(ghz, ["ZZZ", "XXX"], shots=2000, seed=0)
    >>> tomo = Tomography(RBM(3, alpha=2, seed=0), record, lr=0.05)
    >>> _ = tomo.fit(300, progress=False)
    >>> fidelity_to(tomo.model, ghz) > 0.98
    True
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from qphys.circuit import Circuit
from qphys.devices import Device
from qphys.devices import device as make_device
from qphys.diff import execute
from qphys.errors import ConfigError, ParameterError, ResourceError
from qphys.nqs.ansatz import Ansatz
from qphys.nqs.exact import all_configurations, fidelity

logger = logging.getLogger(__name__)

#: Largest number of qubits for the exact-likelihood tomography (the model is enumerated).
MAX_TOMOGRAPHY_QUBITS = 16

#: ``(θ, φ)`` of the rotation ``RX(φ) RY(θ)`` mapping each Pauli's eigenbasis to the computational one.
ROTATION_ANGLES = {"Z": (0.0, 0.0), "X": (-math.pi / 2, 0.0), "Y": (0.0, math.pi / 2)}


def rotation_matrix(letter: str) -> np.ndarray:
    """The single-qubit unitary applied before measuring in the eigenbasis of ``letter``.

    Examples:
        >>> u = rotation_matrix("X")
        >>> plus = np.array([1, 1]) / np.sqrt(2)
        >>> np.round(u @ plus, 12).tolist()  # |+> -> |0>
        [(1+0j), 0j]
    """
    theta, phi = ROTATION_ANGLES[letter]
    ry = np.array([[math.cos(theta / 2), -math.sin(theta / 2)], [math.sin(theta / 2), math.cos(theta / 2)]])
    rx = np.array(
        [[math.cos(phi / 2), -1j * math.sin(phi / 2)], [-1j * math.sin(phi / 2), math.cos(phi / 2)]]
    )
    return rx @ ry


def _check_bases(bases: Sequence[str], n: int) -> tuple[str, ...]:
    if isinstance(bases, str):
        bases = [bases]
    out = []
    for b in bases:
        b = str(b).upper()
        if len(b) != n or set(b) - set("XYZ"):
            raise ConfigError(
                f"basis {b!r} must be a string of {n} letters from X, Y, Z (one per qubit, wire 0 first)"
            )
        out.append(b)
    if not out:
        raise ConfigError("give at least one measurement basis, e.g. ['Z' * n]")
    return tuple(out)


@dataclass
class MeasurementRecord:
    """Outcomes of a state measured in Pauli bases.

    Attributes:
        n_qubits: number of qubits.
        bases: one string per measured basis (``"XXZ"``: X on wires 0 and 1, Z on wire 2).
        outcomes: per basis, the outcome bits ``(shots, n_qubits)`` (``int64``).
        device: name of the device that produced them.
    """

    n_qubits: int
    bases: tuple[str, ...]
    outcomes: list[torch.Tensor]
    device: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def shots(self) -> list[int]:
        """Shots per basis."""
        return [int(o.shape[0]) for o in self.outcomes]

    def histograms(self) -> torch.Tensor:
        """Outcome counts per basis, ``(n_bases, 2**n_qubits)`` (float64)."""
        weights = 2 ** torch.arange(self.n_qubits - 1, -1, -1)
        out = torch.zeros(len(self.bases), 2**self.n_qubits, dtype=torch.float64)
        for i, o in enumerate(self.outcomes):
            out[i].index_add_(0, (o.long() * weights).sum(-1), torch.ones(o.shape[0], dtype=torch.float64))
        return out


def _rotated_circuit(prepare: Circuit, bases: Sequence[str]) -> Circuit:
    if not isinstance(prepare, Circuit) or prepare.family != "qubit":
        raise ParameterError("prepare must be a qubit qphys.Circuit (the state preparation, no measurements)")
    if prepare.measurements:
        raise ParameterError(
            "the preparation circuit already has measurements; pass it without them (measure adds them)"
        )
    n = prepare.num_wires
    c = prepare.copy()
    angles = np.array([[ROTATION_ANGLES[ch] for ch in b] for b in bases])  # (B, n, 2)
    theta = torch.tensor(angles[:, :, 0], dtype=torch.float64)
    phi = torch.tensor(angles[:, :, 1], dtype=torch.float64)
    for w in range(n):
        c.ry(theta[:, w], w).rx(phi[:, w], w)
    return c.sample()


def _run_bases(prepare: Circuit, bases: Sequence[str], shots: int, device, seed) -> list[torch.Tensor]:
    if len(bases) == 1:  # a batch of one is not a batched circuit: duplicate, keep the first
        return _run_bases(prepare, [bases[0], bases[0]], shots, device, seed)[:1]
    circuit = _rotated_circuit(prepare, bases)
    result = execute(circuit, device, shots=shots, seed=seed)
    samples = result.samples
    return [samples[i].to(torch.int64).cpu() for i in range(len(bases))]


def measure(
    prepare: Circuit,
    bases: Sequence[str],
    *,
    shots: int,
    device: str | Device = "torch.qubit",
    seed: int | None = None,
) -> MeasurementRecord:
    """Measure the state ``prepare`` makes in each Pauli basis of ``bases``, ``shots`` times each.

    Args:
        prepare: a qubit circuit without measurements (the state preparation).
        bases: Pauli strings, one letter per wire (``"ZZZ"``, ``"XXX"``...).
        shots: shots per basis.
        device: any qphys qubit device that samples (name or instance).
        seed: seed of the device's sampling.

    Raises:
        ConfigError: a malformed basis or a non-positive number of shots.
        ParameterError: ``prepare`` is not a qubit circuit or already measures.

    Examples:
        >>> import qphys
        >>> bell = qphys.Circuit(wires=2).h(0).cx(0, 1)
        >>> rec = measure(bell, ["ZZ", "XX"], shots=100, seed=1)
        >>> rec.shots, bool((rec.outcomes[0][:, 0] == rec.outcomes[0][:, 1]).all())
        ([100, 100], True)
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigError(f"shots must be a positive integer, got {shots!r}")
    bases = _check_bases(bases, prepare.num_wires)
    outcomes = _run_bases(prepare, bases, shots, device, seed)
    name = device if isinstance(device, str) else getattr(device, "name", type(device).__name__)
    return MeasurementRecord(prepare.num_wires, bases, outcomes, device=name)


# ---- the model ---------------------------------------------------------------------------------


def normalized_state(model: Ansatz, configurations: torch.Tensor | None = None) -> torch.Tensor:
    """The model's normalised state vector (complex128, differentiable), by enumeration.

    ``configurations`` may pass :func:`~qphys.nqs.exact.all_configurations` precomputed.

    Raises:
        ResourceError: more than :data:`MAX_TOMOGRAPHY_QUBITS` qubits.
    """
    n = model.n_sites
    if n > MAX_TOMOGRAPHY_QUBITS:
        raise ResourceError(
            f"exact-likelihood tomography enumerates 2**{n} amplitudes; it stops at "
            f"{MAX_TOMOGRAPHY_QUBITS} qubits"
        )
    if configurations is None:
        configurations = all_configurations(n, dtype=model.dtype).to(model.device)
    log_psi = model(configurations).to(torch.complex128)
    log_norm = 0.5 * torch.logsumexp(2.0 * log_psi.real, dim=0)
    return torch.exp(log_psi - log_norm)


def rotate(state: torch.Tensor, basis: str) -> torch.Tensor:
    """Apply the measurement rotation of ``basis`` to a state vector (wire 0 most significant).

    Examples:
        >>> plus = torch.tensor([1.0, 1.0], dtype=torch.complex128) / 2**0.5
        >>> rotate(plus, "X").abs().pow(2).round(decimals=12).tolist()
        [1.0, 0.0]
    """
    n = len(basis)
    psi = state.reshape((2,) * n)
    for w, letter in enumerate(basis):
        if letter == "Z":
            continue
        u = torch.as_tensor(rotation_matrix(letter), dtype=state.dtype, device=state.device)
        psi = torch.movedim(torch.tensordot(u, psi, dims=([1], [w])), 0, w)
    return psi.reshape(-1)


@dataclass
class TomographyHistory:
    """Negative log-likelihood per step, and the fidelity to a target where one was given."""

    nll: list[float] = field(default_factory=list)
    fidelity: list[float] = field(default_factory=list)


class Tomography:
    """Maximum-likelihood neural tomography on a :class:`MeasurementRecord`.

    Args:
        model: the ansatz (a real RBM for positive states, :class:`AmplitudePhase` otherwise).
        record: the measurements.
        lr: Adam's learning rate.
        target: an optional exact state vector; the fidelity to it is recorded every ``log_every`` steps.
        log_every: steps between fidelity records.

    Raises:
        ParameterError: the model and the record have different numbers of qubits.
        ResourceError: more than :data:`MAX_TOMOGRAPHY_QUBITS` qubits.
    """

    def __init__(
        self,
        model: Ansatz,
        record: MeasurementRecord,
        *,
        lr: float = 0.02,
        target: torch.Tensor | np.ndarray | None = None,
        log_every: int = 50,
    ):
        if model.n_sites != record.n_qubits:
            raise ParameterError(
                f"the model has {model.n_sites} sites but the record {record.n_qubits} qubits"
            )
        if record.n_qubits > MAX_TOMOGRAPHY_QUBITS:
            raise ResourceError(
                f"exact-likelihood tomography stops at {MAX_TOMOGRAPHY_QUBITS} qubits, "
                f"the record has {record.n_qubits}"
            )
        self.model = model
        self.record = record
        hist = record.histograms()
        self._freq = hist / hist.sum(1, keepdim=True)  # empirical distribution per basis
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.target = target
        self.log_every = log_every
        self.history = TomographyHistory()
        self._configs = all_configurations(record.n_qubits, dtype=model.dtype).to(model.device)

    def nll(self, bases: Sequence[int] | None = None) -> torch.Tensor:
        """Mean negative log-likelihood per shot, averaged over bases (differentiable).

        Args:
            bases: indices of the bases to include (default: all).
        """
        psi = normalized_state(self.model, self._configs)
        total = 0.0
        chosen = range(len(self.record.bases)) if bases is None else bases
        for i in chosen:
            basis = self.record.bases[i]
            p = rotate(psi, basis).abs().pow(2)
            mask = self._freq[i] > 0
            total = total - (self._freq[i][mask] * torch.log(p[mask] + 1e-300)).sum()
        return total / len(chosen)

    def fit(self, steps: int = 1000, *, warmup: int | None = None, progress: bool = True) -> TomographyHistory:
        """Run ``steps`` Adam steps on the likelihood (tqdm bar unless ``progress=False``).

        Args:
            steps: optimisation steps.
            warmup: the first ``warmup`` steps fit the computational-basis (all-``Z``) data only,
                which fixes the amplitudes before the other bases shape the phases (default: a
                quarter of ``steps`` when the record has both kinds of bases, else 0).
            progress: show a tqdm bar.
        """
        from tqdm.auto import tqdm

        z_only = [i for i, b in enumerate(self.record.bases) if set(b) == {"Z"}]
        if warmup is None:
            warmup = steps // 4 if z_only and len(z_only) < len(self.record.bases) else 0
        if warmup and not z_only:
            raise ConfigError("warmup fits the all-Z basis, which the record does not have; pass warmup=0")
        bar = tqdm(range(steps), desc="tomography", disable=not progress, leave=False)
        for step in bar:
            self.optimizer.zero_grad()
            loss = self.nll(z_only if step < warmup else None)
            loss.backward()
            self.optimizer.step()
            self.history.nll.append(float(loss.detach()))
            if self.target is not None and (step % self.log_every == 0 or step == steps - 1):
                with torch.no_grad():
                    self.history.fidelity.append(fidelity(self.target, normalized_state(self.model)))
            bar.set_postfix(nll=f"{self.history.nll[-1]:.4f}")
        return self.history


def exact_state(prepare: Circuit) -> torch.Tensor:
    """The noiseless state vector ``prepare`` makes, on ``torch.qubit`` in complex128."""
    c = prepare.copy().state()
    return execute(c, make_device("torch.qubit", dtype="complex128")).state.detach()


def fidelity_to(model: Ansatz, prepare: Circuit) -> float:
    """Fidelity of the model's state to the noiseless state of ``prepare``."""
    with torch.no_grad():
        return fidelity(exact_state(prepare), normalized_state(model))


# ---- classical shadows -------------------------------------------------------------------------


@dataclass
class ShadowRecord:
    """Random-Pauli snapshots: one basis letter and one outcome bit per qubit and shot.

    Attributes:
        bases: ``(shots, n)`` array of ``"X"``, ``"Y"``, ``"Z"``.
        outcomes: ``(shots, n)`` bits.
    """

    bases: np.ndarray
    outcomes: np.ndarray

    @property
    def shots(self) -> int:
        return int(self.bases.shape[0])


def classical_shadow(
    prepare: Circuit,
    shots: int,
    *,
    device: str | Device = "torch.qubit",
    seed: int | None = None,
) -> ShadowRecord:
    """``shots`` snapshots in uniformly random Pauli bases (Huang, Kueng & Preskill 2020).

    Shots that drew the same basis run together (one batched circuit per distinct shot count).

    Examples:
        >>> import qphys
        >>> rec = classical_shadow(qphys.Circuit(wires=2).h(0), 50, seed=0)
        >>> rec.bases.shape, rec.outcomes.shape
        ((50, 2), (50, 2))
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigError(f"shots must be a positive integer, got {shots!r}")
    n = prepare.num_wires
    rng = np.random.default_rng(seed)
    drawn = ["".join(row) for row in rng.choice(list("XYZ"), size=(shots, n))]
    counts = Counter(drawn)
    by_count: dict[int, list[str]] = {}
    for basis, c in counts.items():
        by_count.setdefault(c, []).append(basis)
    bases_out, outcomes_out = [], []
    for k, (c, group) in enumerate(sorted(by_count.items())):
        sub_seed = None if seed is None else seed + 7919 * (k + 1)
        results = _run_bases(prepare, group, c, device, sub_seed)
        for basis, res in zip(group, results):
            bases_out.extend([list(basis)] * c)
            outcomes_out.append(res.numpy())
    return ShadowRecord(np.array(bases_out), np.concatenate(outcomes_out))


def shadow_expectation(record: ShadowRecord, word: str) -> tuple[float, float]:
    """Classical-shadow estimate of a Pauli word (``"XXIZ"``) and its standard error.

    Each snapshot contributes ``Π_{i in supp} 3 δ(b_i = P_i) (1 - 2 s_i)``.

    Examples:
        >>> rec = ShadowRecord(np.array([["Z"], ["Z"], ["X"]]), np.array([[0], [0], [1]]))
        >>> shadow_expectation(rec, "Z")[0]
        2.0
    """
    word = word.upper()
    if len(word) != record.bases.shape[1] or set(word) - set("IXYZ"):
        raise ConfigError(f"Pauli word {word!r} must have {record.bases.shape[1]} letters from I, X, Y, Z")
    support = [i for i, ch in enumerate(word) if ch != "I"]
    values = np.ones(record.shots)
    for i in support:
        values *= 3.0 * (record.bases[:, i] == word[i]) * (1 - 2 * record.outcomes[:, i])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(record.shots))


def pauli_expectation(state: torch.Tensor | np.ndarray, word: str) -> float:
    """``<ψ|P|ψ>`` of a Pauli word on a state vector (wire 0 most significant).

    Examples:
        >>> pauli_expectation(np.array([1.0, 1.0]) / np.sqrt(2), "X")
        1.0
    """
    psi = torch.as_tensor(np.asarray(state.detach().cpu() if torch.is_tensor(state) else state), dtype=torch.complex128)
    n = len(word)
    out = psi.reshape((2,) * n)
    mats = {
        "X": torch.tensor([[0, 1], [1, 0]], dtype=torch.complex128),
        "Y": torch.tensor([[0, -1j], [1j, 0]], dtype=torch.complex128),
        "Z": torch.tensor([[1, 0], [0, -1]], dtype=torch.complex128),
    }
    for w, ch in enumerate(word.upper()):
        if ch != "I":
            out = torch.movedim(torch.tensordot(mats[ch], out, dims=([1], [w])), 0, w)
    value = torch.vdot(psi, out.reshape(-1)) / torch.vdot(psi, psi)
    return round(float(value.real), 15)


def model_expectation(model: Ansatz, word: str) -> float:
    """``<P>`` of a Pauli word in the tomographic model's state."""
    with torch.no_grad():
        return pauli_expectation(normalized_state(model), word)
