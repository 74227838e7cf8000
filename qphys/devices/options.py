"""Option parsers and preprocess checks shared by device implementations.

This is public API: the built-in ``torch.*`` devices and the plugins in ``backends/`` use the same
parsers, so one option means one thing (and fails with one message) on every device.

Examples:
    >>> from qphys.devices.options import parse_dtype, parse_cutoff
    >>> parse_dtype("complex128")
    torch.complex128
    >>> parse_cutoff(8)
    8
"""

from __future__ import annotations

import os

import torch

from qphys.errors import DeviceOptionError, ParameterError, UnsupportedOperationError

_COMPLEX_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}
_REAL_DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: observable kinds a sampling (shots) CV run estimates from homodyne outcomes
_QUADRATURES = ("X", "P", "Quad")


def parse_dtype(dtype) -> torch.dtype:
    """``"complex64"``/``"complex128"`` or the torch dtype itself.

    Raises:
        DeviceOptionError: any other value.
    """
    if isinstance(dtype, str) and dtype in _COMPLEX_DTYPES:
        return _COMPLEX_DTYPES[dtype]
    if dtype in _COMPLEX_DTYPES.values():
        return dtype
    raise DeviceOptionError(f"dtype must be 'complex64' or 'complex128', got {dtype!r}")


def parse_real_dtype(dtype) -> torch.dtype:
    """``"float64"``/``"float32"`` or the torch dtype itself.

    Raises:
        DeviceOptionError: any other value.
    """
    if isinstance(dtype, str) and dtype in _REAL_DTYPES:
        return _REAL_DTYPES[dtype]
    if dtype in _REAL_DTYPES.values():
        return dtype
    raise DeviceOptionError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def parse_torch_device(torch_device) -> torch.device:
    """A ``torch.device`` from ``"cpu"``, ``"cuda:1"``...

    Raises:
        DeviceOptionError: not a torch device, or CUDA asked for where it is not available.
    """
    try:
        dev = torch.device(torch_device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceOptionError(f"torch_device {torch_device!r} is not a torch device: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceOptionError(
            f"torch_device={torch_device!r} but CUDA is not available here; use torch_device='cpu'"
        )
    return dev


def parse_max_memory(max_memory) -> int | None:
    """``None`` (what is free at run time) or a positive number of bytes.

    Raises:
        DeviceOptionError: anything else.
    """
    if max_memory is not None and (
        isinstance(max_memory, bool) or not isinstance(max_memory, int) or max_memory <= 0
    ):
        raise DeviceOptionError(f"max_memory must be a positive number of bytes, got {max_memory!r}")
    return max_memory


def parse_cutoff(cutoff) -> int:
    """Validate a Fock cutoff (an integer >= 2).

    Raises:
        DeviceOptionError: not an integer >= 2.
    """
    if isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 2:
        raise DeviceOptionError(
            f"cutoff must be an integer >= 2 (photon numbers 0..cutoff-1 are kept), got {cutoff!r}; "
            "cutoff=10 suits states with a few photons per mode"
        )
    return cutoff


def available_memory(dev: torch.device) -> int:
    """Bytes that can be allocated now on ``dev``.

    On CUDA: the device's free memory plus what PyTorch's caching allocator holds without using it
    (``cudaMemGetInfo`` counts that as taken, though PyTorch hands it out again first).
    """
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
        return int(free + max(cached, 0))
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    Examples:
        >>> fmt_bytes(3 * 2**30)
        '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_amplitudes(device_name: str, circuits, bounds: dict, fix: dict) -> None:
    """Refuse parameters too large for the simulation's precision before anything runs.

    Args:
        device_name: for the message.
        circuits: the circuits.
        bounds: ``{op name: {param index: largest allowed |value|}}``.
        fix: ``{op name: the sentence that says what to do instead}``.

    Raises:
        ParameterError: a parameter beyond its bound (the message names the operation, the
            value, the bound and the fix).

    Examples:
        >>> import qphys
        >>> c = qphys.Circuit(modes=1).squeezing(1e300, 0.0, 0)
        >>> check_amplitudes("torch.gaussian", [c], {"squeezing": {0: 350.0}}, {"squeezing": "use a smaller r"})
        Traceback (most recent call last):
        ...
        qphys.errors.ParameterError: torch.gaussian: squeezing r=1e+300 (operation 0) is beyond |r| <= 350, where the simulation overflows; use a smaller r
    """
    for c in circuits:
        for i, op in enumerate(c.operations):
            limits = bounds.get(op.name)
            if not limits:
                continue
            names = op.spec.param_names
            for j, bound in limits.items():
                p = op.params[j]
                if torch.is_tensor(p) and p.device.type != "cpu":
                    # reading accelerator values back is a host synchronisation per parameter (and
                    # meta tensors have none): only CPU values are bounded here
                    continue
                value = float(p.detach().abs().max()) if torch.is_tensor(p) else abs(float(p))
                if value > bound:
                    shown = float(p.detach().reshape(-1)[p.detach().abs().reshape(-1).argmax()]) if torch.is_tensor(p) \
                        else float(p)
                    name = names[j] if j < len(names) else f"parameter {j}"
                    raise ParameterError(
                        f"{device_name}: {op.name} {name}={shown:.4g} (operation {i}) is beyond |{name}| <= {bound:.4g}, "
                        f"where the simulation overflows; {fix.get(op.name, 'use a smaller value')}"
                    )


def check_finite(device_name: str, circuit, tensors, precision: str) -> None:
    """Raise :class:`ParameterError` when a simulated state or value is not finite (never a
    silent ``nan``); the message names the circuit's largest parameter."""
    for t in tensors:
        if t is None or not torch.is_tensor(t) or t.device.type == "meta":  # meta: shape-only runs, no values
            continue
        if not bool(torch.isfinite(t.detach()).all()):  # one read-back per result
            largest, where = 0.0, "no parameter"
            for i, op in enumerate(circuit.operations):
                if op.spec.matrix_param:
                    continue
                for j, p in enumerate(op.params):
                    v = float(p.detach().abs().max()) if torch.is_tensor(p) else abs(float(p))
                    if v > largest:
                        names = op.spec.param_names
                        largest = v
                        where = f"{op.name} {names[j] if j < len(names) else j}={v:.4g} (operation {i})"
            raise ParameterError(
                f"{device_name}: the simulation overflowed {precision} (non-finite amplitudes); the largest "
                f"parameter is {where}: use smaller amplitudes (a higher precision dtype where there is one)"
            )


def check_shots_observables(device_name, circuits, config, *, number_ok: bool) -> None:
    """With shots, a CV device estimates only quadratures (and, where sampled, photon numbers).

    Raises:
        UnsupportedOperationError: an observable that cannot be estimated from samples, or a
            ``state()`` measurement with shots.
    """
    if config.shots is None:
        return
    for c in circuits:
        for m in c.measurements:
            if m.kind in ("expval", "var"):
                kind = m.obs.kind
                if kind in _QUADRATURES or (number_ok and kind == "N"):
                    continue
                raise UnsupportedOperationError(
                    f"device {device_name!r} cannot estimate {m.kind}({m.obs!r}) from shots (only "
                    f"quadratures{' and photon numbers' if number_ok else ''}); use shots=None"
                )
            if m.kind == "state":
                raise UnsupportedOperationError(
                    f"device {device_name!r}: the state is not available with shots; use shots=None"
                )


__all__ = [
    "parse_dtype", "parse_real_dtype", "parse_torch_device", "parse_max_memory", "parse_cutoff",
    "available_memory", "fmt_bytes", "check_shots_observables", "check_amplitudes", "check_finite",
]
