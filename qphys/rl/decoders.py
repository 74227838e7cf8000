"""Decoders for the toric code and surface-code memory circuits, and how to score them.

- :class:`MWPMDecoder` — minimum-weight perfect matching by `PyMatching <https://pymatching.readthedocs.io>`_
  (the standard baseline), for :class:`~qphys.rl.codes.ToricCode` code-capacity noise (bit-flip; for
  depolarizing noise X and Z are matched separately, ignoring their correlation, as in the literature) and
  for Stim circuits (``detector_error_model(decompose_errors=True)`` -> ``Matching.from_detector_error_model``).
- :class:`NeuralDecoder` — a convolutional network that reads the syndrome image ``(2, d, d)`` (plaquette
  and vertex defects) and predicts the logical class of the error (4 classes for bit-flip noise, 16 for
  depolarizing). Its convolutions use circular padding, so the network respects the torus' translations
  and sees the defects across the periodic boundary; the head is fully connected because the class label
  (relative to the fixed logical operators) is *not* translation invariant. It is trained supervised on
  syndromes sampled on the fly (in torch, on CPU or CUDA), infers in batches, and saves/loads its
  weights. Predicting the class from the full syndrome lets it use the X/Z correlations of depolarizing
  noise that separate X/Z matching throws away (Fitzek et al. 2020; Varsamopoulos et al. 2017). With
  ``hint='mwpm'`` it also sees matching's X and Z corrections as extra image channels and starts from
  matching's answer (a high-level decoder on top of a base decoder); the shipped d=5 networks use it
  because a pure network needs far more training than a 2-core CPU gives in minutes, the shipped d=3
  networks do not. Shipped weights: ``weights_path('decoder_cnn_d{3,5}_{bitflip,depolarizing}.pt')``.
- :class:`RLDecoder` — a trained Q-network policy (Andreasson et al. 2019) acting in
  :class:`~qphys.rl.decoding_env.ToricCodeDecodingEnv`, batched over many syndromes.
- :func:`evaluate` — logical failure rate with a Wilson 95% interval (``scipy.stats.binomtest``) and the
  decoder's throughput (syndromes per second); :func:`threshold_plot` plots failure rate vs ``p`` for
  several distances with matplotlib.

All decoders share one interface: ``predict(syndromes) -> logical-class bits (shots, k)``, the logical
operators the decoder's correction flips (toric code: ``(x0, x1, z0, z1)``; Stim: one bit per
observable). A shot fails when any predicted bit differs from the true one.

Examples:
    >>> from qphys.rl.codes import ToricCode
    >>> from qphys.rl.decoders import MWPMDecoder, evaluate
    >>> code = ToricCode(3)
    >>> res = evaluate(MWPMDecoder(code), code, "bitflip", 0.05, shots=2000, seed=1)
    >>> 0.02 < res.failure_rate < 0.11
    True
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from tqdm.auto import tqdm

from qphys.errors import ConfigError
from qphys.rl.codes import NOISE_MODELS, ToricCode, validate_rate

logger = logging.getLogger(__name__)

__all__ = [
    "DecodingResult",
    "MWPMDecoder",
    "NeuralDecoder",
    "RLDecoder",
    "ToricCNN",
    "ToricFeaturesExtractor",
    "evaluate",
    "threshold_plot",
    "weights_path",
    "wilson_interval",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def weights_path(name: str) -> Path:
    """Path of a shipped weight file in ``qphys/rl/weights`` (e.g. ``'decoder_cnn_d5_depolarizing.pt'``)."""
    return WEIGHTS_DIR / name


def _is_stim_circuit(obj) -> bool:
    return type(obj).__name__ == "Circuit" and type(obj).__module__.startswith("stim")


# ---------------------------------------------------------------------------------------------- MWPM
class MWPMDecoder:
    """Minimum-weight perfect matching (PyMatching) for the toric code or a Stim circuit.

    Args:
        code: a :class:`~qphys.rl.codes.ToricCode` (X errors matched on the plaquette graph, Z errors on
            the vertex graph, separately, with uniform weights) or a ``stim.Circuit`` with detectors and
            observables (matched on its decomposed detector error model).

    Examples:
        >>> import numpy as np
        >>> from qphys.rl.codes import ToricCode
        >>> code = ToricCode(5)
        >>> e = np.zeros((1, code.n_qubits), dtype=np.uint8); e[0, [0, 1]] = 1   # two X errors
        >>> dec = MWPMDecoder(code)
        >>> bool((dec.predict(code.syndrome(e)) == code.logical_class(e)).all())
        True
    """

    def __init__(self, code):
        import pymatching

        self.code = code
        if isinstance(code, ToricCode):
            self.kind = "toric"
            # faults_matrix: decode_batch returns directly which logical operators the correction flips
            self._mx = pymatching.Matching.from_check_matrix(code.hz, faults_matrix=code.logical_z)
            self._mz = pymatching.Matching.from_check_matrix(code.hx, faults_matrix=code.logical_x)
            self._cx = pymatching.Matching.from_check_matrix(code.hz)
            self._cz = pymatching.Matching.from_check_matrix(code.hx)
            self.n_detectors = code.n_stabilizers
        elif _is_stim_circuit(code):
            self.kind = "stim"
            dem = code.detector_error_model(decompose_errors=True)
            self._m = pymatching.Matching.from_detector_error_model(dem)
            self.n_detectors = code.num_detectors
        else:
            raise ConfigError(
                f"MWPMDecoder needs a qphys.rl.codes.ToricCode or a stim.Circuit, got {type(code).__name__}"
            )

    def __repr__(self) -> str:
        return f"MWPMDecoder({self.code!r})" if self.kind == "toric" else "MWPMDecoder(stim.Circuit)"

    def _check(self, syndromes) -> np.ndarray:
        s = np.asarray(syndromes, dtype=np.uint8)
        if s.ndim == 1:
            s = s[None]
        if s.ndim != 2 or s.shape[1] != self.n_detectors:
            raise ConfigError(
                f"syndromes must be (shots, {self.n_detectors}) bits for {self!r}, got shape {s.shape}"
            )
        return s

    def predict(self, syndromes) -> np.ndarray:
        """Logical operators flipped by the matching correction, ``(shots, k)`` uint8 (batched)."""
        s = self._check(syndromes)
        if self.kind == "stim":
            return self._m.decode_batch(s).astype(np.uint8)
        h = self.code.d ** 2
        x = self._mx.decode_batch(s[:, :h])
        z = self._mz.decode_batch(s[:, h:])
        return np.concatenate([x, z], axis=1).astype(np.uint8)

    def corrections_xz(self, syndromes) -> tuple[np.ndarray, np.ndarray]:
        """Toric code only: the X and Z matching corrections as 0/1 arrays ``(shots, n)`` each."""
        if self.kind != "toric":
            raise ConfigError("MWPMDecoder.correction is defined for the toric code only")
        s = self._check(syndromes)
        h = self.code.d ** 2
        return self._cx.decode_batch(s[:, :h]).astype(np.uint8), self._cz.decode_batch(s[:, h:]).astype(np.uint8)

    def correction(self, syndromes) -> np.ndarray:
        """Toric code only: the matching correction as Pauli codes ``(shots, n)`` (0=I, 1=X, 2=Y, 3=Z)."""
        from qphys.rl.codes import from_xz

        return from_xz(*self.corrections_xz(syndromes))


# ---------------------------------------------------------------------------------------------- CNN
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


class ToricCNN(nn.Module):
    """Residual CNN with circular padding: ``(B, C, d, d)`` syndrome images -> ``(B, n_classes)`` logits.

    Args:
        d: lattice size. n_classes: 4 (bit-flip: ``x0, x1``) or 16 (depolarizing). channels: conv width.
        blocks: number of residual blocks (two 3x3 convolutions each). hidden: width of the dense head.
        in_channels: image channels (2: the syndrome; 6: syndrome plus a base decoder's X and Z
            corrections on horizontal and vertical edges).
        n_hint: size of an optional one-hot hint (a base decoder's predicted class), concatenated to the
            convolutional features before the dense head and also added to the logits with a learned
            scale (initially 3), so training starts from the base decoder's answer (0: no hint).

    Examples:
        >>> net = ToricCNN(3, n_classes=16, channels=8, blocks=1, hidden=16)
        >>> net(torch.zeros(2, 2, 3, 3)).shape
        torch.Size([2, 16])
    """

    def __init__(
        self,
        d: int,
        *,
        n_classes: int,
        channels: int = 32,
        blocks: int = 2,
        hidden: int = 256,
        n_hint: int = 0,
        in_channels: int = 2,
    ):
        super().__init__()
        self.n_hint = n_hint
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, padding_mode="circular", bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.body = nn.Sequential(*[_ResBlock(channels) for _ in range(blocks)])
        self.head = nn.Sequential(
            nn.Linear(channels * d * d + n_hint, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )
        if n_hint:
            self.hint_scale = nn.Parameter(torch.tensor(3.0))

    def forward(self, x, hint=None):
        f = torch.flatten(self.body(self.stem(x)), 1)
        if not self.n_hint:
            return self.head(f)
        if hint is None:
            raise ConfigError("this network was built with a base-decoder hint; pass hint=")
        h = nn.functional.one_hot(hint, self.n_hint).to(f.dtype)
        return self.head(torch.cat([f, h], dim=1)) + self.hint_scale * h


class _TorchSampler:
    """Samples (syndrome images, class labels) for training directly in torch on the model's device."""

    def __init__(self, code: ToricCode, noise: str, device: torch.device, seed: int | None):
        self.code, self.noise, self.device = code, noise, device
        f = dict(dtype=torch.float32, device=device)
        self.hz_t = torch.as_tensor(code.hz.T, **f)
        self.hx_t = torch.as_tensor(code.hx.T, **f)
        self.lz_t = torch.as_tensor(code.logical_z.T, **f)
        self.lx_t = torch.as_tensor(code.logical_x.T, **f)
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(int(seed) if seed is not None else int(torch.seed() % 2**62))

    def __call__(self, batch: int, p_low: float, p_high: float):
        n, d = self.code.n_qubits, self.code.d
        p = p_low + (p_high - p_low) * torch.rand(batch, 1, generator=self.gen, device=self.device)
        hit = torch.rand(batch, n, generator=self.gen, device=self.device) < p
        if self.noise == "bitflip":
            x, z = hit.float(), torch.zeros(batch, n, device=self.device)
        else:
            kind = torch.randint(1, 4, (batch, n), generator=self.gen, device=self.device)
            x = (hit & (kind <= 2)).float()
            z = (hit & (kind >= 2)).float()
        sp = torch.remainder(x @ self.hz_t, 2)
        sv = torch.remainder(z @ self.hx_t, 2)
        xb = torch.remainder(x @ self.lz_t, 2).long()
        zb = torch.remainder(z @ self.lx_t, 2).long()
        img = torch.cat([sp, sv], dim=1).view(batch, 2, d, d)
        if self.noise == "bitflip":
            label = 2 * xb[:, 0] + xb[:, 1]
        else:
            label = 8 * xb[:, 0] + 4 * xb[:, 1] + 2 * zb[:, 0] + zb[:, 1]
        return img, label


def _resolve_device(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} asked for CUDA but torch.cuda.is_available() is False; use 'cpu'")
    return dev


class NeuralDecoder:
    """Convolutional neural decoder for the toric code (predicts the logical class from the syndrome).

    Args:
        code: a :class:`~qphys.rl.codes.ToricCode` (or its distance ``d``).
        noise: ``'bitflip'`` (4 classes: the X part's flips of the two logical qubits) or
            ``'depolarizing'`` (16 classes: X and Z parts together, so X/Z correlations are used).
        hint: ``None`` (the network sees the syndrome only) or ``'mwpm'``: the network also sees
            :class:`MWPMDecoder`'s X and Z corrections (X and Z matched separately) as four extra image
            channels (X/Z on horizontal/vertical edges) and its predicted class as a one-hot vector added
            to the logits, so it starts from matching's answer and learns where it is wrong — e.g. where
            separate X and Z paths should be merged into Y errors — a high-level neural decoder on top of
            a base decoder (Varsamopoulos et al., QST 3, 015004, 2017). It costs a matching call per
            syndrome at inference, and reaches matching quality with far fewer training samples.
        channels, blocks, hidden: network size (see :class:`ToricCNN`).
        device: ``'cpu'``, ``'cuda'`` or ``'auto'``.

    Examples:
        >>> from qphys.rl.codes import ToricCode
        >>> dec = NeuralDecoder(ToricCode(3), noise="bitflip", channels=8, blocks=1, hidden=32)
        >>> hist = dec.fit(p=0.08, steps=20, batch_size=64, seed=0, progress=False)
        >>> len(hist["loss"])
        20
        >>> dec.predict(ToricCode(3).sample("bitflip", 0.05, shots=5, seed=0)[0]).shape
        (5, 4)
    """

    def __init__(
        self,
        code,
        *,
        noise: str = "depolarizing",
        hint: str | None = None,
        channels: int = 32,
        blocks: int = 2,
        hidden: int = 256,
        device: str | torch.device = "cpu",
    ):
        if not isinstance(code, ToricCode):
            code = ToricCode(code)
        if noise not in NOISE_MODELS:
            raise ConfigError(f"unknown noise model {noise!r}; choose one of {list(NOISE_MODELS)}")
        if hint not in (None, "mwpm"):
            raise ConfigError(f"hint must be None or 'mwpm', got {hint!r}")
        self.code, self.noise, self.hint = code, noise, hint
        self.n_classes = 4 if noise == "bitflip" else 16
        self.config = dict(channels=int(channels), blocks=int(blocks), hidden=int(hidden))
        self.device = _resolve_device(device)
        self._base = MWPMDecoder(code) if hint == "mwpm" else None
        self.model = self._build()
        self.train_info: dict[str, Any] = {}

    def _build(self) -> ToricCNN:
        n_hint = self.n_classes if self.hint else 0
        return ToricCNN(
            self.code.d, n_classes=self.n_classes, n_hint=n_hint, in_channels=6 if self.hint else 2, **self.config
        ).to(self.device)

    def __repr__(self) -> str:
        return f"NeuralDecoder(d={self.code.d}, noise={self.noise!r}, hint={self.hint!r}, {self.config})"

    def to(self, device) -> NeuralDecoder:
        """Move the network to another device (``'cpu'``/``'cuda'``); returns self."""
        self.device = _resolve_device(device)
        self.model.to(self.device)
        return self

    def _index(self, bits: np.ndarray) -> np.ndarray:
        """Class bits ``(..., 4)`` -> this decoder's class index (4 or 16 classes)."""
        b = np.asarray(bits).astype(np.int64)
        return 2 * b[..., 0] + b[..., 1] if self.noise == "bitflip" else ToricCode.class_index(b)

    def _inputs(self, syndromes_u8: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network inputs for flat syndromes: the image (and, with a hint, matching's corrections and class)."""
        d, b = self.code.d, len(syndromes_u8)
        img = torch.as_tensor(syndromes_u8, dtype=torch.float32, device=self.device).view(b, 2, d, d)
        if self._base is None:
            return img, None
        cx, cz = self._base.corrections_xz(syndromes_u8)
        bits = np.concatenate([self.code._parity(cx, self.code._lz_t), self.code._parity(cz, self.code._lx_t)], 1)
        corr = torch.as_tensor(np.concatenate([cx, cz], axis=1), dtype=torch.float32, device=self.device)
        img = torch.cat([img, corr.view(b, 4, d, d)], dim=1)
        return img, torch.as_tensor(self._index(bits), device=self.device)

    # -------------------------------------------------------------------------------- training
    def fit(
        self,
        *,
        p: float | tuple[float, float],
        steps: int = 1000,
        batch_size: int = 512,
        lr: float = 2e-3,
        seed: int | None = None,
        time_budget: float | None = None,
        progress: bool = True,
    ) -> dict:
        """Train supervised on freshly sampled syndromes (no data set is stored; every batch is new).

        Args:
            p: training error rate, or a range ``(p_low, p_high)``: each sample then draws its own rate
                uniformly (one network for a range of noise strengths).
            steps: optimizer steps (AdamW, one-cycle learning-rate schedule).
            batch_size: syndromes per step.
            lr: peak learning rate.
            seed: seeds the network initialisation and the data sampler.
            time_budget: stop early after this many seconds (the schedule still spans ``steps``).
            progress: show a tqdm bar.

        Returns:
            ``{"loss": [...], "steps": int, "samples": int, "seconds": float, ...}`` (also kept in
            ``self.train_info``).

        Raises:
            ConfigError: bad ``p``, ``steps`` or ``batch_size`` (checked before training starts).
        """
        if isinstance(p, (tuple, list)):
            if len(p) != 2:
                raise ConfigError(f"p must be a rate or a (low, high) pair, got {p!r}")
            lo, hi = validate_rate(p[0], where="p[0]"), validate_rate(p[1], where="p[1]")
            if lo > hi:
                raise ConfigError(f"p range must have low <= high, got {p!r}")
        else:
            lo = hi = validate_rate(p)
        for name, val in (("steps", steps), ("batch_size", batch_size)):
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
                raise ConfigError(f"{name} must be a positive integer, got {val!r}")
        if seed is not None:
            torch.manual_seed(seed)
            self.model = self._build()
        sampler = _TorchSampler(self.code, self.noise, self.device, seed)
        opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
        self.model.train()
        losses: list[float] = []
        t0 = time.perf_counter()
        done = 0
        bar = tqdm(range(steps), desc=f"NeuralDecoder d={self.code.d} {self.noise}", disable=not progress)
        for _ in bar:
            img, label = sampler(batch_size, lo, hi)
            if self._base is not None:
                img, hint = self._inputs(img.view(batch_size, -1).to("cpu", torch.uint8).numpy())
            else:
                hint = None
            loss = nn.functional.cross_entropy(self.model(img, hint), label)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            done += 1
            if done % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
                logger.debug("step %d loss %.4f", done, np.mean(losses[-50:]))
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                logger.info("time budget %.0f s reached after %d of %d steps", time_budget, done, steps)
                break
        self.model.eval()
        secs = time.perf_counter() - t0
        self.train_info = dict(
            loss=losses, steps=done, samples=done * batch_size, seconds=secs, p=(lo, hi), lr=lr,
            batch_size=batch_size, seed=seed, torch_threads=torch.get_num_threads(), device=str(self.device),
        )
        return self.train_info

    # -------------------------------------------------------------------------------- inference
    def _check(self, syndromes) -> np.ndarray:
        s = np.asarray(syndromes)
        if s.ndim == 1:
            s = s[None]
        if s.ndim != 2 or s.shape[1] != self.code.n_stabilizers:
            raise ConfigError(
                f"syndromes must be (shots, {self.code.n_stabilizers}) bits for d={self.code.d}, got {s.shape}"
            )
        return s.astype(np.uint8, copy=False)

    @torch.no_grad()
    def logits(self, syndromes, *, batch_size: int = 8192) -> torch.Tensor:
        """Raw class logits ``(shots, n_classes)`` (on CPU) for flat syndromes ``(shots, 2 d**2)``, batched."""
        s = self._check(syndromes)
        self.model.eval()
        outs = []
        for i in range(0, len(s), batch_size):
            outs.append(self.model(*self._inputs(s[i : i + batch_size])).cpu())
        return torch.cat(outs) if outs else torch.zeros(0, self.n_classes)

    def predict_proba(self, syndromes, *, batch_size: int = 8192) -> np.ndarray:
        """Class probabilities ``(shots, n_classes)``."""
        return torch.softmax(self.logits(syndromes, batch_size=batch_size), dim=1).numpy()

    def predict(self, syndromes, *, batch_size: int = 8192) -> np.ndarray:
        """Most likely logical class as bits ``(shots, 4)`` = ``(x0, x1, z0, z1)`` (batched inference)."""
        k = self.logits(syndromes, batch_size=batch_size).argmax(1).numpy()
        if self.noise == "bitflip":
            k = k * 4  # (x0, x1) -> class index with z0 = z1 = 0
        return ToricCode.class_bits(k)

    def correction(self, syndromes) -> np.ndarray:
        """A Pauli-code correction ``(shots, n)``: a pure error for the syndrome times the predicted logical."""
        s = self._check(syndromes)
        pure = self.code.pure_error(s)
        fix = self.predict(s) ^ self.code.logical_class(pure)
        return ToricCode.compose(pure, self.code.logical_representative(fix))

    # -------------------------------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """Save weights and configuration (a small ``.pt`` file, loadable with :meth:`load`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        info = {k: v for k, v in self.train_info.items() if k != "loss"}
        if self.train_info.get("loss"):
            info["final_loss"] = float(np.mean(self.train_info["loss"][-100:]))
        torch.save(
            {
                "format": "qphys.NeuralDecoder/1",
                "d": self.code.d,
                "noise": self.noise,
                "hint": self.hint,
                "config": self.config,
                "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "train_info": info,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path, *, device: str | torch.device = "cpu") -> NeuralDecoder:
        """Load a decoder saved by :meth:`save` (e.g. a shipped ``weights_path('decoder_...pt')``).

        Raises:
            FileNotFoundError: no such file. ConfigError: the file is not a saved NeuralDecoder.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no NeuralDecoder weights at {path}")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != "qphys.NeuralDecoder/1":
            raise ConfigError(f"{path} is not a qphys NeuralDecoder file (format 'qphys.NeuralDecoder/1')")
        dec = cls(ToricCode(blob["d"]), noise=blob["noise"], hint=blob["hint"], device=device, **blob["config"])
        dec.model.load_state_dict(blob["state_dict"])
        dec.model.eval()
        dec.train_info = dict(blob.get("train_info", {}))
        return dec


# ---------------------------------------------------------------------------------------------- evaluation
def wilson_interval(failures: int, shots: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``scipy.stats.binomtest``).

    Examples:
        >>> lo, hi = wilson_interval(31, 1000)
        >>> round(lo, 4), round(hi, 4)
        (0.0219, 0.0437)
    """
    from scipy.stats import binomtest

    if shots <= 0:
        return (0.0, 1.0)
    ci = binomtest(int(failures), int(shots)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class DecodingResult:
    """Outcome of :func:`evaluate`.

    Attributes:
        failure_rate: fraction of shots whose predicted logical class was wrong.
        ci_low, ci_high: Wilson 95% interval. failures, shots: the counts.
        seconds: wall time spent in ``decoder.predict`` alone. throughput: shots / seconds.
        decoder, noise, p, d: what was evaluated (``d`` and ``noise`` are None for Stim circuits).
    """

    failure_rate: float
    ci_low: float
    ci_high: float
    failures: int
    shots: int
    seconds: float
    throughput: float
    decoder: str
    noise: str | None
    p: float | None
    d: int | None

    def as_dict(self) -> dict:
        """A plain dict (for JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.decoder}: failure {100 * self.failure_rate:.2f}% "
            f"[{100 * self.ci_low:.2f}, {100 * self.ci_high:.2f}] ({self.shots} shots, "
            f"{self.throughput:,.0f} syndromes/s)"
        )


def evaluate(
    decoder,
    code,
    noise: str | None = None,
    p: float | None = None,
    shots: int = 10_000,
    *,
    seed=None,
    batch_size: int = 100_000,
) -> DecodingResult:
    """Logical failure rate of ``decoder`` with a 95% Wilson interval, and its throughput.

    Args:
        decoder: anything with ``predict(syndromes) -> logical bits`` (:class:`MWPMDecoder`,
            :class:`NeuralDecoder`, :class:`RLDecoder`).
        code: a :class:`~qphys.rl.codes.ToricCode` (then ``noise`` and ``p`` are required), or a
            ``stim.Circuit`` (its own noise; ``noise`` and ``p`` must be None).
        noise: ``'bitflip'`` or ``'depolarizing'``. p: physical error rate.
        shots: number of sampled syndromes. seed: sampling seed.
        batch_size: syndromes handed to ``predict`` at a time.

    Returns:
        :class:`DecodingResult`.

    Raises:
        ConfigError: bad ``code``/``noise``/``p``/``shots``, before anything is sampled.

    Examples:
        >>> from qphys.rl.codes import surface_code_memory_circuit
        >>> c = surface_code_memory_circuit(3, p=0.001)
        >>> r = evaluate(MWPMDecoder(c), c, shots=1000, seed=0)
        >>> r.failure_rate < 0.02
        True
    """
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 1:
        raise ConfigError(f"shots must be a positive integer, got {shots!r}")
    name = type(decoder).__name__
    if isinstance(code, ToricCode):
        if noise not in NOISE_MODELS:
            raise ConfigError(f"evaluate on a ToricCode needs noise in {list(NOISE_MODELS)}, got {noise!r}")
        if p is None:
            raise ConfigError("evaluate on a ToricCode needs the physical error rate p")
        p = validate_rate(p)
        rng = np.random.default_rng(seed)
        synd_parts, true_parts = [], []
        for i in range(0, shots, batch_size):
            s, t = code.sample(noise, p, shots=min(batch_size, shots - i), seed=rng)
            synd_parts.append(s)
            true_parts.append(t)
        d = code.d
    elif _is_stim_circuit(code):
        if noise is not None or p is not None:
            raise ConfigError("a stim.Circuit carries its own noise; call evaluate(decoder, circuit, shots=...)")
        sampler = code.compile_detector_sampler(seed=seed)
        dets, obs = sampler.sample(int(shots), separate_observables=True)
        synd_parts, true_parts = [dets.astype(np.uint8)], [obs.astype(np.uint8)]
        d = None
    else:
        raise ConfigError(f"evaluate needs a ToricCode or a stim.Circuit, got {type(code).__name__}")
    failures = 0
    seconds = 0.0
    for s, t in zip(synd_parts, true_parts):
        t0 = time.perf_counter()
        pred = np.asarray(decoder.predict(s))
        seconds += time.perf_counter() - t0
        failures += int(np.any(pred != t, axis=1).sum())
    lo, hi = wilson_interval(failures, shots)
    return DecodingResult(
        failure_rate=failures / shots, ci_low=lo, ci_high=hi, failures=failures, shots=int(shots),
        seconds=seconds, throughput=shots / max(seconds, 1e-12), decoder=name, noise=noise, p=p, d=d,
    )


def threshold_plot(
    distances,
    ps,
    *,
    noise: str = "bitflip",
    shots: int = 20_000,
    decoder_factory: Callable[[ToricCode], Any] | None = None,
    path=None,
    seed: int | None = 0,
    progress: bool = False,
    title: str | None = None,
) -> dict:
    """Logical failure rate vs ``p`` for several distances (a threshold plot), saved with matplotlib.

    Args:
        distances: toric-code distances, e.g. ``(3, 5, 7)``. ps: physical error rates.
        noise: noise model. shots: syndromes per point.
        decoder_factory: ``code -> decoder`` (default :class:`MWPMDecoder`).
        path: where to save the figure (png/pdf/svg); ``None`` skips saving.
        seed: sampling seed. progress: tqdm over the points. title: figure title.

    Returns:
        ``{d: [DecodingResult, ...]}`` in the order of ``ps``, plus ``"path"`` when saved.

    Examples:
        >>> out = threshold_plot([3], [0.05, 0.1], shots=200)
        >>> [round(r.p, 2) for r in out[3]]
        [0.05, 0.1]
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    factory = decoder_factory or MWPMDecoder
    results: dict = {}
    codes = {d: ToricCode(d) for d in distances}
    decoders = {d: factory(codes[d]) for d in distances}
    points = [(d, p) for d in distances for p in ps]
    for i, (d, p) in enumerate(tqdm(points, desc="threshold plot", disable=not progress)):
        results.setdefault(d, []).append(
            evaluate(decoders[d], codes[d], noise, p, shots, seed=None if seed is None else seed + i)
        )
    if path is not None:
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        for d, rs in results.items():
            x = [r.p for r in rs]
            y = np.array([r.failure_rate for r in rs])
            err = np.array([[r.failure_rate - r.ci_low for r in rs], [r.ci_high - r.failure_rate for r in rs]])
            ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2, label=f"d={d}")
        ax.set(
            xlabel="physical error rate p",
            ylabel="logical failure rate",
            title=title or f"Toric code, {noise} noise",
        )
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=130)
        plt.close(fig)
        results["path"] = str(path)
    return results


# ---------------------------------------------------------------------------------------------- RL decoder
class ToricFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor for the decoding environment: circular-padded CNN over the ``(2, d, d)`` image.

    SB3's default ``NatureCNN`` needs images of at least 36x36 pixels; the syndrome is ``d x d`` on a
    torus, so this extractor keeps the size and wraps around the periodic boundary.

    Args:
        observation_space: the environment's ``Box(0, 1, (2, d, d))``.
        channels: convolution width. layers: number of 3x3 circular convolutions.

    Examples:
        >>> from qphys.rl.decoding_env import ToricCodeDecodingEnv
        >>> env = ToricCodeDecodingEnv(d=3, p=0.1)
        >>> ext = ToricFeaturesExtractor(env.observation_space, channels=4, layers=1)
        >>> ext(torch.zeros(1, 2, 3, 3)).shape
        torch.Size([1, 36])
    """

    def __init__(self, observation_space, channels: int = 32, layers: int = 3):
        c, h, w = observation_space.shape
        super().__init__(observation_space, channels * h * w)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Conv2d(c if i == 0 else channels, channels, 3, padding=1, padding_mode="circular"), nn.ReLU()]
        self.cnn = nn.Sequential(*mods, nn.Flatten())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.cnn(obs)


class RLDecoder:
    """A trained Q-network (DQN) decoding the toric code by acting as in the decoding environment.

    Starting from each syndrome, the agent applies single-qubit Paulis greedily (``argmax Q``) until the
    syndrome is clear or ``max_steps`` is reached (then the shot counts as failed: the decoder gave up).
    All shots advance together, one batched Q-network call per step. An action already taken on the same
    (lattice) qubit with the same Pauli in the current episode is masked, which breaks two-cycles.

    Args:
        policy: an SB3 DQN (anything with a ``q_net`` module mapping observations to Q-values) trained
            on :class:`~qphys.rl.decoding_env.ToricCodeDecodingEnv`, or a callable
            ``obs (B, 2, d, d) float32 -> Q (B, 3 * 2 d**2)``.
        code: the :class:`~qphys.rl.codes.ToricCode`.
        perspective: the environment's ``perspective`` the policy was trained with (``'centered'`` or
            ``'fixed'``).
        max_steps: step limit per shot (default ``2 d**2``, as the environment).

    Examples:
        >>> import numpy as np
        >>> from qphys.rl.codes import ToricCode
        >>> code = ToricCode(3)
        >>> lazy = RLDecoder(lambda obs: np.zeros((len(obs), 54)), code, max_steps=3)
        >>> lazy.predict(code.sample("bitflip", 0.3, shots=4, seed=0)[0]).shape
        (4, 4)
    """

    def __init__(self, policy, code: ToricCode, *, perspective: str = "centered", max_steps: int | None = None):
        if perspective not in ("centered", "fixed"):
            raise ConfigError(f"perspective must be 'centered' or 'fixed', got {perspective!r}")
        self.policy, self.code, self.perspective = policy, code, perspective
        self.max_steps = int(max_steps) if max_steps is not None else code.n_qubits

    def __repr__(self) -> str:
        return f"RLDecoder(d={self.code.d}, perspective={self.perspective!r})"

    def _q(self, obs: np.ndarray) -> np.ndarray:
        if not hasattr(self.policy, "q_net"):
            return np.asarray(self.policy(obs), dtype=np.float64)
        qnet = self.policy.q_net
        dev = next(qnet.parameters()).device
        qnet.eval()
        with torch.no_grad():
            return qnet(torch.as_tensor(obs, dtype=torch.float32, device=dev)).cpu().numpy().astype(np.float64)

    def correction(self, syndromes) -> tuple[np.ndarray, np.ndarray]:
        """Run the policy; return ``(corrections (shots, n) Pauli codes, solved (shots,) bool)``."""
        from qphys.rl.decoding_env import center_shift, roll_images, view_to_qubit

        code = self.code
        s = np.asarray(syndromes, dtype=np.uint8)
        if s.ndim == 1:
            s = s[None]
        if s.ndim != 2 or s.shape[1] != code.n_stabilizers:
            raise ConfigError(f"syndromes must be (shots, {code.n_stabilizers}) bits, got {s.shape}")
        shots, n = len(s), code.n_qubits
        corr = np.zeros((shots, n), dtype=np.uint8)
        cur = s.copy()
        active = cur.any(axis=1)
        taken = np.zeros((shots, 3 * n), dtype=bool)  # indexed by lattice action
        for _ in range(self.max_steps):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            img = code.syndrome_to_image(cur[idx]).astype(np.float32)
            if self.perspective == "centered":
                shifts = center_shift(img)
                img = roll_images(img, shifts)
            q = self._q(img)
            view_q = np.arange(3 * n) % n
            pauli_of = np.arange(3 * n) // n
            if self.perspective == "centered":
                lattice = pauli_of[None] * n + view_to_qubit(view_q[None], shifts[:, None, :], code.d)
            else:
                lattice = np.broadcast_to(np.arange(3 * n)[None], (idx.size, 3 * n))
            q = np.where(taken[idx[:, None], lattice], -np.inf, q)
            a = q.argmax(axis=1)
            la = lattice[np.arange(idx.size), a]
            taken[idx, la] = True
            op = np.zeros((idx.size, n), dtype=np.uint8)
            op[np.arange(idx.size), la % n] = la // n + 1
            corr[idx] = ToricCode.compose(corr[idx], op)
            cur[idx] = s[idx] ^ code.syndrome(corr[idx])
            active[idx] = cur[idx].any(axis=1)
        return corr, ~active

    def predict(self, syndromes) -> np.ndarray:
        """Logical class of the agent's correction ``(shots, 4)``; unsolved shots get an impossible class.

        A shot the agent could not clear within ``max_steps`` is a decoding failure; it is reported as
        class bits ``2`` (never equal to a true bit), so :func:`evaluate` counts it as failed.
        """
        corr, solved = self.correction(syndromes)
        bits = self.code.logical_class(corr)
        bits[~solved] = 2
        return bits

    # -------------------------------------------------------------------------------- persistence
    def save(self, path, *, env_kwargs: dict, policy_kwargs: dict, train_info: dict | None = None) -> Path:
        """Save the Q-network weights (a small ``.pt``) with what is needed to rebuild it.

        Args:
            env_kwargs: the environment's ``d, noise, p, perspective, ...`` used in training.
            policy_kwargs: the DQN ``policy_kwargs`` without ``features_extractor_class`` (always
                :class:`ToricFeaturesExtractor`).
            train_info: training time, steps, ... (JSON-like).
        """
        if not hasattr(self.policy, "q_net"):
            raise ConfigError("only a DQN policy (with q_net) can be saved")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = {k: v for k, v in policy_kwargs.items() if k != "features_extractor_class"}
        torch.save(
            {
                "format": "qphys.RLDecoder/1",
                "env_kwargs": dict(env_kwargs),
                "policy_kwargs": kwargs,
                "q_net": {k: v.detach().cpu() for k, v in self.policy.q_net.state_dict().items()},
                "max_steps": self.max_steps,
                "train_info": dict(train_info or {}),
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path, *, device: str = "cpu") -> RLDecoder:
        """Rebuild a decoder saved by :meth:`save` (a DQN from :func:`qphys.rl.agents.make_agent`)."""
        from qphys.rl.agents import make_agent
        from qphys.rl.decoding_env import ToricCodeDecodingEnv

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no RLDecoder weights at {path}")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != "qphys.RLDecoder/1":
            raise ConfigError(f"{path} is not a qphys RLDecoder file (format 'qphys.RLDecoder/1')")
        env = ToricCodeDecodingEnv(**blob["env_kwargs"])
        pk = dict(blob["policy_kwargs"], features_extractor_class=ToricFeaturesExtractor)
        agent = make_agent("dqn", env, seed=0, device=device, buffer_size=1, policy_kwargs=pk)
        agent.q_net.load_state_dict(blob["q_net"])
        dec = cls(agent, env.code, perspective=env.perspective, max_steps=blob["max_steps"])
        dec.env_kwargs = blob["env_kwargs"]
        dec.policy_kwargs = blob["policy_kwargs"]
        dec.train_info = blob["train_info"]
        return dec


def train_rl_decoder(
    d: int = 3,
    noise: str = "bitflip",
    p: float = 0.1,
    *,
    timesteps: int = 50_000,
    seed: int = 0,
    device: str = "cpu",
    perspective: str = "centered",
    shaping: float = 0.0,
    channels: int = 32,
    layers: int = 3,
    net_arch: tuple[int, ...] = (256,),
    time_budget: float | None = None,
    progress: bool = False,
    **hyper,
) -> RLDecoder:
    """Train a double dueling DQN (:func:`qphys.rl.agents.make_agent`) on ``qphys/ToricCodeDecoding-v0``.

    Defaults follow Fitzek et al. 2020 where they fit a small budget (learning rate 2.5e-4, discount
    0.95, replay 20k); ``hyper`` overrides any DQN argument. ``time_budget`` (seconds) stops training
    early (the exploration schedule still spans ``timesteps``). Returns an :class:`RLDecoder` whose
    ``train_info`` holds the training time and steps, and whose ``env_kwargs`` / ``policy_kwargs`` are
    what :meth:`RLDecoder.save` needs.

    Examples:
        >>> dec = train_rl_decoder(3, timesteps=300, learning_starts=100, seed=0)
        >>> dec.train_info["timesteps"]
        300
    """
    from qphys.rl.agents import make_agent
    from qphys.rl.decoding_env import ToricCodeDecodingEnv

    env_kwargs = dict(d=d, noise=noise, p=p, perspective=perspective, shaping=shaping)
    env = ToricCodeDecodingEnv(**env_kwargs)
    policy_kwargs = dict(
        features_extractor_class=ToricFeaturesExtractor,
        features_extractor_kwargs=dict(channels=channels, layers=layers),
        net_arch=list(net_arch),
    )
    params = dict(
        learning_rate=2.5e-4, gamma=0.95, buffer_size=20_000, learning_starts=1000, batch_size=64,
        train_freq=4, target_update_interval=1000, exploration_fraction=0.4, exploration_final_eps=0.02,
    )
    params.update(hyper)
    agent = make_agent("dqn", env, seed=seed, device=device, policy_kwargs=policy_kwargs, **params)
    from stable_baselines3.common.callbacks import BaseCallback

    class _Budget(BaseCallback):
        def _on_step(self) -> bool:
            return time_budget is None or time.perf_counter() - t0 < time_budget

    t0 = time.perf_counter()
    agent.learn(int(timesteps), progress_bar=progress, callback=_Budget())
    secs = time.perf_counter() - t0
    dec = RLDecoder(agent, env.code, perspective=perspective)
    dec.env_kwargs = env_kwargs
    dec.policy_kwargs = {k: v for k, v in policy_kwargs.items() if k != "features_extractor_class"}
    dec.train_info = dict(timesteps=int(agent.num_timesteps), seconds=secs, seed=seed, device=str(device),
                          torch_threads=torch.get_num_threads(), **{k: v for k, v in params.items()})
    return dec
