"""The :class:`OpSpec` record and the name -> spec registry shared by all op families.

A gate is defined once, here: its name, wires, parameters, matrix (qubit ops), shift rule,
matrix frequencies (for exact matrix derivatives) and inverse. Builder methods of
:class:`qphys.Circuit` are checked against the registry (``tests/test_gate_registry.py``), the
conformance suite derives its gate list from it, and every plugin maps each registered name or
lists it as decomposed (a test fails otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from qphys.errors import UnsupportedOperationError

# A shift rule for one parameter: ((coefficient, shift), ...) so that
# d<f>/dθ = Σ coefficient * <f>(θ + shift).
ShiftRule = tuple[tuple[float, float], ...]
#: ``inverse(params) -> (name, params)`` of the inverse operation.
InverseRule = Callable[[tuple], tuple[str, tuple]]


def self_inverse(name: str) -> InverseRule:
    """Inverse rule of a gate that is its own inverse."""
    return lambda params: (name, tuple(params))


def inverse_named(name: str) -> InverseRule:
    """Inverse rule of a fixed gate whose inverse is the fixed gate ``name`` (``s`` -> ``sdg``)."""
    return lambda params: (name, ())


def negated(name: str, which: tuple[int, ...] | None = None) -> InverseRule:
    """Inverse rule ``params -> -params`` (only the parameters ``which``, default all)."""

    def rule(params):
        return name, tuple(-p if which is None or k in which else p for k, p in enumerate(params))

    return rule


def dagger_of_matrix(name: str) -> InverseRule:
    """Inverse rule of an op whose single parameter is a unitary matrix: its conjugate transpose."""

    def rule(params):
        m = torch.as_tensor(params[0])
        return name, (m.conj().transpose(-1, -2).resolve_conj(),)

    return rule


@dataclass(frozen=True)
class OpSpec:
    """Static description of one operation.

    Attributes:
        name: the builder-method name (``"rx"``, ``"cx"``, ``"displacement"``...).
        family: ``"qubit"``, ``"cv"`` or ``"linear_optics"``.
        also_in: further families whose circuits may hold the op (``interferometer`` is both
            a CV and a linear-optical op); see :attr:`families`.
        num_wires: wires (or modes) acted on; ``None`` for any number (``unitary``).
        num_params: number of real parameters (matrix-valued ops: 1, the matrix itself).
        param_names: names of the parameters, in order (the builder method's leading
            arguments).
        wire_names: names of the wire arguments of the builder method (``("control",
            "target")``); one name (``"wires"``/``"modes"``) for any number of wires.
        inverse: ``inverse(params) -> (name, params)`` of the inverse operation; ``None``: the
            dagger of the matrix as a ``unitary`` (qubit ops with a matrix), or no inverse.
        matrix_frequencies: per parameter ``ω`` such that every matrix entry is
            ``c + a cos(ωθ) + b sin(ωθ)`` (``1/2`` for ``exp(-iθP/2)``, ``1`` for phases): then
            ``dU/dθ = ω (U(θ + s) - U(θ - s)) / 2`` with ``ωs = π/2`` exactly. ``None``: unknown.
        matrix: ``matrix(*params, dtype=, device=)`` -> tensor ``(*batch, d, d)``; qubit ops only.
        structure: ``"dense"``, ``"diagonal"`` or ``"permutation"``.
        diagonal: ``diagonal(*params, dtype=, device=)`` -> ``(*batch, d)`` for diagonal ops.
        permutation: for permutation ops, ``perm`` with ``new[i] = old[perm[i]]`` (local indices).
        num_controls: leading wires that only control a gate on the remaining wires.
        target: spec name of the controlled target gate (when ``num_controls > 0``).
        grad_recipe: one shift rule per parameter, or ``None`` where no exact rule exists.
        matrix_param: the single parameter is a matrix/vector (``unitary``, ``state_prep``).
        gaussian: for CV ops, whether the gate is Gaussian.
        shift_condition: optional ``(circuit, op_index) -> str | None``; a string says why
            ``grad_recipe`` is not exact for that use of the op (CV rules hold only for
            Gaussian circuits measuring quadratic observables); ``None`` means it is.
        periods: per parameter, the period ``P`` with ``op(θ + P) = op(θ)`` exactly (``None``
            where there is none, e.g. a squeezing amplitude); ``None`` for all: derived from
            :attr:`matrix_frequencies` (``2π/ω``). Simulators reduce angles modulo their period
            in float64 before casting to the simulation precision (:meth:`param_period`).
        shift_rule: optional ``(circuit, op_index, param_index) -> ShiftRule``: an exact rule
            that depends on the circuit (photonic rules grow with the photons that reach the
            op); used instead of ``grad_recipe``. An empty rule means the outputs do not depend
            on the parameter there.
    """

    name: str
    family: str
    num_wires: int | None
    num_params: int
    matrix: Callable | None = None
    structure: str = "dense"
    diagonal: Callable | None = None
    permutation: tuple[int, ...] | None = None
    num_controls: int = 0
    target: str | None = None
    grad_recipe: tuple[ShiftRule | None, ...] | None = None
    matrix_param: bool = False
    gaussian: bool = True
    shift_condition: Callable | None = None
    param_names: tuple[str, ...] = ()
    wire_names: tuple[str, ...] = ()
    inverse: InverseRule | None = None
    matrix_frequencies: tuple[float, ...] | None = None
    periods: tuple[float | None, ...] | None = None

    def param_period(self, index: int) -> float | None:
        """The period of parameter ``index`` (``None``: not periodic or unknown).

        Examples:
            >>> import math
            >>> from qphys.ops import get_spec
            >>> get_spec("rx").param_period(0) == 4 * math.pi, get_spec("p").param_period(0) == 2 * math.pi
            (True, True)
            >>> get_spec("squeezing").param_period(0) is None
            True
        """
        if self.periods is not None:
            return self.periods[index]
        if self.matrix_frequencies is not None and self.matrix_frequencies[index]:
            return 2 * math.pi / self.matrix_frequencies[index]
        return None
    also_in: tuple[str, ...] = ()
    shift_rule: Callable | None = None

    @property
    def families(self) -> tuple[str, ...]:
        """Every family whose circuits may hold this op (``family`` first)."""
        return (self.family, *self.also_in)

    @property
    def has_shift_rule(self) -> bool:
        """Whether every parameter has an exact shift rule (static or circuit-dependent)."""
        return self.shift_rule is not None or (
            self.grad_recipe is not None and all(r is not None for r in self.grad_recipe)
        )

    def invert(self, params: tuple) -> tuple[str, tuple]:
        """``(name, params)`` of the inverse of this op with ``params``.

        Raises:
            UnsupportedOperationError: the op has no inverse (``state_prep``).

        Examples:
            >>> from qphys.ops import get_spec
            >>> get_spec("s").invert(())
            ('sdg', ())
            >>> get_spec("u").invert((0.1, 0.2, 0.3))
            ('u', (-0.1, -0.3, -0.2))
        """
        if self.inverse is not None:
            return self.inverse(tuple(params))
        if self.matrix is not None:
            ps = [torch.as_tensor(p, dtype=torch.float64) for p in params]
            m = self.matrix(*ps, dtype=torch.complex128)
            return "unitary", (m.conj().transpose(-1, -2).resolve_conj(),)
        raise UnsupportedOperationError(
            f"{self.name} has no inverse (it is not a unitary gate); build the circuit without it, "
            "or prepare the state another way"
        )


def reduce_angle(p, period: float, real: torch.dtype = torch.float32):
    """``p`` reduced to ``(-period/2, period/2]`` in float64, exactly as the gate sees it.

    ``fmod`` by a rounded ``2π`` would be off by ``p × 1e-16`` radians (all phase lost at
    ``1e39``); instead the phase ``ωp`` (``ω = 2π/period``) goes through float64 ``sin``/``cos``,
    which reduce their argument exactly, and comes back with ``atan2``. Tensors wider than
    ``real`` are reduced (with derivative 1); tensors of ``real`` precision or narrower are
    returned as they are.

    Examples:
        >>> import math
        >>> from qphys.ops.spec import reduce_angle
        >>> round(math.cos(reduce_angle(1e39, 2 * math.pi)), 12) == round(math.cos(1e39), 12)
        True
    """
    w = 2 * math.pi / period
    if torch.is_tensor(p):
        if not (p.is_floating_point() and torch.finfo(p.dtype).bits > torch.finfo(real).bits):
            return p
        a = p * w
        return torch.atan2(torch.sin(a), torch.cos(a)) / w
    x = float(p)
    if abs(x) <= period / 2:
        return x
    a = x * w
    return math.atan2(math.sin(a), math.cos(a)) / w


def real_parameter(p, real: torch.dtype, device, period: float | None = None) -> torch.Tensor:
    """A gate parameter as a ``real`` tensor on ``device``; with a ``period`` and a precision below
    float64, the angle is first reduced by :func:`reduce_angle` (same gate, no float32 overflow).

    Examples:
        >>> import math, torch
        >>> real_parameter(1e39, torch.float32, "cpu", 4 * math.pi).isfinite().item()
        True
    """
    if period is not None and real != torch.float64:
        p = reduce_angle(p, period, real)
    return torch.as_tensor(p, dtype=real, device=device)


_REGISTRY: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add ``spec`` to the registry (names are unique across families).

    Raises:
        ValueError: another spec is registered under the name, or the spec is inconsistent
            (parameter names, shift rules or frequencies not one per parameter).
    """
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"operation {spec.name!r} is already registered")
    for what, seq in (("param_names", spec.param_names), ("grad_recipe", spec.grad_recipe),
                      ("matrix_frequencies", spec.matrix_frequencies), ("periods", spec.periods)):
        if seq is not None and len(seq) != spec.num_params:
            raise ValueError(f"{spec.name}: {what} has {len(seq)} entries for {spec.num_params} parameter(s)")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> OpSpec:
    """Return the spec registered under ``name``.

    Raises:
        UnsupportedOperationError: no operation has that name.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_REGISTRY))
        raise UnsupportedOperationError(
            f"unknown operation {name!r}; known operations: {known}"
        ) from None


def registered_names(family: str | None = None) -> list[str]:
    """Names of the registered operations, optionally of one family, sorted."""
    return sorted(n for n, s in _REGISTRY.items() if family is None or family in s.families)
