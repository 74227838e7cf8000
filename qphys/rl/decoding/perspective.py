"""The perspective Q-network of the deep-Q decoder: one network, every defect's view, batched.

Andreasson et al. (Quantum 3, 183, 2019) translate the syndrome on the torus so that one defect sits at the
centre (the defect's *perspective*), run a network on that view and read the Q-values of the Paulis next to
the centre defect; the agent acts with the best action over all defects' perspectives. Here the network is
split so that all perspectives of a batch cost little more than one syndrome:

- the *body* (3x3 convolutions with circular padding) is translation equivariant, so it is computed once per
  syndrome: translating the input only translates its feature map;
- the *head* is a dense layer over the whole centred ``d x d`` feature map (stored as a ``d x d``
  convolution kernel) followed by optional dense layers and a dueling value/advantage output (Wang et al.
  2016). For a perspective ``(b, cell)`` the centred view is a permutation of the feature map's cells, so
  :meth:`PerspectiveQNetwork.q_cells` gathers the views of just the cells asked for (the defects) and
  applies the head to all of them in one matrix product.

Run as a circular convolution over every cell, the head gives the Q-values of all ``d**2`` perspectives,
``(B, n_local, d, d)`` (:meth:`~PerspectiveQNetwork.forward`); :meth:`~PerspectiveQNetwork.perspective_q`
does it Andreasson et al.'s way (an explicit translation per perspective); tests check that all three agree.

Examples:
    >>> import torch
    >>> net = PerspectiveQNetwork(3, 4, channels=8, layers=2, hidden=16)
    >>> s = torch.zeros(2, 2, 3, 3); s[0, 0, 1, 2] = s[0, 0, 0, 2] = 1
    >>> q = masked_q(net, s, torch.zeros(4, dtype=torch.long))
    >>> q.shape, int(torch.isfinite(q[0]).sum()), int(torch.isfinite(q[1]).sum())
    (torch.Size([2, 36]), 8, 0)
"""

from __future__ import annotations

import torch
from torch import nn

from qphys.errors import ConfigError

__all__ = ["PerspectiveQNetwork", "masked_q"]


