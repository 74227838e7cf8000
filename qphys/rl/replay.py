"""Experience replay memories for batched deep-Q learning: uniform and prioritised (Schaul et al. 2016).

Both memories store named torch tensors in a ring buffer that lives on the training device and add or sample
whole batches with a handful of torch calls (no Python loop over transitions).

:class:`PrioritizedReplay` is *proportional* prioritised experience replay (Schaul, Quan, Antonoglou &
Silver, ICLR 2016): transition ``i`` is sampled with probability ``P(i) = p_i**alpha / sum_k p_k**alpha``,
where its priority ``p_i = |TD error| + eps`` is refreshed after each replay and a new transition gets the
largest priority seen so far (so it is replayed at least once soon). The bias this introduces is corrected
by importance-sampling weights ``w_i = (N * P(i))**(-beta) / max_j w_j`` (``N`` stored transitions, the
maximum over the sampled batch), with ``beta`` annealed to 1 by the caller. Sampling is stratified: the
total priority is cut into ``batch`` equal segments and one transition is drawn in each, by descending a
:class:`SumTree` (all ``batch`` descents at once, one torch call per tree level).

:class:`NStepAccumulator` turns the one-step transitions of many parallel episodes into n-step
transitions ``(s_t, a_t, r_t + gamma r_{t+1} + ... + gamma^{k-1} r_{t+k-1}, s_{t+k}, gamma^k or 0)``,
``k = n`` or fewer at the end of an episode (Sutton 1988; used by Rainbow, Hessel et al. 2018).

Examples:
    >>> import torch
    >>> mem = PrioritizedReplay(8, {"x": ((), torch.float32)}, alpha=1.0, generator=torch.Generator().manual_seed(0))
    >>> slots = mem.add(x=torch.arange(4.0))
    >>> mem.update_priorities(slots, torch.tensor([1.0, 1.0, 1.0, 97.0]), eps=0.0)
    >>> batch, idx, w = mem.sample(1000, beta=1.0)
    >>> float((batch["x"] == 3).float().mean()) > 0.9
    True
"""

from __future__ import annotations

import numbers

import torch

from qphys.errors import ConfigError

__all__ = ["NStepAccumulator", "PrioritizedReplay", "SumTree", "UniformReplay"]


def _check_positive_int(name: str, val) -> int:
    if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
        raise ConfigError(f"{name} must be a positive integer, got {val!r}")
    return int(val)


class SumTree:
    """A binary tree whose internal nodes hold the sums of their leaves' values (float64, torch).

    Leaf ``i`` is node ``size + i`` of a heap-ordered array (node ``k`` has children ``2k`` and ``2k + 1``;
    the root is node 1), ``size`` the capacity rounded up to a power of two. Updates rewrite the leaves
    and recompute their ancestors from their children (no accumulated rounding drift); :meth:`find` maps
    prefix sums to leaves, vectorised over a batch.

    Args:
        capacity: number of leaves. device: torch device.

    Examples:
        >>> t = SumTree(5)
        >>> t.update(torch.tensor([0, 3]), torch.tensor([1.0, 3.0]))
        >>> float(t.total), t.find(torch.tensor([0.5, 1.5, 3.9])).tolist()
        (4.0, [0, 3, 3])
    """

    def __init__(self, capacity: int, *, device: str | torch.device = "cpu"):
        self.capacity = _check_positive_int("capacity", capacity)
        self.size = 1
        while self.size < self.capacity:
            self.size *= 2
        self.depth = self.size.bit_length() - 1
        self.device = torch.device(device)
        self.nodes = torch.zeros(2 * self.size, dtype=torch.float64, device=self.device)

    @property
    def total(self) -> torch.Tensor:
        """Sum of all leaves (a 0-d tensor)."""
        return self.nodes[1]

    def leaves(self, idx: torch.Tensor) -> torch.Tensor:
        """Values of leaves ``idx``."""
        return self.nodes[idx + self.size]

    def update(self, idx: torch.Tensor, values: torch.Tensor) -> None:
        """Set leaves ``idx`` to ``values`` (a repeated index takes the largest of its values)."""
        idx = idx.to(self.device, torch.int64)
        values = values.to(self.device, torch.float64)
        uniq, inv = torch.unique(idx, return_inverse=True)
        vals = torch.zeros(len(uniq), dtype=torch.float64, device=self.device)
        vals = vals.scatter_reduce(0, inv, values, reduce="amax", include_self=False)
        node = uniq + self.size
        self.nodes[node] = vals
        for _ in range(self.depth):
            node = torch.unique(node // 2)
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]

    def find(self, prefix: torch.Tensor) -> torch.Tensor:
        """Leaf index ``i`` with ``sum(leaves[:i]) <= prefix < sum(leaves[:i + 1])``, for each prefix sum."""
        u = prefix.to(self.device, torch.float64).clone()
        node = torch.ones(len(u), dtype=torch.int64, device=self.device)
        for _ in range(self.depth):
            left = self.nodes[2 * node]
            right = u >= left
            u = torch.where(right, u - left, u)
            node = 2 * node + right.long()
        return (node - self.size).clamp_(max=self.capacity - 1)


