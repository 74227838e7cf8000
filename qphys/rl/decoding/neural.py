"""A supervised convolutional decoder for the toric code: syndrome image in, logical class out.

:class:`NeuralDecoder` reads the syndrome image ``(2, d, d)`` (plaquette and vertex defects) and
predicts the logical class of the error (4 classes for bit-flip noise, 16 for depolarizing). Its
convolutions use circular padding, so the network respects the torus' translations and sees the defects
across the periodic boundary; the head is fully connected because the class label (relative to the fixed
logical operators) is *not* translation invariant. It is trained supervised on syndromes sampled on the
fly (in torch, on CPU or CUDA), infers in batches, and saves/loads its weights. Predicting the class from
the full syndrome lets it use the X/Z correlations of depolarizing noise that separate X/Z matching
throws away (Fitzek et al. 2020; Varsamopoulos et al. 2017). With ``hint='mwpm'`` it also sees
matching's X and Z corrections as extra image channels and starts from matching's answer (a high-level
decoder on top of a base decoder).
"""

from __future__ import annotations

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
from qphys.rl.codes import NOISE_MODELS, ToricCode, validate_rate
from qphys.rl.decoding._common import check_syndromes, resolve_device
from qphys.rl.decoding.equivariant import TorusEquivariantNet, _ResBlock
from qphys.rl.decoding.mwpm import MWPMDecoder

logger = logging.getLogger(__name__)

__all__ = ["NeuralDecoder", "ToricCNN"]


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


def _one_cycle(lr: float, frac: float) -> float:
    """PyTorch's OneCycleLR shape (cosine, 10% warm-up, div 25, final div 1e4) at progress ``frac``."""
    import math

    start, end = lr / 25.0, lr / 25.0 / 1e4
    if frac < 0.1:
        return start + (lr - start) * (1 - math.cos(math.pi * frac / 0.1)) / 2
    return end + (lr - end) * (1 + math.cos(math.pi * (frac - 0.1) / 0.9)) / 2


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
        arch: ``'cnn'`` (:class:`ToricCNN`: convolutions, then a dense head at a fixed position) or
            ``'equivariant'`` (:class:`~qphys.rl.decoding.equivariant.TorusEquivariantNet`: the dense head
            evaluated from every cell's perspective, each cell's vote moved to a common logical frame and
            averaged — exactly translation invariant; syndrome only, odd ``d``).
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
        arch: str = "cnn",
        device: str | torch.device = "cpu",
    ):
        if not isinstance(code, ToricCode):
            code = ToricCode(code)
        if arch not in ("cnn", "equivariant"):
            raise ConfigError(f"arch must be 'cnn' or 'equivariant', got {arch!r}")
        if arch == "equivariant" and hint is not None:
            raise ConfigError("arch='equivariant' reads the syndrome only; use hint=None")
        if arch == "equivariant" and code.d % 2 == 0:
            raise ConfigError(f"arch='equivariant' needs an odd distance (a centre cell), got d={code.d}")
        self.arch = arch
        if noise not in NOISE_MODELS:
            raise ConfigError(f"unknown noise model {noise!r}; choose one of {list(NOISE_MODELS)}")
        if hint not in (None, "mwpm"):
            raise ConfigError(f"hint must be None or 'mwpm', got {hint!r}")
        self.code, self.noise, self.hint = code, noise, hint
        self.n_classes = 4 if noise == "bitflip" else 16
        self.config = dict(channels=int(channels), blocks=int(blocks), hidden=int(hidden))
        self.device = resolve_device(device)
        self._base = MWPMDecoder(code) if hint == "mwpm" else None
        self.model = self._build()
        self.train_info: dict[str, Any] = {}

    def _build(self) -> nn.Module:
        if self.arch == "equivariant":
            return TorusEquivariantNet(self.code.d, n_classes=self.n_classes, **self.config).to(self.device)
        n_hint = self.n_classes if self.hint else 0
        return ToricCNN(
            self.code.d, n_classes=self.n_classes, n_hint=n_hint, in_channels=6 if self.hint else 2, **self.config
        ).to(self.device)

    def __repr__(self) -> str:
        return (f"NeuralDecoder(d={self.code.d}, noise={self.noise!r}, hint={self.hint!r}, arch={self.arch!r}, "
                f"{self.config})")

    def to(self, device) -> NeuralDecoder:
        """Move the network to another device (``'cpu'``/``'cuda'``); returns self."""
        self.device = resolve_device(device)
        self.model.to(self.device)
        return self

    def _index(self, bits: np.ndarray) -> np.ndarray:
        """Class bits ``(..., 4)`` -> this decoder's class index (4 or 16 classes)."""
        b = np.asarray(bits).astype(np.int64)
        return 2 * b[..., 0] + b[..., 1] if self.noise == "bitflip" else ToricCode.class_index(b)

    def _inputs(self, syndromes_u8: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network inputs for flat syndromes: the image (and, with a hint, matching's corrections and class)."""
        d, b = self.code.d, len(syndromes_u8)
        # bits cross to the device as uint8 (a quarter of the bytes of float32) and are converted there
        img = torch.as_tensor(syndromes_u8, device=self.device).to(torch.float32).view(b, 2, d, d)
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
            steps: optimizer steps (AdamW, one-cycle learning-rate schedule: 10% warm-up from ``lr / 25``,
                then cosine annealing to ``lr / 2.5e5``).
            batch_size: syndromes per step.
            lr: peak learning rate.
            seed: seeds the network initialisation and the data sampler.
            time_budget: stop after this many seconds; the learning-rate schedule then runs on whichever of
                steps or time is used up first, so a budget-limited run still anneals.
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
        self.model.train()
        losses: list[float] = []
        t0 = time.perf_counter()
        done = 0
        bar = tqdm(range(steps), desc=f"NeuralDecoder d={self.code.d} {self.noise}", disable=not progress)
        for step in bar:
            frac = step / steps
            if time_budget is not None:
                frac = max(frac, (time.perf_counter() - t0) / time_budget)
            for group in opt.param_groups:
                group["lr"] = _one_cycle(lr, min(frac, 1.0))
            img, label = sampler(batch_size, lo, hi)
            if self._base is not None:
                img, hint = self._inputs(img.view(batch_size, -1).to("cpu", torch.uint8).numpy())
            else:
                hint = None
            loss = nn.functional.cross_entropy(self.model(img, hint), label)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
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
        return check_syndromes(syndromes, self.code.n_stabilizers, f"d={self.code.d}")

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
                "arch": self.arch,
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
        dec = cls(ToricCode(blob["d"]), noise=blob["noise"], hint=blob["hint"], arch=blob.get("arch", "cnn"),
                  device=device, **blob["config"])
        dec.model.load_state_dict(blob["state_dict"])
        dec.model.eval()
        dec.train_info = dict(blob.get("train_info", {}))
        return dec
