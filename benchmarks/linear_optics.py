"""Linear optics: all output probabilities of a photonic layer, batch 64, qphys vs MerLin vs Perceval.

The layer (the same on every side): a trainable rectangular mesh of ``m (m - 1) / 2`` MZIs
(Perceval's ``"mzi phase first"``), a data phase ``PS(x_k)`` on every mode, a second trainable
mesh; ``n`` single photons on modes ``int(i m / n)`` (MerLin's default layout); output: the
probabilities of all ``C(m + n - 1, n)`` photon-number patterns. Configurations: 6 photons in 12
modes (12 376 patterns) and 4 photons in 16 modes (3 876 patterns).

Side by side in one process:

- qphys: ``mesh_unitary`` + ``probabilities`` (:mod:`qphys.sim.linear_optics`, SLOS in torch),
  complex64 and complex128, forward and forward + backward (gradients of the 4 m (m - 1) / 2
  mesh angles);
- MerLin 0.4.2 ``QuantumLayer`` on the same Perceval circuit, ``ComputationSpace.FOCK``, float32
  (its default) and float64, forward and forward + backward;
- Perceval 1.3 ``SLOS`` backend (exqalibur, C++): forward only, one unitary at a time (its
  ``Unitary`` is given qphys's matrix, so building the circuit per sample is not timed).

All three are checked to agree before timing. Then a scaling table: qphys complex64, time and
measured peak memory (resident set size, Linux) against modes and photons, run while the memory
estimate (:func:`qphys.sim.linear_optics.slos_memory`) fits a run budget, then the estimate alone
up to this machine's memory (where a device raises ``ResourceError`` instead of allocating).

Run::

    flock /work/heavy.lock .venv/bin/python benchmarks/linear_optics.py   # writes BENCHMARKS.md
    .venv/bin/python benchmarks/linear_optics.py --quick                 # fewer repeats, no file
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, table, timeit, update_section  # noqa: E402

from qphys.sim import linear_optics as lo  # noqa: E402

BATCH = 64
CONFIGS = [(12, 6), (16, 4)]


def input_state(m: int, n: int) -> tuple[int, ...]:
    s = [0] * m
    for i in range(n):
        s[(i * m) // n] += 1
    return tuple(s)


class QphysLayer:
    """The benchmark layer on qphys: mesh -> data phases -> mesh -> SLOS probabilities."""

    def __init__(self, m, photons, angles, dtype):
        self.photons, self.dtype = photons, dtype
        real = torch.float32 if dtype == torch.complex64 else torch.float64
        self.params = [torch.tensor(a, dtype=real, requires_grad=True) for a in angles]

    def __call__(self, x):
        a1, b1, a2, b2 = self.params
        first = lo.mesh_unitary(a1, b1, dtype=self.dtype)
        second = lo.mesh_unitary(a2, b2, dtype=self.dtype)
        phases = torch.polar(torch.ones_like(x), x).to(self.dtype)  # (B, m)
        U = second @ (phases.unsqueeze(-1) * first)  # (B, m, m)
        return lo.probabilities(U, self.photons)

    def unitaries(self, x):
        with torch.no_grad():
            a1, b1, a2, b2 = (p.double() for p in self.params)
            phases = torch.polar(torch.ones_like(x.double()), x.double())
            return lo.mesh_unitary(a2, b2) @ (phases.unsqueeze(-1) * lo.mesh_unitary(a1, b1))


def merlin_layer(m, photons, dtype):
    """MerLin's QuantumLayer on the same circuit; returns (layer, the qphys angle arrays)."""
    import perceval as pcvl
    from merlin import ComputationSpace, MeasurementStrategy, QuantumLayer

    mzi = pcvl.catalog["mzi phase first"]
    circuit = pcvl.Circuit(m)
    modes = lo.mesh_modes(m)
    for mesh in (1, 2):
        if mesh == 2:
            for k in range(m):
                circuit.add(k, pcvl.PS(pcvl.P(f"px_{k}")))
        for q, k in enumerate(modes):
            block = mzi.build_circuit(phi_a=pcvl.P(f"theta_a{mesh}_{q}"), phi_b=pcvl.P(f"theta_b{mesh}_{q}"))
            circuit.add(k, block, merge=True)
    torch.manual_seed(0)
    layer = QuantumLayer(
        input_size=m, circuit=circuit, input_state=list(photons), trainable_parameters=["theta"],
        input_parameters=["px"], dtype=dtype,
        measurement_strategy=MeasurementStrategy.probs(computation_space=ComputationSpace.FOCK),
    )
    names = layer.computation_process.converter.spec_mappings["theta"]
    values = dict(zip(names, layer.theta.detach().double().numpy()))
    count = lo.num_mzis(m)
    angles = [np.array([values[f"theta_{ab}{mesh}_{q}"] for q in range(count)]) for mesh in (1, 2) for ab in "ab"]
    order = [lo.pattern_index(list(k)) for k in layer.output_keys]
    return layer, [angles[0], angles[1], angles[2], angles[3]], order


