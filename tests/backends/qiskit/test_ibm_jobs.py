"""ibm.* defaults and job plumbing: noise-aware layout by default, seed=0 reproducible on fake
backends, idempotency keys as IBM job tags, rebuildable transports without credentials."""

import inspect
import json
import warnings

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qphys_qiskit.ibm import IBMDevice, IBMTransport, ibm_transport, run_local

import qphys
from qphys.errors import CredentialsError
from qphys.jobs import rebuild_transport
from qphys.jobs.transport import encode_rebuild_spec


@pytest.mark.slow
def test_bell_pair_on_fake_torino_with_default_options_has_few_odd_outcomes():
    """Level 1 kept the trivial layout on physical qubits 0 and 1 (17.7% odd outcomes); the default is
    Qiskit's own level with its noise-aware layout: the same physical qubits Qiskit picks, < 5% odd."""
    qiskit_default = inspect.signature(generate_preset_pass_manager).parameters["optimization_level"].default
    assert IBMDevice.DEFAULT_OPTIMIZATION_LEVEL >= qiskit_default
    dev = qphys.device("ibm.fake_torino", shots=2000, seed=11, ledger=False)
    counts = qphys.execute(qphys.Circuit(wires=2).h(0).cx(0, 1).counts(), dev).counts
    odd = (counts.get("01", 0) + counts.get("10", 0)) / 2000
    assert odd < 0.05, counts
    (template,) = dev._templates.values()
    layout = template.data["ibm"][1].layout.final_index_layout()
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    ours = generate_preset_pass_manager(optimization_level=qiskit_default, backend=dev.backend, seed_transpiler=11)
    trivial = generate_preset_pass_manager(optimization_level=1, backend=dev.backend, seed_transpiler=11)
    assert layout == ours.run(qc).layout.final_index_layout()
    assert trivial.run(qc).layout.final_index_layout() == [0, 1] != layout


def test_seed_zero_is_reproducible_on_fake_backends():
    """qiskit-ibm-runtime's local testing mode dropped seed=0 (`if seed_simulator := ...`), and local jobs
    that overlapped in background threads did not reproduce their seeded results."""
    c = qphys.Circuit(wires=2).h(0).cx(0, 1).rx(0.3, 1).counts().expval(qphys.Z(0) @ qphys.Z(1))
    runs = [qphys.execute(c, qphys.device("ibm.fake_manila", shots=300, seed=s, ledger=False)) for s in (0, 0, 1)]
    assert runs[0].counts == runs[1].counts and float(runs[0].expvals[0]) == float(runs[1].expvals[0])
    assert runs[0].counts != runs[2].counts
    # the sampler job gives the same counts whether or not an estimator job runs in the same execute
    # (two local jobs running at once on one fake backend lost their seeded results, ~9 runs in 10)
    alone = qphys.Circuit(wires=2).h(0).cx(0, 1).rx(0.3, 1).counts()
    assert qphys.execute(alone, qphys.device("ibm.fake_manila", shots=300, seed=0, ledger=False)).counts == runs[0].counts


def test_running_fake_backends_directly_matches_local_testing_mode():
    """For a non-zero seed the direct primitives give what local testing mode gave, bit for bit."""
    from qiskit_ibm_runtime import EstimatorV2, SamplerV2
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    from qphys_qiskit._base import Payload, Pub

    backend = FakeManilaV2()
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    isa = generate_preset_pass_manager(optimization_level=2, backend=backend, seed_transpiler=3).run(qc)
    measured = isa.copy()
    measured.measure_all()
    from qiskit.quantum_info import SparsePauliOp

    obs = (SparsePauliOp("ZZ").apply_layout(isa.layout),)
    values = np.zeros((1, 0))
    direct_s = run_local(backend, Payload("sampler", [Pub("s", measured, values, num_bits=2)], 500, 7)).result()
    direct_e = run_local(backend, Payload("estimator", [Pub("e", isa, values, observables=obs)], 500, 7)).result()
    sampler = SamplerV2(mode=backend)
    sampler.options.default_shots = 500
    sampler.options.simulator.seed_simulator = 7
    estimator = EstimatorV2(mode=backend)
    estimator.options.default_shots = 500
    estimator.options.simulator.seed_simulator = 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        via_runtime_e = estimator.run([(isa, [list(obs)], values[:, None, :])]).result()
    via_runtime_s = sampler.run([(measured, values)]).result()
    assert direct_s[0].data.meas.get_counts() == via_runtime_s[0].data.meas.get_counts()
    assert np.array_equal(np.asarray(direct_e[0].data.evs).ravel(), np.asarray(via_runtime_e[0].data.evs).ravel())


class _Service:
    """The part of QiskitRuntimeService that look-ups use (a real service needs an IBM account)."""

    def __init__(self, jobs):
        self._jobs, self.calls = jobs, []

    def jobs(self, **kwargs):
        self.calls.append(kwargs)
        return [j for j in self._jobs if kwargs["job_tags"][0] in j.tags]


class _Job:
    def __init__(self, job_id, tags):
        self._id, self.tags = job_id, tags

    def job_id(self):
        return self._id


def test_ibm_jobs_carry_the_idempotency_key_as_a_tag_and_are_found_by_it():
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    sampler = SamplerV2(mode=FakeManilaV2())
    sampler.options.environment.job_tags = ["qphys-0123456789abcdef0123456789abcdef"]  # the option exists
    service = _Service([_Job("d1abc", ["qphys-aaa"]), _Job("d2def", ["qphys-bbb"])])
    t = IBMTransport(FakeManilaV2(), service=service, local=False, service_options={"instance": "crn:v1:x"})
    assert t.can_lookup and t.can_reattach
    assert t.lookup("qphys-bbb") == "d2def" and t.lookup("qphys-ccc") is None
    assert service.calls[0] == {"job_tags": ["qphys-bbb"], "backend_name": "fake_manila", "limit": 2}
    spec = json.loads(encode_rebuild_spec(t))
    assert spec == {"factory": "qphys_qiskit.ibm:ibm_transport",
                    "kwargs": {"backend": "fake_manila", "instance": "crn:v1:x"}}
    local = IBMTransport(FakeManilaV2(), local=True)
    assert not local.can_lookup and not local.can_reattach and local.rebuild_spec() is None


def test_rebuilding_an_ibm_transport_uses_the_providers_credentials(monkeypatch, tmp_path):
    import qiskit_ibm_runtime.accounts.management as management

    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(tmp_path / "none.json"))
    assert getattr(ibm_transport, "__qphys_transport_factory__", False)
    with pytest.raises(CredentialsError, match="set QISKIT_IBM_TOKEN"):
        rebuild_transport({"factory": "qphys_qiskit.ibm:ibm_transport", "kwargs": {"backend": "ibm_brisbane"}})


@pytest.mark.remote
def test_a_real_ibm_job_is_found_by_its_tag(tmp_path):  # pragma: no cover - needs an IBM Quantum account
    import os

    if not os.environ.get("QISKIT_IBM_TOKEN"):
        pytest.skip("needs IBM Quantum credentials (QISKIT_IBM_TOKEN)")
    dev = qphys.device(os.environ.get("QPHYS_IBM_BACKEND", "ibm.ibm_brisbane"), shots=100,
                       ledger=tmp_path / "l.sqlite")
    qphys.execute(qphys.Circuit(wires=1).x(0).counts(), dev)
    (row,) = dev.runner.ledger.records()
    assert dev.job_transport().lookup(row.idempotency_key) == row.job_id