class UniformReplay:
    """A ring buffer of transitions sampled uniformly (the DQN replay memory of Mnih et al. 2015).

    Args:
        capacity: how many transitions it holds (the oldest are overwritten).
        fields: ``{name: (shape, dtype)}`` of one transition.
        device: where the tensors live. generator: the ``torch.Generator`` used for sampling.

    Examples:
        >>> mem = UniformReplay(4, {"s": ((2,), torch.bool), "r": ((), torch.float32)})
        >>> mem.add(s=torch.ones(3, 2, dtype=torch.bool), r=torch.tensor([1.0, 2.0, 3.0])).tolist()
        [0, 1, 2]
        >>> len(mem), mem.add(s=torch.zeros(2, 2, dtype=torch.bool), r=torch.zeros(2)).tolist(), len(mem)
        (3, [3, 0], 4)
        >>> batch, idx, w = mem.sample(5)
        >>> batch["s"].shape, bool((w == 1).all())
        (torch.Size([5, 2]), True)
    """

    def __init__(self, capacity: int, fields: dict[str, tuple[tuple[int, ...], torch.dtype]], *,
                 device: str | torch.device = "cpu", generator: torch.Generator | None = None):
        self.capacity = _check_positive_int("capacity", capacity)
        if not fields:
            raise ConfigError("a replay memory needs at least one field, e.g. {'s': ((2, 5, 5), torch.bool)}")
        self.device = torch.device(device)
        self.gen = generator if generator is not None else torch.Generator(device=self.device)
        self.data = {k: torch.zeros((self.capacity, *shape), dtype=dt, device=self.device)
                     for k, (shape, dt) in fields.items()}
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, **batch: torch.Tensor) -> torch.Tensor:
        """Store a batch of transitions (every field, same length); returns the slots they went to.

        Raises:
            ConfigError: missing or unknown fields, or fields of different lengths.
        """
        if set(batch) != set(self.data):
            raise ConfigError(f"add() needs exactly the fields {sorted(self.data)}, got {sorted(batch)}")
        n = {len(v) for v in batch.values()}
        if len(n) != 1:
            raise ConfigError(f"all fields of a batch must have the same length, got lengths {sorted(n)}")
        n = n.pop()
        slots = torch.arange(self.pos, self.pos + n, device=self.device) % self.capacity
        for k, v in batch.items():
            self.data[k][slots] = v.to(self.device, self.data[k].dtype)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self._added(slots)
        return slots

    def _added(self, slots: torch.Tensor) -> None:
        pass

    def _check_sample(self, batch_size: int) -> int:
        batch_size = _check_positive_int("batch_size", batch_size)
        if self.size == 0:
            raise ConfigError("cannot sample from an empty replay memory; add() transitions first")
        return batch_size

    def sample(self, batch_size: int, beta: float = 0.0):
        """``(batch dict, slots, weights)``: ``batch_size`` transitions drawn uniformly with replacement;
        the importance weights are all 1 (``beta`` is accepted for a common interface)."""
        batch_size = self._check_sample(batch_size)
        idx = torch.randint(0, self.size, (batch_size,), generator=self.gen, device=self.device)
        w = torch.ones(batch_size, dtype=torch.float32, device=self.device)
        return {k: v[idx] for k, v in self.data.items()}, idx, w

    def update_priorities(self, slots: torch.Tensor, td_errors: torch.Tensor, *, eps: float = 1e-3) -> None:
        """No-op (uniform replay has no priorities); here so both memories share one interface."""


