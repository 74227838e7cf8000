"""Replay memories: the sum tree, proportional prioritised sampling (chi-squared test against the
priorities), importance-sampling weights, priority updates, and n-step returns against a per-episode
reference."""

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from qphys.errors import ConfigError
from qphys.rl.replay import NStepAccumulator, PrioritizedReplay, SumTree, UniformReplay


def test_sum_tree_prefix_search_matches_numpy():
    rng = np.random.default_rng(0)
    tree = SumTree(37)  # not a power of two: 64 leaves, 27 of them always 0
    vals = rng.exponential(size=37)
    tree.update(torch.arange(37), torch.as_tensor(vals))
    assert float(tree.total) == pytest.approx(vals.sum())
    prefix = rng.uniform(0, vals.sum(), size=5000)
    np.testing.assert_array_equal(tree.find(torch.as_tensor(prefix)).numpy(),
                                  np.searchsorted(np.cumsum(vals), prefix, side="right"))
    # a repeated index takes the largest of its values; ancestors are recomputed
    tree.update(torch.tensor([3, 3, 5]), torch.tensor([0.5, 2.0, 0.0]))
    vals[3], vals[5] = 2.0, 0.0
    assert float(tree.leaves(torch.tensor([3]))) == 2.0
    assert float(tree.total) == pytest.approx(vals.sum())
    assert 5 not in tree.find(torch.as_tensor(rng.uniform(0, vals.sum(), size=5000))).tolist()


def _memory(priorities, alpha, seed=0):
    n = len(priorities)
    mem = PrioritizedReplay(n, {"x": ((), torch.int64)}, alpha=alpha, generator=torch.Generator().manual_seed(seed))
    slots = mem.add(x=torch.arange(n))
    mem.update_priorities(slots, torch.as_tensor(priorities, dtype=torch.float64), eps=0.0)
    return mem


@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_sampling_is_proportional_to_priority_chi_squared(alpha):
    """20,000 draws from 12 transitions with priorities 1..12: counts fit P(i) = p_i**alpha / sum p**alpha
    (chi-squared p-value > 0.001); the same counts are far from uniform, so the test has power."""
    pri = np.arange(1.0, 13.0)
    mem = _memory(pri, alpha)
    counts = np.zeros(12)
    for _ in range(625):
        batch, idx, _ = mem.sample(32, beta=0.4)
        np.testing.assert_array_equal(batch["x"].numpy(), idx.numpy())  # slot i holds x = i
        counts += np.bincount(idx.numpy(), minlength=12)
    expected = pri**alpha / (pri**alpha).sum() * counts.sum()
    assert chisquare(counts, expected).pvalue > 1e-3
    assert chisquare(counts, np.full(12, counts.sum() / 12)).pvalue < 1e-10
    np.testing.assert_allclose(mem.probabilities(torch.arange(12)).numpy(), expected / counts.sum(), rtol=1e-6)


def test_importance_weights_follow_the_formula():
    pri = np.array([1.0, 4.0, 2.0, 8.0, 0.5])
    mem = _memory(pri, alpha=0.7)
    prob = pri**0.7 / (pri**0.7).sum()
    for beta in (0.0, 0.4, 1.0):
        _, idx, w = mem.sample(64, beta=beta)
        raw = (len(pri) * prob[idx.numpy()]) ** -beta
        np.testing.assert_allclose(w.numpy(), raw / raw.max(), rtol=1e-5)
    _, idx, w = mem.sample(64, beta=1.0)  # full correction: w * P is the same for every sample
    np.testing.assert_allclose(w.numpy() * prob[idx.numpy()], (w.numpy() * prob[idx.numpy()])[0], rtol=1e-5)


