"""A translation-equivariant network on the torus that predicts the logical class from the syndrome alone.

The logical class of an error is *not* translation invariant — it is measured against fixed logical
operators (:mod:`qphys.rl.codes`: ``Z_0`` on the horizontal edges of row 0, ...) — but it changes under a
translation in a way the syndrome fixes. Measured against the logicals translated by ``(a, b)``, the class
bits are

- ``x0(a) = x0 + sum_{r < a} P_row(r)``, ``x1(b) = x1 + sum_{c < b} P_col(c)``,
- ``z0(b) = z0 + sum_{1 <= c <= b} V_col(c)``, ``z1(a) = z1 + sum_{1 <= r <= a} V_row(r)`` (mod 2),

with ``P_row(r)`` the parity of the plaquette defects in row ``r``, ``V_col(c)`` that of the vertex
defects in column ``c``, and so on (moving a logical string across a row of plaquettes picks up their
parity). :class:`TorusEquivariantNet` therefore reads the syndrome with circular convolutions and a
perspective head (a dense layer over the whole torus centred at each cell, written as a circular
convolution with a ``d x d`` kernel), outputs at every cell ``(a, b)`` the class logits *in the frame of
that cell*, maps each cell's logits to the common frame by the XOR above, and averages them. The network
is thus exactly invariant: translating the syndrome translates every cell's prediction and the frame
shifts cancel, so all ``d**2`` translated views of a syndrome share the same weights and vote together
(translation symmetry for neural decoders: Wagner, Kampermann & Bruss, PRA 102, 042411, 2020). It
predicts the joint class (16 classes under depolarizing noise), so it can use the correlations between
X and Z that separate matching ignores.

Examples:
    >>> import torch
    >>> from qphys.rl.codes import ToricCode
    >>> code = ToricCode(3)
    >>> net = TorusEquivariantNet(3, n_classes=16, channels=8, blocks=1, hidden=8)
    >>> syn, _ = code.sample("depolarizing", 0.2, shots=4, seed=1)
    >>> img = torch.as_tensor(code.syndrome_to_image(syn), dtype=torch.float32)
    >>> net.eval()(img).shape
    torch.Size([4, 16])
    >>> shifted = torch.roll(img, shifts=(1, 2), dims=(2, 3))   # the syndrome translated by (1, 2)
    >>> perm = torch.arange(16)[None] ^ frame_offsets(img, 16)[:, 2, 1, None]   # frame of cell (-1, -2)
    >>> bool(torch.allclose(net(shifted), net(img).gather(1, perm), atol=1e-5))
    True
"""

from __future__ import annotations

import torch
from torch import nn

from qphys.errors import ConfigError

__all__ = ["TorusEquivariantNet", "frame_offsets"]


def _exclusive_cumsum(x: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(x, dim=-1) - x


def frame_offsets(images: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Class-index XOR ``(B, d, d)`` from the frame of cell ``(a, b)`` to the frame of cell ``(0, 0)``.

    Args:
        images: syndrome images ``(B, 2, d, d)`` (channel 0 plaquettes, 1 vertices), 0/1 floats.
        n_classes: 16 (bits ``x0 x1 z0 z1``) or 4 (bit-flip: bits ``x0 x1``).

    Examples:
        >>> img = torch.zeros(1, 2, 3, 3); img[0, 0, 0, 1] = img[0, 0, 1, 1] = 1   # X on h(1,1)
        >>> frame_offsets(img, 16)[0].tolist()   # x0 flips in the frames whose logical row is row 1
        [[0, 0, 0], [8, 8, 8], [0, 0, 0]]
    """
    if n_classes not in (4, 16):
        raise ConfigError(f"n_classes must be 4 (bit-flip) or 16 (depolarizing), got {n_classes}")
    plaq, vert = images[:, 0], images[:, 1]
    ox0 = _exclusive_cumsum(plaq.sum(2)).long() & 1  # (B, d) over rows a
    ox1 = _exclusive_cumsum(plaq.sum(1)).long() & 1  # (B, d) over columns b
    if n_classes == 4:
        return 2 * ox0[:, :, None] + ox1[:, None, :]
    vc, vr = vert.sum(1), vert.sum(2)
    oz0 = (torch.cumsum(vc, -1) - vc[:, :1]).long() & 1  # (B, d) over columns b
    oz1 = (torch.cumsum(vr, -1) - vr[:, :1]).long() & 1  # (B, d) over rows a
    return 8 * ox0[:, :, None] + 4 * ox1[:, None, :] + 2 * oz0[:, None, :] + oz1[:, :, None]


class _ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1, padding_mode="circular", bias=False)
        self.b1 = nn.BatchNorm2d(ch)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1, padding_mode="circular", bias=False)
        self.b2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(x + self.b2(self.c2(y)))


class TorusEquivariantNet(nn.Module):
    """Syndrome images ``(B, 2, d, d)`` -> logical-class logits ``(B, n_classes)``, translation invariant.

    Args:
        d: lattice size (odd: the perspective head needs a centre). n_classes: 4 or 16.
        channels: convolution width. blocks: residual blocks (two circular 3x3 convolutions each) after a
            stem convolution. hidden: width of the perspective head.
    """

    def __init__(self, d: int, *, n_classes: int, channels: int = 32, blocks: int = 2, hidden: int = 64):
        super().__init__()
        if d % 2 == 0:
            raise ConfigError(f"the equivariant decoder needs an odd d, got d={d}")
        if n_classes not in (4, 16):
            raise ConfigError(f"n_classes must be 4 (bit-flip) or 16 (depolarizing), got {n_classes}")
        self.d, self.n_classes = d, n_classes
        self.stem = nn.Sequential(nn.Conv2d(2, channels, 3, padding=1, padding_mode="circular", bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU())
        self.body = nn.Sequential(*[_ResBlock(channels) for _ in range(blocks)])
        self.head = nn.Conv2d(channels, hidden, d, padding=d // 2, padding_mode="circular")
        self.out = nn.Conv2d(hidden, n_classes, 1)

    def cell_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Per-cell logits ``(B, n_classes, d, d)``, each in its own cell's frame."""
        return self.out(torch.relu(self.head(self.body(self.stem(images)))))

    def forward(self, images: torch.Tensor, hint=None) -> torch.Tensor:
        if hint is not None:
            raise ConfigError("the equivariant decoder reads the syndrome only (no hint)")
        per = self.cell_logits(images)
        k = torch.arange(self.n_classes, device=images.device)[None, :, None, None]
        idx = k ^ frame_offsets(images, self.n_classes)[:, None]
        return per.gather(1, idx).mean(dim=(2, 3))