class PrioritizedReplay(UniformReplay):
    """Proportional prioritised experience replay (Schaul et al. 2016), see the module docstring.

    Args:
        capacity, fields, device, generator: as :class:`UniformReplay`.
        alpha: how strongly priorities shape sampling (0 = uniform, 1 = fully proportional; 0.6 in the paper).

    Raises:
        ConfigError: ``alpha`` outside ``[0, 1]``.
    """

    def __init__(self, capacity: int, fields: dict[str, tuple[tuple[int, ...], torch.dtype]], *,
                 alpha: float = 0.6, device: str | torch.device = "cpu", generator: torch.Generator | None = None):
        super().__init__(capacity, fields, device=device, generator=generator)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be a number in [0, 1] (0.6 in Schaul et al.), got {alpha!r}")
        self.alpha = float(alpha)
        self.tree = SumTree(self.capacity, device=self.device)
        self.max_priority = 1.0

    def _added(self, slots: torch.Tensor) -> None:
        self.tree.update(slots, torch.full((len(slots),), self.max_priority ** self.alpha, dtype=torch.float64))

    def probabilities(self, slots: torch.Tensor) -> torch.Tensor:
        """Sampling probabilities ``P(i)`` of the given slots."""
        return (self.tree.leaves(slots) / self.tree.total).float()

    def sample(self, batch_size: int, beta: float = 0.4):
        """``(batch dict, slots, importance weights)``: stratified proportional sampling.

        Args:
            batch_size: transitions to draw. beta: importance-sampling exponent (0 = no correction,
                1 = full correction; anneal towards 1).

        Raises:
            ConfigError: empty memory, bad ``batch_size`` or ``beta`` outside ``[0, 1]``.
        """
        batch_size = self._check_sample(batch_size)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 <= beta <= 1.0:
            raise ConfigError(f"beta must be a number in [0, 1], got {beta!r}")
        total = self.tree.total
        u = torch.rand(batch_size, generator=self.gen, device=self.device, dtype=torch.float64)
        prefix = (torch.arange(batch_size, device=self.device, dtype=torch.float64) + u) / batch_size * total
        idx = self.tree.find(prefix.clamp_(max=float(total) * (1 - 1e-12)))
        idx = torch.where(idx < self.size, idx, torch.randint(0, self.size, idx.shape, generator=self.gen,
                                                              device=self.device))
        prob = self.tree.leaves(idx) / total
        w = (self.size * prob) ** (-float(beta))
        w = (w / w.max()).float()
        return {k: v[idx] for k, v in self.data.items()}, idx, w

    def update_priorities(self, slots: torch.Tensor, td_errors: torch.Tensor, *, eps: float = 1e-3) -> None:
        """Set the priorities of replayed ``slots`` to ``|td_errors| + eps``."""
        pri = td_errors.detach().abs().double() + float(eps)
        self.max_priority = max(self.max_priority, float(pri.max()))
        self.tree.update(slots, pri ** self.alpha)