def perceval_forward(Us: np.ndarray, photons, backend):
    import perceval as pcvl

    state = pcvl.BasicState(list(photons))
    out = []
    for u in Us:
        backend.set_circuit(pcvl.Unitary(pcvl.Matrix(u)))
        backend.set_input_state(state)
        out.append(backend.all_prob())
    return out


def fwd(fn, x):
    def run():
        with torch.no_grad():
            fn(x)

    return run


def fwd_bwd(fn, x, params):
    def run():
        for p in params:
            p.grad = None
        fn(x).sum().backward()

    return run


def compare(m, n, repeat, rows, notes):
    photons = input_state(m, n)
    x = torch.rand(BATCH, m, generator=torch.Generator().manual_seed(1)) * 2 * math.pi
    size = lo.num_patterns(m, n)
    label = f"{n} photons / {m} modes ({size} patterns)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ml32, angles, order = merlin_layer(m, photons, torch.float32)
            ml64, _, _ = merlin_layer(m, photons, torch.float64)
        with torch.no_grad():  # the same angles everywhere
            ml64.theta.copy_(ml32.theta.double())
    except ImportError as exc:
        ml32 = ml64 = None
        angles = [np.random.default_rng(0).uniform(0, 2 * np.pi, lo.num_mzis(m)) for _ in range(4)]
        notes.append(f"MerLin not installed ({exc}); `make bench` installs it")
    q64 = QphysLayer(m, photons, angles, torch.complex64)
    q128 = QphysLayer(m, photons, angles, torch.complex128)
    ref = q128(x.double()).detach()
    diffs = {"qphys c64": float((q64(x).detach().double() - ref).abs().max())}
    if ml32 is not None:
        with torch.no_grad():
            diffs["MerLin f64"] = float((ml64(x.double())[:, order] - ref).abs().max())
            diffs["MerLin f32"] = float((ml32(x)[:, order].double() - ref).abs().max())
    Us = q128.unitaries(x).numpy()
    try:
        from perceval.backends import BackendFactory

        slos = BackendFactory.get_backend("SLOS")
        pv = np.array(perceval_forward(Us[:4], photons, slos))
        diffs["Perceval SLOS"] = float(np.abs(pv - ref[:4].numpy()).max())
    except ImportError as exc:
        slos = None
        notes.append(f"Perceval not installed ({exc}); install backends/perceval")

    t = {}
    t["q64 f"] = timeit(fwd(q64, x), repeat=repeat)
    t["q64 fb"] = timeit(fwd_bwd(q64, x, q64.params), repeat=repeat)
    t["q128 f"] = timeit(fwd(q128, x.double()), repeat=repeat)
    t["q128 fb"] = timeit(fwd_bwd(q128, x.double(), q128.params), repeat=repeat)
    if ml32 is not None:
        t["m32 f"] = timeit(fwd(ml32, x), repeat=repeat)
        t["m32 fb"] = timeit(fwd_bwd(ml32, x, list(ml32.parameters())), repeat=repeat)
        t["m64 f"] = timeit(fwd(ml64, x.double()), repeat=repeat)
        t["m64 fb"] = timeit(fwd_bwd(ml64, x.double(), list(ml64.parameters())), repeat=repeat)
    if slos is not None:
        t["pv f"] = timeit(lambda: perceval_forward(Us, photons, slos), repeat=max(1, repeat // 2))

    def ms(v):
        return f"{v * 1e3:.1f}"

    rows.append([label, "qphys complex64", ms(t["q64 f"]), ms(t["q64 fb"]), "-", "-", f"{diffs['qphys c64']:.1e}"])
    rows.append([label, "qphys complex128", ms(t["q128 f"]), ms(t["q128 fb"]), "-", "-", "0 (reference)"])
    if ml32 is not None:
        rows.append([label, "MerLin 0.4.2 QuantumLayer float32", ms(t["m32 f"]), ms(t["m32 fb"]),
                     f"{t['m32 f'] / t['q64 f']:.1f}x", f"{t['m32 fb'] / t['q64 fb']:.1f}x (vs c64)",
                     f"{diffs['MerLin f32']:.1e}"])
        rows.append([label, "MerLin 0.4.2 QuantumLayer float64", ms(t["m64 f"]), ms(t["m64 fb"]),
                     f"{t['m64 f'] / t['q128 f']:.1f}x", f"{t['m64 fb'] / t['q128 fb']:.1f}x (vs c128)",
                     f"{diffs['MerLin f64']:.1e}"])
    if slos is not None:
        rows.append([label, f"Perceval 1.3 SLOS, {BATCH} x one unitary ({ms(t['pv f'] / BATCH)} ms each)",
                     ms(t["pv f"]), "no gradients",
                     f"{t['pv f'] / t['q128 f']:.1f}x (c128), {t['pv f'] / t['q64 f']:.1f}x (c64)",
                     f"{t['pv f'] / t['q64 fb']:.1f}x (Perceval fwd / qphys c64 fwd+bwd)",
                     f"{diffs['Perceval SLOS']:.1e}"])
    return t


# ---- scaling -------------------------------------------------------------------------------------
def _status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def measure_peak(fn) -> tuple[float, int | None]:
    """(seconds, peak resident bytes above the start) of one call (Linux; ``None`` elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status("VmRSS:")
    except OSError:
        before = None
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    peak = _status("VmHWM:")
    return dt, (peak - before if before is not None and peak is not None else None)


def _gib(b):
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.1f} MiB"


def scaling(batch, budget, modes_list, max_photons, quick):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows = []
    for m in modes_list:
        for n in range(2, max_photons + 1):
            size = lo.num_patterns(m, n)
            est_f = lo.slos_memory(m, n, batch)
            est_b = lo.slos_memory(m, n, batch, requires_grad=True)
            if est_f > total:
                rows.append([m, n, f"{size:,}", _gib(est_f), "-", "-", _gib(est_b), "-", "-",
                             f"ResourceError: over this machine's {_gib(total)}"])
                break
            if est_f > budget:
                rows.append([m, n, f"{size:,}", _gib(est_f), "-", "-", _gib(est_b), "-", "-",
                             f"not run (over the {_gib(budget)} run budget)"])
                continue
            photons = input_state(m, n)
            U = torch.linalg.qr(torch.randn(batch, m, m, dtype=torch.complex64, generator=torch.Generator().manual_seed(0)))[0]

            def forward(U=U, photons=photons):
                with torch.no_grad():
                    lo.probabilities(U, photons)

            reps = 1 if (quick or est_f > budget / 8) else 3
            lo.clear_caches()
            _, mf = measure_peak(forward)  # memory of a cold call: tables built inside it
            tf = [measure_peak(forward)[0] for _ in range(reps)]  # time of warm calls
            cells = [m, n, f"{size:,}", _gib(est_f), _gib(mf) if mf is not None else "-",
                     f"{statistics.median(tf) * 1e3:.1f}"]
            if est_b <= budget:
                V = U.clone().requires_grad_(True)

                def backward(V=V, photons=photons):
                    V.grad = None
                    lo.probabilities(V, photons).sum().backward()

                lo.clear_caches()
                _, mb = measure_peak(backward)
                tb = [measure_peak(backward)[0] for _ in range(reps)]
                cells += [_gib(est_b), _gib(mb) if mb is not None else "-",
                          f"{statistics.median(tb) * 1e3:.1f}", ""]
                del V
            else:
                cells += [_gib(est_b), "-", "-", "fwd+bwd not run (over the budget)"]
            rows.append(cells)
            del U
            lo.clear_caches()  # the next size builds its own tables; keep the process small
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, small scaling table, no file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1; the machine is shared)")
    parser.add_argument("--budget-gib", type=float, default=4.0, help="largest estimate the scaling table runs")
    parser.add_argument("--no-scaling", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeat = 3 if args.quick else 7
    rows, notes = [], []
    for m, n in CONFIGS:
        compare(m, n, repeat, rows, notes)
    load = os.getloadavg()[0]
    md = [
        "## Linear optics: all output probabilities, batch 64 — `benchmarks/linear_optics.py`",
        "",
        f"Machine: {machine()}; 1-minute load average at the end {load:.1f} on {os.cpu_count()} cores "
        "(shared machine). Median of "
        f"{repeat} runs. Layer: trainable Clements mesh (Perceval's \"mzi phase first\"), data phases on "
        "every mode, trainable mesh; photons on modes int(i m / n); output all Fock-pattern "
        "probabilities. qphys: `qphys.sim.linear_optics` (SLOS in torch); fwd+bwd = gradients of all "
        "mesh angles. Speed-ups are peer time / qphys time at the same precision (MerLin float32 vs "
        "qphys complex64, float64 vs complex128; Perceval computes in complex128); 'max diff' is the "
        "largest probability difference from qphys complex128 (Perceval on the first 4 unitaries).",
        "",
        table(["case", "implementation", "fwd ms", "fwd+bwd ms", "fwd speed-up of qphys", "fwd+bwd speed-up of qphys",
               "max diff"], rows),
    ]
    if notes:
        md += [""] + [f"- {n}" for n in notes]
    if not args.no_scaling:
        budget = int(args.budget_gib * 2**30)
        modes_list = [8, 12] if args.quick else [8, 12, 16, 20, 24]
        srows = scaling(1, budget, modes_list, 6 if args.quick else 16, args.quick)
        md += [
            "",
            f"### Scaling (qphys complex64, one unitary, {args.threads} thread(s))",
            "",
            "Estimate = `slos_memory` (what a device checks before allocating, index and pattern tables "
            "included: at batch 1 they dominate); measured = peak resident memory above the start of a "
            "cold call that builds the tables (Linux VmHWM); ms = median of warm calls (tables cached). "
            "Rows run while the estimate fits a "
            f"{args.budget_gib:g} GiB run budget on this shared machine; beyond it the estimate alone, "
            "up to the first size over the machine's memory.",
            "",
            table(["modes", "photons", "patterns", "fwd estimate", "fwd measured", "fwd ms",
                   "fwd+bwd estimate", "fwd+bwd measured", "fwd+bwd ms", "note"], srows),
        ]
    md += ["", "Reproduce: `flock /work/heavy.lock .venv/bin/python benchmarks/linear_optics.py` (after `make bench`)"]
    text = "\n".join(md)
    print(text)
    if not args.quick:
        update_section("linear_optics", text)


if __name__ == "__main__":
    main()
