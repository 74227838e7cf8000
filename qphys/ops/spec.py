"""The :class:`OpSpec` record and the name -> spec registry shared by all op families."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qphys.errors import UnsupportedOperationError

# A shift rule for one parameter: ((coefficient, shift), ...) so that
# d<f>/dθ = Σ coefficient * <f>(θ + shift).
ShiftRule = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OpSpec:
    """Static description of one operation.

    Attributes:
        name: the builder-method name (``"rx"``, ``"cx"``, ``"displacement"``...).
        family: ``"qubit"`` or ``"cv"``.
        num_wires: wires (or modes) acted on; ``None`` for any number (``unitary``).
        num_params: number of real parameters (matrix-valued ops: 1, the matrix itself).
        matrix: ``matrix(*params, dtype=, device=)`` -> tensor ``(*batch, d, d)``; qubit ops only.
        structure: ``"dense"``, ``"diagonal"`` or ``"permutation"``.
        diagonal: ``diagonal(*params, dtype=, device=)`` -> ``(*batch, d)`` for diagonal ops.
        permutation: for permutation ops, ``perm`` with ``new[i] = old[perm[i]]`` (local indices).
        num_controls: leading wires that only control a gate on the remaining wires.
        target: spec name of the controlled target gate (when ``num_controls > 0``).
        grad_recipe: one shift rule per parameter, or ``None`` where no exact rule exists.
        matrix_param: the single parameter is a matrix/vector (``unitary``, ``state_prep``).
        gaussian: for CV ops, whether the gate is Gaussian.
        self_inverse: applying the op twice is the identity.
        shift_condition: optional ``(circuit, op_index) -> str | None``; a string says why
            ``grad_recipe`` is not exact for that use of the op (CV rules hold only for
            Gaussian circuits measuring quadratic observables); ``None`` means it is.
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
    self_inverse: bool = False
    shift_condition: Callable | None = None


_REGISTRY: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add ``spec`` to the registry (names are unique across families)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] != spec:
        raise ValueError(f"operation {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> OpSpec:
    """Return the spec registered under ``name``.

    Raises:
        UnsupportedOperationError: no operation has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnsupportedOperationError(
            f"unknown operation {name!r}; known operations: {known}"
        ) from None


def registered_names(family: str | None = None) -> list[str]:
    """Names of the registered operations, optionally of one family, sorted."""
    return sorted(n for n, s in _REGISTRY.items() if family is None or s.family == family)
