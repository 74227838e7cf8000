"""The deep-Q decoding agent of Andreasson et al. (bit-flip) and Fitzek et al. (depolarizing).

The agent decodes the toric code by acting: it looks at the syndrome from the perspective of each defect
(the syndrome translated on the torus so that the defect sits at the centre), values the single-qubit
Paulis next to that defect with a Q-network, and applies the best one over all defects; the episode ends
when no defect is left. Rewards (:mod:`qphys.rl.defect_actions`): the number of defects each
step removes, plus ``terminal_reward`` when the final loop (error times correction) is trivial. Learning
is double deep Q-learning (van Hasselt et al. 2016) with a dueling head (Wang et al. 2016), a target
network, a large uniform replay memory and a curriculum of error rates that rises to the evaluation rate.

**One network, every perspective.** :class:`PerspectiveQNetwork` is the perspective network: 3x3
convolutions with circular padding, then a "perspective head" that is a dense layer over the whole
centred ``d x d`` feature map, then dueling value/advantage layers. Written as a circular convolution
whose kernel covers the whole torus, the dense head evaluated at cell ``(r, c)`` *is* the dense layer
applied to the view centred on ``(r, c)``; so one forward pass returns the Q-values of every perspective
at once, ``(B, n_local, d, d)``, exactly what Andreasson et al. compute with one forward pass per defect
(:meth:`PerspectiveQNetwork.perspective_q` does it their way; a test checks both agree). Q-values at cells
without the right defect are masked.

**Why not Stable-Baselines3.** The environment is a gymnasium env
(:class:`~qphys.rl.decoding_env.ToricCodeDefectEnv`, ``qphys/ToricCodeDefectDecoding-v0``) with an action
mask, but SB3's DQN cannot train this agent: (1) the valid actions change every step (only cells with a
defect may act) and SB3's DQN has no action masking, neither for exploration nor in the ``max_a`` of its
bootstrap target; (2) its Q-network returns one vector per observation and its replay stores one
observation per step, while this agent's target maximises over the perspectives of the *next* syndrome;
(3) SB3 steps Python environments one at a time, which on a 2-core machine is the bottleneck (the SB3 agent
of :mod:`~qphys.rl.decoding.rl_decoder` reached ~350 steps/s), while :class:`BatchedToricEpisodes` steps
hundreds of episodes per torch call. So :func:`train_deepq_decoder` is the smallest loop that does it —
epsilon-greedy over valid actions, replay, double-DQN target, target-network sync — about 80 lines.

Examples:
    >>> from qphys.rl.decoding.deepq import train_deepq_decoder
    >>> agent = train_deepq_decoder(3, "bitflip", p=0.05, updates=30, n_envs=16, batch_size=32,
    ...                             learning_starts=64, seed=0, progress=False)
    >>> agent.predict(agent.code.sample("bitflip", 0.05, shots=4, seed=0)[0]).shape
    (4, 4)
"""

from __future__ import annotations

import copy
import logging
import numbers
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from qphys.errors import ConfigError
from qphys.rl.codes import NOISE_MODELS, ToricCode
from qphys.rl.decoding._common import check_syndromes, resolve_device, weights_path
from qphys.rl.defect_actions import BatchedToricEpisodes, DefectActions

logger = logging.getLogger(__name__)

__all__ = ["DeepQDecoder", "PerspectiveQNetwork", "train_deepq_decoder"]

FORMAT = "qphys.DeepQDecoder/1"


