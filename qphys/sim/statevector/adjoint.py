"""Adjoint differentiation: one forward pass, then un-apply gates one by one.

Memory is two state vectors (the forward state and the back-propagated cotangent state),
independent of circuit depth. Derivatives of gate matrices come from ``torch.func.jvp`` on the
op's own matrix function, so every parametrized gate is covered without hand-written rules.
"""

from __future__ import annotations

import torch

from qphys.errors import DifferentiationError
from qphys.ops import get_spec
from qphys.sim.statevector.apply import (
    apply_diagonal,
    apply_matrix,
    apply_operation,
    as_param,
    run_circuit,
)
from qphys.sim.statevector.measure import apply_observable


def _gate_derivative(op, j, dtype, device, dense=False):
    """``dU/dθ_j`` as ``("diag", d)`` or ``("dense", m)`` (batched like the parameter)."""
    spec = get_spec(op.name)
    params = [as_param(p, dtype, device) for p in op.params]
    use_diag = spec.structure == "diagonal" and not dense
    fn = spec.diagonal if use_diag else spec.matrix

    def f(x):
        ps = list(params)
        ps[j] = x
        return fn(*ps, dtype=dtype, device=device)

    _, tangent = torch.func.jvp(f, (params[j],), (torch.ones_like(params[j]),))
    # forward-mode AD can promote the tangent (complex64 -> complex128); dense kernels need one dtype
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


def adjoint_vjp(circuit, trainable, grad_outputs, *, dtype, device):
    """Gradients of ``Σ_o g_o <O_o>`` w.r.t. the ``trainable`` ``(op, param)`` positions.

    For one-qubit gates the gradient is ``2 Re <λ| ∂U U† |ψ_k>``, evaluated through a 2x2
    reduced overlap before un-applying the gate; other gates apply ``∂U`` explicitly. The sweep
    stops at the first trainable gate.

    Args:
        circuit: the circuit (parameters may be detached).
        trainable: list of ``(op_index, param_index)``.
        grad_outputs: one cotangent per measurement (all must be ``expval``), shaped like its
            value (``(B,)`` or ``()``), or ``None``.
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
    with torch.no_grad():
        psi = run_circuit(circuit, dtype=dtype, device=device)
        lam = torch.zeros_like(psi)
        for m, g in zip(circuit.measurements, grad_outputs):
            if g is None:
                continue
            g = torch.as_tensor(g, device=device).to(psi.real.dtype)
            o_psi = apply_observable(psi, m.obs, n)
            gb = g.reshape(-1, 1) if g.ndim == 1 else g
            lam = lam + gb * o_psi
        wanted: dict[int, list[int]] = {}
        for i, j in trainable:
            wanted.setdefault(i, []).append(j)
        first = min(wanted)
        grads: dict[tuple[int, int], torch.Tensor] = {}
        for i in range(len(circuit.operations) - 1, first - 1, -1):
            op = circuit.operations[i]
            spec = get_spec(op.name)
            js = wanted.get(i, ())
            if js and spec.matrix_param:
                raise DifferentiationError(
                    f"adjoint cannot differentiate the matrix of {op.name!r}; use backprop"
                )
            if js and len(op.wires) == 1:
                red = reduced_overlap(lam, psi, op.wires[0], n)
                params = [as_param(p, dtype, device) for p in op.params]
                u = spec.matrix(*params, dtype=dtype, device=device)
                for j in js:
                    _, du = _gate_derivative(op, j, dtype, device, dense=True)
                    a = du @ u.conj().transpose(-1, -2)
                    g = 2 * (a.reshape(-1, 2, 2) * red).sum((-1, -2)).real
                    grads[(i, j)] = g if _batched(op.params[j]) else g.sum()
            psi = apply_operation(psi, op, n, dtype=dtype, adjoint=True)
            if js and len(op.wires) > 1:
                for j in js:
                    kind, d = _gate_derivative(op, j, dtype, device)
                    dpsi = apply_diagonal(psi, d, op.wires, n) if kind == "diag" else apply_matrix(psi, d, op.wires, n)
                    if _batched(op.params[j]):
                        grads[(i, j)] = 2 * (lam.conj() * dpsi).sum(-1).real
                    else:
                        lam_b = lam.expand_as(dpsi) if lam.shape != dpsi.shape else lam
                        dpsi_b = dpsi.expand_as(lam_b) if dpsi.shape != lam_b.shape else dpsi
                        grads[(i, j)] = 2 * torch.vdot(lam_b.reshape(-1), dpsi_b.reshape(-1)).real
            if i > first:
                lam = apply_operation(lam, op, n, dtype=dtype, adjoint=True)
    return [grads[(i, j)] for i, j in trainable]


def _batched(p) -> bool:
    return torch.is_tensor(p) and p.ndim == 1
