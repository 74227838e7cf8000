"""Parameter-shift and finite-difference vector-Jacobian products, batched into one execute.

This is the default gradient of every device (:meth:`qphys.devices.Device.execute_and_vjp`).
For every trainable parameter θ of every circuit the rule gives terms ``(c_k, s_k)``; the
device runs all circuits ``C(θ + s_k)`` of all parameters of all circuits in ONE ``execute``
call (one job on hardware) and ``∂<f>/∂θ = Σ_k c_k <f>(θ + s_k)``. Variances, which are not
linear in the state, are differentiated through ``var = <O²> - <O>²``; heralded (post-selected)
linear-optical outputs, which are ratios, through the probabilities of all patterns: their
shifted values give the Jacobian of those, and autograd of the measurement's post-processing
(:func:`qphys.linear_optics.measurement_value`) at the unshifted point supplies the quotient rule.
Rules that depend on the circuit (the photonic rules, whose number of terms grows with the photons
that reach the operation) come from :attr:`~qphys.ops.OpSpec.shift_rule`.

Finite differences use central differences with step :func:`finite_diff_step`: ``1e-4`` for
exact runs and, with ``shots=N``, ``h = (3 / sqrt(N)) ** (1/3)`` (about 0.46 at 1000 shots),
which minimises bias plus shot noise for unit-variance observables (Pauli words) whose
expectation has third derivative at most 1 in the parameter; ``RunConfig(fd_step=...)``
overrides both.

Examples:
    >>> from qphys.devices import RunConfig
    >>> from qphys.devices.shift import finite_diff_step
    >>> finite_diff_step(RunConfig())
    0.0001
    >>> round(finite_diff_step(RunConfig(shots=1000)), 3)
    0.456
"""

from __future__ import annotations

import torch

from qphys import linear_optics as lo
from qphys.errors import DifferentiationError
from qphys.ir import Measurement
from qphys.observables import Hermitian

#: Measurement kinds whose values are linear in the state (differentiated term by term); heralded
#: linear-optical ones are ratios and go through :func:`linearize`.
LINEAR_KINDS = ("expval", "probs", "fock_probs", "photon_numbers")
#: Measurement kinds whose values carry gradients (``var`` through ``<O²> - <O>²``).
DIFFERENTIABLE_KINDS = LINEAR_KINDS + ("var",)
#: Central-difference step of exact runs.
EXACT_FD_STEP = 1e-4


def finite_diff_step(config) -> float:
    """The central-difference step for ``config``: ``config.fd_step`` if set, else ``1e-4``
    exact and ``(3 / sqrt(shots)) ** (1/3)`` with shots (see the module docstring)."""
    if config.fd_step is not None:
        return float(config.fd_step)
    if config.shots is None:
        return EXACT_FD_STEP
    return (3.0 / config.shots**0.5) ** (1.0 / 3.0)


def recipe(circuit, i, j, method, fd_step):
    """The shift terms ``((coefficient, shift), ...)`` of parameter ``j`` of operation ``i``."""
    if method == "finite-diff":
        h = fd_step
        return ((1 / (2 * h), h), (-1 / (2 * h), -h))
    op = circuit.operations[i]
    spec = op.spec
    if spec.shift_rule is not None:
        return spec.shift_rule(circuit, i, j)
    rule = spec.grad_recipe[j] if spec.grad_recipe else None
    if rule is None:
        raise DifferentiationError(
            f"operation {op.name!r} has no parameter-shift rule for parameter {j}; use "
            "diff_method='finite-diff' (or 'backprop' on a torch device)"
        )
    why = spec.shift_condition(circuit, i) if spec.shift_condition is not None else None
    if why is not None:
        raise DifferentiationError(
            f"the parameter-shift rule of {op.name!r} (operation {i}) is not exact here: {why}; "
            "use diff_method='finite-diff' (or 'backprop' on a torch device)"
        )
    return rule


def has_recipes(circuit, trainable) -> bool:
    for i, j in trainable:
        spec = circuit.operations[i].spec
        if spec.shift_rule is not None:
            continue
        if not spec.grad_recipe or spec.grad_recipe[j] is None:
            return False
        if spec.shift_condition is not None and spec.shift_condition(circuit, i) is not None:
            return False
    return True


def linearize(circuit):
    """Copy whose ``var(O)`` measurements are replaced by ``expval(O)`` and ``expval(O²)``, and
    whose heralded linear-optical measurements by the probabilities of all patterns.

    Returns the new circuit and, per original measurement, the indices of its new ones.
    """
    new = circuit.copy()
    meas, index = [], []
    for m in circuit.measurements:
        if m.heralds:
            index.append((len(meas),))
            meas.append(Measurement("probs", detection="pnr"))
        elif m.kind == "var":
            sq = m.obs.matrix()
            obs2 = Hermitian(sq @ sq, m.obs.wires)
            index.append((len(meas), len(meas) + 1))
            meas.extend([Measurement("expval", obs=m.obs), Measurement("expval", obs=obs2)])
        else:
            index.append((len(meas),))
            meas.append(m)
    new.measurements = meas
    return new, index