class PerspectiveQNetwork(nn.Module):
    """Q-values of defect-centred actions: ``(B, 2, d, d)`` syndromes -> ``(B, n_local)`` per perspective.

    Args:
        d: lattice size (odd). n_local: local actions per perspective (4 bit-flip, 24 depolarizing).
        channels: width of the 3x3 circular convolutions. layers: how many of them.
        hidden: width of the perspective head (the dense layer over the centred view).
        head_layers: further dense ``hidden -> hidden`` layers in the head (default 0).

    Examples:
        >>> net = PerspectiveQNetwork(3, 4, channels=8, layers=2, hidden=16)
        >>> net(torch.zeros(5, 2, 3, 3)).shape
        torch.Size([5, 4, 3, 3])
    """

    def __init__(self, d: int, n_local: int, *, channels: int = 32, layers: int = 3, hidden: int = 64,
                 head_layers: int = 0):
        super().__init__()
        if d % 2 == 0:
            raise ConfigError(f"the perspective network needs an odd d (a centre cell), got d={d}")
        self.d, self.n_local = d, n_local
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Conv2d(2 if i == 0 else channels, channels, 3, padding=1, padding_mode="circular"),
                     nn.ReLU()]
        self.body = nn.Sequential(*mods)
        # a dense layer over the whole centred view, stored as a d x d kernel (evaluated for every centre
        # by forward, for chosen centres by q_cells)
        self.head = nn.Conv2d(channels, hidden, d, padding=d // 2, padding_mode="circular")
        self.mlp = nn.ModuleList([nn.Conv2d(hidden, hidden, 1) for _ in range(head_layers)])
        self.value = nn.Conv2d(hidden, 1, 1)
        self.advantage = nn.Conv2d(hidden, n_local, 1)
        # view[cell, k]: the feature cell seen at kernel position k (= i * d + j) from centre `cell`
        c0 = d // 2
        r, c = torch.meshgrid(torch.arange(d), torch.arange(d), indexing="ij")
        i, j = r.flatten(), c.flatten()
        view = ((r.flatten()[:, None] + i[None, :] - c0) % d) * d + (c.flatten()[:, None] + j[None, :] - c0) % d
        self.register_buffer("view_index", view, persistent=False)

    def features(self, syndromes: torch.Tensor) -> torch.Tensor:
        """The body's feature map ``(B, channels, d, d)`` (translation equivariant)."""
        return self.body(syndromes)

    @staticmethod
    def _dueling(adv: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        return val + adv - adv.mean(dim=1, keepdim=True)

    def forward(self, syndromes: torch.Tensor) -> torch.Tensor:
        """Q-values of every perspective at once, ``(B, n_local, d, d)``."""
        h = torch.relu(self.head(self.features(syndromes)))
        for layer in self.mlp:
            h = torch.relu(layer(h))
        return self._dueling(self.advantage(h), self.value(h))

    def q_cells(self, features: torch.Tensor, batch: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """Q-values ``(N, n_local)`` of the perspectives centred on flat cells ``cells[n]`` of syndromes
        ``batch[n]``, from the body's ``features``; equal to ``self(s)[batch, :, r, c]``."""
        b, ch, d, _ = features.shape
        ft = features.flatten(2).transpose(1, 2)  # (B, d*d, C)
        views = ft[batch[:, None], self.view_index[cells]]  # (N, d*d, C): the centred views
        w = self.head.weight.permute(0, 2, 3, 1).reshape(self.head.out_channels, d * d * ch)
        h = torch.relu(nn.functional.linear(views.reshape(len(cells), -1), w, self.head.bias))
        for layer in self.mlp:
            h = torch.relu(nn.functional.linear(h, layer.weight.flatten(1), layer.bias))
        adv = nn.functional.linear(h, self.advantage.weight.flatten(1), self.advantage.bias)
        val = nn.functional.linear(h, self.value.weight.flatten(1), self.value.bias)
        return self._dueling(adv, val)

    def perspective_q(self, syndromes: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """Andreasson et al.'s way: centre each syndrome on ``cells[b] = (r, c)`` and read the centre.

        Returns ``(B, n_local)``; equal to ``self(syndromes)[b, :, r, c]`` (translation equivariance).
        """
        c = self.d // 2
        views = torch.stack([torch.roll(s, shifts=(c - int(r), c - int(k)), dims=(1, 2))
                             for s, (r, k) in zip(syndromes, cells)])
        return self(views)[:, :, c, c]


def masked_q(net: PerspectiveQNetwork, syndromes: torch.Tensor, anchor: torch.Tensor, *,
             cells: tuple[torch.Tensor, torch.Tensor] | None = None,
             features: torch.Tensor | None = None) -> torch.Tensor:
    """Q-values of the valid global actions ``(B, n_local * d**2)``, ``-inf`` where invalid.

    Only the perspectives of cells holding a defect are evaluated (an action is valid when its anchor —
    ``anchor[a]`` 0 plaquette, 1 vertex — is a defect at its cell). Global action ``a * d**2 + cell``.

    Args:
        net: the network. syndromes: ``(B, 2, d, d)`` float images. anchor: ``(n_local,)`` int64.
        cells: ``(batch, cell)`` indices of the perspectives to evaluate (default: every defect's cell).
        features: the body's output for ``syndromes`` if already computed.
    """
    bsz, _, d, _ = syndromes.shape
    occ = syndromes.flatten(2) > 0.5  # (B, 2, d*d)
    if cells is None:
        cells = torch.nonzero(occ.any(1), as_tuple=True)
    b, cell = cells
    out = torch.full((bsz, net.n_local, d * d), -torch.inf, dtype=torch.float32, device=syndromes.device)
    if len(b) == 0:
        return out.flatten(1)
    feats = net.features(syndromes) if features is None else features
    q = net.q_cells(feats, b, cell)
    valid = occ[b[:, None], anchor[None, :], cell[:, None]]  # (N, n_local)
    out[b, :, cell] = q.masked_fill(~valid, -torch.inf)
    return out.flatten(1)
