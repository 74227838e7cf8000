"""Decoder evaluation on an executor: chunks of syndromes with spawned seeds, sent to the workers.

The same seed gives the same failure counts as the serial run, whatever the number of workers or
how chunks are grouped into tasks; decoders whose matching graphs do not pickle travel as their code.
Thread pools run the real task code (pickled decoder, per-chunk seeds, reassembly) without process
start-up; ``test_parallel_dask.py`` runs it on worker processes of a ``LocalCluster``.
"""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qphys.errors import ConfigError
from qphys.rl.codes import ToricCode, surface_code_memory_circuit
from qphys.rl.decoders import MWPMDecoder, evaluate
from qphys.rl.decoding.evaluation import threshold_plot
from qphys.rl.decoding.mwpm import CorrelatedMWPMDecoder

pytest.importorskip("pymatching")


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_toric_counts_equal_the_serial_run_for_any_number_of_workers(workers):
    code = ToricCode(5)
    serial = evaluate(MWPMDecoder(code), code, "bitflip", 0.08, 5000, seed=3, batch_size=700)
    with ThreadPoolExecutor(workers) as pool:
        shared = evaluate(MWPMDecoder(code), code, "bitflip", 0.08, 5000, seed=3, batch_size=700, executor=pool)
    assert shared.failures == serial.failures and shared.shots == 5000
    assert 0 < serial.failures < 5000 * 0.3  # a real count, not a trivial one
    assert shared.failure_rate == serial.failure_rate and shared.ci_low == serial.ci_low


def test_grouping_many_chunks_into_few_tasks_keeps_the_counts():
    """50 chunks on 1 slot are grouped into 32 tasks: seeds belong to chunks, not to tasks."""
    code = ToricCode(3)
    serial = evaluate(MWPMDecoder(code), code, "depolarizing", 0.1, 5000, seed=9, batch_size=100)
    with _Counting(1) as pool:
        grouped = evaluate(MWPMDecoder(code), code, "depolarizing", 0.1, 5000, seed=9, batch_size=100,
                           executor=pool)
    assert grouped.failures == serial.failures and pool.submitted == 32


def test_predict_blocks_within_a_chunk_keep_the_counts(monkeypatch):
    """Chunks are decoded in blocks of rows (cache-sized); the block size never changes a count."""
    import qphys.rl.decoding.evaluation as evaluation

    code = ToricCode(3)
    whole = evaluate(MWPMDecoder(code), code, "bitflip", 0.1, 3000, seed=5, batch_size=1000)
    seen = []

    class Recording(MWPMDecoder):
        def predict(self, syndromes):
            seen.append(len(syndromes))
            return super().predict(syndromes)

    monkeypatch.setattr(evaluation, "_BLOCK", 300)
    blocked = evaluate(Recording(code), code, "bitflip", 0.1, 3000, seed=5, batch_size=1000)
    assert blocked.failures == whole.failures and 0 < whole.failures < 3000
    assert seen == [300, 300, 300, 100] * 3  # 3 chunks of 1000 rows, each in blocks of 300


class _Counting(ThreadPoolExecutor):
    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_different_seeds_give_different_syndromes():
    code = ToricCode(5)
    with ThreadPoolExecutor(2) as pool:
        a, b = (evaluate(MWPMDecoder(code), code, "bitflip", 0.1, 4000, seed=s, executor=pool).failures
                for s in (1, 2))
    assert a != b


def test_stim_circuit_and_correlated_matching_travel_pickled():
    circuit = surface_code_memory_circuit(3, p=0.01)
    code = ToricCode(3)
    corr = CorrelatedMWPMDecoder(code, p=0.08)
    s_stim = evaluate(MWPMDecoder(circuit), circuit, shots=3000, seed=5, batch_size=1000)
    s_corr = evaluate(corr, code, "depolarizing", 0.08, 3000, seed=6, batch_size=1000)
    with ThreadPoolExecutor(2) as ex:
        r_stim = evaluate(MWPMDecoder(circuit), circuit, shots=3000, seed=5, batch_size=1000, executor=ex)
        r_corr = evaluate(corr, code, "depolarizing", 0.08, 3000, seed=6, batch_size=1000, executor=ex)
    assert (r_stim.failures, r_corr.failures) == (s_stim.failures, s_corr.failures)
    assert s_stim.failures > 0 and s_corr.failures > 0


def test_matching_decoders_pickle_as_their_code_and_predict_the_same():
    code = ToricCode(5)
    s, _ = code.sample("depolarizing", 0.1, shots=300, seed=0)
    for dec in (MWPMDecoder(code), CorrelatedMWPMDecoder(code, p=0.1, noise="depolarizing")):
        back = pickle.loads(pickle.dumps(dec))
        assert type(back) is type(dec) and repr(back) == repr(dec)
        np.testing.assert_array_equal(back.predict(s), dec.predict(s))
    circuit = surface_code_memory_circuit(3, p=0.01)
    dets, _ = circuit.compile_detector_sampler(seed=1).sample(200, separate_observables=True)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(MWPMDecoder(circuit))).predict(dets),
                                  MWPMDecoder(circuit).predict(dets))


def test_threshold_plot_passes_the_executor_through():
    serial = threshold_plot([3], [0.05, 0.1], shots=600, seed=2)
    with ThreadPoolExecutor(2) as pool:
        shared = threshold_plot([3], [0.05, 0.1], shots=600, seed=2, executor=pool)
    assert [r.failures for r in shared[3]] == [r.failures for r in serial[3]]


class _Locked:
    """A decoder that holds a lock: it cannot travel to worker processes."""

    def __init__(self, code):
        self.inner, self.lock = MWPMDecoder(code), threading.Lock()

    def predict(self, s):
        return self.inner.predict(s)


def test_bad_batch_size_executor_or_unpicklable_decoder_fail_before_sampling():
    code = ToricCode(3)
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
        evaluate(MWPMDecoder(code), code, "bitflip", 0.1, 10, batch_size=0)
    with pytest.raises(ConfigError, match="executor must be a qphys.parallel executor"):
        evaluate(MWPMDecoder(code), code, "bitflip", 0.1, 10, executor="tcp://scheduler:8786")
    with ThreadPoolExecutor(1) as pool, pytest.raises(ConfigError, match="decoder _Locked cannot be sent"):
        evaluate(_Locked(code), code, "bitflip", 0.1, 10, executor=pool)


def test_a_neural_decoder_with_a_matching_hint_travels_and_counts_the_same():
    import torch

    from qphys.rl.decoders import NeuralDecoder

    code = ToricCode(3)
    torch.manual_seed(0)
    dec = NeuralDecoder(code, noise="bitflip", hint="mwpm", channels=4, blocks=1, hidden=16)
    serial = evaluate(dec, code, "bitflip", 0.08, 2000, seed=4, batch_size=500)
    with ThreadPoolExecutor(2) as pool:
        shared = evaluate(dec, code, "bitflip", 0.08, 2000, seed=4, batch_size=500, executor=pool)
    assert shared.failures == serial.failures > 0
