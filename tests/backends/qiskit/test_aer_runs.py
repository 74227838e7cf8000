"""One qphys job on Aer is split into Aer runs of bounded size; results keep their order."""

import torch
from qphys_qiskit import aer

import qphys


def _circuit(theta):
    c = qphys.Circuit(wires=2).ry(theta, 0).cx(0, 1).rz(0.3, 1).rx(theta * 0.5, 1)
    return c.expval(qphys.Z(0) @ qphys.Z(1)).expval(qphys.X(1)).probs()


def test_split_runs_give_the_results_of_one_run(monkeypatch):
    theta = torch.linspace(-2.0, 2.0, 11, dtype=torch.float64)
    circuits = [_circuit(theta), _circuit(theta + 0.1), qphys.Circuit(wires=1).h(0).expval(qphys.X(0))]
    ref = [qphys.execute(c, qphys.device("torch.qubit", dtype="complex128")) for c in circuits]
    monkeypatch.setattr(aer, "AER_RUN_EXPERIMENTS", 3)
    runs = []
    real_run = aer.AerTransport.submit

    def counting_submit(self, payload, idempotency_key):
        runs.extend(aer._aer_runs(payload.pubs))
        return real_run(self, payload, idempotency_key)

    monkeypatch.setattr(aer.AerTransport, "submit", counting_submit)
    dev = qphys.device("aer.statevector")
    out = qphys.execute(circuits, dev)
    assert len(runs) >= 8  # 11 + 11 + 1 experiments in runs of at most 3
    assert all(sum(len(next(iter(b.values()))) if b else 1 for _, b in run) <= 3 for run in runs)
    for r, e in zip(out, ref):
        for v, w in zip(r.values, e.values):
            assert torch.allclose(torch.as_tensor(v, dtype=torch.float64), w.to(torch.float64), atol=1e-10)


def test_aer_runs_experiments_in_parallel_by_default_and_respects_the_caller():
    assert qphys.device("aer.statevector").backend_options["max_parallel_experiments"] == 0
    dev = qphys.device("aer.statevector", backend_options={"max_parallel_experiments": 1})
    assert dev.backend_options["max_parallel_experiments"] == 1
