"""Helpers shared by the decoders: shipped-weight paths, input checks, torch device choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from qphys.errors import ConfigError

#: Folder of the weights shipped with qphys (``qphys/rl/weights``).
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def weights_path(name: str) -> Path:
    """Path of a shipped weight file in ``qphys/rl/weights`` (e.g. ``'decoder_cnn_d5_depolarizing.pt'``).

    Examples:
        >>> weights_path("decoder_cnn_d3_bitflip.pt").exists()
        True
    """
    return WEIGHTS_DIR / name


def is_stim_circuit(obj) -> bool:
    """True for a ``stim.Circuit`` (checked by type name, so stim is not imported here)."""
    return type(obj).__name__ == "Circuit" and type(obj).__module__.startswith("stim")


def check_syndromes(syndromes, n_detectors: int, owner: str) -> np.ndarray:
    """Flat syndromes as ``(shots, n_detectors)`` uint8 (a single syndrome becomes one shot).

    Raises:
        ConfigError: wrong shape, naming ``owner`` and the expected width.
    """
    s = np.asarray(syndromes)
    if s.ndim == 1:
        s = s[None]
    if s.ndim != 2 or s.shape[1] != n_detectors:
        raise ConfigError(f"syndromes must be (shots, {n_detectors}) bits for {owner}, got shape {s.shape}")
    return s.astype(np.uint8, copy=False)


def resolve_device(device) -> torch.device:
    """``'auto'``/None -> CUDA when available else CPU; an explicit CUDA request without CUDA is an error."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} asked for CUDA but torch.cuda.is_available() is False; use 'cpu'")
    return dev
