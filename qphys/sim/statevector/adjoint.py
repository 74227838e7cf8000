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


def _gate_derivative(op, j, dtype, device):
    """``dU/dθ_j`` as ``("diag", d)`` or ``("dense", m)`` (batched like the parameter)."""
    spec = get_spec(op.name)
    params = [as_param(p, dtype, device) for p in op.params]
    fn = spec.diagonal if spec.structure == "diagonal" else spec.matrix

    def f(x):
        ps = list(params)
        ps[j] = x
        return fn(*ps, dtype=dtype, device=device)

    _, tangent = torch.func.jvp(f, (params[j],), (torch.ones_like(params[j]),))
    # forward-mode AD can promote the tangent (complex64 -> complex128); dense kernels need one dtype
    return ("diag" if spec.structure == "diagonal" else "dense"), tangent.to(dtype)


def adjoint_vjp(circuit, trainable, grad_outputs, *, dtype, device):
    """Gradients of ``Σ_o g_o <O_o>`` w.r.t. the ``trainable`` ``(op, param)`` positions.

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
        if lam.shape[0] != psi.shape[0]:
            psi = psi.expand_as(lam)
        wanted: dict[int, list[int]] = {}
        for i, j in trainable:
            wanted.setdefault(i, []).append(j)
        grads: dict[tuple[int, int], torch.Tensor] = {}
        for i in range(len(circuit.operations) - 1, -1, -1):
            op = circuit.operations[i]
            if i in wanted and get_spec(op.name).matrix_param:
                raise DifferentiationError(
                    f"adjoint cannot differentiate the matrix of {op.name!r}; use backprop"
                )
            if op.name == "state_prep":
                break
            psi = apply_operation(psi, op, n, dtype=dtype, adjoint=True)
            for j in wanted.get(i, ()):
                kind, d = _gate_derivative(op, j, dtype, device)
                dpsi = apply_diagonal(psi, d, op.wires, n) if kind == "diag" else apply_matrix(psi, d, op.wires, n)
                g = 2 * (lam.conj() * dpsi).sum(-1).real
                p = op.params[j]
                if not (torch.is_tensor(p) and p.ndim == 1):
                    g = g.sum()
                grads[(i, j)] = g
            lam = apply_operation(lam, op, n, dtype=dtype, adjoint=True)
    return [grads[(i, j)] for i, j in trainable]
