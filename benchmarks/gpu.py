"""GPU benchmarks (issue 16): qphys on CUDA, side by side with TensorCircuit-NG (JAX) in one process.

Parts (``--parts``, default all; ``scripts/gpu_check.sh`` runs them in groups, each with its own timeout):

- ``bandwidth``: device-to-device copy, bytes read + written per second (the memory bound below).
- ``variational``: the circuit of ``benchmarks/variational.py`` (RY embedding, 4 layers of RY+RZ on every
  qubit and a CNOT ring, <Z0>) in complex64 at 20, 24, 26, 28 qubits, batch 1 (every size first) then 64:
  ``torch.qubit`` forward (no gradient) against the memory bound per gate and per fused pass, forward +
  backward by adjoint and by backprop (each only where the device's memory estimate fits).
- ``tensorcircuit``: TensorCircuit-NG (JAX backend, jit, ``value_and_grad``) on the same circuit and sizes,
  its values and gradients checked against ``torch.qubit`` at the smallest size. Run in the same process
  after ``variational`` (torch's cached memory is released first).
- ``gram``: ``QuantumKernel`` Gram matrix, ZZ feature map (2 reps, linear), 20 qubits, N = 10^4.
- ``born``: one exact KL gradient step of a 16-qubit Born machine (Chow-Liu ansatz, 4x4 bars and stripes).
- ``fock``: ``PhotonicLayer`` on ``torch.fock`` (cutoff 10), batch 1024, forward + backward.
- ``decoder``: ``NeuralDecoder`` d = 9 (depolarizing, default network) inference on 10^6 syndromes.
- ``linear_optics``: SLOS probabilities of ``benchmarks/linear_optics.py``'s layer, batch 64 and 1024.
- ``nqs``: VMC iterations (SR) with thousands of Metropolis chains.
- ``flows``: φ⁴ L = 16 normalizing-flow training step and sampling.

Where cheap, the same code also runs on the CPU in the same process, as a reference. Timing: CUDA events
around each call after a timed warm-up (``time.perf_counter`` on the CPU and for JAX, after
``block_until_ready``); medians of up to 5 calls, fewer where they would pass ``CASE_SECONDS``. On the GPU
each part has a budget (``PART_SECONDS``) after which its remaining cases are recorded as skipped; every
finished case is written at once to the JSON file, so a part killed by its hard timeout keeps what it
measured.

    python benchmarks/gpu.py --out OUT/gpu_bench.json             # on the GPU machine (gpu_check.sh)
    python benchmarks/gpu.py --cpu --tiny --out /tmp/b.json      # the dry run: same code, CPU, tiny sizes
    python benchmarks/gpu.py --report OUT/gpu_bench.json [--write]   # Markdown (and the BENCHMARKS.md block)
"""

from __future__ import annotations

import os

# JAX must not take 75% of the GPU when it starts (its default): torch runs in the same process
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _report import table, update_section  # noqa: E402

import qphys  # noqa: E402
from qphys import Z  # noqa: E402
from qphys.devices.options import available_memory  # noqa: E402
from qphys.sim.statevector import plan as sv_plan  # noqa: E402
from qphys.sim.statevector.apply import product_prefix  # noqa: E402
from qphys.templates import angle_embedding, hardware_efficient  # noqa: E402

PARTS = ("bandwidth", "variational", "tensorcircuit", "gram", "born", "fock", "decoder", "linear_optics", "nqs", "flows")
LAYERS = 4  # benchmarks/variational.py's circuit
#: fraction of the available memory a case may plan to use
MEMORY_MARGIN = 0.85
#: timed calls of one case stop once they would take longer than this (a slow case is timed fewer times)
CASE_SECONDS = 15.0
#: seconds each part may take on the GPU before its remaining cases are skipped (``--deadline`` caps the
#: whole run); ``scripts/gpu_check.sh`` gives each group of parts a hard timeout a little above these
PART_SECONDS = {"bandwidth": 10, "variational": 90, "tensorcircuit": 80, "gram": 30, "born": 10, "fock": 15,
                "decoder": 25, "linear_optics": 25, "nqs": 25, "flows": 15}