class PerspectiveQNetwork(nn.Module):
    """Q-values of every perspective at once: ``(B, 2, d, d)`` syndromes -> ``(B, n_local, d, d)``.

    Args:
        d: lattice size (odd). n_local: local actions per perspective (4 bit-flip, 24 depolarizing).
        channels: width of the 3x3 circular convolutions. layers: how many of them.
        hidden: width of the perspective head (the dense layer over the centred view).

    Examples:
        >>> net = PerspectiveQNetwork(3, 4, channels=8, layers=2, hidden=16)
        >>> net(torch.zeros(5, 2, 3, 3)).shape
        torch.Size([5, 4, 3, 3])
    """

    def __init__(self, d: int, n_local: int, *, channels: int = 32, layers: int = 3, hidden: int = 64):
        super().__init__()
        if d % 2 == 0:
            raise ConfigError(f"the perspective network needs an odd d (a centre cell), got d={d}")
        self.d, self.n_local = d, n_local
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Conv2d(2 if i == 0 else channels, channels, 3, padding=1, padding_mode="circular"),
                     nn.ReLU()]
        self.body = nn.Sequential(*mods)
        # a dense layer over the whole centred view, evaluated for every centre at once
        self.head = nn.Conv2d(channels, hidden, d, padding=d // 2, padding_mode="circular")
        self.value = nn.Conv2d(hidden, 1, 1)
        self.advantage = nn.Conv2d(hidden, n_local, 1)

    def forward(self, syndromes: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.head(self.body(syndromes)))
        adv = self.advantage(h)
        return self.value(h) + adv - adv.mean(dim=1, keepdim=True)

    def perspective_q(self, syndromes: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """Andreasson et al.'s way: centre each syndrome on ``cells[b] = (r, c)`` and read the centre.

        Returns ``(B, n_local)``; equal to ``self(syndromes)[b, :, r, c]`` (translation equivariance).
        """
        c = self.d // 2
        views = torch.stack([torch.roll(s, shifts=(c - int(r), c - int(k)), dims=(1, 2))
                             for s, (r, k) in zip(syndromes, cells)])
        return self(views)[:, :, c, c]


def _masked_flat(q: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return q.flatten(1).masked_fill(~valid, -torch.inf)


class DeepQDecoder:
    """A trained perspective Q-network that decodes toric-code syndromes by acting, batched.

    Decoding follows the greedy policy over all perspectives (``argmax`` of the masked Q-values) until
    the syndrome is clear or ``max_steps`` is reached (the shot then counts as a failure). Applying the
    same Pauli to the same qubit twice in one episode is masked (it would undo a step), which rules out
    two-cycles.

    Args:
        network: a :class:`PerspectiveQNetwork`. code: the :class:`~qphys.rl.codes.ToricCode`.
        noise: the action set's noise model. max_steps: step limit per shot (default ``2 d**2``).
        device: where to run.

    Examples:
        >>> dec = DeepQDecoder.load_shipped(3, "bitflip")
        >>> code = dec.code
        >>> e = np.zeros((1, code.n_qubits), dtype=np.uint8); e[0, 4] = 1
        >>> bool((dec.predict(code.syndrome(e)) == code.logical_class(e)).all())
        True
    """

    def __init__(self, network: PerspectiveQNetwork, code: ToricCode, noise: str, *,
                 max_steps: int | None = None, device: str | torch.device = "cpu"):
        self.code, self.noise = code, noise
        self.actions = DefectActions(code, noise)
        if network.n_local != self.actions.n_local or network.d != code.d:
            raise ConfigError(f"network is for d={network.d} with {network.n_local} local actions; "
                              f"{noise} decoding at d={code.d} needs {self.actions.n_local}")
        self.device = resolve_device(device)
        self.network = network.to(self.device)
        self.max_steps = int(max_steps) if max_steps is not None else code.n_qubits
        self.config: dict[str, int] = {}
        self.train_info: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"DeepQDecoder(d={self.code.d}, noise={self.noise!r}, {self.config})"

    @torch.no_grad()
    def correction(self, syndromes, *, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Run the greedy policy; returns ``(corrections (shots, n) Pauli codes, solved (shots,) bool)``."""
        s = check_syndromes(syndromes, self.code.n_stabilizers, f"d={self.code.d}")
        corr, solved = [], []
        for i in range(0, len(s), batch_size):
            c, ok = self._run(s[i : i + batch_size])
            corr.append(c)
            solved.append(ok)
        if not corr:
            return np.zeros((0, self.code.n_qubits), np.uint8), np.zeros(0, bool)
        return np.concatenate(corr), np.concatenate(solved)

    def _run(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d, n_q = self.code.d, self.code.n_qubits
        ep = BatchedToricEpisodes(self.actions, len(s), device=self.device)
        ep.load(torch.as_tensor(s, device=self.device).view(-1, 2, d, d))
        qp = torch.as_tensor(self.actions.qubit.reshape(self.actions.n_local, -1), device=self.device)
        pp = torch.as_tensor(self.actions.pauli, device=self.device)
        slot = ((pp[:, None] - 1) * n_q + qp).flatten()  # global action -> (Pauli, qubit) slot
        taken = torch.zeros(len(s), 3 * n_q, dtype=torch.bool, device=self.device)
        active = ep.syndrome.flatten(1).any(1)
        self.network.eval()
        for _ in range(self.max_steps):
            idx = torch.nonzero(active).flatten()
            if idx.numel() == 0:
                break
            syn = ep.syndrome[idx]
            valid = ep.valid(syn) & ~taken[idx][:, slot]
            q = _masked_flat(self.network(syn), valid)
            a = q.argmax(1)
            taken[idx, slot[a]] = True
            _Subset(ep, idx).step(a)  # only the active episodes; the others keep their empty syndrome
            active[idx] = ep.syndrome[idx].flatten(1).any(1)
        x, z = ep.x.cpu().numpy().astype(np.uint8), ep.z.cpu().numpy().astype(np.uint8)
        from qphys.rl.codes import from_xz

        return from_xz(x, z), ~active.cpu().numpy()

    def predict(self, syndromes, *, batch_size: int = 4096) -> np.ndarray:
        """Logical class of the agent's correction ``(shots, 4)``; unsolved shots get the impossible bit 2."""
        corr, solved = self.correction(syndromes, batch_size=batch_size)
        bits = self.code.logical_class(corr)
        bits[~solved] = 2
        return bits

    # -------------------------------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """Save the network, its configuration and training information (a small ``.pt``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": FORMAT, "d": self.code.d, "noise": self.noise, "config": dict(self.config),
                    "max_steps": self.max_steps,
                    "state_dict": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
                    "train_info": dict(self.train_info)}, path)
        return path

    @classmethod
    def load(cls, path, *, device: str | torch.device = "cpu") -> DeepQDecoder:
        """Load a decoder saved by :meth:`save`.

        Raises:
            FileNotFoundError: no such file. ConfigError: not a saved DeepQDecoder.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no DeepQDecoder weights at {path}")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ConfigError(f"{path} is not a qphys DeepQDecoder file (format {FORMAT!r})")
        code = ToricCode(blob["d"])
        net = PerspectiveQNetwork(code.d, DefectActions(code, blob["noise"]).n_local, **blob["config"])
        net.load_state_dict(blob["state_dict"])
        dec = cls(net, code, blob["noise"], max_steps=blob["max_steps"], device=device)
        dec.config = dict(blob["config"])
        dec.train_info = dict(blob["train_info"])
        return dec

    @staticmethod
    def shipped_name(d: int, noise: str) -> str:
        """File name of the shipped agent for ``(d, noise)``: ``decoder_deepq_d{d}_{noise}.pt``."""
        return f"decoder_deepq_d{d}_{noise}.pt"

    @classmethod
    def load_shipped(cls, d: int, noise: str = "bitflip", *, device: str | torch.device = "cpu") -> DeepQDecoder:
        """Load the agent shipped in ``qphys/rl/weights`` for distance ``d`` and ``noise``.

        Raises:
            ConfigError: no shipped agent for that pair (the message lists those there are).
        """
        path = weights_path(cls.shipped_name(d, noise))
        if not path.exists():
            have = sorted(p.name for p in weights_path("").glob("decoder_deepq_*.pt"))
            raise ConfigError(f"no shipped DeepQDecoder for d={d}, noise={noise!r}; shipped: {have}")
        return cls.load(path, device=device)


class _Subset:
    """Steps a subset ``idx`` of a :class:`BatchedToricEpisodes` in place (decoding only)."""

    def __init__(self, ep: BatchedToricEpisodes, idx: torch.Tensor):
        self.ep, self.idx = ep, idx

    def step(self, a: torch.Tensor) -> None:
        ep, idx = self.ep, self.idx
        dd = ep.d * ep.d
        q = ep._qubit[a // dd, a % dd]
        p = ep._pauli[a // dd]
        ep.x[idx, q] ^= (p == 1) | (p == 2)
        ep.z[idx, q] ^= (p == 3) | (p == 2)
        ep.syndrome[idx] = ep._syndrome_of(ep.x[idx], ep.z[idx], ep.base[idx])


# ---------------------------------------------------------------------------------------------- training
def _positive_int(name: str, val) -> int:
    if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
        raise ConfigError(f"{name} must be a positive integer, got {val!r}")
    return int(val)


def train_deepq_decoder(
    d: int,
    noise: str = "bitflip",
    *,
    p: float = 0.10,
    p_start: float | None = None,
    curriculum: float = 0.3,
    updates: int = 20_000,
    n_envs: int = 128,
    batch_size: int = 256,
    learning_starts: int = 2_000,
    buffer_size: int = 200_000,
    lr: float = 5e-4,
    gamma: float = 0.95,
    target_update: int = 500,
    eps_start: float = 1.0,
    eps_end: float = 0.02,
    eps_fraction: float = 0.3,
    terminal_reward: float = 10.0,
    channels: int = 32,
    layers: int = 3,
    hidden: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
    time_budget: float | None = None,
    init: DeepQDecoder | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 2000,
    progress: bool = True,
) -> DeepQDecoder:
    """Train the perspective deep-Q agent (double DQN, dueling head, target network, replay, curriculum).

    Each iteration steps ``n_envs`` episodes once with an epsilon-greedy policy over valid actions, stores
    the transitions (syndrome, action, reward, next syndrome, terminal) in the replay memory, and makes one
    gradient step on ``batch_size`` replayed transitions against the double-DQN target
    ``r + gamma * Q_target(s', argmax_{valid a'} Q(s', a'))`` (Huber loss, Adam). Finished episodes restart
    from fresh errors whose rate follows the curriculum: linear from ``p_start`` (default ``p / 2``) to ``p``
    over the first ``curriculum`` fraction of the updates, then ``p``. Epsilon falls linearly from
    ``eps_start`` to ``eps_end`` over the first ``eps_fraction``.

    Args:
        d: odd distance. noise: ``'bitflip'`` or ``'depolarizing'``. p: the evaluation (final) error rate.
        updates: gradient steps. init: continue training this decoder's network (e.g. from a smaller
            budget or a nearby rate); the network configuration then comes from it.
        time_budget: stop after this many seconds; the exploration and curriculum schedules then run on
            whichever of updates or time is used up first, so a budget-limited run still ends greedy at ``p``.
        checkpoint: save the decoder there every ``checkpoint_every`` updates (long runs).
        progress: tqdm bar.

    Returns:
        A :class:`DeepQDecoder` whose ``train_info`` records updates, environment steps (transitions),
        episodes, syndromes (episodes started), wall seconds and process CPU seconds.

    Raises:
        ConfigError: bad distance, noise, rates or sizes (before anything is trained).
    """
    code = ToricCode(d)
    if code.d % 2 == 0 or code.d < 3:
        raise ConfigError(f"the deep-Q agent needs an odd distance d >= 3, got d={d}")
    if noise not in NOISE_MODELS:
        raise ConfigError(f"unknown noise model {noise!r}; choose one of {list(NOISE_MODELS)}")
    p = BatchedToricEpisodes.check_rate(p)
    p0 = BatchedToricEpisodes.check_rate(p / 2 if p_start is None else p_start)
    for name, val in (("updates", updates), ("n_envs", n_envs), ("batch_size", batch_size),
                      ("buffer_size", buffer_size), ("target_update", target_update)):
        _positive_int(name, val)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    acts = DefectActions(code, noise)
    if init is not None:
        net, config = copy.deepcopy(init.network).to(dev), dict(init.config)
    else:
        config = dict(channels=channels, layers=layers, hidden=hidden)
        net = PerspectiveQNetwork(code.d, acts.n_local, **config).to(dev)
    target = copy.deepcopy(net).eval()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    env = BatchedToricEpisodes(acts, n_envs, terminal_reward=terminal_reward, device=dev, generator=gen)
    env.reset(torch.ones(n_envs, dtype=torch.bool, device=dev), p0)

    shape = (buffer_size, 2, code.d, code.d)
    buf_s = torch.zeros(shape, dtype=torch.bool, device=dev)
    buf_s2 = torch.zeros(shape, dtype=torch.bool, device=dev)
    buf_a = torch.zeros(buffer_size, dtype=torch.int64, device=dev)
    buf_r = torch.zeros(buffer_size, dtype=torch.float32, device=dev)
    buf_t = torch.zeros(buffer_size, dtype=torch.bool, device=dev)
    size = pos = 0
    episodes = syndromes = n_envs
    solved = success = 0
    recent: list[float] = []
    losses: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    prev = dict(init.train_info) if init is not None else {}

    def snapshot() -> DeepQDecoder:
        net.eval()
        dec = DeepQDecoder(copy.deepcopy(net), code, noise, device=dev)
        dec.config = config
        dec.train_info = dict(
            updates=done_updates + prev.get("updates", 0),
            env_steps=done_updates * n_envs + prev.get("env_steps", 0),
            syndromes=syndromes + prev.get("syndromes", 0),
            seconds=time.perf_counter() - t0 + prev.get("seconds", 0.0),
            cpu_seconds=time.process_time() - c0 + prev.get("cpu_seconds", 0.0),
            p=p, p_start=p0, curriculum=curriculum, n_envs=n_envs, batch_size=batch_size, lr=lr, gamma=gamma,
            buffer_size=buffer_size, target_update=target_update, terminal_reward=terminal_reward, seed=seed,
            final_loss=float(np.mean(losses[-200:])) if losses else None,
            train_success=float(np.mean(recent[-2000:])) if recent else None,
            torch_threads=torch.get_num_threads(), device=str(dev), stages=prev.get("stages", 0) + 1,
        )
        return dec

    bar = tqdm(range(updates), desc=f"deep-Q d={code.d} {noise}", disable=not progress)
    done_updates = 0
    for it in bar:
        # schedules span the updates or the time budget, whichever runs out first
        frac = it / updates if time_budget is None else max(it / updates, (time.perf_counter() - t0) / time_budget)
        eps = eps_end + (eps_start - eps_end) * max(0.0, 1.0 - frac / max(eps_fraction, 1e-9))
        rate = p if frac >= curriculum else p0 + (p - p0) * frac / max(curriculum, 1e-9)
        # ---- act
        with torch.no_grad():
            s = env.syndrome
            valid = env.valid()
            q = _masked_flat(net(s), valid)
            greedy = q.argmax(1)
            rnd = torch.multinomial(valid.float(), 1, generator=gen).squeeze(1)
            explore = torch.rand(n_envs, generator=gen, device=dev) < eps
            a = torch.where(explore, rnd, greedy)
            s_before = s.clone()
            r, term, trunc, ok = env.step(a)
        k = torch.arange(pos, pos + n_envs, device=dev) % buffer_size
        buf_s[k], buf_s2[k], buf_a[k], buf_r[k], buf_t[k] = s_before > 0.5, env.syndrome > 0.5, a, r, term
        pos = (pos + n_envs) % buffer_size
        size = min(size + n_envs, buffer_size)
        ended = term | trunc
        if ended.any():
            n_end = int(ended.sum())
            episodes += n_end
            syndromes += n_end
            solved += int(term.sum())
            success += int(ok.sum())
            recent.extend((ok[ended]).float().tolist())
            env.reset(ended, rate)
        # ---- learn
        if size >= learning_starts:
            j = torch.randint(0, size, (batch_size,), generator=gen, device=dev)
            s_b, s2_b = buf_s[j].float(), buf_s2[j].float()
            with torch.no_grad():
                valid2 = env.valid(s2_b)
                any2 = valid2.any(1)
                a2 = _masked_flat(net(s2_b), valid2 | ~any2[:, None]).argmax(1)
                q2 = target(s2_b).flatten(1).gather(1, a2[:, None]).squeeze(1)
                y = buf_r[j] + gamma * torch.where(buf_t[j] | ~any2, 0.0, q2)
            q_sa = net(s_b).flatten(1).gather(1, buf_a[j][:, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q_sa, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            losses.append(loss.item())
            if (it + 1) % target_update == 0:
                target.load_state_dict(net.state_dict())
        done_updates += 1
        if (it + 1) % 200 == 0 and recent:
            recent = recent[-2000:]
            bar.set_postfix(eps=f"{eps:.2f}", p=f"{rate:.3f}", success=f"{np.mean(recent):.3f}",
                            loss=f"{np.mean(losses[-200:]) if losses else 0:.3f}")
            logger.debug("update %d eps %.2f p %.3f success %.3f", it + 1, eps, rate, np.mean(recent))
        if checkpoint is not None and (it + 1) % checkpoint_every == 0:
            snapshot().save(checkpoint)
            net.train()
        if time_budget is not None and time.perf_counter() - t0 > time_budget:
            logger.info("time budget %.0f s reached after %d of %d updates", time_budget, it + 1, updates)
            break
    return snapshot()