def test_priority_updates_and_new_transitions_get_the_largest_priority():
    mem = PrioritizedReplay(4, {"x": ((), torch.float32)}, alpha=0.5)
    slots = mem.add(x=torch.zeros(3))
    np.testing.assert_allclose(mem.tree.leaves(slots).numpy(), 1.0)  # max priority starts at 1
    mem.update_priorities(torch.tensor([0, 2]), torch.tensor([-8.0, 0.0]), eps=0.01)
    np.testing.assert_allclose(mem.tree.leaves(torch.tensor([0, 1, 2])).numpy(), [8.01**0.5, 1.0, 0.01**0.5])
    assert mem.max_priority == pytest.approx(8.01)
    more = mem.add(x=torch.ones(2))  # slot 3, then overwrites slot 0, both at the largest priority
    assert more.tolist() == [3, 0] and len(mem) == 4
    np.testing.assert_allclose(mem.tree.leaves(more).numpy(), 8.01**0.5)
    assert float(mem.tree.total) == pytest.approx(2 * 8.01**0.5 + 1.0 + 0.01**0.5)


def test_uniform_memory_and_bad_input():
    mem = UniformReplay(10, {"s": ((2,), torch.bool)}, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ConfigError, match="empty replay memory"):
        mem.sample(4)
    with pytest.raises(ConfigError, match=r"exactly the fields \['s'\]"):
        mem.add(t=torch.zeros(2))
    with pytest.raises(ConfigError, match="capacity must be a positive integer"):
        UniformReplay(0, {"s": ((), torch.bool)})
    with pytest.raises(ConfigError, match=r"alpha must be a number in \[0, 1\]"):
        PrioritizedReplay(4, {"s": ((), torch.bool)}, alpha=1.5)
    pm = PrioritizedReplay(4, {"s": ((), torch.bool)})
    pm.add(s=torch.ones(2, dtype=torch.bool))
    with pytest.raises(ConfigError, match=r"beta must be a number in \[0, 1\]"):
        pm.sample(2, beta=2.0)
    with pytest.raises(ConfigError, match=r"gamma must be a number in \[0, 1\]"):
        NStepAccumulator(2, 3, 1.5, (1,))


def _reference(ep, n, gamma, terminated, *, ended):
    out = []
    for j in range(len(ep) if ended else len(ep) - n + 1):
        k = min(n, len(ep) - j)
        ret = sum(gamma**i * ep[j + i][2] for i in range(k))
        disc = 0.0 if (terminated and j + k == len(ep)) else gamma**k
        out.append((ep[j][0], ep[j][1], ret, ep[j + k - 1][3], disc))
    return out


@pytest.mark.parametrize("n", [1, 3])
def test_n_step_returns_match_a_per_episode_reference(n):
    """Random rewards, terminations and truncations in 4 parallel episodes: every emitted transition is
    the n-step (or shorter, at an episode's end) discounted return, with discount 0 only after a
    termination and gamma**k otherwise."""
    gen = torch.Generator().manual_seed(n)
    gamma, n_envs = 0.9, 4
    acc = NStepAccumulator(n_envs, n, gamma, (1,))
    episodes = [[] for _ in range(n_envs)]
    got, want = [], []
    label = 0.0
    for _ in range(300):
        s = label + torch.arange(n_envs, dtype=torch.float32)[:, None] * 1e4
        label += 1.0
        a = torch.randint(0, 9, (n_envs,), generator=gen)
        r = torch.randn(n_envs, generator=gen)
        term = torch.rand(n_envs, generator=gen) < 0.1
        ended = term | (torch.rand(n_envs, generator=gen) < 0.05)
        out = acc.push(s, a, r, s + 0.5, terminated=term, ended=ended)
        got += list(zip(out["state"][:, 0].tolist(), out["action"].tolist(), out["ret"].tolist(),
                        out["next_state"][:, 0].tolist(), out["discount"].tolist()))
        for e in range(n_envs):
            episodes[e].append((float(s[e, 0]), int(a[e]), float(r[e]), float(s[e, 0]) + 0.5))
            if ended[e]:
                want += _reference(episodes[e], n, gamma, bool(term[e]), ended=True)
                episodes[e] = []
    for ep in episodes:  # unfinished episodes: only full n-step windows are complete
        want += _reference(ep, n, gamma, False, ended=False)
    assert len(got) == len(want) > 900
    got, want = sorted(got), sorted(want)
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[1] == w[1] and g[3] == w[3]
        assert g[2] == pytest.approx(w[2], abs=1e-5) and g[4] == pytest.approx(w[4], abs=1e-6)
