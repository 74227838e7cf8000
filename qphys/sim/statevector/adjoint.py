"""Adjoint differentiation: one forward pass, then un-apply gates one by one.

Memory is two state vectors (the forward state and the back-propagated cotangent state),
independent of circuit depth. Derivatives of gate matrices come from ``torch.func.jvp`` on the
op's own matrix function, so every parametrized gate is covered without hand-written rules.
"""

from __future__ import annotations

import math

import torch

from qphys.errors import DifferentiationError
from qphys.ops import get_spec
from qphys.sim.statevector.apply import (
    apply_diagonal,
    apply_matrix,
    apply_step,
    op_matrix,
    op_params,
    run_circuit,
)
from qphys.sim.statevector.measure import apply_observable
from qphys.sim.statevector.plan import make_plan


def _gate_derivative(op, j, dtype, device, dense=False):
    """``dU/dθ_j`` as ``("diag", d)`` or ``("dense", m)`` (batched like the parameter).

    Exact two-point matrix shift rules for gates whose spec gives ``matrix_frequencies`` (entries
    ``c + a cos(ωθ) + b sin(ωθ)``, so ``dU/dθ = ω (U(θ + s) - U(θ - s)) / 2`` with ``ωs = π/2``;
    cheap: two matrix evaluations); ``torch.func.jvp`` on the op's matrix function otherwise.
    """
    spec = get_spec(op.name)
    params = op_params(op, dtype, device)
    use_diag = spec.structure == "diagonal" and not dense
    fn = spec.diagonal if use_diag else spec.matrix

    def f(x):
        ps = list(params)
        ps[j] = x
        return fn(*ps, dtype=dtype, device=device)

    freqs = spec.matrix_frequencies
    if freqs is not None:
        w = freqs[j]
        s = (math.pi / 2) / w
        tangent = (f(params[j] + s) - f(params[j] - s)) * (w / 2)
    else:
        _, tangent = torch.func.jvp(f, (params[j],), (torch.ones_like(params[j]),))
    return ("diag" if use_diag else "dense"), tangent.to(dtype)


def reduced_overlap(lam, psi, wire, n):
    """``R[b, a, c] = Σ_rest conj(λ[b, a, rest]) ψ[b, c, rest]`` on one wire: ``(B, 2, 2)``.

    One read of both states, no state-sized temporaries: for a one-qubit matrix ``A`` on
    ``wire``, ``<λ|A|ψ> = Σ_ac A[a, c] R[a, c]``.
    """
    b = max(lam.shape[0], psi.shape[0])
    lam, psi = lam.expand(b, -1), psi.expand(b, -1)
    rows, r = 2**wire, 2 ** (n - wire - 1)
    if r >= 16:
        lv = lam.reshape(b, rows, 2, r)
        pv = psi.reshape(b, rows, 2, r)
        return torch.matmul(lv.conj(), pv.transpose(-1, -2)).sum(1)
    lv = lam.reshape(b, rows, 2 * r)
    pv = psi.reshape(b, rows, 2 * r)
    g = torch.matmul(lv.conj().transpose(-1, -2), pv)  # (b, 2r, 2r)
    return g.reshape(b, 2, r, 2, r).diagonal(dim1=2, dim2=4).sum(-1)


