"""How much memory SLOS needs, so that a device can refuse a run before allocating.

The estimate follows :func:`qphys.sim.linear_optics.slos.probabilities` step by step, in units of
one complex amplitude times the batch ``B`` (``N_k`` is the number of ``k``-photon patterns):

- forward: layer ``k`` holds its input ``phi_{k-1}`` and output ``phi_k``, plus one chunk of
  contributions (:func:`~qphys.sim.linear_optics.slos.chunk_rows` parents times ``m`` modes) and
  its flattened index; the output stage (squared modulus, weights, transpose to ``(B, N)``) needs
  up to three ``N_n``: ``max(N_{n-1} + N_n, 3 N_n)`` plus two chunks;
- with gradients, every layer ``phi_1 .. phi_n`` is kept for the backward pass, which adds three
  ``N_n`` (the transposed output gradient and the gradient of ``phi_n``), two ``N_{n-1}`` (the
  chunks of ``grad phi_{n-1}`` and their concatenation) and six chunks of temporaries (the
  gathered gradient, two products, their sums and the conjugated parents);
- the index tables, ``sum_k m N_{k-1}`` int32 entries, are shared by the whole batch; building
  them (once per ``(m, n)``, then cached) needs the uint8 pattern tables (``m`` bytes per pattern,
  about three times ``N_n`` at the peak of their construction, plus the cached ``N_k`` of the
  parents) and the float64 output weights. These are counted even when already cached, so the
  estimate stays an upper bound; for ``B = 1`` they dominate (the tables hold ``m`` indices per
  parent pattern);
- the tensors' total is multiplied by :data:`SLACK`: the peak resident memory measured on CPU
  exceeded the tensors' total by up to 15% (allocator fragmentation and page granularity).

``tests/sim/test_linear_optics.py`` checks the estimate against the peak memory measured on CPU
(resident set size of a fresh process) and on CUDA (``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import torch

from qphys.errors import ParameterError, ResourceError
from qphys.sim.linear_optics.fock_space import num_patterns
from qphys.sim.linear_optics.slos import TABLE_BLOCK_ROWS, chunk_rows, index_dtype

#: margin over the sum of the tensors (see the module docstring)
SLACK = 1.25


def _fmt(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def slos_memory(
    m: int, n: int, batch: int = 1, *, dtype: torch.dtype = torch.complex64, requires_grad: bool = False,
    device: torch.device | str = "cpu", tables: bool = True,
) -> int:
    """Bytes SLOS needs for all output probabilities of ``n`` photons in ``m`` modes.

    Args:
        m: modes; n: photons; batch: number of unitaries ``B``.
        dtype: ``torch.complex64`` or ``torch.complex128``.
        requires_grad: count what autograd keeps for the backward pass, and the backward peak.
        device: where it runs (CUDA uses larger chunks).
        tables: count the index tables and what building them needs (``False`` when they are
            already cached, e.g. to compare with a measurement).

    Raises:
        ParameterError: a negative size or a non-complex dtype.

    Examples:
        >>> round(slos_memory(12, 6, 64) / 2**20, 1)  # MiB, forward in complex64
        31.0
        >>> slos_memory(12, 6, 64, requires_grad=True) > slos_memory(12, 6, 64)
        True
    """
    if dtype not in (torch.complex64, torch.complex128):
        raise ParameterError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    if m < 1 or n < 0 or batch < 1:
        raise ParameterError(f"need m >= 1 modes, n >= 0 photons and batch >= 1, got m={m}, n={n}, batch={batch}")
    itemsize = torch.empty((), dtype=dtype).element_size()
    sizes = [num_patterns(m, k) for k in range(n + 1)]  # N_0 .. N_n
    last, prev = sizes[n], (sizes[n - 1] if n >= 1 else 0)
    # one chunk of contributions (rows x m x B) plus its int64 index (rows x m)
    rows = min(chunk_rows(m, batch, dtype, device), prev) if n >= 2 else 0
    chunk = rows * m * (batch * itemsize + 8)
    fixed = 0
    if tables:
        index = sum(m * sizes[k - 1] for k in range(2, n + 1)) * index_dtype(last).itemsize
        patterns = (3 * last + sum(sizes[1:n])) * m + 2 * 8 * last
        build = min(TABLE_BLOCK_ROWS, prev) * m * 8 * 12  # about 12 int64 temporaries per block
        fixed = index + patterns + build
    if requires_grad:
        units = sum(sizes[1:]) + 3 * last + 2 * prev
        chunks = 6
    else:
        units = max(prev + last, 3 * last)
        chunks = 2
    return int(SLACK * (units * batch * itemsize + chunks * chunk)) + fixed


def check_slos_memory(
    m: int, n: int, batch: int = 1, *, dtype: torch.dtype = torch.complex64, requires_grad: bool = False,
    device: torch.device | str = "cpu", limit: int,
) -> int:
    """:func:`slos_memory`, raising :class:`~qphys.errors.ResourceError` above ``limit`` bytes.

    Returns the estimate when it fits.

    Examples:
        >>> check_slos_memory(24, 12, 64, limit=2**34)
        Traceback (most recent call last):
        ...
        qphys.errors.ResourceError: SLOS for 12 photons in 24 modes (batch 64, complex64) needs about 1.6 TiB (1725799969224 bytes) but the limit is 16.0 GiB; use fewer photons or modes, a smaller batch (run it in chunks), complex64 instead of complex128, no gradients, or a sampling backend (Clifford & Clifford)
    """
    need = slos_memory(m, n, batch, dtype=dtype, requires_grad=requires_grad, device=device)
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
