"""Train a small QuantumLayer classifier on a Qiskit device: same code, device name as a flag.

Every training step costs exactly two jobs — one for the forward pass of the whole batch and
one for ALL parameter-shifted circuits of the backward pass — whatever the batch size.

    .venv/bin/python examples/hardware_training.py --device aer.statevector
    .venv/bin/python examples/hardware_training.py --device ibm.fake_brisbane --shots 1024
    .venv/bin/python examples/hardware_training.py --quick

On ``ibm.fake_<name>`` the circuits are transpiled to that (noisy, 100+-qubit) device at Qiskit's
default optimization level (noise-aware layout) and run locally with the primitives of
qiskit-ibm-runtime's local testing mode; ``--seed`` (default 0) makes the run reproducible. The job
ledger (``$QPHYS_HOME``) lets an interrupted run be re-run without paying for finished or already
accepted jobs again; ``--job-timeout`` bounds the wait for each step's jobs.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import qphys
from qphys.nn import QuantumLayer
from qphys.templates import angle_embedding, hardware_efficient


def make_data(n: int, seed: int):
    """Two noisy half-moons-like classes in [0, pi]^2: label 1 when x0 + x1 > pi."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g) * math.pi
    y = (x.sum(1) > math.pi).to(torch.get_default_dtype()) * 2 - 1
    return x, y


def circuit(x, w):
    c = angle_embedding(qphys.Circuit(wires=2), x)
    return hardware_efficient(c, w).expval(qphys.Z(0))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="aer.statevector", help="aer.statevector, ibm.fake_brisbane, ...")
    p.add_argument("--shots", type=int, default=None, help="shots (default: exact on Aer, 1024 on ibm.*)")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ledger", action="store_true", help="do not record jobs in the ledger")
    p.add_argument("--job-timeout", type=float, default=None,
                   help="seconds to wait for one step's jobs (remote devices; default: no limit)")
    p.add_argument("--quick", action="store_true", help="few steps and a small batch")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch = 6, 16
    shots = args.shots if args.shots is not None else (1024 if args.device.startswith("ibm.") else None)
    options = {"seed": args.seed}
    if shots is not None:
        options["shots"] = shots
    if args.device.startswith("ibm."):
        options["ledger"] = not args.no_ledger
    if args.job_timeout is not None:
        options["job_timeout"] = args.job_timeout
    dev = qphys.device(args.device, **options)

    torch.manual_seed(args.seed)
    layer = QuantumLayer(circuit, {"w": (2, 2, 2)}, device=dev, diff_method="parameter-shift")
    opt = torch.optim.Adam(layer.parameters(), lr=0.15)
    x_train, y_train = make_data(args.batch, args.seed)
    x_test, y_test = make_data(64, args.seed + 1)
    t0 = time.perf_counter()
    for step in range(args.steps):
        opt.zero_grad()
        loss = (layer(x_train)[:, 0] - y_train).pow(2).mean()
        loss.backward()
        opt.step()
        print(f"step {step + 1:3d}  loss {loss.item():.4f}  jobs so far {dev.jobs_submitted}", flush=True)
    with torch.no_grad():
        acc_train = (torch.sign(layer(x_train)[:, 0]) == y_train).float().mean().item()
        acc_test = (torch.sign(layer(x_test)[:, 0]) == y_test).float().mean().item()
    stats = dev.job_stats()
    out = {
        "device": args.device,
        "shots": shots,
        "steps": args.steps,
        "batch": args.batch,
        "train_accuracy": acc_train,
        "test_accuracy": acc_test,
        "jobs_submitted": stats.get("submitted", 0),
        "jobs_reused_from_ledger": stats.get("reused", 0),
        "bound_circuits": stats["circuits"],
        "transpilations": stats["transpilations"],
        "seconds": time.perf_counter() - t0,
    }
    print(
        f"\n{args.device}: train accuracy {acc_train:.3f}, test accuracy {acc_test:.3f}; "
        f"{out['jobs_submitted']} jobs submitted ({out['jobs_reused_from_ledger']} reused from the ledger) "
        f"for {args.steps} steps = {out['bound_circuits']} bound circuits, "
        f"{out['transpilations']} transpilation(s), {out['seconds']:.1f} s"
    )
    return out


if __name__ == "__main__":
    main()
