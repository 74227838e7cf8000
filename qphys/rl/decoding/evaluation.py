"""Scoring decoders: logical failure rates with Wilson intervals, throughput, threshold plots.

All decoders share one interface: ``predict(syndromes) -> logical-class bits (shots, k)``, the logical
operators the decoder's correction flips (toric code: ``(x0, x1, z0, z1)``; Stim: one bit per
observable). A shot fails when any predicted bit differs from the true one.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from qphys.errors import ConfigError
from qphys.parallel import as_executor, payload, run_tasks, shard_ranges, spawn_seeds
from qphys.plots import figure
from qphys.rl.codes import NOISE_MODELS, ToricCode, validate_rate
from qphys.rl.decoding._common import is_stim_circuit
from qphys.rl.decoding.mwpm import MWPMDecoder

__all__ = ["DecodingResult", "PairedDifference", "evaluate", "paired_difference", "threshold_plot", "wilson_interval"]


def wilson_interval(failures: int, shots: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``scipy.stats.binomtest``).

    Examples:
        >>> lo, hi = wilson_interval(31, 1000)
        >>> round(lo, 4), round(hi, 4)
        (0.0219, 0.0437)
    """
    from scipy.stats import binomtest

    if shots <= 0:
        return (0.0, 1.0)
    ci = binomtest(int(failures), int(shots)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class DecodingResult:
    """Outcome of :func:`evaluate`.

    Attributes:
        failure_rate: fraction of shots whose predicted logical class was wrong.
        ci_low, ci_high: Wilson 95% interval. failures, shots: the counts.
        seconds: wall time spent in ``decoder.predict`` alone. throughput: shots / seconds.
        decoder, noise, p, d: what was evaluated (``d`` and ``noise`` are None for Stim circuits).
    """

    failure_rate: float
    ci_low: float
    ci_high: float
    failures: int
    shots: int
    seconds: float
    throughput: float
    decoder: str
    noise: str | None
    p: float | None
    d: int | None

    def as_dict(self) -> dict:
        """A plain dict (for JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.decoder}: failure {100 * self.failure_rate:.2f}% "
            f"[{100 * self.ci_low:.2f}, {100 * self.ci_high:.2f}] ({self.shots} shots, "
            f"{self.throughput:,.0f} syndromes/s)"
        )


#: syndromes handed to ``predict`` at a time within a chunk
_BLOCK = 16_384


def _chunk_blocks(code, noise, p, shots: int, seed: int):
    """Syndromes and true logical bits of one chunk, sampled with its own seed, in blocks of at most
    :data:`_BLOCK` rows (the same samples as in one block; cache-sized blocks keep the parity and
    matching work out of main memory, which is what two workers on one machine share)."""
    if isinstance(code, ToricCode):
        e = code.sample_errors(noise, p, shots=shots, seed=seed)
        for a in range(0, shots, _BLOCK):
            yield code.syndrome(e[a:a + _BLOCK]), code.logical_class(e[a:a + _BLOCK])
        return
    dets, obs = code.compile_detector_sampler(seed=seed).sample(int(shots), separate_observables=True)
    yield dets.astype(np.uint8), obs.astype(np.uint8)


def evaluate_chunks(decoder, code, noise, p, chunks: list[tuple[int, int]]) -> tuple[int, float]:
    """Task: sample and decode ``chunks`` (``(shots, seed)`` each); ``(failures, seconds in predict)``."""
    failures, seconds = 0, 0.0
    for shots, seed in chunks:
        for s, t in _chunk_blocks(code, noise, p, shots, seed):
            t0 = time.perf_counter()
            pred = np.asarray(decoder.predict(s))
            seconds += time.perf_counter() - t0
            failures += int(np.any(pred != t, axis=1).sum())
    return failures, seconds


#: tasks per worker slot at most when :func:`evaluate` runs on an executor (load balance vs overhead)
_TASKS_PER_WORKER = 32


def evaluate(
    decoder,
    code,
    noise: str | None = None,
    p: float | None = None,
    shots: int = 10_000,
    *,
    seed=None,
    batch_size: int = 100_000,
    executor=None,
    progress: bool = False,
) -> DecodingResult:
    """Logical failure rate of ``decoder`` with a 95% Wilson interval, and its throughput.

    Syndromes are sampled and decoded in chunks of ``batch_size``; chunk ``k`` samples with seed
    ``k`` of ``numpy.random.SeedSequence(seed).spawn(chunks)``. With an ``executor`` the chunks run
    on its workers (the decoder and the code are sent to them): the same seed gives the same
    failure counts as a serial run, whatever the number of workers.

    Args:
        decoder: anything with ``predict(syndromes) -> logical bits`` (:class:`MWPMDecoder`,
            :class:`NeuralDecoder`, :class:`RLDecoder`); picklable to use an executor.
        code: a :class:`~qphys.rl.codes.ToricCode` (then ``noise`` and ``p`` are required), or a
            ``stim.Circuit`` (its own noise; ``noise`` and ``p`` must be None).
        noise: ``'bitflip'`` or ``'depolarizing'``. p: physical error rate.
        shots: number of sampled syndromes. seed: sampling seed.
        batch_size: syndromes sampled with one seed (one chunk, one task's unit of work); ``predict``
            sees at most 16,384 of them at a time.
        executor: a :mod:`qphys.parallel` executor (or ``distributed.Client``, or any
            ``concurrent.futures.Executor``); ``None`` evaluates here.
        progress: a tqdm bar over finished tasks (with an executor).

    Returns:
        :class:`DecodingResult` (``seconds``: time in ``predict``, summed over the workers).

    Raises:
        ConfigError: bad ``code``/``noise``/``p``/``shots``/``batch_size``, or a decoder that cannot be
            sent to the workers, before anything is sampled.

    Examples:
        >>> from qphys.rl.codes import surface_code_memory_circuit
        >>> c = surface_code_memory_circuit(3, p=0.001)
        >>> r = evaluate(MWPMDecoder(c), c, shots=1000, seed=0)
        >>> r.failure_rate < 0.02
        True
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(2) as pool:   # or qphys.parallel.dask(), qphys.parallel.local()
        ...     r2 = evaluate(MWPMDecoder(c), c, shots=1000, seed=0, batch_size=300, executor=pool)
        >>> r2.failures == evaluate(MWPMDecoder(c), c, shots=1000, seed=0, batch_size=300).failures
        True
    """
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 1:
        raise ConfigError(f"shots must be a positive integer, got {shots!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    name = type(decoder).__name__
    if isinstance(code, ToricCode):
        if noise not in NOISE_MODELS:
            raise ConfigError(f"evaluate on a ToricCode needs noise in {list(NOISE_MODELS)}, got {noise!r}")
        if p is None:
            raise ConfigError("evaluate on a ToricCode needs the physical error rate p")
        p = validate_rate(p)
        d = code.d
    elif is_stim_circuit(code):
        if noise is not None or p is not None:
            raise ConfigError("a stim.Circuit carries its own noise; call evaluate(decoder, circuit, shots=...)")
        d = None
    else:
        raise ConfigError(f"evaluate needs a ToricCode or a stim.Circuit, got {type(code).__name__}")
    sizes = [min(batch_size, shots - a) for a in range(0, int(shots), batch_size)]
    chunks = list(zip(sizes, spawn_seeds(seed, len(sizes))))
    ex = as_executor(executor)
    if ex is None:
        failures, seconds = evaluate_chunks(decoder, code, noise, p, chunks)
    else:
        blob = payload(decoder, f"decoder {name}")
        # one chunk per task, grouped when there are many (seeds stay per chunk, so counts do not move)
        groups = shard_ranges(len(chunks), shards=min(len(chunks), _TASKS_PER_WORKER * ex.workers))
        tasks = [(blob, code, noise, p, chunks[a:b]) for a, b in groups]
        parts = run_tasks(ex, evaluate_shipped, tasks, progress=progress, desc=f"evaluate {name}")
        failures, seconds = sum(f for f, _ in parts), sum(s for _, s in parts)
    lo, hi = wilson_interval(failures, shots)
    return DecodingResult(
        failure_rate=failures / shots, ci_low=lo, ci_high=hi, failures=failures, shots=int(shots),
        seconds=seconds, throughput=shots / max(seconds, 1e-12), decoder=name, noise=noise, p=p, d=d,
    )


def evaluate_shipped(decoder: bytes, code, noise, p, chunks: list[tuple[int, int]]) -> tuple[int, float]:
    """Task: :func:`evaluate_chunks` with the decoder pickled once by :func:`qphys.parallel.payload`."""
    import pickle

    return evaluate_chunks(pickle.loads(decoder), code, noise, p, chunks)


def threshold_plot(
    distances,
    ps,
    *,
    noise: str = "bitflip",
    shots: int = 20_000,
    decoder_factory: Callable[[ToricCode], Any] | None = None,
    path=None,
    seed: int | None = 0,
    progress: bool = False,
    title: str | None = None,
    executor=None,
) -> dict:
    """Logical failure rate vs ``p`` for several distances (a threshold plot), saved with :func:`qphys.plots.figure`.

    Args:
        distances: toric-code distances, e.g. ``(3, 5, 7)``. ps: physical error rates.
        noise: noise model. shots: syndromes per point.
        decoder_factory: ``code -> decoder`` (default :class:`MWPMDecoder`).
        path: where to save the figure (png/pdf/svg); ``None`` skips saving.
        seed: sampling seed. progress: tqdm over the points. title: figure title.
        executor: each point's syndromes are evaluated on it (see :func:`evaluate`).

    Returns:
        ``{d: [DecodingResult, ...]}`` in the order of ``ps``, plus ``"path"`` when saved.

    Examples:
        >>> out = threshold_plot([3], [0.05, 0.1], shots=200)
        >>> [round(r.p, 2) for r in out[3]]
        [0.05, 0.1]
    """
    factory = decoder_factory or MWPMDecoder
    results: dict = {}
    codes = {d: ToricCode(d) for d in distances}
    decoders = {d: factory(codes[d]) for d in distances}
    points = [(d, p) for d in distances for p in ps]
    for i, (d, p) in enumerate(tqdm(points, desc="threshold plot", disable=not progress)):
        results.setdefault(d, []).append(
            evaluate(decoders[d], codes[d], noise, p, shots, seed=None if seed is None else seed + i,
                     executor=executor)
        )
    if path is not None:
        fig = figure(figsize=(5.2, 3.6))
        ax = fig.subplots()
        for d, rs in results.items():
            x = [r.p for r in rs]
            y = np.array([r.failure_rate for r in rs])
            err = np.array([[r.failure_rate - r.ci_low for r in rs], [r.ci_high - r.failure_rate for r in rs]])
            ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2, label=f"d={d}")
        ax.set(
            xlabel="physical error rate p",
            ylabel="logical failure rate",
            title=title or f"Toric code, {noise} noise",
        )
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=130)
        results["path"] = str(path)
    return results


@dataclass(frozen=True)
class PairedDifference:
    """Two decoders on the same syndromes: failure rates and their paired difference ``a - b``.

    Attributes:
        rate_a, rate_b: failure rates. diff: ``rate_a - rate_b``. ci_low, ci_high: its 95% interval
        (normal approximation for paired proportions). only_a, only_b: shots only ``a`` (only ``b``) gets
        wrong — the discordant pairs that carry all the information (McNemar). shots: how many.
        name_a, name_b: the decoders' class names.
    """

    rate_a: float
    rate_b: float
    diff: float
    ci_low: float
    ci_high: float
    only_a: int
    only_b: int
    shots: int
    name_a: str
    name_b: str

    def as_dict(self) -> dict:
        """A plain dict (for JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        return (f"{100 * self.diff:+.2f} points [{100 * self.ci_low:+.2f}, {100 * self.ci_high:+.2f}] "
                f"({self.name_a}-only failures {self.only_a}, {self.name_b}-only failures {self.only_b})")


def paired_difference(a, b, syndromes, true, *, confidence: float = 0.95) -> PairedDifference:
    """Failure rates of decoders ``a`` and ``b`` on the same syndromes, and the paired difference ``a - b``.

    The interval is ``diff +- z * sqrt(n10 + n01 - (n10 - n01)**2 / n) / n`` with ``n10`` (``n01``) the
    shots only ``a`` (only ``b``) fails on: comparing on identical syndromes cancels the shot-to-shot
    variance both decoders share, a much tighter test than comparing two independent intervals.

    Args:
        a, b: decoders (``predict(syndromes) -> logical bits``). syndromes, true: a sample, e.g. from
            :meth:`~qphys.rl.codes.ToricCode.sample`. confidence: interval level.

    Examples:
        >>> from qphys.rl.codes import ToricCode
        >>> code = ToricCode(3)
        >>> syn, true = code.sample("bitflip", 0.1, shots=500, seed=0)
        >>> m = MWPMDecoder(code)
        >>> r = paired_difference(m, m, syn, true)
        >>> (r.diff, r.only_a, r.only_b)
        (0.0, 0, 0)
    """
    from scipy.stats import norm

    true = np.asarray(true)
    n = len(true)
    if n == 0:
        raise ConfigError("paired_difference needs at least one syndrome")
    fa = np.any(np.asarray(a.predict(syndromes)) != true, axis=1)
    fb = np.any(np.asarray(b.predict(syndromes)) != true, axis=1)
    n10, n01 = int((fa & ~fb).sum()), int((~fa & fb).sum())
    diff = (n10 - n01) / n
    se = max(n10 + n01 - (n10 - n01) ** 2 / n, 0.0) ** 0.5 / n
    z = float(norm.ppf(0.5 + confidence / 2))
    return PairedDifference(
        rate_a=float(fa.mean()), rate_b=float(fb.mean()), diff=diff, ci_low=diff - z * se, ci_high=diff + z * se,
        only_a=n10, only_b=n01, shots=n, name_a=type(a).__name__, name_b=type(b).__name__,
    )
