"""qphys and PennyLane, both ways.

1. A PennyLane QNode on the ``qphys.torch`` device, trained with a torch optimizer
   (backprop through qphys' torch simulator): a small VQE for the transverse-field Ising chain.
2. A qphys circuit on ``pennylane.lightning.qubit``: values and adjoint gradients from
   lightning, compared with ``torch.qubit`` (complex128).
3. Conversion: a PennyLane template tape -> ``from_pennylane`` -> ``torch.qubit``, and a qphys
   circuit -> ``to_pennylane`` -> ``qml.drawer``.

Run: ``python examples/pennylane_interop.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pennylane as qml
import torch
from qphys_pennylane import from_pennylane, to_pennylane

import qphys


def vqe_on_qphys_torch(n: int, steps: int, seed: int) -> dict:
    """Transverse-field Ising ground state (h=1) with a QNode on qml.device('qphys.torch')."""
    coeffs = [-1.0] * (n - 1) + [-1.0] * n
    ops = [qml.Z(i) @ qml.Z(i + 1) for i in range(n - 1)] + [qml.X(i) for i in range(n)]
    H = qml.Hamiltonian(coeffs, ops)
    exact = float(np.linalg.eigvalsh(qml.matrix(H, wire_order=range(n))).min())
    dev = qml.device("qphys.torch", wires=n)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def energy(w):
        qml.StronglyEntanglingLayers(w, wires=range(n))
        return qml.expval(H)

    torch.manual_seed(seed)
    w = (0.1 * torch.randn(2, n, 3, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.1)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        e = energy(w)
        e.backward()
        opt.step()
    with torch.no_grad():
        final = float(energy(w))
    return {"qubits": n, "steps": steps, "energy": final, "exact": exact, "seconds": time.perf_counter() - t0}


def lightning_gradients(n: int, seed: int) -> dict:
    """Adjoint gradients through pennylane.lightning.qubit vs backprop on torch.qubit."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-math.pi, math.pi, (3, n))

    def circuit(x):
        c = qphys.Circuit(wires=n)
        for layer in range(3):
            for w in range(n):
                c.ry(x[layer, w], w)
            for w in range(n - 1):
                c.cx(w, w + 1)
        return c.expval(sum((qphys.Z(i) @ qphys.Z(i + 1) for i in range(n - 1)), qphys.X(0)))

    out = {}
    for label, dev, method in (
        ("lightning", qphys.device("pennylane.lightning.qubit"), "adjoint"),
        ("torch", qphys.device("torch.qubit", dtype="complex128"), "backprop"),
    ):
        x = torch.tensor(x0, requires_grad=True)
        t0 = time.perf_counter()
        r = qphys.execute(circuit(x), dev, diff_method=method)
        r.expvals.sum().backward()
        out[label] = (float(r.expvals[0].detach()), x.grad.numpy().copy(), time.perf_counter() - t0)
    return {
        "value": out["lightning"][0],
        "value_diff": abs(out["lightning"][0] - out["torch"][0]),
        "grad_max_diff": float(np.abs(out["lightning"][1] - out["torch"][1]).max()),
        "seconds_lightning": out["lightning"][2],
        "seconds_torch": out["torch"][2],
    }


def conversion_demo() -> dict:
    tape = qml.tape.QuantumScript(
        [qml.QFT(wires=[0, 1, 2]), qml.Rot(0.1, 0.2, 0.3, wires=1)], [qml.probs(wires=[0, 1, 2])]
    )
    c = from_pennylane(tape)
    ours = qphys.execute(c, qphys.device("torch.qubit", dtype="complex128")).probs.numpy()
    theirs = qml.execute([tape], qml.device("default.qubit"))[0]
    bell = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1))
    drawing = qml.drawer.tape_text(to_pennylane(bell))
    return {"ops": len(c.operations), "max_prob_diff": float(np.abs(ours - theirs).max()), "drawing": drawing}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n, steps, ng = (3, 20, 6) if args.quick else (4, 120, 12)

    vqe = vqe_on_qphys_torch(n, steps, args.seed)
    print(f"[1] VQE on qml.device('qphys.torch'), {vqe['qubits']} qubits, {vqe['steps']} Adam steps: "
          f"E = {vqe['energy']:.5f} (exact {vqe['exact']:.5f}) in {vqe['seconds']:.1f} s")
    grads = lightning_gradients(ng, args.seed)
    print(f"[2] pennylane.lightning.qubit, {ng} qubits: |value - torch.qubit| = {grads['value_diff']:.1e}, "
          f"max |grad - torch.qubit| = {grads['grad_max_diff']:.1e} "
          f"(lightning adjoint {grads['seconds_lightning']:.3f} s, torch backprop {grads['seconds_torch']:.3f} s)")
    conv = conversion_demo()
    print(f"[3] QFT+Rot tape -> qphys ({conv['ops']} gates): max |probs - default.qubit| = {conv['max_prob_diff']:.1e}")
    print(conv["drawing"])
    return {"vqe": vqe, "gradients": grads, "conversion": conv}


if __name__ == "__main__":
    main()
