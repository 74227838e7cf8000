"""Seeded torch generators: one place for qphys's reproducibility rule."""

from __future__ import annotations

import torch


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``, or from fresh entropy when ``None``.

    Examples:
        >>> a = torch.rand(3, generator=seeded_generator(7))
        >>> bool((a == torch.rand(3, generator=seeded_generator(7))).all())
        True
    """
    return torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % (2**62)))


def canonical_device(device: str | torch.device) -> torch.device:
    """``device`` with its index made explicit (``"cuda"`` -> ``cuda:<current device>``).

    A ``torch.Generator`` reports the indexed device it was created on, so comparing it with an
    unindexed ``torch.device("cuda")`` would always differ (and a cached generator be re-seeded).

    Examples:
        >>> canonical_device("cpu")
        device(type='cpu')
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device
