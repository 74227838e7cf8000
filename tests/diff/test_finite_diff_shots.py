"""Finite differences with shots: ``best`` never picks them, an explicit request uses a step
suited to shot noise, and ``fd_step`` overrides it."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

import qphys
from qphys import Z
from qphys.devices import RunConfig
from qphys.devices.shift import finite_diff_step
from qphys.diff import resolve_method
from qphys.errors import ConfigError, DifferentiationError


def _rx_grad(diff_method, **kwargs):
    theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(wires=1).rx(theta, 0).expval(Z(0))
    qphys.execute(c, qphys.device("torch.qubit", dtype="complex128", seed=11), diff_method=diff_method, **kwargs).expvals.sum().backward()
    return float(theta.grad)


def test_explicit_finite_diff_with_shots_is_statistically_right():
    """d<Z>/dθ = -sin 0.3 = -0.2955; with 1000 shots the old fixed step 1e-4 gave about -30."""
    step = finite_diff_step(RunConfig(shots=1000))
    assert step == pytest.approx((3 / math.sqrt(1000)) ** (1 / 3))
    # noise sd ≈ sqrt(Var(+h) + Var(-h)) / (2 h sqrt(N)) <= 1 / (h sqrt(2N)) ≈ 0.05; bias h²/6 · sin 0.3
    grads = [_rx_grad("finite-diff", shots=1000, seed=s) for s in range(5)]
    mean = sum(grads) / len(grads)
    assert abs(mean + math.sin(0.3)) < 5 * 0.05 / math.sqrt(5) + step**2 / 6 * math.sin(0.3)
    assert all(abs(g + math.sin(0.3)) < 0.3 for g in grads), grads


def test_fd_step_overrides_the_automatic_step():
    assert finite_diff_step(RunConfig(shots=1000, fd_step=0.1)) == 0.1
    assert finite_diff_step(RunConfig()) == 1e-4
    exact = _rx_grad("finite-diff", config=RunConfig(fd_step=1e-3))
    assert abs(exact + math.sin(0.3)) < 1e-7  # central differences: error h²/6 sin 0.3 = 5e-8
    with pytest.raises(ConfigError, match="fd_step must be a positive number or None"):
        RunConfig(fd_step=0.0)


def test_best_never_picks_finite_differences_with_shots():
    theta = torch.tensor(0.3, requires_grad=True)
    # a trainable CV Kerr gate has no exact shift rule: exact -> finite-diff, with shots -> error
    k = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    c = qphys.Circuit(modes=1).displacement(0.3, 0.0, 0).kerr(k, 0).expval(qphys.cv.X(0))
    dev = qphys.device("torch.fock", cutoff=8)
    cfg = RunConfig(shots=500)
    dev_no_backprop = _NoBackprop(dev)
    assert resolve_method("best", dev_no_backprop, [c], RunConfig()) == "finite-diff"
    with pytest.raises(DifferentiationError, match=r"no exact shift rule for kerr, and device .* samples "
                       r"\(shots=500\): finite differences .* shot noise, so diff_method='best' does not pick"):
        resolve_method("best", dev_no_backprop, [c], cfg)
    assert resolve_method("finite-diff", dev_no_backprop, [c], cfg) == "finite-diff"
    # qubit gates all have shift rules: best with shots is parameter shift
    q = qphys.Circuit(wires=1).rx(theta, 0).expval(Z(0))
    assert resolve_method("best", qphys.device("torch.qubit"), [q], cfg) == "parameter-shift"


def test_trainable_matrices_are_not_shifted_entry_by_entry():
    u = torch.eye(2, dtype=torch.complex128, requires_grad=True)
    c = qphys.Circuit(wires=1).unitary(u, 0).expval(Z(0))
    for method in ("finite-diff", "parameter-shift"):
        with pytest.raises(DifferentiationError, match=r"the matrix of 'unitary' is trainable.*diff_method='backprop'"):
            resolve_method(method, qphys.device("torch.qubit"), [c], RunConfig())


def test_execute_signature_shows_a_readable_default():
    sig = str(inspect.signature(qphys.execute))
    assert "object at" not in sig
    assert "shots: 'int | None | _Default' = DEVICE_DEFAULT" in sig


class _NoBackprop(qphys.Device):
    """``torch.fock`` without native differentiation (as a remote photonic device would be)."""

    name = "fock-no-backprop"

    def __init__(self, inner):
        super().__init__()
        from dataclasses import replace

        self.inner = inner
        self.capabilities = replace(inner.capabilities, native_diff=())

    def execute(self, circuits, config):
        return self.inner.execute(circuits, config)


def test_run_config_has_no_dead_fields():
    """``progress`` was never read by any device: it is gone; ``executor`` is read by qphys.execute."""
    with pytest.raises(TypeError, match="progress"):
        RunConfig(progress=True)
    from qphys.devices import base

    doc = base.RunConfig.__doc__
    assert "executor:" in doc and "qphys.parallel" in doc and "no device reads it" not in doc
