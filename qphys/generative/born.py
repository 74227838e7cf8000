"""Quantum circuit Born machines: ``p_θ(x) = |<x|U(θ)|0>|²``.

Exact training differentiates the probability vector (backprop on ``torch.qubit``, parameter
shift elsewhere) with any torch optimizer, or hands loss and gradient to SciPy's L-BFGS-B.
Sample-based training on shot devices uses Liu & Wang's unbiased MMD gradient,

    ∂L/∂θ_k = E[K(x⁺, y)] - E[K(x⁻, y)] - E[K(x⁺, z)] + E[K(x⁻, z)],

with ``x^±`` samples of the circuit with ``θ_k ± π/2``, ``y`` samples of the circuit at ``θ`` and
``z`` data; the base circuit and all ``2P`` shifted circuits of a step are ONE batched circuit in
ONE device call (one job on hardware). Every rotation of the shipped ansätze (``rx``, ``ry``,
``rz``) obeys the two-term ±π/2 shift rule that this estimator needs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from qphys._random import seeded_generator
from qphys.circuit import Circuit
from qphys.devices.base import Device
from qphys.diff import execute
from qphys.errors import ConfigError, ParameterError, UnsupportedOperationError
from qphys.generative.datasets import empirical_distribution, patterns_to_indices
from qphys.generative.losses import DEFAULT_SIGMAS, LOSSES, mmd_kernel
from qphys.generative.metrics import kl_divergence

log = logging.getLogger(__name__)

_SHIFT_GATES = {"rx", "ry", "rz"}


class BornMachine(torch.nn.Module):
    """A parametrized circuit whose measurement distribution is the model.

    Args:
        ansatz: an ansatz object (``ansatz(circuit, weights)`` with ``num_params(n)``, e.g.
            :class:`~qphys.generative.ChowLiuAnsatz`) or a plain ``circuit_fn(circuit, weights)``
            together with ``num_params``.
        n_qubits: number of qubits (bits per sample).
        device: device name or instance. Exact training to tiny losses wants
            ``qphys.device("torch.qubit", dtype="complex128")``.
        num_params: number of weights (only for a plain ``circuit_fn``).
        weights: initial weights ``(P,)``; default uniform in ``[0, 2π)`` from ``seed``.
        seed: seed of the weight initialization and of sampling.
        diff_method: gradient method of exact probabilities (see :func:`qphys.execute`).
        fuse: build fused single-qubit gates for exact probabilities (``"auto"``: when the
            ansatz supports it and the device backpropagates natively; about 3x faster).

    Examples:
        >>> import qphys
        >>> from qphys.generative import BornMachine, ChowLiuAnsatz
        >>> bm = BornMachine(ChowLiuAnsatz(2), 3, seed=0)
        >>> p = bm.probs()
        >>> p.shape, round(float(p.sum()), 5)
        (torch.Size([8]), 1.0)
        >>> bm.sample(5).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        ansatz,
        n_qubits: int,
        *,
        device: str | Device = "torch.qubit",
        num_params: int | None = None,
        weights=None,
        seed: int | None = None,
        diff_method: str = "best",
        fuse: bool | str = "auto",
    ):
        super().__init__()
        if fuse not in (True, False, "auto"):
            raise ConfigError(f"fuse must be True, False or 'auto', got {fuse!r}")
        if isinstance(n_qubits, bool) or not isinstance(n_qubits, (int, np.integer)) or n_qubits < 1:
            raise ParameterError(f"n_qubits must be a positive integer, got {n_qubits!r}")
        if not callable(ansatz):
            raise ParameterError(f"ansatz must be callable(circuit, weights), got {type(ansatz).__name__}")
        self.ansatz = ansatz
        self.n_qubits = int(n_qubits)
        if num_params is None:
            if not hasattr(ansatz, "num_params"):
                raise ParameterError("a plain circuit_fn needs num_params=P (the length of its weight vector)")
            num_params = ansatz.num_params(self.n_qubits)
        self.num_params = int(num_params)
        if isinstance(device, str):
            from qphys.devices import device as make

            device = make(device)
        self.device = device
        self.seed = seed
        self.diff_method = diff_method
        can_fuse = bool(getattr(ansatz, "supports_fusion", False))
        if fuse == "auto":
            fuse = can_fuse and "backprop" in device.capabilities.native_diff and diff_method in ("best", "backprop")
        elif fuse and not can_fuse:
            raise ConfigError(f"{type(ansatz).__name__} does not support fuse=True")
        self.fuse = bool(fuse)
        if weights is None:
            weights = torch.rand(self.num_params, generator=seeded_generator(seed), dtype=torch.float64) * 2 * math.pi
        w = torch.as_tensor(weights, dtype=torch.float64).detach().clone()
        if w.shape != (self.num_params,):
            raise ParameterError(f"weights must have shape ({self.num_params},), got {tuple(w.shape)}")
        if not bool(torch.isfinite(w).all()):
            raise ParameterError("initial weights contain NaN or inf")
        self.weights = torch.nn.Parameter(w)
        self._sample_calls = 0

    # ---- circuits -----------------------------------------------------------------------------
    def circuit(self, weights=None, *, fuse: bool = False) -> Circuit:
        """The ansatz circuit (no measurements) at ``weights`` (``(P,)`` or batched ``(B, P)``)."""
        c = Circuit(wires=self.n_qubits)
        w = self.weights if weights is None else weights
        out = self.ansatz(c, w, fuse=True) if fuse else self.ansatz(c, w)
        return c if out is None else out

    def _check_target(self, target) -> torch.Tensor:
        """A target distribution ``(2**n,)``, or data samples ``(M, n)`` made into one."""
        t = target if torch.is_tensor(target) else torch.as_tensor(np.asarray(target))
        if t.ndim == 2:
            if t.shape[1] != self.n_qubits:
                raise ParameterError(
                    f"the dataset has {t.shape[1]} bits per sample but the Born machine has "
                    f"{self.n_qubits} qubits; build BornMachine(..., n_qubits={t.shape[1]})"
                )
            return empirical_distribution(t.cpu().numpy(), self.n_qubits)
        if t.ndim != 1 or t.shape[0] != 2**self.n_qubits:
            raise ParameterError(
                f"target must be a distribution of length 2**{self.n_qubits} = {2**self.n_qubits} or "
                f"samples (M, {self.n_qubits}); got shape {tuple(t.shape)} — a dataset for a different "
                "number of qubits?"
            )
        t = t.to(torch.float64)
        if bool((t < 0).any()) or not math.isclose(float(t.sum()), 1.0, abs_tol=1e-6):
            raise ParameterError("target distribution must be non-negative and sum to 1")
        return t

    # ---- the model --------------------------------------------------------------------------------
    def probs(self, weights=None) -> torch.Tensor:
        """Exact probabilities ``(2**n,)`` (differentiable).

        Raises:
            UnsupportedOperationError: the device cannot compute exact results.
        """
        c = self.circuit(weights, fuse=self.fuse).probs()
        r = execute(c, self.device, diff_method=self.diff_method, shots=None)
        return r.probs.reshape(-1, 2**self.n_qubits).squeeze(0).to(torch.float64)

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` samples ``(n, n_qubits)`` of 0/1 bits from the device."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"number of samples must be a positive integer, got {n!r}")
        if seed is None and self.seed is not None:
            seed = self.seed + self._sample_calls
        self._sample_calls += 1
        c = self.circuit(self.weights.detach()).sample()
        kwargs = {} if seed is None else {"seed": int(seed)}
        r = execute(c, self.device, shots=int(n), **kwargs)
        return torch.as_tensor(r.samples).reshape(int(n), self.n_qubits)

    def log_prob(self, x) -> torch.Tensor:
        """``log p(x)`` of samples ``x`` ``(M, n)`` bits (exact devices only)."""
        xt = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x)
        if xt.ndim != 2 or xt.shape[1] != self.n_qubits:
            raise ParameterError(f"x must be (M, {self.n_qubits}) bits, got shape {xt.shape}")
        if not self.device.capabilities.exact:
            raise UnsupportedOperationError(
                f"log_prob needs exact probabilities; device {self.device.name!r} only samples"
            )
        idx = torch.as_tensor(patterns_to_indices(xt))
        return torch.log(self.probs()[idx])

    def forward(self) -> torch.Tensor:
        return self.probs()

    # ---- exact training ---------------------------------------------------------------------------
    def loss(self, target, kind: str = "mmd", *, sigmas=DEFAULT_SIGMAS, normalize: bool = True) -> torch.Tensor:
        """Loss ``kind`` (``"mmd"``, ``"kl"``, ``"nll"``) of the exact model against ``target``."""
        t = self._check_target(target)
        return self._loss_fn(kind, sigmas, normalize)(self.probs(), t)

    def _loss_fn(self, kind, sigmas, normalize):
        if kind not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got {kind!r}")
        if kind == "mmd":
            K = mmd_kernel(self.n_qubits, sigmas, normalize=normalize)
            return lambda p, t: LOSSES["mmd"](p, t, kernel=K)
        return LOSSES[kind]

    def fit(
        self,
        target,
        *,
        loss: str = "mmd",
        optimizer: str | type = "lbfgs",
        steps: int = 600,
        lr: float = 0.1,
        sigmas=DEFAULT_SIGMAS,
        normalize: bool = True,
        ftol: float = 1e-16,
        gtol: float = 1e-14,
        progress: bool = False,
        callback=None,
    ) -> TrainingHistory:
        """Train on exact probabilities.

        Args:
            target: distribution ``(2**n,)`` or data samples ``(M, n)``.
            loss: ``"mmd"``, ``"kl"`` or ``"nll"``.
            optimizer: ``"lbfgs"`` (SciPy L-BFGS-B, ``steps`` = max iterations), ``"adam"``,
                ``"sgd"``, or a ``torch.optim.Optimizer`` class.
            ftol, gtol: L-BFGS-B stopping tolerances; SciPy's default ``ftol`` stops far too
                early on losses of order 1e-4.
            callback: ``callback(step, loss)``.

        Returns:
            :class:`TrainingHistory` with the loss and KL(target || model) per iteration.
        """
        t = self._check_target(target)
        fn = self._loss_fn(loss, sigmas, normalize)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be a positive integer, got {steps!r}")
        hist = TrainingHistory()
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=f"Born machine ({loss}, {optimizer})")

        def record(value, p):
            hist.loss.append(float(value))
            hist.kl.append(float(kl_divergence(t, p.detach())))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3g}", kl=f"{hist.kl[-1]:.3g}")
            if callback is not None:
                callback(len(hist.loss) - 1, float(value))

        try:
            if optimizer == "lbfgs":
                self._fit_lbfgs(fn, t, steps, ftol, gtol, record, hist)
            else:
                self._fit_torch(fn, t, optimizer, steps, lr, record)
        finally:
            if bar is not None:
                bar.close()
        return hist

    def _fit_torch(self, fn, t, optimizer, steps, lr, record):
        opt = _torch_optimizer(optimizer, [self.weights], lr, "'lbfgs', 'adam', 'sgd'")
        for _ in range(steps):
            opt.zero_grad()
            p = self.probs()
            value = fn(p, t)
            value.backward()
            opt.step()
            record(value.detach(), p)

    def _fit_lbfgs(self, fn, t, steps, ftol, gtol, record, hist):
        from scipy.optimize import minimize

        cache = {}

        def fun(x):
            with torch.no_grad():
                self.weights.copy_(torch.as_tensor(x))
            self.weights.grad = None
            p = self.probs()
            value = fn(p, t)
            value.backward()
            cache["p"], cache["v"] = p.detach(), float(value.detach())
            return float(value.detach()), self.weights.grad.detach().cpu().numpy().astype(np.float64)

        def cb(xk):
            record(cache["v"], cache["p"])

        res = minimize(
            fun,
            self.weights.detach().cpu().numpy().astype(np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=cb,
            options={"maxiter": steps, "ftol": ftol, "gtol": gtol, "maxfun": 20 * steps},
        )
        with torch.no_grad():
            self.weights.copy_(torch.as_tensor(res.x))
        hist.message = str(res.message)
        hist.evaluations = int(res.nfev)
        log.info("L-BFGS-B: %s after %d iterations (%d evaluations), loss %.3e", res.message, res.nit, res.nfev, res.fun)

    # ---- sample-based training (Liu & Wang) ---------------------------------------------------------
    def shifted_weights(self) -> torch.Tensor:
        """``(1 + 2P, P)``: the weights, then ``θ + π/2 e_k`` and ``θ - π/2 e_k`` for every k."""
        w = self.weights.detach()
        P = self.num_params
        shifts = torch.eye(P, dtype=w.dtype) * (math.pi / 2)
        out = torch.empty(1 + 2 * P, P, dtype=w.dtype)
        out[0] = w
        out[1::2] = w + shifts
        out[2::2] = w - shifts
        return out

    def _check_shift_rule(self):
        ops = self.circuit(self.weights.detach()).operations
        bad = sorted({op.name for op in ops if op.params and op.name not in _SHIFT_GATES})
        if bad:
            raise UnsupportedOperationError(
                f"the sample-based MMD gradient needs gates with the two-term ±π/2 shift rule "
                f"(rx, ry, rz); the ansatz uses {', '.join(bad)}"
            )

    def sampled_mmd_gradient(self, target, *, shots: int, seed: int | None = None,
                             sigmas=DEFAULT_SIGMAS, normalize: bool = True, kernel=None):
        """One unbiased MMD gradient estimate from samples, all circuits in ONE device call.

        Returns:
            ``(gradient (P,), mmd_estimate)``; the estimate is the V-statistic of the base
            circuit's samples against ``target``.
        """
        t = self._check_target(target)
        if self.n_qubits > 14:
            raise UnsupportedOperationError("sample-based MMD training is limited to 14 qubits (dense kernel)")
        K = mmd_kernel(self.n_qubits, sigmas, normalize=normalize) if kernel is None else kernel
        W = self.shifted_weights()
        kwargs = {} if seed is None else {"seed": int(seed)}
        if self.device.capabilities.batching:
            circuits = [self.circuit(W).sample()]
        else:
            circuits = [self.circuit(row).sample() for row in W]
        results = execute(circuits, self.device, shots=shots, **kwargs)
        samples = torch.cat([torch.as_tensor(r.samples).reshape(-1, shots, self.n_qubits) for r in results], 0)
        weights = 1 << torch.arange(self.n_qubits - 1, -1, -1)
        idx = (samples.long() * weights).sum(-1)  # (1 + 2P, shots)
        H = torch.zeros(idx.shape[0], 2**self.n_qubits, dtype=torch.float64)
        H.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
        H /= shots
        base = H[0]
        G = H[1:] @ (K @ (base - t))  # E[K(x±, y)] - E[K(x±, z)]
        grad = G[0::2] - G[1::2]
        d = base - t
        return grad, float(d @ K @ d)

    def fit_sampled(
        self,
        target,
        *,
        steps: int = 20,
        shots: int = 1000,
        lr: float = 0.1,
        optimizer: str | type = "adam",
        sigmas=DEFAULT_SIGMAS,
        normalize: bool = True,
        seed: int | None = None,
        progress: bool = False,
        callback=None,
    ) -> TrainingHistory:
        """Train from samples only (shot devices, hardware): Liu & Wang's unbiased MMD gradient.

        Every step is exactly one device call (one job) holding the base circuit and its ``2P``
        shifted copies. ``history.loss`` holds the sampled MMD estimates.
        """
        t = self._check_target(target)
        self._check_shift_rule()
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be a positive integer, got {steps!r}")
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
            raise ConfigError(f"shots must be a positive integer, got {shots!r}")
        opt = _torch_optimizer(optimizer, [self.weights], lr, "'adam', 'sgd'")
        K = mmd_kernel(self.n_qubits, sigmas, normalize=normalize)
        hist = TrainingHistory()
        rng = range(steps)
        if progress:
            from tqdm.auto import tqdm

            rng = tqdm(rng, desc="Born machine (sampled MMD)")
        for step in rng:
            s = None if seed is None else seed + step
            grad, value = self.sampled_mmd_gradient(t, shots=shots, seed=s, kernel=K)
            opt.zero_grad()
            self.weights.grad = grad.to(self.weights.dtype)
            opt.step()
            hist.loss.append(value)
            if callback is not None:
                callback(step, value)
        return hist


@dataclass
class TrainingHistory:
    """Per-iteration ``loss`` and ``kl`` (KL(target || model), exact training only)."""

    loss: list = field(default_factory=list)
    kl: list = field(default_factory=list)
    message: str = ""
    evaluations: int = 0


def _torch_optimizer(optimizer, params, lr, allowed: str):
    """``"adam"``, ``"sgd"`` or a ``torch.optim.Optimizer`` class -> an optimizer over ``params``."""
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer(params, lr=lr)
    raise ConfigError(f"optimizer must be {allowed} or a torch optimizer class, got {optimizer!r}")
