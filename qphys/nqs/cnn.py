"""A convolutional wave function: periodic convolutions, translation-equivariant features, summed.

``h⁰ = σ`` on the lattice; ``hˡ = f(conv_l(hˡ⁻¹))`` where a convolution sums a ``k x k`` (``k`` on a
chain) neighbourhood of every site, wrapping around periodic boundaries (zero padding on open ones),
so every layer commutes with lattice translations; ``log ψ(σ) = Σ_{c, x} log cosh(conv_L(h^{L-1})_c(x))`` pools the last layer's
features over channels and sites into a translation-invariant log-amplitude. One layer whose kernel
covers the lattice is the translation-symmetric RBM (:class:`~qphys.nqs.ansatz.SymmetricRBM`, without the
visible bias); smaller kernels and more layers give the convolutional networks of Choo et al.,
PRB 100, 125124 (2019).

With ``complex=True`` the last layer has complex weights (stored as two real channel sets), so
``log ψ`` carries a phase; the hidden layers stay real.

Examples:
    >>> import torch
    >>> from qphys.nqs.lattice import square
    >>> net = CNN(square(4), channels=(4, 4), seed=0)
    >>> s = torch.ones(2, 16)
    >>> s[1, 0] = -1.0
    >>> torch.allclose(net(s), net(s.view(2, 4, 4).roll(1, dims=2).reshape(2, 16)))  # invariant
    True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from qphys.errors import ParameterError
from qphys.nqs.ansatz import _LOG2, Ansatz, _log_cosh_shifted
from qphys.nqs.lattice import Lattice

_ACTIVATIONS = {"log_cosh", "tanh", "gelu", "selu"}


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "log_cosh":
        return _log_cosh_shifted(x) - _LOG2
    if name == "tanh":
        return torch.tanh(x)
    if name == "gelu":
        return nn.functional.gelu(x)
    return nn.functional.selu(x)


def neighbourhoods(lattice: Lattice, kernel_size: int) -> torch.Tensor:
    """Site indices of every site's ``kernel_size``-wide neighbourhood, ``(n_sites, kernel_size**ndim)``.

    Offsets run from ``-(k // 2)`` to ``k - 1 - k // 2`` along each axis; periodic lattices wrap
    around, open ones point outside the lattice at index ``n_sites`` (a zero padding site).

    Examples:
        >>> from qphys.nqs.lattice import chain
        >>> neighbourhoods(chain(4), 3).tolist()
        [[3, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 0]]
        >>> neighbourhoods(chain(4, pbc=False), 3)[0].tolist()
        [4, 0, 1]
    """
    ext = np.array(lattice.extent)
    coords = lattice.coordinates()
    steps = np.arange(-(kernel_size // 2), kernel_size - kernel_size // 2)
    offsets = np.stack(np.meshgrid(*[steps] * len(ext), indexing="ij"), axis=-1).reshape(-1, len(ext))
    moved = coords[:, None, :] + offsets[None, :, :]  # (N, K, ndim)
    inside = np.all((moved >= 0) & (moved < ext), axis=-1)
    index = np.ravel_multi_index(tuple(np.moveaxis(moved % ext, -1, 0)), lattice.extent)
    if not lattice.pbc:
        index = np.where(inside, index, lattice.n_sites)
    return torch.as_tensor(index, dtype=torch.long)


class CNN(Ansatz):
    """Convolutional network over a chain or square lattice, ``log ψ = Σ log cosh(last features)``.

    A convolution gathers each site's neighbourhood (:func:`neighbourhoods`) and applies one
    matrix product, ``(B·N, k^d·C_in) x (k^d·C_in, C_out)``, which is several times faster on a
    CPU than ``conv2d`` in double precision and works on any lattice with a neighbour table.

    Args:
        lattice: a :class:`~qphys.nqs.lattice.Lattice` from :func:`~qphys.nqs.lattice.chain` or
            :func:`~qphys.nqs.lattice.square`; periodic lattices wrap around (the network is then
            translation invariant), open ones are zero-padded.
        channels: output channels of each convolution (the last entry is the number of pooled
            feature maps).
        kernel_size: side of every (square) kernel, between 1 and the shortest lattice side.
        activation: nonlinearity of the hidden layers: ``"log_cosh"``, ``"tanh"``, ``"gelu"``
            or ``"selu"``.
        complex: complex weights in the last layer (a phase); hidden layers are real.
        init_std: standard deviation of the last layer's weights (small: ``ψ`` starts nearly
            uniform); hidden layers use ``1/sqrt(fan_in)``.
        dtype: parameter dtype.
        seed: seed of the initialisation.

    Raises:
        ParameterError: a lattice that is neither 1D nor 2D, no channels, a non-positive channel
            count, a kernel larger than the lattice, or an unknown activation.
    """

    def __init__(
        self,
        lattice: Lattice,
        channels: tuple[int, ...] = (8, 8),
        kernel_size: int = 3,
        *,
        activation: str = "log_cosh",
        complex: bool = False,
        init_std: float = 0.01,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ):
        super().__init__()
        if not isinstance(lattice, Lattice) or len(lattice.extent) not in (1, 2):
            raise ParameterError(
                f"CNN needs a chain or square Lattice (qphys.nqs.chain / qphys.nqs.square), got {lattice!r}"
            )
        channels = tuple(channels)
        if not channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels):
            raise ParameterError(f"channels must be a non-empty sequence of positive integers, got {channels!r}")
        side = min(lattice.extent)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or not 1 <= kernel_size <= side:
            raise ParameterError(
                f"kernel_size must be an integer in 1..{side} (the shortest lattice side), got {kernel_size!r}"
            )
        if activation not in _ACTIVATIONS:
            raise ParameterError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.n_sites = lattice.n_sites
        self.is_complex = bool(complex)
        self.activation = activation
        self.channels = channels
        self.pbc = lattice.pbc
        self.register_buffer("neighbours", neighbourhoods(lattice, kernel_size), persistent=False)
        k = self.neighbours.shape[1]
        gen = torch.Generator().manual_seed(int(torch.seed() % (2**62)) if seed is None else seed)
        c_in = 1
        for i, c_out in enumerate(channels):
            last = i == len(channels) - 1
            width = 2 * c_out if last and self.is_complex else c_out
            std = init_std if last else 1.0 / math.sqrt(k * c_in)
            weight = std * torch.randn(k * c_in, width, generator=gen, dtype=torch.float64)
            self.register_parameter(f"weight{i}", nn.Parameter(weight.to(dtype)))
            self.register_parameter(f"bias{i}", nn.Parameter(torch.zeros(width, dtype=dtype)))
            c_in = c_out

    def features(self, sigma: torch.Tensor) -> torch.Tensor:
        """Pre-activations of the last layer, ``(B, n_sites, channels[-1])`` (``x2`` if complex)."""
        x = self._check_input(sigma)[:, :, None]  # (B, N, 1), channels last
        b, n = x.shape[:2]
        depth = len(self.channels)
        for i in range(depth):
            if not self.pbc:
                x = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)  # the padding site
            patches = x[:, self.neighbours].reshape(b * n, -1)  # (B·N, K·C)
            x = torch.addmm(getattr(self, f"bias{i}"), patches, getattr(self, f"weight{i}")).reshape(b, n, -1)
            if i < depth - 1:
                x = _activation(self.activation, x)
        return x

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        x = self.features(sigma)
        if self.is_complex:
            c = self.channels[-1]
            x = torch.complex(x[..., :c], x[..., c:])
        return (_log_cosh_shifted(x) - _LOG2).flatten(1).sum(-1)
