"""How much memory SLOS needs, so that a device can refuse a run before allocating.

The estimate follows :func:`qphys.sim.linear_optics.slos.amplitudes` step by step (``N_k`` is the
number of ``k``-photon patterns, ``C_k = m N_{k-1}`` the rows of layer ``k``'s contributions, all
times the batch ``B`` and the complex item size):

- forward: the last layer holds ``phi_{n-1}``, its contributions ``C_n`` and two buffers of
  ``N_n`` (the zeros and the result of the out-of-place ``index_add``), then the output scaling and
  the transpose to ``(B, N)`` need up to three ``N_n`` buffers: ``N_{n-1} + C_n + 3 N_n``;
- with gradients, autograd keeps every layer ``phi_1 .. phi_n`` for the backward pass, which
  starts with up to five ``N_n`` buffers (gradients of the probabilities, of the real and imaginary
  parts, of the scaling and of the transpose) and whose last layer needs the gathered output
  gradient and two products of ``C_n`` rows: ``sum_k N_k + 3 C_n + 5 N_n``;
- the int64 index tables, ``sum_k C_k`` entries, are shared by the whole batch.

``tests/sim/test_linear_optics.py`` checks the estimate against the peak memory measured on CPU
(resident set size of a fresh process) and on CUDA (``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import torch

from qphys.errors import ParameterError, ResourceError
from qphys.sim.linear_optics.fock_space import num_patterns


def _fmt(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def slos_memory(m: int, n: int, batch: int = 1, *, dtype: torch.dtype = torch.complex64, requires_grad: bool = False) -> int:
    """Bytes SLOS needs for all output amplitudes of ``n`` photons in ``m`` modes.

    Args:
        m: modes; n: photons; batch: number of unitaries ``B``.
        dtype: ``torch.complex64`` or ``torch.complex128``.
        requires_grad: count what autograd keeps for the backward pass, and the backward peak.

    Raises:
        ParameterError: a negative size or a non-complex dtype.

    Examples:
        >>> slos_memory(12, 6, 64) / 2**20  # MiB, forward in complex64
        46.421905517578125
        >>> slos_memory(12, 6, 64, requires_grad=True) > slos_memory(12, 6, 64)
        True
    """
    if dtype not in (torch.complex64, torch.complex128):
        raise ParameterError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    if m < 1 or n < 0 or batch < 1:
        raise ParameterError(f"need m >= 1 modes, n >= 0 photons and batch >= 1, got m={m}, n={n}, batch={batch}")
    itemsize = torch.empty((), dtype=dtype).element_size()
    sizes = [num_patterns(m, k) for k in range(n + 1)]  # N_0 .. N_n
    last = sizes[n]
    prev = sizes[n - 1] if n >= 1 else 0
    contrib = m * prev if n >= 2 else 0
    tables = sum(m * sizes[k - 1] for k in range(2, n + 1)) * 8
    if requires_grad:
        units = sum(sizes[1:]) + 3 * contrib + 5 * last
    else:
        units = prev + contrib + 3 * last
    return units * batch * itemsize + tables


def check_slos_memory(
    m: int, n: int, batch: int = 1, *, dtype: torch.dtype = torch.complex64, requires_grad: bool = False,
    limit: int,
) -> int:
    """:func:`slos_memory`, raising :class:`~qphys.errors.ResourceError` above ``limit`` bytes.

    Returns the estimate when it fits.

    Examples:
        >>> check_slos_memory(24, 12, 64, limit=2**34)
        Traceback (most recent call last):
        ...
        qphys.errors.ResourceError: SLOS for 12 photons in 24 modes (batch 64, complex64) needs about 4.6 TiB (5023876665408 bytes) but the limit is 16.0 GiB; use fewer photons or modes, a smaller batch (run it in chunks), complex64 instead of complex128, no gradients, or a sampling backend (Clifford & Clifford)
    """
    need = slos_memory(m, n, batch, dtype=dtype, requires_grad=requires_grad)
    if need > limit:
        kind = str(dtype).replace("torch.", "")
        grad = ", with gradients" if requires_grad else ""
        raise ResourceError(
            f"SLOS for {n} photons in {m} modes (batch {batch}, {kind}{grad}) needs about {_fmt(need)} "
            f"({need} bytes) but the limit is {_fmt(limit)}; use fewer photons or modes, a smaller batch "
            "(run it in chunks), complex64 instead of complex128, no gradients, or a sampling backend "
            "(Clifford & Clifford)"
        )
    return need


__all__ = ["slos_memory", "check_slos_memory"]