def _shifted(circuit, i, j, s):
    p = circuit.operations[i].params[j]
    return circuit.with_param(i, j, p + s if torch.is_tensor(p) else float(p) + s)


def shift_vjp(device, circuits, trainable, grad_outputs, config, method):
    """Vector-Jacobian products by parameter shift / finite differences in ONE execute call.

    Args:
        device: runs the shifted circuits (``device.execute(batch, config)``).
        circuits: detached circuits.
        trainable: per circuit, the ``(op_index, param_index)`` pairs to differentiate.
        grad_outputs: per circuit, one cotangent per measurement (``None`` where unused).
        config: the run configuration (shots, seed, ``fd_step``).
        method: ``"parameter-shift"`` or ``"finite-diff"``.

    Returns:
        Per circuit, one gradient per trainable parameter (``(B,)`` for a batched parameter,
        a scalar otherwise), or ``None`` where no cotangent reaches it.
    """
    if method not in ("parameter-shift", "finite-diff"):
        raise DifferentiationError(f"shift_vjp computes 'parameter-shift' or 'finite-diff', not {method!r}")
    fd_step = finite_diff_step(config)
    batch, plan = [], []
    lin = []
    for ci, (c, tr) in enumerate(zip(circuits, trainable)):
        lc, index = linearize(c)
        lin.append((lc, index))
        if any(m.kind == "var" or m.heralds for m in c.measurements):
            plan.append(("base", ci, None, None, len(batch)))
            batch.append(lc)
        for t, (i, j) in enumerate(tr):
            for coeff, s in recipe(c, i, j, method, fd_step):
                plan.append(("term", ci, t, coeff, len(batch)))
                batch.append(_shifted(lc, i, j, s))
    results = device.execute(batch, config) if batch else []
    grads = [[None] * len(tr) for tr in trainable]
    base = {}
    for kind, ci, _t, _coeff, k in plan:
        if kind == "base":
            base[ci] = results[k].values
    # accumulate Jacobian columns, then contract with cotangents
    jac: dict[tuple[int, int], list] = {}
    for kind, ci, t, coeff, k in plan:
        if kind != "term":
            continue
        vals = results[k].values
        acc = jac.setdefault((ci, t), [None] * len(vals))
        for q, v in enumerate(vals):
            if torch.is_tensor(v) and (v.is_floating_point() or v.is_complex()):
                acc[q] = coeff * v if acc[q] is None else acc[q] + coeff * v
    cotangents: dict[tuple[int, int], torch.Tensor] = {}
    for (ci, t), cols in jac.items():
        c = circuits[ci]
        _, index = lin[ci]
        total = None
        for mi, m in enumerate(c.measurements):
            g = grad_outputs[ci][mi]
            if g is None or m.kind not in DIFFERENTIABLE_KINDS:
                continue
            if m.kind == "var":
                a, b = index[mi]
                dval = cols[b] - 2 * base[ci][a] * cols[a]
            elif m.heralds:
                (a,) = index[mi]
                if (ci, mi) not in cotangents:
                    cotangents[ci, mi] = _herald_cotangent(c, m, base[ci][a], g)
                g, dval = cotangents[ci, mi], cols[a]
            else:
                dval = cols[index[mi][0]]
            i, j = trainable[ci][t]
            p = c.operations[i].params[j]
            g = g.to(dval.dtype)
            prod = g * dval
            if torch.is_tensor(p) and p.ndim == 1:
                contrib = prod.reshape(prod.shape[0], -1).sum(-1) if prod.ndim > 1 else prod
            else:
                contrib = prod.sum()
            total = contrib if total is None else total + contrib
        grads[ci][t] = total
    for ci, tr in enumerate(trainable):  # parameters no photon reaches (an empty rule): zero gradient
        if any(g is not None for g in grad_outputs[ci]):
            for t, (i, j) in enumerate(tr):
                if grads[ci][t] is None and (ci, t) not in jac:
                    p = circuits[ci].operations[i].params[j]
                    grads[ci][t] = torch.zeros_like(p) if torch.is_tensor(p) else torch.tensor(0.0)
    return grads


def _herald_cotangent(circuit, measurement, joint, grad):
    """The cotangent on the probabilities of all patterns that ``grad`` on the heralded
    ``measurement``'s value induces at ``joint`` (autograd of its post-processing)."""
    unbatched = joint.ndim == 1
    with torch.enable_grad():
        j = (joint.unsqueeze(0) if unbatched else joint).detach().requires_grad_(True)
        value = lo.measurement_value(circuit, measurement, j)
        g = grad.unsqueeze(0) if unbatched else grad
        (cot,) = torch.autograd.grad(value, j, g.to(value.dtype))
    return cot[0] if unbatched else cot
