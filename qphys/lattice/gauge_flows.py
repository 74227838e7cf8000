"""Gauge-equivariant flows for 2D U(1) lattice gauge theory (Kanwar et al., PRL 125, 121601, 2020).

A :class:`GaugeEquivariantCoupling` updates one stripe of links of direction ``μ`` so that each
*active* plaquette ``P`` (the one plaquette per updated link that is conditioned on) is mapped by
an invertible circle map ``P → h(P | frozen plaquettes)``: the link moves by ``h(P) − P``. The
context is the set of *frozen* plaquettes (untouched by the update) and the map is built from
plaquettes only, which are gauge invariant — so the layer commutes with gauge transformations and
the flow density is gauge invariant. The Jacobian on the links is triangular with diagonal
``h'(P)``, so ``log det = Σ_active log h'(P)``. Masks follow the stripes of the tutorial of
Albergo et al. (arXiv:2101.08176): along the axis ``ν ≠ μ``, stripe ``off`` holds the active
plaquettes, ``off+1, off+2`` the frozen ones, ``off+3`` the passive ones (changed but not
conditioned on), so ``L`` must be a multiple of 4.

Why written here rather than taken from zuko: zuko has no notion of links, plaquettes or gauge
symmetry. The circle map ``h`` is, composed with zuko's :class:`~zuko.transforms.ComposedTransform`:
a non-compact projection (:class:`NCPTransform`, Kanwar et al.'s map, which concentrates the
uniform prior onto a peak of any width with one parameter — at large β a spline alone, whose
slopes zuko soft-clips, learns this slowly), then zuko's :class:`~zuko.transforms.MonotonicRQSTransform`
on ``[−π, π]`` (its end-point derivatives are both 1, so it is a smooth diffeomorphism of the
circle, as in Rezende et al.'s circular splines), then a context-dependent rotation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qphys._deps import require
from qphys.errors import ParameterError
from qphys.lattice.flows import ConvNet, LatticeFlow
from qphys.lattice.u1 import plaquettes, wrap

zuko_transforms = require("zuko.transforms", extra="lattice", feature="lattice flow")


class NCPTransform(torch.distributions.Transform):
    """Non-compact projection of the circle, ``h(x) = 2 atan(e^s tan(x/2))`` on ``[−π, π]``.

    ``h(0) = 0``, ``h(±π) = ±π``, ``h'(0) = e^s``: ``s < 0`` concentrates mass around 0.

    Examples:
        >>> t = NCPTransform(torch.tensor(-1.0))
        >>> x = torch.tensor([-3.0, 0.5, 2.0], dtype=torch.float64)
        >>> y, ladj = t.call_and_ladj(x)
        >>> bool(torch.allclose(t.inv(y), x))
        True
    """

    domain = torch.distributions.constraints.interval(-math.pi, math.pi)
    codomain = torch.distributions.constraints.interval(-math.pi, math.pi)
    bijective = True
    sign = +1

    def __init__(self, s: torch.Tensor):
        super().__init__()
        self.s = s

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * torch.atan(torch.exp(self.s) * torch.tan(x / 2))

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return 2 * torch.atan(torch.exp(-self.s) * torch.tan(y / 2))

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # h'(x) = e^s / (cos²(x/2) + e^{2s} sin²(x/2))
        return self.s - torch.log(torch.cos(x / 2) ** 2 + torch.exp(2 * self.s) * torch.sin(x / 2) ** 2)

    def call_and_ladj(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self._call(x)
        return y, self.log_abs_det_jacobian(x, y)


def circle_map(params: torch.Tensor, bins: int):
    """``(h, shift)``: the circle map ``x → wrap(h(x) + shift)`` of ``3·bins + 1`` parameters per angle.

    ``h`` is a non-compact projection (log-scale ``params[..., 3·bins − 1]``, soft-clipped to
    ``|s| ≤ 4``) followed by zuko's rational-quadratic spline on ``[−π, π]`` (widths, heights and
    ``bins − 1`` inner derivatives); the rotation ``shift`` is ``params[..., 3·bins]``.

    Examples:
        >>> h, shift = circle_map(torch.zeros(5, 3 * 4 + 1), 4)  # zero parameters: the identity
        >>> x = torch.linspace(-3, 3, 5)
        >>> bool(torch.allclose(h(x) + shift, x, atol=1e-5))
        True
    """
    k = bins
    spline = zuko_transforms.MonotonicRQSTransform(
        params[..., :k], params[..., k:2 * k], params[..., 2 * k:3 * k - 1], bound=math.pi
    )
    # |s| <= 4 per layer (a factor e^4 of concentration) keeps the inverse well conditioned
    log_scale = 4.0 * torch.tanh(params[..., 3 * k - 1] / 4.0)
    return zuko_transforms.ComposedTransform(NCPTransform(log_scale), spline), params[..., 3 * k]


def _stripes(L: int, mu: int, residues: tuple[int, ...]) -> torch.Tensor:
    """``(L, L)`` mask of the positions whose coordinate along ``ν = 1 − μ`` is in ``residues`` mod 4."""
    coord = torch.arange(L)
    along = torch.zeros(L, dtype=torch.bool)
    for r in residues:
        along |= (coord % 4) == (r % 4)
    return along[None, :].expand(L, L).clone() if mu == 0 else along[:, None].expand(L, L).clone()


class GaugeEquivariantCoupling(nn.Module):
    """One gauge-equivariant coupling layer on ``(batch, 2, L, L)`` U(1) link angles.

    Args:
        L: lattice extent (a multiple of 4).
        mu: direction of the updated links.
        off: stripe offset (0..3) of the active plaquettes.
        bins: spline bins of the circle map.
        hidden, kernel_size, head_kernel_size: the context net (input: ``cos``, ``sin`` of the frozen
            plaquettes), see :class:`~qphys.lattice.flows.ConvNet`.

    Examples:
        >>> from qphys.lattice.u1 import gauge_transform
        >>> layer = GaugeEquivariantCoupling(4, 0, 1, hidden=(8,))
        >>> _ = [nn.init.normal_(p, std=0.3) for p in layer.parameters()]
        >>> g = torch.Generator().manual_seed(0)
        >>> theta = torch.rand(2, 2, 4, 4, generator=g) * 6.28
        >>> alpha = torch.rand(2, 4, 4, generator=g) * 6.28
        >>> y, ladj = layer(theta)
        >>> y_g, ladj_g = layer(gauge_transform(theta, alpha))
        >>> bool(torch.allclose(torch.cos(y_g - gauge_transform(y, alpha)), torch.ones(1), atol=1e-5))
        True
    """

    def __init__(self, L: int, mu: int, off: int, *, bins: int = 8, hidden=(32, 32), kernel_size: int = 3,
                 head_kernel_size: int | None = None):
        super().__init__()
        if L % 4:
            raise ParameterError(f"GaugeEquivariantCoupling: L must be a multiple of 4 for the stripe masks, got {L}")
        if mu not in (0, 1):
            raise ParameterError(f"GaugeEquivariantCoupling: mu must be 0 or 1 in 2D, got {mu}")
        if bins < 2:
            raise ParameterError(f"GaugeEquivariantCoupling: bins must be >= 2, got {bins}")
        self.mu = mu
        self.bins = bins
        self.register_buffer("active", _stripes(L, mu, (off,)))
        self.register_buffer("frozen", _stripes(L, mu, (off + 1, off + 2)))
        self.net = ConvNet(2, 3 * bins + 1, hidden=hidden, kernel_size=kernel_size, head_kernel_size=head_kernel_size)

    def _map(self, p: torch.Tensor):
        """The circle map (spline, rotation) of the active plaquettes, given the frozen ones."""
        ctx = torch.stack((torch.cos(p), torch.sin(p)), dim=1) * self.frozen
        return circle_map(self.net(ctx).permute(0, 2, 3, 1)[:, self.active], self.bins)

    def _update_links(self, theta: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        # θ_0(x) enters P(x) with +, θ_1(x) enters P(x) with −: move the link so that P(x) moves by δ
        sign = 1.0 if self.mu == 0 else -1.0
        links = theta[:, self.mu].clone()
        links[:, self.active] = links[:, self.active] + sign * delta
        out = theta.clone()
        out[:, self.mu] = links
        return out

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(θ', log|det ∂θ'/∂θ|)`` per configuration."""
        p = wrap(plaquettes(theta))
        spline, shift = self._map(p)
        pa = p[:, self.active]
        y, ladj = spline.call_and_ladj(pa)
        y = wrap(y + shift)
        return self._update_links(theta, y - pa), ladj.sum(-1)

    def inverse(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(θ, log|det ∂θ/∂θ'|)`` per configuration."""
        y = wrap(plaquettes(theta))
        spline, shift = self._map(y)
        ya = y[:, self.active]
        p = spline.inv(wrap(ya - shift))
        _, ladj = spline.call_and_ladj(p)
        return self._update_links(theta, p - ya), -ladj.sum(-1)


def make_u1_flow(
    L: int,
    *,
    n_layers: int = 16,
    bins: int = 8,
    hidden=(32, 32),
    kernel_size: int = 3,
    dtype: torch.dtype = torch.float32,
    head_kernel_size: int | None = None,
) -> LatticeFlow:
    """A gauge-equivariant flow for ``(batch, 2, L, L)`` U(1) links from the uniform (Haar) prior.

    Layer ``i`` updates direction ``μ = i % 2`` with stripe offset ``(i // 2) % 4``, so every 8
    layers each plaquette is active twice.

    Examples:
        >>> flow = make_u1_flow(4, n_layers=2, hidden=(8,))
        >>> theta, logq = flow.sample(3, generator=torch.Generator().manual_seed(0))
        >>> theta.shape, bool(torch.allclose(flow.log_prob(theta), logq, atol=1e-4))
        (torch.Size([3, 2, 4, 4]), True)
    """
    if n_layers < 1:
        raise ParameterError(f"make_u1_flow: n_layers must be >= 1, got {n_layers}")
    net = dict(bins=bins, hidden=hidden, kernel_size=kernel_size, head_kernel_size=head_kernel_size)
    layers = [GaugeEquivariantCoupling(L, i % 2, (i // 2) % 4, **net) for i in range(n_layers)]
    return LatticeFlow((2, L, L), layers, prior="uniform").to(dtype)