class Bench:
    """Where and how big: the torch device, tiny sizes, a deadline, and the JSON file results go to."""

    def __init__(self, device: str, tiny: bool, deadline: float | None, out: Path):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.tiny = tiny
        self.deadline = deadline
        self.out = out
        self.data = json.loads(out.read_text()) if out.exists() else {"env": {}, "rows": [], "parts": {}}
        self.data.setdefault("env", {}).update(environment(self.device))
        self._bandwidth = None

    # ---- time -----------------------------------------------------------------------------------------
    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def _repeats(self, seconds: float, repeat: int) -> int:
        """As many of ``repeat`` timed calls as fit in ``CASE_SECONDS`` and before the deadline (at least 1)."""
        budget = min(CASE_SECONDS, max(self.left() - 5, 0))
        if self.tiny:
            repeat = min(repeat, 2)
        return max(1, min(repeat, int(budget / max(seconds, 1e-9))))

    def time(self, fn, *, repeat: int = 5, warmup: int = 1) -> float:
        """Median seconds of ``fn()``: CUDA events on the GPU, ``perf_counter`` on the CPU.

        The warm-up calls are timed too: a slow case gets fewer timed calls (``_repeats``).
        """
        t0 = time.perf_counter()
        for _ in range(warmup):
            fn()
        self.sync()
        first = (time.perf_counter() - t0) / max(warmup, 1)
        times = []
        for _ in range(self._repeats(first, repeat)):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def wall_time(self, fn, *, repeat: int = 5) -> float:
        """Median wall seconds of ``fn()`` (which waits for its own results, e.g. JAX's ``block_until_ready``)."""
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        times = []
        for _ in range(self._repeats(first, repeat)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def free_memory(self) -> int:
        if self.cuda:
            torch.cuda.empty_cache()
        return available_memory(self.device)

    def bandwidth(self) -> float:
        """Bytes per second of a device-to-device copy (read + write), measured once."""
        if self._bandwidth is None:
            n = (16 << 20) if self.tiny else (4 << 30)
            src = torch.empty(n, dtype=torch.uint8, device=self.device).random_(0, 255)
            dst = torch.empty_like(src)
            t = self.time(lambda: dst.copy_(src), repeat=10, warmup=3)
            self._bandwidth = 2 * n / t
            del src, dst
            self.record("bandwidth", case="device-to-device copy", bytes=2 * n, ms=1e3 * t,
                        tb_per_s=self._bandwidth / 1e12)
        return self._bandwidth

    # ---- results ----------------------------------------------------------------------------------------
    def record(self, part: str, **row) -> dict:
        row = {"part": part, "device": str(self.device), **row}
        self.data["rows"].append(row)
        self.save()
        print(json.dumps(row, default=str), flush=True)
        return row

    def part_status(self, part: str, **status) -> None:
        self.data["parts"][part] = status
        self.save()

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        tmp.replace(self.out)

    def guard(self, part: str, case: dict, fn) -> dict | None:
        """Run one case; past the part's deadline, out of memory or out of qphys resources it becomes a
        skipped row, not a crash."""
        if self.left() < 3:
            self.record(part, **case, skipped="deadline")
            return None
        try:
            return fn()
        except (torch.cuda.OutOfMemoryError, qphys.errors.ResourceError, MemoryError) as exc:
            self.record(part, **case, skipped=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        finally:
            if self.cuda:
                torch.cuda.empty_cache()
        return None


def environment(device: torch.device) -> dict:
    """Versions and the GPU, for the report's header."""
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    if device.type == "cuda":
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
            env["nvidia_smi"] = out
        except (OSError, subprocess.SubprocessError) as exc:
            env["nvidia_smi"] = f"unavailable: {exc}"
    return env


# ================================================================================ variational circuit
def variational_circuit(x: torch.Tensor, w: torch.Tensor) -> qphys.Circuit:
    """``benchmarks/variational.py``'s circuit: RY(x) embedding, LAYERS x (RY, RZ on every wire, CNOT ring)."""
    n = w.shape[1]
    return hardware_efficient(angle_embedding(qphys.Circuit(wires=n), x), w).expval(Z(0))


def gate_counts(n: int) -> tuple[int, int]:
    """(gates, fused passes over the state) of the forward pass of the variational circuit."""
    x, w = torch.zeros(n), torch.zeros(LAYERS, n, 2)
    c = variational_circuit(x, w)
    _, start = product_prefix(c, dtype=torch.complex64, device="meta")  # counts only: no 2^n state built
    # + 1 pass that builds the product state of the folded prefix, + 1 that reads it for <Z0>
    return len(c.operations), len(sv_plan.make_plan(c.operations, start)) + 2


def variational_inputs(n: int, batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (``(n,)`` for batch 1, else ``(batch, n)``) and weights, float32, seeded."""
    g = torch.Generator().manual_seed(1000 + n)
    x = torch.rand((n,) if batch == 1 else (batch, n), generator=g) * math.pi
    w = torch.rand(LAYERS, n, 2, generator=g) * 2 * math.pi
    return x.to(device), w.to(device)


def _sizes(b: Bench) -> tuple[list[int], list[int]]:
    return ([6, 8], [1, 4]) if b.tiny else ([20, 24, 26, 28], [1, 64])


def _over_memory(need: int, avail: int) -> str | None:
    if need > MEMORY_MARGIN * avail:
        return f"memory estimate {need / 2**30:.1f} GiB > {MEMORY_MARGIN:.0%} of {avail / 2**30:.1f} GiB available"
    return None


def part_variational(b: Bench) -> None:
    """``torch.qubit`` forward, adjoint and backprop; batch 1 at every size first (the acceptance figures)."""
    sizes, batches = _sizes(b)
    bw = b.bandwidth()
    dev = qphys.device("torch.qubit", torch_device=b.device)
    for batch in batches:
        for n in sizes:
            gates, passes = gate_counts(n)
            x, w = variational_inputs(n, batch, b.device)
            state_bytes = batch * 2**n * 8
            probe = variational_circuit(x, w)
            base = {"n": n, "batch": batch, "gates": gates, "passes": passes}
            skip = _over_memory(dev.memory_estimate(probe), b.free_memory())
            if skip:
                b.record("variational", impl="qphys torch.qubit", mode="all", **base, skipped=skip)
                continue
            if b.left() < 10:
                b.record("variational", impl="qphys torch.qubit", mode="all", **base, skipped="deadline")
                continue

            def forward(x=x, w=w):
                with torch.no_grad():
                    return qphys.execute(variational_circuit(x, w), dev).expvals

            def fwd_row(base=base, state_bytes=state_bytes, gates=gates, passes=passes, forward=forward):
                t = b.time(forward)
                bound_gate = 2 * state_bytes / bw  # one read and one write of the state
                return b.record("variational", impl="qphys torch.qubit", mode="forward", **base, ms=1e3 * t,
                                us_per_gate=1e6 * t / gates, bound_us_per_gate=1e6 * bound_gate,
                                fraction_of_bound_per_gate=bound_gate * gates / t,
                                fraction_of_bound_per_pass=bound_gate * passes / t)

            row = b.guard("variational", {"impl": "qphys torch.qubit", "mode": "forward", **base}, fwd_row)
            t_forward = row["ms"] / 1e3 if row else math.inf
            for method in ("adjoint", "backprop"):
                case = {"impl": "qphys torch.qubit", "mode": f"forward+backward ({method})", **base}
                skip = _over_memory(dev.memory_estimate(probe, backprop=method == "backprop"), b.free_memory())
                if skip:
                    b.record("variational", **case, skipped=skip)
                    continue
                # a forward + backward costs about 3-4 forwards: skip what cannot run twice before the deadline
                if b.left() < 8 * t_forward + 5:
                    b.record("variational", **case, skipped=f"deadline (forward took {t_forward:.2g} s)")
                    continue
                wg = w.clone().requires_grad_(True)

                def step(x=x, wg=wg, method=method):
                    out = qphys.execute(variational_circuit(x, wg), dev, diff_method=method).expvals
                    (g,) = torch.autograd.grad(out.sum(), wg)
                    return out.detach(), g

                def bwd_row(step=step, case=case, gates=gates):
                    t = b.time(step)
                    return b.record("variational", **case, ms=1e3 * t, us_per_gate=1e6 * t / gates)

                b.guard("variational", case, bwd_row)
            del x, w, probe
            sv_plan.composed_index.cache_clear()
            if b.cuda:
                torch.cuda.empty_cache()


def qphys_reference(b: Bench, n: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Values and weight gradients of Σ_batch <Z0> by ``torch.qubit`` adjoint, for checking the peer."""
    dev = qphys.device("torch.qubit", torch_device=b.device)
    x, w = variational_inputs(n, batch, b.device)
    w.requires_grad_(True)
    out = qphys.execute(variational_circuit(x, w), dev, diff_method="adjoint").expvals
    (g,) = torch.autograd.grad(out.sum(), w)
    values, grads = out.detach().reshape(-1).cpu().numpy(), g.cpu().numpy()
    del x, w, out, g
    if b.cuda:
        torch.cuda.empty_cache()  # JAX (same process) gets the memory
    return values, grads


def part_tensorcircuit(b: Bench) -> None:
    """TensorCircuit-NG (JAX backend, jit, ``value_and_grad``) on the same circuit, batch 1 first.

    Its values and gradients are checked against ``torch.qubit`` at the smallest size of each batch.
    """
    try:
        import jax
        import tensorcircuit as tc
    except ImportError as exc:
        b.record("tensorcircuit", impl="TensorCircuit-NG", skipped=f"not installed: {exc}")
        return
    if not b.cuda:
        jax.config.update("jax_platforms", "cpu")
    K = tc.set_backend("jax")
    tc.set_dtype("complex64")
    platform_name = jax.devices()[0].platform
    b.data["env"].update({"jax": jax.__version__, "tensorcircuit": tc.__version__, "jax_platform": platform_name})
    b.save()
    sizes, batches = _sizes(b)
    if b.tiny:
        sizes = sizes[:1]  # each size is a jit compile of seconds: the dry run checks one
    compile_s = 0.0
    for batch in batches:
        reference = qphys_reference(b, sizes[0], batch)
        for n in sizes:
            case = {"impl": "TensorCircuit-NG (JAX jit)", "mode": "forward+backward (value_and_grad)", "n": n,
                    "batch": batch, "gates": gate_counts(n)[0], "jax_platform": platform_name}
            # its compile time grows with the circuit: skip what cannot finish before the deadline
            if b.left() < 3 * compile_s + 10:
                b.record("tensorcircuit", **case, skipped=f"deadline (last compile took {compile_s:.0f} s)")
                continue
            x, w = (t.numpy() for t in variational_inputs(n, batch, "cpu"))
            try:
                fn = _tc_value_and_grad(tc, K, n, batch)
                t0 = time.perf_counter()
                values, grads = fn(x, w)
                jax.block_until_ready(grads)
                compile_s = time.perf_counter() - t0

                def run(fn=fn, x=x, w=w):
                    jax.block_until_ready(fn(x, w))

                t = b.wall_time(run)
            except Exception as exc:  # noqa: BLE001 - JAX raises XlaRuntimeError (RESOURCE_EXHAUSTED) on OOM
                b.record("tensorcircuit", **case, skipped=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                jax.clear_caches()
                continue
            row = {"ms": 1e3 * t, "us_per_gate": 1e6 * t / case["gates"], "compile_s": compile_s}
            if n == sizes[0]:
                ref_values, ref_grads = reference
                row["max_abs_grad_diff_vs_qphys"] = float(np.abs(np.asarray(grads) - ref_grads).max())
                row["max_abs_value_diff_vs_qphys"] = float(np.abs(np.asarray(values).reshape(-1) - ref_values).max())
            b.record("tensorcircuit", **case, **row)
            del fn, values, grads
            jax.clear_caches()


def _tc_value_and_grad(tc, K, n: int, batch: int):
    """jit(value_and_grad) of Σ_batch <Z0> w.r.t. the weights, in TensorCircuit's recommended form.

    The layers run under ``jax.lax.scan`` (each layer a circuit on the previous layer's state), as
    TensorCircuit's documentation advises for deep circuits: the same gates, with a jit compile time of
    one layer instead of all four (4-5x shorter at 8-20 qubits on CPU; minutes at 28 qubits otherwise).
    """
    import jax

    def layer(state, wl):
        c = tc.Circuit(n, inputs=state)
        for q in range(n):
            c.ry(q, theta=wl[q, 0])
            c.rz(q, theta=wl[q, 1])
        for q in range(n - 1):
            c.cnot(q, q + 1)
        c.cnot(n - 1, 0)
        return c.state(), None

    def energy(x, w):
        c = tc.Circuit(n)
        for q in range(n):
            c.ry(q, theta=x[q])
        state, _ = jax.lax.scan(layer, c.state(), w)
        return K.real(tc.Circuit(n, inputs=state).expectation_ps(z=[0]))

    if batch == 1:
        return K.jit(K.value_and_grad(energy, argnums=1))
    return K.jit(K.vectorized_value_and_grad(energy, argnums=1, vectorized_argnums=0))


# ================================================================================ other parts
def part_gram(b: Bench) -> None:
    from qphys.kernels import QuantumKernel
    from qphys.templates import zz_feature_map

    n, N = (6, 64) if b.tiny else (20, 10_000)
    fmap = functools.partial(zz_feature_map, reps=2, entanglement="linear")
    X = torch.rand(N, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 * math.pi
    # most of the free memory: 10^4 states at 20 qubits are 80 GB in complex64, so fewer re-preparations
    kernel = QuantumKernel(fmap, qphys.device("torch.qubit", torch_device=b.device),
                           max_memory=int(MEMORY_MARGIN * b.free_memory()))
    case = {"n": n, "N": N, "dtype": "complex64"}

    def run():
        b.sync()
        t0 = time.perf_counter()
        K = kernel.matrix(X)
        b.sync()
        return K, time.perf_counter() - t0

    def measure():
        K, t = run()
        ref = QuantumKernel(fmap, qphys.device("torch.qubit", dtype="complex128")).matrix(X[:4])
        flops = 8 * N * (N + 1) / 2 * 2**n  # complex multiply-adds of the upper triangle of S S^H
        return b.record("gram", **case, s=t, state_preparations=kernel.last_stats.get("circuits"),
                        overlap_tflop_per_s=flops / t / 1e12,
                        max_abs_diff_vs_cpu_complex128=float((K[:4, :4] - ref).abs().max()),
                        max_abs_diag_minus_1=float((K.diagonal() - 1).abs().max()))

    b.guard("gram", case, measure)


def part_born(b: Bench) -> None:
    from qphys.generative import BornMachine, ChowLiuAnsatz
    from qphys.generative.datasets import bars_and_stripes_distribution

    rows, cols, depth = (2, 3, 2) if b.tiny else (4, 4, 10)
    n = rows * cols
    target = bars_and_stripes_distribution(rows, cols)
    ansatz = ChowLiuAnsatz.from_data(depth, target, n)
    for where in dict.fromkeys([b.device, torch.device("cpu")]):
        dev = qphys.device("torch.qubit", torch_device=where)
        bm = BornMachine(ansatz, n, device=dev, seed=0)
        case = {"n": n, "ansatz": f"Chow-Liu depth {depth}", "params": bm.num_params, "objective": "exact KL",
                "backend": str(where)}

        def step(bm=bm):
            bm.weights.grad = None
            bm.loss(target, "kl").backward()

        def measure(step=step, case=case, bm=bm):
            t = b.time(step, repeat=5)
            return b.record("born", **case, ms=1e3 * t, loss=float(bm.loss(target, "kl").detach()))

        b.guard("born", case, measure)


def part_fock(b: Bench) -> None:
    from qphys.nn import PhotonicLayer

    configs = [(2, 6, 64)] if b.tiny else [(2, 10, 1024), (4, 8, 1024)]
    for modes, cutoff, batch in configs:
        x = torch.rand(batch, modes, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.5
        for where in dict.fromkeys([b.device, torch.device("cpu")]):
            layer = PhotonicLayer(modes, 1, cutoff=cutoff, output="n", seed=0,
                                  device=qphys.device("torch.fock", cutoff=cutoff, torch_device=where))
            layer.to(where)
            xs = x.to(where)
            case = {"modes": modes, "cutoff": cutoff, "batch": batch, "dtype": "complex128", "backend": str(where)}

            def step(layer=layer, xs=xs):
                layer.zero_grad(set_to_none=True)
                layer(xs).sum().backward()

            def measure(step=step, case=case):
                t = b.time(step, repeat=3 if case["backend"] == "cpu" and not b.tiny else 5)
                return b.record("fock", **case, ms=1e3 * t)

            b.guard("fock", case, measure)


def part_decoder(b: Bench) -> None:
    from qphys.rl.codes import ToricCode
    from qphys.rl.decoding import NeuralDecoder

    # tiny: the dry run checks the code path, not the network (a small one keeps it to a second)
    d, shots, cpu_shots, batch_sizes = (3, 2_000, 2_000, (512,)) if b.tiny else (9, 1_000_000, 100_000, (8192, 65536))
    network = {"channels": 8, "blocks": 1, "hidden": 32} if b.tiny else {}
    code = ToricCode(d)
    syndromes, _ = code.sample("depolarizing", 0.1, shots=shots, seed=0)
    runs = {str(b.device): shots, "cpu": cpu_shots}  # one entry on the CPU dry run
    for where, count in runs.items():
        dec = NeuralDecoder(code, noise="depolarizing", device=where, **network)
        for batch_size in batch_sizes:
            case = {"d": d, "syndromes": count, "batch_size": batch_size, "backend": where,
                    "network": f"ToricCNN {dec.config}"}

            def measure(dec=dec, count=count, batch_size=batch_size, case=case):
                t = b.time(lambda: dec.logits(syndromes[:count], batch_size=batch_size), repeat=3, warmup=1)
                return b.record("decoder", **case, s=t, syndromes_per_s=count / t)

            b.guard("decoder", case, measure)


def part_linear_optics(b: Bench) -> None:
    from linear_optics import QphysLayer, input_state

    from qphys.sim import linear_optics as lo

    configs = [(6, 3, 8)] if b.tiny else [(12, 6, 64), (12, 6, 1024), (16, 4, 64), (16, 4, 1024), (20, 6, 64),
                                          (24, 6, 64)]
    for m, n, batch in configs:
        photons = input_state(m, n)
        rng = np.random.default_rng(0)
        angles = [rng.uniform(0, 2 * np.pi, lo.num_mzis(m)) for _ in range(4)]
        layer = QphysLayer(m, photons, angles, torch.complex64)
        layer.params = [p.detach().to(b.device).requires_grad_(True) for p in layer.params]
        x = torch.rand(batch, m, generator=torch.Generator().manual_seed(1)).to(b.device) * 2 * math.pi
        patterns = math.comb(m + n - 1, n)
        for grad in (False, True):
            case = {"modes": m, "photons": n, "patterns": patterns, "batch": batch, "dtype": "complex64",
                    "mode": "forward+backward" if grad else "forward"}
            need = lo.slos_memory(m, n, batch, dtype=torch.complex64, requires_grad=grad, device=b.device)
            avail = b.free_memory()
            if need > MEMORY_MARGIN * avail:
                b.record("linear_optics", **case, skipped=f"slos_memory {need / 2**30:.1f} GiB > "
                                                        f"{MEMORY_MARGIN:.0%} of {avail / 2**30:.1f} GiB available")
                continue
            if b.left() < 15:
                b.record("linear_optics", **case, skipped="deadline")
                continue

            def run(layer=layer, x=x, grad=grad):
                if grad:
                    for p in layer.params:
                        p.grad = None
                    layer(x).sum().backward()
                else:
                    with torch.no_grad():
                        layer(x)

            def measure(run=run, case=case, need=need):
                t = b.time(run, repeat=3)
                return b.record("linear_optics", **case, ms=1e3 * t, memory_estimate_gib=need / 2**30)

            b.guard("linear_optics", case, measure)


def part_nqs(b: Bench) -> None:
    from qphys.nqs import RBM, VMC, SymmetricRBM, chain, heisenberg, square

    if b.tiny:
        configs = [("Heisenberg chain", 8, "RBM", 1, 64)]
    else:
        configs = [("Heisenberg chain", 20, "RBM", 2, 4096), ("Heisenberg chain", 20, "RBM", 2, 16384),
                   ("Heisenberg 6x6", 36, "SymmetricRBM", 2, 4096)]
    for system, sites, kind, alpha, samples in configs:
        lattice = chain(sites) if "chain" in system else square(6)
        h = heisenberg(lattice, marshall_sign=True)
        for where in dict.fromkeys([b.device, torch.device("cpu")]):
            model = (RBM(sites, alpha=alpha, seed=0) if kind == "RBM" else SymmetricRBM(lattice, alpha=alpha, seed=0))
            model = model.to(where)
            vmc = VMC(h, model, n_samples=samples, seed=1)
            case = {"system": system, "ansatz": f"{kind} alpha={alpha}", "samples_per_iter": samples,
                    "chains": samples, "backend": str(where)}
            iters = 1 if where.type == "cpu" else 3

            def measure(vmc=vmc, case=case, iters=iters):
                vmc.run(2, progress=False)  # burn-in and warm-up
                b.sync()
                t0 = time.perf_counter()
                vmc.run(iters, progress=False)
                b.sync()
                t = (time.perf_counter() - t0) / iters
                return b.record("nqs", **case, ms_per_iter=1e3 * t, energy=vmc.history.energy[-1])

            b.guard("nqs", case, measure)


def part_flows(b: Bench) -> None:
    from qphys.lattice import Phi4Action, make_phi4_flow, train_flow

    L, layers, batch, draws = (4, 2, 64, 512) if b.tiny else (16, 8, 1024, 65_536)
    action = Phi4Action(-4.0, 8.0)
    for where in dict.fromkeys([b.device, torch.device("cpu")]):
        flow = make_phi4_flow(L, n_layers=layers, coupling="affine", hidden=(32, 32)).to(where)
        case = {"L": L, "layers": layers, "coupling": "affine", "backend": str(where)}
        steps = 3 if where.type == "cpu" and not b.tiny else 10

        def measure(flow=flow, case=case, steps=steps, where=where):
            train_flow(flow, action, steps=2, batch_size=batch, progress=False)  # warm-up
            b.sync()
            t0 = time.perf_counter()
            train_flow(flow, action, steps=steps, batch_size=batch, progress=False, seed=1)
            b.sync()
            train_ms = 1e3 * (time.perf_counter() - t0) / steps
            n = draws if where.type != "cpu" or b.tiny else draws // 8
            with torch.no_grad():
                t = b.time(lambda: flow.sample(n), repeat=3)
            return b.record("flows", **case, train_batch=batch, train_ms_per_step=train_ms, sample_draws=n,
                            samples_per_s=n / t)

        b.guard("flows", case, measure)


PART_FUNCTIONS = {
    "bandwidth": lambda b: b.bandwidth(),
    "variational": part_variational,
    "tensorcircuit": part_tensorcircuit,
    "gram": part_gram,
    "born": part_born,
    "fock": part_fock,
    "decoder": part_decoder,
    "linear_optics": part_linear_optics,
    "nqs": part_nqs,
    "flows": part_flows,
}


# ================================================================================ report
def _fmt(v, digits=3):
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.{digits}g}"
        return f"{v:.2e}"
    return "" if v is None else str(v)


def _rows_table(rows, columns) -> str:
    present = [c for c in columns if any(c in r for r in rows)]
    return table(present, [[_fmt(r.get(c)) for c in present] for r in rows])


REPORT_COLUMNS = {
    "bandwidth": ["case", "bytes", "ms", "tb_per_s"],
    "variational": ["impl", "mode", "n", "batch", "gates", "passes", "ms", "us_per_gate", "bound_us_per_gate",
                    "fraction_of_bound_per_gate", "fraction_of_bound_per_pass", "skipped"],
    "tensorcircuit": ["impl", "mode", "n", "batch", "gates", "jax_platform", "ms", "us_per_gate", "compile_s",
                      "max_abs_grad_diff_vs_qphys", "max_abs_value_diff_vs_qphys", "skipped"],
    "gram": ["n", "N", "dtype", "s", "state_preparations", "overlap_tflop_per_s", "max_abs_diff_vs_cpu_complex128",
             "max_abs_diag_minus_1", "skipped"],
    "born": ["backend", "n", "ansatz", "params", "objective", "loss", "ms", "skipped"],
    "fock": ["backend", "modes", "cutoff", "batch", "dtype", "ms", "skipped"],
    "decoder": ["backend", "d", "syndromes", "batch_size", "network", "s", "syndromes_per_s", "skipped"],
    "linear_optics": ["modes", "photons", "patterns", "batch", "mode", "ms", "memory_estimate_gib", "skipped"],
    "nqs": ["backend", "system", "ansatz", "chains", "samples_per_iter", "ms_per_iter", "energy", "skipped"],
    "flows": ["backend", "L", "layers", "coupling", "train_batch", "train_ms_per_step", "sample_draws",
              "samples_per_s", "skipped"],
}


def _comparison(rows) -> str:
    """The acceptance summary: qphys's best forward+backward vs TensorCircuit-NG, and the bound fraction."""
    best: dict[tuple, dict] = {}
    for r in rows:
        if r.get("part") == "variational" and str(r.get("mode", "")).startswith("forward+backward") and "ms" in r:
            key = (r["n"], r["batch"])
            if key not in best or r["ms"] < best[key]["ms"]:
                best[key] = r
    forward = {(r["n"], r["batch"]): r for r in rows
               if r.get("part") == "variational" and r.get("mode") == "forward" and "ms" in r}
    tc = {(r["n"], r["batch"]): r for r in rows if r.get("part") == "tensorcircuit" and "ms" in r}
    keys = sorted(set(best) | set(tc) | set(forward), key=lambda k: (k[1], k[0]))
    if not keys:
        return ""
    body = []
    for key in keys:
        q, t, f = best.get(key), tc.get(key), forward.get(key)
        body.append([str(key[0]), str(key[1]),
                     _fmt(f["fraction_of_bound_per_gate"]) if f else "", _fmt(f["fraction_of_bound_per_pass"]) if f else "",
                     f"{_fmt(q['ms'])} ({q['mode'].split('(')[-1].rstrip(')')})" if q else "",
                     _fmt(t["ms"]) if t else "", _fmt(t["ms"] / q["ms"]) + "x" if q and t else ""])
    return ("\n### Summary: variational step, torch.qubit vs TensorCircuit-NG\n\n"
            + table(["n", "batch", "forward: fraction of bound per gate", "per pass", "qphys fwd+bwd ms (best)",
                     "TensorCircuit-NG ms", "speed-up (TC / qphys)"], body) + "\n")


def report(data: dict, command: str) -> str:
    """The Markdown block for BENCHMARKS.md from a results file."""
    env = data.get("env", {})
    head = (
        "## GPU (`benchmarks/gpu.py`, `make gpu-check`)\n\n"
        f"GPU: {env.get('nvidia_smi') or env.get('gpu') or 'none (CPU dry run)'}; torch {env.get('torch')} "
        f"(CUDA {env.get('torch_cuda')}), Python {env.get('python')}, numpy {env.get('numpy')}"
        + (f", JAX {env['jax']} ({env.get('jax_platform')}), TensorCircuit-NG {env.get('tensorcircuit')}"
           if env.get("jax") else "")
        + f". Command: `{command}`. Medians after a timed warm-up (CUDA events on the GPU); complex64 unless "
        "stated. Memory bound per gate = one read + one write of the state at the measured device-to-device "
        "copy rate; 'per pass' counts the fused passes qphys makes over the state instead of the gates.\n"
    )
    parts = [_comparison(data.get("rows", []))]
    for part in PARTS:
        rows = [r for r in data.get("rows", []) if r.get("part") == part]
        status = data.get("parts", {}).get(part)
        if not rows and not status:
            continue
        title = f"\n### {part}\n\n"
        note = ""
        if status and status.get("status") != "ok":
            note = f"Part status: {status.get('status')} {status.get('error', '')}\n\n"
        parts.append(title + note + (_rows_table(rows, REPORT_COLUMNS[part]) if rows else "no rows") + "\n")
    return head + "".join(parts)


# ================================================================================ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", action="store_true", help="run on the CPU (the dry run of the GPU script)")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (seconds in all)")
    ap.add_argument("--quick", action="store_true", help="as `qphys bench --quick` passes it: --tiny, and --cpu "
                                                         "without CUDA")
    ap.add_argument("--require-cuda", action="store_true",
                    help="fail without CUDA (scripts/gpu_check.sh); else a run without CUDA or --cpu measures nothing")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    ap.add_argument("--out", type=Path, default=Path("out/gpu_bench.json"), help="results JSON (extended in place)")
    ap.add_argument("--deadline", type=float, default=None, help="seconds this run may take (cases past it skip)")
    ap.add_argument("--report", type=Path, default=None, help="print the Markdown of a results JSON and exit")
    ap.add_argument("--write", action="store_true", help="with --report: also write the `gpu` block of BENCHMARKS.md")
    ap.add_argument("--command", default="make gpu-check", help="the command named in the report")
    args = ap.parse_args(argv)
    if args.report is not None:
        md = report(json.loads(args.report.read_text()), args.command)
        print(md)
        if args.write:
            update_section("gpu", md)
        return 0
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    if args.quick:
        args.tiny = True
        args.cpu = args.cpu or not torch.cuda.is_available()
    if not args.cpu and not torch.cuda.is_available():
        if args.require_cuda:
            ap.error("CUDA is not available here; use --cpu (with --tiny for the dry run)")
        # `qphys bench` runs every benchmark: on a machine without a GPU this one has nothing to measure
        print("benchmarks/gpu.py: CUDA is not available here, nothing measured (--cpu --tiny is the dry run; "
              "scripts/gpu_check.sh is the GPU run)", file=sys.stderr)
        return 0
    run_deadline = math.inf if args.deadline is None else time.monotonic() + args.deadline
    b = Bench("cpu" if args.cpu else "cuda", args.tiny, None, args.out)
    failed = 0
    for part in parts:
        t0 = time.perf_counter()
        # on the GPU each part has its own budget (PART_SECONDS); the CPU dry run only the whole-run one
        part_deadline = math.inf if args.cpu else time.monotonic() + PART_SECONDS[part]
        b.deadline = None if math.isinf(min(run_deadline, part_deadline)) else min(run_deadline, part_deadline)
        try:
            PART_FUNCTIONS[part](b)
            b.part_status(part, status="ok", seconds=time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - one part's failure must not stop the others
            failed += 1
            traceback.print_exc()
            b.part_status(part, status="error", seconds=time.perf_counter() - t0,
                          error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
            if b.cuda:
                torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