class NStepAccumulator:
    """n-step returns for ``n_envs`` episodes stepped together (vectorised, on the training device).

    Each :meth:`push` takes one step of every episode and returns the n-step transitions that are complete:
    for an episode with ``n`` pending steps, the oldest; for an episode that ended this step, all of its
    pending steps (with shorter returns). A transition is ``(state, action, ret, next_state, discount)``:
    the target is ``ret + discount * max_a Q(next_state, a)``, ``discount = gamma**k`` (0 when the episode
    terminated; a truncated episode is bootstrapped).

    Args:
        n_envs: parallel episodes. n: steps per return (1 = ordinary one-step transitions).
        gamma: discount. state_shape: shape of one state. device: torch device.

    Examples:
        >>> acc = NStepAccumulator(1, 2, 0.5, (1,))
        >>> out = acc.push(torch.tensor([[0.]]), torch.tensor([7]), torch.tensor([1.]), torch.tensor([[1.]]),
        ...                terminated=torch.tensor([False]), ended=torch.tensor([False]))
        >>> len(out["action"])  # one step pending, nothing complete
        0
        >>> out = acc.push(torch.tensor([[1.]]), torch.tensor([8]), torch.tensor([2.]), torch.tensor([[2.]]),
        ...                terminated=torch.tensor([False]), ended=torch.tensor([False]))
        >>> out["action"].tolist(), out["ret"].tolist(), out["discount"].tolist()  # 1 + 0.5 * 2
        ([7], [2.0], [0.25])
    """

    def __init__(self, n_envs: int, n: int, gamma: float, state_shape: tuple[int, ...], *,
                 device: str | torch.device = "cpu"):
        self.n_envs = _check_positive_int("n_envs", n_envs)
        self.n = _check_positive_int("n", n)
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"gamma must be a number in [0, 1], got {gamma!r}")
        self.gamma = float(gamma)
        dev = torch.device(device)
        self.states = torch.zeros((self.n_envs, self.n, *state_shape), dtype=torch.float32, device=dev)
        self.actions = torch.zeros((self.n_envs, self.n), dtype=torch.int64, device=dev)
        self.rewards = torch.zeros((self.n_envs, self.n), dtype=torch.float32, device=dev)
        self.count = torch.zeros(self.n_envs, dtype=torch.int64, device=dev)
        k = torch.arange(self.n, device=dev)
        self._powers = self.gamma ** k.float()
        # suffix[j, k] = gamma**(k - j) for k >= j: the return from pending step j on
        self._suffix = torch.where(k[None, :] >= k[:, None], self.gamma ** (k[None, :] - k[:, None]).clamp(min=0).float(),
                                   torch.zeros((), device=dev))

    def push(self, state: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_state: torch.Tensor, *,
             terminated: torch.Tensor, ended: torch.Tensor) -> dict[str, torch.Tensor]:
        """Add one step of every episode; returns the completed n-step transitions (dict of tensors:
        ``state, action, ret, next_state, discount``). ``ended`` = terminated or truncated."""
        rows = torch.arange(self.n_envs, device=self.count.device)
        self.states[rows, self.count] = state.float()
        self.actions[rows, self.count] = action
        self.rewards[rows, self.count] = reward.float()
        self.count += 1
        parts = []
        # episodes that ended: every pending step, with the (shorter) returns up to the end
        e = torch.nonzero(ended).flatten()
        if len(e):
            cnt = self.count[e]
            pending = torch.arange(self.n, device=e.device)[None, :] < cnt[:, None]  # (E', n)
            ret = (self.rewards[e] * pending) @ self._suffix.T
            steps = cnt[:, None] - torch.arange(self.n, device=e.device)[None, :]
            disc = torch.where(terminated[e][:, None], torch.zeros((), device=e.device),
                               self.gamma ** steps.clamp(min=0).float())
            env_of, j = torch.nonzero(pending, as_tuple=True)
            parts.append((self.states[e][env_of, j], self.actions[e][env_of, j], ret[env_of, j],
                          next_state[e][env_of].float(), disc[env_of, j]))
            self.count[e] = 0
        # episodes with n pending steps that go on: the oldest
        f = torch.nonzero((self.count == self.n) & ~ended).flatten()
        if len(f):
            ret = self.rewards[f] @ self._powers
            disc = torch.full((len(f),), self.gamma ** self.n, device=f.device)
            parts.append((self.states[f, 0], self.actions[f, 0], ret, next_state[f].float(), disc))
            self.states[f] = self.states[f].roll(-1, 1)
            self.actions[f] = self.actions[f].roll(-1, 1)
            self.rewards[f] = self.rewards[f].roll(-1, 1)
            self.count[f] -= 1
        names = ("state", "action", "ret", "next_state", "discount")
        if not parts:
            shape = self.states.shape[2:]
            empty = (self.states.new_zeros((0, *shape)), self.actions.new_zeros(0), self.rewards.new_zeros(0),
                     self.states.new_zeros((0, *shape)), self.rewards.new_zeros(0))
            return dict(zip(names, empty))
        return {k: torch.cat([p[i] for p in parts]) for i, k in enumerate(names)}
