"""Photonic benchmark: one CV QNN layer on 2 modes, Fock cutoff 10, batch 32, forward + backward.

Side by side in one process:

- qphys ``torch.fock`` (``qphys.nn.PhotonicLayer``): the batch is one batched circuit,
  forward + backward by autograd;
- Strawberry Fields 0.23 ``fock`` backend: forward only (its numpy backends have no gradients
  and no batch axis), a Python loop over the 32 inputs;
- DeepQuantum ``QumodeCircuit`` (fock backend, batched, differentiable): forward + backward.

The layer: displacement encoding ``D(x_i, 0)`` on each mode, then beamsplitter, rotations,
squeezers, beamsplitter, rotations, displacements, Kerr gates; outputs the mean photon numbers.
All three are checked to agree on the outputs before timing.

Run::

    .venv/bin/python benchmarks/photonic.py          # writes the `photonic` block of BENCHMARKS.md
    .venv/bin/python benchmarks/photonic.py --quick  # fewer repeats, no file written
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, timeit, update_section  # noqa: E402

from qphys.nn import PhotonicLayer  # noqa: E402

CUTOFF, BATCH, MODES = 10, 32, 2


def make_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "theta1": [rng.uniform(0, np.pi)], "phi1": [rng.uniform(0, np.pi)], "varphi1": rng.uniform(0, np.pi, 2),
        "r": rng.normal(0, 0.1, 2), "phi_r": rng.uniform(0, np.pi, 2),
        "theta2": [rng.uniform(0, np.pi)], "phi2": [rng.uniform(0, np.pi)], "varphi2": rng.uniform(0, np.pi, 2),
        "a": rng.normal(0, 0.1, 2), "phi_a": rng.uniform(0, np.pi, 2), "k": rng.normal(0, 0.1, 2),
    }


def qphys_layer(w):
    layer = PhotonicLayer(MODES, 1, cutoff=CUTOFF, encoding="displacement", output="n")
    with torch.no_grad():
        for name, value in w.items():
            layer.weights[name].copy_(torch.as_tensor(np.asarray(value, dtype=float))[None])
    return layer


def sf_forward(w, x):
    from qphys_strawberryfields import import_strawberryfields

    sf = import_strawberryfields()
    ops = sf.ops
    eng = sf.Engine("fock", backend_options={"cutoff_dim": CUTOFF})
    out = np.empty((len(x), MODES))
    for b, xb in enumerate(x):
        prog = sf.Program(MODES)
        with prog.context as q:
            for i in range(MODES):
                ops.Dgate(float(xb[i]), 0.0) | q[i]
            ops.BSgate(w["theta1"][0], w["phi1"][0]) | (q[0], q[1])
            for i in range(MODES):
                ops.Rgate(w["varphi1"][i]) | q[i]
            for i in range(MODES):
                ops.Sgate(w["r"][i], w["phi_r"][i]) | q[i]
            ops.BSgate(w["theta2"][0], w["phi2"][0]) | (q[0], q[1])
            for i in range(MODES):
                ops.Rgate(w["varphi2"][i]) | q[i]
            for i in range(MODES):
                ops.Dgate(w["a"][i], w["phi_a"][i]) | q[i]
            for i in range(MODES):
                ops.Kgate(w["k"][i]) | q[i]
        if eng.run_progs:
            eng.reset()
        state = eng.run(prog).state
        out[b] = [state.mean_photon(i)[0] for i in range(MODES)]
    return out


def dq_circuit(w=None):
    import deepquantum as dq

    cir = dq.QumodeCircuit(MODES, "vac", cutoff=CUTOFF, backend="fock", basis=False)
    g = (lambda *k: [float(w[n][i]) for n, i in k]) if w is not None else (lambda *k: None)
    for i in range(MODES):
        cir.d(i, encode=True)
    cir.bs([0, 1], g(("theta1", 0), ("phi1", 0)))
    for i in range(MODES):
        cir.r(i, g(("varphi1", i)))
    for i in range(MODES):
        args = g(("r", i), ("phi_r", i))
        cir.s(i, *(args or (None, None)))
    cir.bs([0, 1], g(("theta2", 0), ("phi2", 0)))
    for i in range(MODES):
        cir.r(i, g(("varphi2", i)))
    for i in range(MODES):
        args = g(("a", i), ("phi_a", i))
        cir.d(i, *(args or (None, None)))
    for i in range(MODES):
        cir.k(i, g(("k", i)))
    return cir


def dq_photon_numbers(cir, x):
    data = torch.stack([x[:, 0], torch.zeros_like(x[:, 0]), x[:, 1], torch.zeros_like(x[:, 1])], -1)
    cir(data=data)
    mean, _ = cir.photon_number_mean_var()
    return mean.T  # (B, modes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 7
    torch.manual_seed(0)
    w = make_weights()
    x = torch.rand(BATCH, MODES, dtype=torch.float64) * 0.6

    layer = qphys_layer(w)
    ours = layer(x).detach().numpy()

    def qphys_fwd_bwd():
        layer.zero_grad()
        layer(x).sum().backward()

    def qphys_fwd():
        with torch.no_grad():
            layer(x)

    rows, notes = [], []
    t_q = timeit(qphys_fwd_bwd, repeat=repeat)
    t_qf = timeit(qphys_fwd, repeat=repeat)
    rows.append(["qphys torch.fock (batched)", "fwd+bwd", f"{t_q * 1e3:.1f}", "1.0x", "-"])
    rows.append(["qphys torch.fock (batched)", "fwd", f"{t_qf * 1e3:.1f}", "-", "-"])
    xs = x.numpy()
    try:
        sf_out = sf_forward(w, xs)
        t_sf = timeit(lambda: sf_forward(w, xs), repeat=max(2, repeat // 2))
        rows.append(["Strawberry Fields 0.23 fock (loop)", "fwd only", f"{t_sf * 1e3:.1f}",
                     f"{t_sf / t_q:.1f}x (vs qphys fwd+bwd)", f"{np.abs(sf_out - ours).max():.1e}"])
    except ImportError as exc:
        notes.append(f"Strawberry Fields not installed ({exc}); install backends/strawberryfields")
    try:
        import deepquantum as dq

        dq_out = dq_photon_numbers(dq_circuit(w), x.float()).detach().double().numpy()
        cir = dq_circuit()

        def dq_fwd_bwd():
            cir.zero_grad()
            dq_photon_numbers(cir, x.float()).sum().backward()

        t_dq = timeit(dq_fwd_bwd, repeat=repeat)
        rows.append([f"DeepQuantum {dq.__version__} QumodeCircuit", "fwd+bwd", f"{t_dq * 1e3:.1f}",
                     f"{t_dq / t_q:.1f}x", f"{np.abs(dq_out - ours).max():.1e}"])
    except ImportError as exc:
        notes.append(f"DeepQuantum not installed ({exc}); `pip install -c constraints.txt deepquantum`")
    md = [
        "## Photonic: one CV QNN layer (2 modes, cutoff 10, batch 32)",
        "",
        f"Machine: {machine()}. Median of {repeat} runs. Output: mean photon number per mode; "
        "'max diff' compares each peer's outputs with qphys (DeepQuantum runs in float32/complex64).",
        "",
        table(["implementation", "work", "ms", "speed-up of qphys", "max diff vs qphys"], rows),
    ]
    if notes:
        md += [""] + [f"- {n}" for n in notes]
    text = "\n".join(md)
    print(text)
    if not args.quick:
        update_section("photonic", text)


if __name__ == "__main__":
    main()
