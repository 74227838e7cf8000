"""Stochastic reconfiguration (natural gradient) for variational Monte Carlo, and minSR.

With per-sample log-derivatives ``O`` (``B x P``) and local energies, SR solves
``(S + λ I) δ = g`` with ``S = Re <ΔO^* ΔO>`` (the quantum geometric tensor) and the energy gradient
``g = 2 Re <ΔO^* ΔE_loc>`` (NetKet's conventions, so the same learning rate means the same step),
then moves the parameters by ``-lr δ``. The solve runs in parameter space (``P x P`` Cholesky) or,
when there are fewer samples than parameters, in sample space (minSR, Chen & Heyl 2024:
``δ = Õ^T (Õ Õ^T + λ)^{-1} ẽ``, the same vector by the push-through identity, at ``O(B²P)``).

Robust defaults, so that the benchmark systems converge without tuning:

- the diagonal shift decays from ``diag_shift_start`` (0.1, damping the large, noisy first steps
  while the chains equilibrate) to ``diag_shift`` (0.001, so that late, small-curvature directions
  still converge) with time constant ``diag_shift_decay``;
- the step is clipped in the natural metric: ``lr² δ^T S δ ≤ max_step²`` — a trust region on the
  Fubini-Study distance between successive states, which stops the rare huge step that a noisy
  near-singular ``S`` produces (the way NetKet's α=2 Heisenberg run diverged);
- complex ansätze are handled by stacking real and imaginary parts (``Re[O^H O] = Õ^T Õ``), so
  real and complex parameters follow one code path.

Examples:
    >>> import torch
    >>> o = torch.randn(64, 5, dtype=torch.float64)
    >>> e = torch.randn(64, dtype=torch.float64)
    >>> sr = SR(diag_shift=1e-3, diag_shift_start=1e-3)
    >>> dense = SR(diag_shift=1e-3, diag_shift_start=1e-3, solver="minsr")
    >>> torch.allclose(sr.direction(o, e, 0)[0], dense.direction(o, e, 0)[0])
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from qphys.errors import ConfigError
from qphys.nqs.estimators import centered, realify

_SOLVERS = ("auto", "cholesky", "minsr")


@dataclass
class SR:
    """Stochastic reconfiguration with a decaying diagonal shift and a natural-metric step limit.

    Args:
        lr: learning rate (imaginary-time step).
        diag_shift: final diagonal shift ``λ`` added to ``S``.
        diag_shift_start: initial shift; ``λ(t) = diag_shift + (start - diag_shift) e^{-t/decay}``.
        diag_shift_decay: decay time in iterations.
        max_step: largest Fubini-Study step ``lr sqrt(δ^T S δ)`` per iteration (``None``: no limit).
        solver: ``"cholesky"`` (parameter space), ``"minsr"`` (sample space) or ``"auto"`` (the
            smaller of the two).

    Raises:
        ConfigError: a non-positive rate or shift, or an unknown solver.
    """

    lr: float = 0.05
    diag_shift: float = 0.001
    diag_shift_start: float = 0.1
    diag_shift_decay: float = 30.0
    max_step: float | None = 0.1
    solver: str = "auto"

    def __post_init__(self):
        for name in ("lr", "diag_shift", "diag_shift_start", "diag_shift_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"SR {name} must be a positive number, got {value!r}")
        if self.max_step is not None and not self.max_step > 0:
            raise ConfigError(f"SR max_step must be positive or None, got {self.max_step!r}")
        if self.solver not in _SOLVERS:
            raise ConfigError(f"SR solver must be one of {', '.join(_SOLVERS)}, got {self.solver!r}")

    def shift(self, step: int) -> float:
        """The diagonal shift at iteration ``step``.

        Examples:
            >>> round(SR().shift(0), 3), round(SR().shift(1000), 3)
            (0.1, 0.001)
        """
        return self.diag_shift + (self.diag_shift_start - self.diag_shift) * math.exp(-step / self.diag_shift_decay)

    def direction(self, o: torch.Tensor, e_loc: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        """The update ``Δp`` (to add to the parameters) and diagnostics.

        Args:
            o: per-sample log-derivatives ``(B, P)``, real or complex.
            e_loc: local energies ``(B,)``.
            step: iteration number (for the shift schedule).

        Returns:
            ``(update, info)`` with ``info`` holding ``shift``, ``grad_norm`` and ``step_norm``
            (the Fubini-Study length of the step before clipping).
        """
        oc, ec = realify(*centered(o, e_loc))
        ec = ec.to(oc.dtype)
        n, p = oc.shape
        lam = self.shift(step)
        grad = 2.0 * (oc.T @ ec)
        solver = self.solver
        if solver == "auto":
            solver = "minsr" if n < p else "cholesky"
        if solver == "minsr":
            t = oc @ oc.T
            t.diagonal().add_(lam)
            delta = oc.T @ _spd_solve(t, 2.0 * ec)
        else:
            s = oc.T @ oc
            s.diagonal().add_(lam)
            delta = _spd_solve(s, grad)
        s_delta = oc @ delta  # ||δ||_S² = |Õ δ|²
        metric = float(s_delta @ s_delta)
        length = self.lr * math.sqrt(max(metric, 0.0))
        scale = self.lr
        if self.max_step is not None and length > self.max_step:
            scale *= self.max_step / length
        info = {"shift": lam, "grad_norm": float(grad.norm()), "step_norm": length}
        return -scale * delta, info


def _spd_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve ``a x = b`` for symmetric positive definite ``a`` (Cholesky; LU if it is not, numerically)."""
    chol, info = torch.linalg.cholesky_ex(a)
    if int(info) == 0:
        return torch.cholesky_solve(b[:, None], chol)[:, 0]
    return torch.linalg.solve(a, b)


def minsr(**kwargs) -> SR:
    """:class:`SR` solved in sample space (Chen & Heyl's minSR) — for more parameters than samples.

    Examples:
        >>> minsr(lr=0.02).solver
        'minsr'
    """
    return SR(solver="minsr", **kwargs)
