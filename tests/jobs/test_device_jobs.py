"""Remote-style devices on the job machinery: Aer and ibm.fake_* behind the transports, with faults,
kills, timeouts and credentials."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import qphys
from qphys.errors import DeviceOptionError, JobTimeoutError, ResourceError
from qphys.jobs import (
    FaultInjectingTransport,
    Ledger,
    LocalServerTransport,
    RecordingTransport,
    RetryPolicy,
)

pytest.importorskip("qphys_qiskit")


def _train(device, steps=20):
    """A tiny parameter-shift training run; returns the weight trajectory."""
    from qphys.nn import QuantumLayer
    from qphys.templates import angle_embedding, hardware_efficient

    def circuit(x, w):
        return hardware_efficient(angle_embedding(qphys.Circuit(wires=2), x), w).expval(qphys.Z(0))

    torch.manual_seed(0)
    layer = QuantumLayer(circuit, {"w": (1, 2, 2)}, device=device, diff_method="parameter-shift")
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    x = torch.rand(8, 2, generator=torch.Generator().manual_seed(1))
    y = torch.linspace(-1, 1, 8)
    for _ in range(steps):
        opt.zero_grad()
        loss = (layer(x)[:, 0] - y).pow(2).mean()
        loss.backward()
        opt.step()
    return layer.w.detach().clone()


def test_fault_injected_training_matches_fault_free_and_pays_once(tmp_path):
    """Refused submissions, lost responses and failed fetches behind a server: bit-identical weights,
    every one of the 40 jobs accepted (paid) exactly once."""
    clean = qphys.device("aer.statevector")
    w_clean = _train(clean)
    holder = {}

    def wrap(inner):
        holder["server"] = LocalServerTransport(tmp_path / "srv", inner)
        holder["rec"] = RecordingTransport(holder["server"])
        holder["faults"] = FaultInjectingTransport(holder["rec"], submit_failure_rate=0.3, result_failure_rate=0.3,
                                                   lost_response_rate=0.2, seed=7)
        return holder["faults"]

    faulty = qphys.device(
        "aer.statevector", transport=wrap, ledger=tmp_path / "l.sqlite",
        retry=RetryPolicy(max_retries=20, base_delay=0.0, sleep=lambda s: None),
    )
    w_faulty = _train(faulty)
    assert torch.equal(w_clean, w_faulty)
    faults = holder["faults"]
    assert faults.injected_submit_failures > 5 and faults.injected_result_failures > 5
    assert faults.injected_lost_responses > 3
    # 20 steps x (forward + backward) = 40 distinct jobs, each accepted (paid) exactly once
    assert len(holder["server"].submissions()) == 40 == clean.jobs_submitted == faulty.jobs_submitted
    assert faulty.job_stats()["recovered"] == faults.injected_lost_responses
    assert all(r.status == "done" for r in Ledger(tmp_path / "l.sqlite").records())


_SCRIPT = textwrap.dedent(
    """
    import sys, torch, qphys
    from qphys.jobs import LocalServerTransport

    server, ledger = sys.argv[1], sys.argv[2]
    dev = qphys.device("aer.statevector", transport=lambda t: LocalServerTransport(server, t), ledger=ledger)
    vals = []
    for k in range(3):
        x = torch.linspace(0, 1, 4, dtype=torch.float64) + k
        c = qphys.Circuit(wires=2).ry(x, 0).cx(0, 1).expval(qphys.Z(1))
        vals.append(qphys.execute(c, dev).expvals[:, 0])
    print("RESULT", torch.cat(vals).tolist(), dev.job_stats())
    """
)


def test_aer_killed_after_the_server_accepted_reruns_without_paying_again(tmp_path):
    """kill -9 right after the provider accepted the second job (its id never reached the ledger)."""
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    server, ledger = tmp_path / "server", tmp_path / "jobs.sqlite"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    first = subprocess.run([sys.executable, str(script), str(server), str(ledger)], capture_output=True, text=True,
                           env=dict(env, QPHYS_KILL_AT="server.accepted@2"), timeout=300)
    assert first.returncode == -9, first.stderr
    assert len(LocalServerTransport(server).submissions()) == 2
    assert sorted(r.status for r in Ledger(ledger).records()) == ["done", "pending"]
    second = subprocess.run([sys.executable, str(script), str(server), str(ledger)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    # job 1 reused, job 2 found by its idempotency key and re-attached, only job 3 newly submitted
    assert len(LocalServerTransport(server).submissions()) == 3
    assert "'reused': 1" in second.stdout and "'recovered': 1" in second.stdout and "'submitted': 1" in second.stdout
    expected = torch.cos(torch.cat([torch.linspace(0, 1, 4, dtype=torch.float64) + k for k in range(3)]))
    got = torch.tensor(eval(second.stdout.split("RESULT ")[1].rsplit(" {", 1)[0]), dtype=torch.float64)
    assert torch.allclose(got, expected, atol=1e-12)


def test_job_timeout_option_and_run_config(tmp_path):
    c = qphys.Circuit(wires=1).x(0).expval(qphys.Z(0))
    dev = qphys.device("aer.statevector", ledger=tmp_path / "l.sqlite", job_timeout=0.2,
                       transport=lambda t: LocalServerTransport(tmp_path / "srv", t, latency=1.0))
    with pytest.raises(JobTimeoutError, match=r"aer.statevector: job srv-\w+ did not finish within 0.2 s"):
        qphys.execute(c, dev)
    assert float(qphys.execute(c, dev, config=qphys.RunConfig(job_timeout=30)).expvals[0]) == -1.0
    assert dev.job_stats()["reattached"] == 1 and dev.job_stats()["submitted"] == 1
    with pytest.raises(DeviceOptionError, match="job_timeout must be a positive number of seconds"):
        qphys.device("aer.statevector", job_timeout=0)


def test_aer_too_wide_is_refused_before_anything_runs():
    sim_limit = qphys.device("aer.statevector").simulator.num_qubits
    c = qphys.Circuit(wires=sim_limit + 4).h(0).expval(qphys.Z(0))
    with pytest.raises(ResourceError, match=r"aer.statevector: \d+ qubits need about .* use fewer qubits, or "
                                            r"aer.matrix_product_state"):
        qphys.device("aer.statevector").preprocess([c], qphys.RunConfig())


def test_credentials_never_reach_ledger_or_logs(tmp_path, monkeypatch, caplog):
    secret = "sk-TOKEN-should-never-be-stored-0123456789"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", secret)
    caplog.set_level("DEBUG")
    dev = qphys.device("ibm.fake_manila", shots=64, seed=1, ledger=tmp_path / "l.sqlite")
    c = qphys.Circuit(wires=2).h(0).cx(0, 1).expval(qphys.Z(0) @ qphys.Z(1)).counts()
    qphys.execute(c, dev)
    for f in tmp_path.iterdir():
        assert secret.encode() not in f.read_bytes()
    assert secret not in caplog.text
