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
