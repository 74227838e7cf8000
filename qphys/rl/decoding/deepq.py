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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from qphys.errors import ConfigError
from qphys.rl.codes import NOISE_MODELS, ToricCode, from_xz
from qphys.rl.decoding._common import check_syndromes, resolve_device, weights_path
from qphys.rl.decoding.perspective import PerspectiveQNetwork, masked_q
from qphys.rl.defect_actions import BatchedToricEpisodes, DefectActions
from qphys.rl.replay import NStepAccumulator, PrioritizedReplay, UniformReplay
from qphys.rl.toric_symmetry import ToricSymmetries

logger = logging.getLogger(__name__)

__all__ = ["DeepQDecoder", "PerspectiveQNetwork", "train_deepq_decoder"]

FORMAT = "qphys.DeepQDecoder/1"


class DeepQDecoder:
    """A trained perspective Q-network that decodes toric-code syndromes by acting, batched.

    Decoding follows the greedy policy over all perspectives (``argmax`` of the Q-values of the actions next
    to a defect) until the syndrome is clear or ``max_steps`` is reached (the shot then counts as a failure).
    Applying the same Pauli to the same qubit twice in one episode is masked (it would undo a step), which
    rules out two-cycles. With ``symmetrize=True`` the Q-values are averaged over the 8 rotations and
    reflections of the lattice (:class:`~qphys.rl.toric_symmetry.ToricSymmetries`; 8 network passes per
    step).

    With ``orientations=True`` the agent decodes each syndrome 8 times, once in each orientation of the
    lattice (the syndrome rotated or reflected, the greedy episode run, its correction mapped back), and keeps
    the shortest episode that clears the syndrome (fewest flips; ties go to the first orientation, the
    identity; with ``symmetrize`` too, the symmetrised episode is a ninth candidate and comes first). The 8
    episodes differ wherever the network's Q-values are not exactly symmetric. Keeping the shortest is the
    agent's own objective: every step is discounted (``gamma < 1``) and each defect removed is rewarded, so of
    two successful episodes the shorter one has the larger return. This is an evaluation-time ensemble that
    Andreasson et al. do not use (they run one greedy episode); no matching is involved. A shot whose episodes
    all reach ``max_steps`` with defects left is unsolved and counts as a failure.

    Args:
        network: a :class:`PerspectiveQNetwork`. code: the :class:`~qphys.rl.codes.ToricCode`.
        noise: the action set's noise model. max_steps: step limit per shot (default ``2 d**2``).
        symmetrize: average the Q-values over the lattice symmetries. orientations: keep the shortest of
            the 8 orientations' episodes. device: where to run.

    Examples:
        >>> dec = DeepQDecoder.load_shipped(3, "bitflip")
        >>> code = dec.code
        >>> e = np.zeros((1, code.n_qubits), dtype=np.uint8); e[0, 4] = 1
        >>> bool((dec.predict(code.syndrome(e)) == code.logical_class(e)).all())
        True
    """

    def __init__(self, network: PerspectiveQNetwork, code: ToricCode, noise: str, *,
                 max_steps: int | None = None, symmetrize: bool = False, orientations: bool = False,
                 device: str | torch.device = "cpu"):
        self.code, self.noise = code, noise
        self.actions = DefectActions(code, noise)
        if network.n_local != self.actions.n_local or network.d != code.d:
            raise ConfigError(f"network is for d={network.d} with {network.n_local} local actions; "
                              f"{noise} decoding at d={code.d} needs {self.actions.n_local}")
        self.device = resolve_device(device)
        self.network = network.to(self.device)
        self.max_steps = int(max_steps) if max_steps is not None else code.n_qubits
        self.symmetrize = bool(symmetrize)
        self.orientations = bool(orientations)
        self._sym: ToricSymmetries | None = None
        self._anchor = torch.as_tensor(self.actions.anchor, device=self.device)
        self.config: dict[str, int] = {}
        self.train_info: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"DeepQDecoder(d={self.code.d}, noise={self.noise!r}, {self.config})"

    @property
    def symmetries(self) -> ToricSymmetries:
        """The lattice's 8 point symmetries for this decoder's action set (built on first use)."""
        if self._sym is None:
            self._sym = ToricSymmetries(self.actions)
        return self._sym

    @torch.no_grad()
    def q_values(self, images: torch.Tensor, *, symmetrize: bool | None = None) -> torch.Tensor:
        """Q-values of the valid global actions ``(B, n_actions)`` (``-inf`` where invalid) for syndrome
        images ``(B, 2, d, d)``; averaged over the lattice symmetries when ``symmetrize`` (default: the
        decoder's setting)."""
        self.network.eval()
        images = images.to(self.device, torch.float32)
        if not (self.symmetrize if symmetrize is None else symmetrize):
            return masked_q(self.network, images, self._anchor)
        sym = self.symmetries
        total = torch.zeros(len(images), self.actions.n_actions, device=self.device)
        amap = torch.as_tensor(sym.action_map, device=self.device)
        for g in range(sym.n):
            gi = torch.full((len(images),), g, dtype=torch.long, device=self.device)
            total += masked_q(self.network, sym.images(images, gi), self._anchor)[:, amap[g]]
        return total / sym.n

    @torch.no_grad()
    def correction(self, syndromes, *, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Run the greedy policy (the shortest of the orientations' episodes with ``orientations``); returns
        ``(corrections (shots, n) Pauli codes, solved (shots,) bool)``."""
        s = check_syndromes(syndromes, self.code.n_stabilizers, f"d={self.code.d}")
        corr, solved = [], []
        for i in range(0, len(s), batch_size):
            c, ok = self._best_of_orientations(s[i : i + batch_size]) if self.orientations else self._run(
                s[i : i + batch_size], self.symmetrize)
            corr.append(c)
            solved.append(ok)
        if not corr:
            return np.zeros((0, self.code.n_qubits), np.uint8), np.zeros(0, bool)
        return np.concatenate(corr), np.concatenate(solved)

    def _best_of_orientations(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shortest solved episode per shot over the 8 orientations (and the symmetrised episode)."""
        sym = self.symmetries
        cands = [self._run(s, True)] if self.symmetrize else []
        for g in range(sym.n):
            c_g, ok = self._run(s[:, sym.stabilizer_src[g]], False)  # decode the transformed syndrome
            c = np.empty_like(c_g)
            c[:, sym.qubit_src[g]] = c_g  # and map its correction back
            cands.append((c, ok))
        flips = np.stack([np.where(ok, (c != 0).sum(1), np.iinfo(np.int64).max) for c, ok in cands])
        best = flips.argmin(0)  # first minimum: the earliest candidate wins ties
        rows = np.arange(len(s))
        corr = np.stack([c for c, _ in cands])[best, rows]
        solved = np.stack([ok for _, ok in cands])[best, rows]
        return corr, solved

    def _run(self, s: np.ndarray, symmetrize: bool) -> tuple[np.ndarray, np.ndarray]:
        d, n_q = self.code.d, self.code.n_qubits
        ep = BatchedToricEpisodes(self.actions, len(s), device=self.device)
        ep.load(torch.as_tensor(s, device=self.device).view(-1, 2, d, d))
        qp = torch.as_tensor(self.actions.qubit.reshape(self.actions.n_local, -1), device=self.device)
        pp = torch.as_tensor(self.actions.pauli, device=self.device)
        slot = ((pp[:, None] - 1) * n_q + qp).flatten()  # global action -> (Pauli, qubit) slot
        taken = torch.zeros(len(s), 3 * n_q, dtype=torch.bool, device=self.device)
        active = ep.syndrome.flatten(1).any(1)
        for _ in range(self.max_steps):
            idx = torch.nonzero(active).flatten()
            if idx.numel() == 0:
                break
            q = self.q_values(ep.syndrome[idx], symmetrize=symmetrize)
            fresh = q.masked_fill(taken[idx][:, slot], -torch.inf)
            stuck = ~torch.isfinite(fresh).any(1)  # every valid action already taken: allow repeats
            a = torch.where(stuck, q.argmax(1), fresh.argmax(1))
            taken[idx, slot[a]] = True
            _Subset(ep, idx).step(a)  # only the active episodes; the others keep their empty syndrome
            active[idx] = ep.syndrome[idx].flatten(1).any(1)
        x, z = ep.x.cpu().numpy().astype(np.uint8), ep.z.cpu().numpy().astype(np.uint8)
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
                    "max_steps": self.max_steps, "symmetrize": self.symmetrize, "orientations": self.orientations,
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
        dec = cls(net, code, blob["noise"], max_steps=blob["max_steps"], symmetrize=blob.get("symmetrize", False),
                  orientations=blob.get("orientations", False), device=device)
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


def _fraction(name: str, val) -> float:
    if isinstance(val, bool) or not isinstance(val, numbers.Real) or not 0.0 <= val <= 1.0:
        raise ConfigError(f"{name} must be a number in [0, 1], got {val!r}")
    return float(val)


def _linear(start: float, end: float, frac: float, span: float) -> float:
    """``start`` -> ``end`` linearly over the first ``span`` of the run, then ``end``."""
    return end + (start - end) * max(0.0, 1.0 - frac / max(span, 1e-9))


def _td_targets(net: PerspectiveQNetwork, target: PerspectiveQNetwork, s2: torch.Tensor, anchor: torch.Tensor,
                ret: torch.Tensor, discount: torch.Tensor) -> torch.Tensor:
    """Double-DQN targets ``ret + discount * Q_target(s2, argmax_{valid a} Q(s2, a))`` (no defect -> ``ret``)."""
    cells = torch.nonzero((s2.flatten(2) > 0.5).any(1), as_tuple=True)
    q_on = masked_q(net, s2, anchor, cells=cells)
    q_tg = masked_q(target, s2, anchor, cells=cells)
    a2 = q_on.argmax(1)
    q2 = q_tg.gather(1, a2[:, None]).squeeze(1)
    live = torch.isfinite(q2) & (discount > 0)
    return ret + torch.where(live, discount * q2, torch.zeros_like(q2))


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
    lr_end: float | None = None,
    gamma: float = 0.95,
    n_step: int = 1,
    target_update: int = 500,
    eps_start: float = 1.0,
    eps_end: float = 0.02,
    eps_fraction: float = 0.3,
    terminal_reward: float = 10.0,
    clear_reward: float = 0.0,
    max_steps: int | None = None,
    prioritized: bool = False,
    alpha: float = 0.6,
    beta_start: float = 0.4,
    priority_eps: float = 1e-3,
    augment: bool = False,
    channels: int = 32,
    layers: int = 3,
    hidden: int = 64,
    head_layers: int = 0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    time_budget: float | None = None,
    init: DeepQDecoder | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 2000,
    callback: Callable[[int, DeepQDecoder], None] | None = None,
    progress: bool = True,
) -> DeepQDecoder:
    """Train the perspective deep-Q agent (double DQN, dueling head, target network, replay, curriculum).

    Each iteration steps ``n_envs`` episodes once with an epsilon-greedy policy over valid actions, stores
    the completed n-step transitions (syndrome, action, n-step return, later syndrome, discount) in the
    replay memory (uniform, or proportional prioritised with importance weights), and makes one gradient
    step on ``batch_size`` replayed transitions against the double-DQN target
    ``R + gamma**k * Q_target(s', argmax_{valid a'} Q(s', a'))`` (Huber loss, Adam). With ``augment`` each
    replayed transition is seen in a random one of the 8 lattice orientations. Finished episodes restart
    from fresh errors whose rate follows the curriculum: linear from ``p_start`` (default ``p / 2``) to ``p``
    over the first ``curriculum`` fraction of the run, then ``p``. Epsilon falls linearly from
    ``eps_start`` to ``eps_end`` over the first ``eps_fraction``; the learning rate from ``lr`` to ``lr_end``
    and the importance exponent from ``beta_start`` to 1 over the whole run.

    Args:
        d: odd distance. noise: ``'bitflip'`` or ``'depolarizing'``. p: the evaluation (final) error rate.
        updates: gradient steps. n_step: steps per return. terminal_reward: reward for ending with a trivial
            loop. clear_reward: reward for clearing the syndrome whatever the loop (Andreasson et al.: 100).
        max_steps: episode step limit in training (default ``2 d**2``).
        prioritized, alpha, beta_start, priority_eps: prioritised replay (Schaul et al. 2016).
        augment: replay each transition in a random lattice orientation.
        channels, layers, hidden, head_layers: the :class:`PerspectiveQNetwork`.
        init: continue training this decoder's network (e.g. from a smaller budget or a nearby rate); the
            network configuration then comes from it.
        time_budget: stop after this many seconds; the schedules then run on whichever of updates or time is
            used up first, so a budget-limited run still ends greedy at ``p``.
        checkpoint: save the decoder there every ``checkpoint_every`` updates (long runs).
        callback: called as ``callback(updates_done, decoder)`` every ``checkpoint_every`` updates.
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
                      ("buffer_size", buffer_size), ("target_update", target_update), ("n_step", n_step)):
        _positive_int(name, val)
    for name, val in (("gamma", gamma), ("alpha", alpha), ("beta_start", beta_start)):
        _fraction(name, val)
    lr_end = lr if lr_end is None else lr_end
    dev = resolve_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    acts = DefectActions(code, noise)
    anchor = torch.as_tensor(acts.anchor, device=dev)
    sym = ToricSymmetries(acts) if augment else None
    if init is not None:
        net, config = copy.deepcopy(init.network).to(dev), dict(init.config)
    else:
        config = dict(channels=channels, layers=layers, hidden=hidden, head_layers=head_layers)
        net = PerspectiveQNetwork(code.d, acts.n_local, **config).to(dev)
    target = copy.deepcopy(net).eval()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    env = BatchedToricEpisodes(acts, n_envs, terminal_reward=terminal_reward, clear_reward=clear_reward,
                               max_steps=max_steps, device=dev, generator=gen)
    env.reset(torch.ones(n_envs, dtype=torch.bool, device=dev), p0)
    img = (2, code.d, code.d)
    fields = {"state": (img, torch.bool), "action": ((), torch.int64), "ret": ((), torch.float32),
              "next_state": (img, torch.bool), "discount": ((), torch.float32)}
    memory = (PrioritizedReplay(buffer_size, fields, alpha=alpha, device=dev, generator=gen) if prioritized
              else UniformReplay(buffer_size, fields, device=dev, generator=gen))
    nstep = NStepAccumulator(n_envs, n_step, gamma, img, device=dev)
    syndromes = n_envs
    env_steps = 0
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
            env_steps=env_steps + prev.get("env_steps", 0),
            syndromes=syndromes + prev.get("syndromes", 0),
            seconds=time.perf_counter() - t0 + prev.get("seconds", 0.0),
            cpu_seconds=time.process_time() - c0 + prev.get("cpu_seconds", 0.0),
            p=p, p_start=p0, curriculum=curriculum, n_envs=n_envs, batch_size=batch_size, lr=lr, lr_end=lr_end,
            gamma=gamma, n_step=n_step, buffer_size=buffer_size, target_update=target_update,
            terminal_reward=terminal_reward, clear_reward=clear_reward, prioritized=prioritized,
            augment=augment, seed=seed,
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
        eps = _linear(eps_start, eps_end, frac, eps_fraction)
        rate = _linear(p0, p, frac, curriculum)
        beta = beta_start + (1.0 - beta_start) * min(frac, 1.0)
        for group in opt.param_groups:
            group["lr"] = lr + (lr_end - lr) * min(frac, 1.0)
        # ---- act
        with torch.no_grad():
            s = env.syndrome.clone()
            net.eval()
            q = masked_q(net, s, anchor)
            greedy = q.argmax(1)
            rnd = torch.multinomial(torch.isfinite(q).float(), 1, generator=gen).squeeze(1)
            explore = torch.rand(n_envs, generator=gen, device=dev) < eps
            a = torch.where(explore, rnd, greedy)
            r, term, trunc, ok = env.step(a)
            ended = term | trunc
            out = nstep.push(s, a, r, env.syndrome, terminated=term, ended=ended)
        if len(out["action"]):
            memory.add(state=out["state"] > 0.5, action=out["action"], ret=out["ret"],
                       next_state=out["next_state"] > 0.5, discount=out["discount"])
        env_steps += n_envs
        if ended.any():
            syndromes += int(ended.sum())
            recent.extend((ok[ended]).float().tolist())
            env.reset(ended, rate)
        # ---- learn
        if len(memory) >= learning_starts:
            net.train()
            batch, idx, w = memory.sample(batch_size, beta)
            s_b, s2_b, a_b = batch["state"].float(), batch["next_state"].float(), batch["action"]
            if sym is not None:
                g = sym.random(batch_size, gen, dev)
                s_b, s2_b, a_b = sym.images(s_b, g), sym.images(s2_b, g), sym.global_actions(a_b, g)
            with torch.no_grad():
                y = _td_targets(net, target, s2_b, anchor, batch["ret"], batch["discount"])
            dd = code.d * code.d
            rows = torch.arange(batch_size, device=dev)
            q_sa = net.q_cells(net.features(s_b), rows, a_b % dd)[rows, a_b // dd]
            td = y - q_sa
            loss = (w * nn.functional.smooth_l1_loss(q_sa, y, reduction="none")).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            memory.update_priorities(idx, td, eps=priority_eps)
            losses.append(loss.item())
            if (it + 1) % target_update == 0:
                target.load_state_dict(net.state_dict())
        done_updates += 1
        if (it + 1) % 200 == 0 and recent:
            recent = recent[-2000:]
            bar.set_postfix(eps=f"{eps:.2f}", p=f"{rate:.3f}", success=f"{np.mean(recent):.3f}",
                            loss=f"{np.mean(losses[-200:]) if losses else 0:.3f}")
            logger.debug("update %d eps %.2f p %.3f success %.3f", it + 1, eps, rate, np.mean(recent))
        if (it + 1) % checkpoint_every == 0 and (checkpoint is not None or callback is not None):
            snap = snapshot()
            if checkpoint is not None:
                snap.save(checkpoint)
            if callback is not None:
                callback(it + 1, snap)
        if time_budget is not None and time.perf_counter() - t0 > time_budget:
            logger.info("time budget %.0f s reached after %d of %d updates", time_budget, it + 1, updates)
            break
    return snapshot()