def adjoint_vjp(circuit, trainable, grad_outputs, *, dtype, device, final_state=None):
    """Gradients of ``Σ_o g_o <O_o>`` w.r.t. the ``trainable`` ``(op, param)`` positions.

    The sweep runs over the fused plan of :mod:`qphys.sim.statevector.plan`. For a block of
    one-qubit gates ``M = U_k...U_1`` on one wire the gradient of a parameter of ``U_j`` is
    ``2 Re <λ| ∂M M† |ψ>``, evaluated through a 2x2 reduced overlap before the block is
    un-applied (one read of both states, then one pass each to un-apply). Other gates apply
    ``∂U`` explicitly. The sweep stops at the first step holding a trainable parameter.

    Args:
        circuit: the circuit (parameters may be detached).
        trainable: list of ``(op_index, param_index)``.
        grad_outputs: one cotangent per measurement (all must be ``expval``), shaped like its
            value (``(B,)`` or ``()``), or ``None``.
        final_state: the circuit's final state if the forward pass kept it (saves a re-run).
    """
    n = circuit.num_wires
    for m in circuit.measurements:
        if m.kind != "expval":
            raise DifferentiationError(
                f"adjoint differentiation supports expval measurements only, got {m.kind!r}; "
                "use diff_method='backprop' or 'parameter-shift'"
            )
    if not trainable:
        return []
    ops = circuit.operations
    wanted: dict[int, list[int]] = {}
    for i, j in trainable:
        if get_spec(ops[i].name).matrix_param:
            raise DifferentiationError(
                f"adjoint cannot differentiate the matrix of {ops[i].name!r}; use backprop"
            )
        wanted.setdefault(i, []).append(j)
    steps = make_plan(ops, 0)
    last = min(k for k, st in enumerate(steps) if any(i in wanted for i in st.ops))
    grads: dict[tuple[int, int], torch.Tensor] = {}
    with torch.no_grad():
        psi = run_circuit(circuit, dtype=dtype, device=device) if final_state is None else final_state
        lam = torch.zeros_like(psi)
        for m, g in zip(circuit.measurements, grad_outputs):
            if g is None:
                continue
            g = torch.as_tensor(g, device=device).to(psi.real.dtype)
            o_psi = apply_observable(psi, m.obs, n)
            gb = g.reshape(-1, 1) if g.ndim == 1 else g
            lam = lam + gb * o_psi
        for k in range(len(steps) - 1, last - 1, -1):
            step = steps[k]
            here = [(i, j) for i in step.ops for j in wanted.get(i, ())]
            mats = total = total_dag = None
            if step.kind == "block":
                mats = [op_matrix(ops[i], dtype=dtype, device=device) for i in step.ops]
                total = mats[0]
                for u in mats[1:]:
                    total = u @ total
                total_dag = total.conj().transpose(-1, -2)
            if here and step.kind == "block":
                _block_grads(ops, step, here, mats, total_dag, lam, psi, n, dtype, device, grads)
            fused = total if step.kind == "block" and len(step.ops) > 1 else None
            psi = apply_step(psi, ops, step, n, dtype=dtype, adjoint=True, matrix=fused)
            if here and step.kind != "block":
                for i, j in here:
                    _op_grad(ops[i], i, j, lam, psi, n, dtype, device, grads)
            if k > last:
                lam = apply_step(lam, ops, step, n, dtype=dtype, adjoint=True, matrix=fused)
    return [grads[(i, j)] for i, j in trainable]


def _block_grads(ops, step, here, mats, total_dag, lam, psi, n, dtype, device, grads):
    """Gradients of the parameters in a one-qubit block from one reduced overlap."""
    red = reduced_overlap(lam, psi, step.wire, n)
    for i, j in here:
        pos = step.ops.index(i)
        _, du = _gate_derivative(ops[i], j, dtype, device, dense=True)
        # dM = U_k ... U_{pos+1} dU_pos U_{pos-1} ... U_1
        right = None
        for u in mats[:pos]:
            right = u if right is None else u @ right
        dm = du if right is None else du @ right
        for u in mats[pos + 1:]:
            dm = u @ dm
        a = dm @ total_dag
        g = 2 * (a.reshape(-1, 2, 2) * red).sum((-1, -2)).real
        grads[(i, j)] = g if _batched(ops[i].params[j]) else g.sum()


def _op_grad(op, i, j, lam, psi, n, dtype, device, grads):
    """Gradient of one parameter of a multi-qubit gate: apply ``∂U`` to the un-applied state."""
    kind, d = _gate_derivative(op, j, dtype, device)
    dpsi = apply_diagonal(psi, d, op.wires, n) if kind == "diag" else apply_matrix(psi, d, op.wires, n)
    if _batched(op.params[j]):
        grads[(i, j)] = 2 * (lam.conj() * dpsi).sum(-1).real
    else:
        lam_b = lam.expand_as(dpsi) if lam.shape != dpsi.shape else lam
        dpsi_b = dpsi.expand_as(lam_b) if dpsi.shape != lam_b.shape else dpsi
        grads[(i, j)] = 2 * torch.vdot(lam_b.reshape(-1), dpsi_b.reshape(-1)).real


def _batched(p) -> bool:
    return torch.is_tensor(p) and p.ndim == 1
