import math

import numpy as np
import pytest
import torch

import qphys
from qphys.errors import ConfigError, ParameterError, UnsupportedOperationError
from qphys.generative import (
    BornMachine,
    ChowLiuAnsatz,
    HardwareEfficientAnsatz,
    bars_and_stripes,
    bars_and_stripes_distribution,
    chow_liu_tree,
    gaussian_mixture,
    kl,
    kl_divergence,
    mmd,
    mmd_kernel,
    nll,
    qbas_score,
    valid_fraction,
)
from qphys.generative.datasets import empirical_distribution, indices_to_patterns, patterns_to_indices


def qiskit_probs(circuit):
    """Reference probabilities from Qiskit's Statevector (wire 0 = most significant bit)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator, Statevector

    n = circuit.num_wires
    qc = QuantumCircuit(n)

    def q(w):  # qphys wire 0 is Qiskit's highest qubit
        return n - 1 - w

    for op in circuit.operations:
        if op.name in ("rx", "ry", "rz"):
            getattr(qc, op.name)(float(torch.as_tensor(op.params[0]).detach()), q(op.wires[0]))
        elif op.name == "cx":
            qc.cx(q(op.wires[0]), q(op.wires[1]))
        elif op.name == "unitary":
            qc.unitary(Operator(op.params[0].detach().numpy()), [q(op.wires[0])])
        else:
            raise AssertionError(op.name)
    return Statevector(qc).probabilities()


def test_bars_and_stripes_patterns():
    for (r, c), count in {(3, 3): 14, (2, 2): 6, (2, 3): 10}.items():
        pats = bars_and_stripes(r, c)
        assert pats.shape == (count, r * c)
        for p in pats:
            img = p.reshape(r, c)
            rows_const = all(len(set(row)) == 1 for row in img)
            cols_const = all(len(set(col)) == 1 for col in img.T)
            assert rows_const or cols_const
        assert len({tuple(p) for p in pats}) == count
    t = bars_and_stripes_distribution(3, 3)
    assert t.shape == (512,) and math.isclose(float(t.sum()), 1.0)
    assert torch.allclose(t[t > 0], torch.full((14,), 1 / 14, dtype=torch.float64))
    # pixel (r, c) is qubit 3r + c, qubit 0 most significant: the top row lit = 111000000
    assert int("111000000", 2) in patterns_to_indices(bars_and_stripes(3, 3))
    assert np.array_equal(indices_to_patterns(patterns_to_indices(bars_and_stripes(2, 2)), 4), bars_and_stripes(2, 2))


def test_gaussian_mixture_peaks():
    p = gaussian_mixture(8)
    assert math.isclose(float(p.sum()), 1.0)
    peaks = [int(i) for i in torch.topk(p, 1).indices]
    assert abs(peaks[0] - 2 / 7 * 256) < 2 or abs(peaks[0] - 5 / 7 * 256) < 2
    with pytest.raises(ParameterError, match="same non-zero length"):
        gaussian_mixture(4, means=[1.0, 2.0], stds=[1.0])


def test_chow_liu_ansatz_matches_liu_wang_and_qiskit():
    target = bars_and_stripes_distribution(3, 3)
    ans = ChowLiuAnsatz.from_data(10, target, 9)
    assert ans.num_params(9) == 279 and len(ans.edges) == 8
    c = qphys.Circuit(wires=9)
    ans(c, torch.zeros(279))
    names = [op.name for op in c.operations]
    assert names.count("cx") == 80 and names.count("rx") == 99 and names.count("rz") == 180
    # correlated bits get an edge
    p = torch.zeros(8, dtype=torch.float64)
    p[0b000] = p[0b110] = 0.25
    p[0b001] = p[0b111] = 0.25
    assert (0, 1) in chow_liu_tree(p, 3)
    # probabilities agree with Qiskit, fused and unfused
    small = ChowLiuAnsatz(2, [(0, 1), (1, 2)])
    w = torch.tensor(np.random.default_rng(1).uniform(0, 2 * np.pi, small.num_params(3)))
    for fuse in (False, True):
        bm = BornMachine(small, 3, device=qphys.device("torch.qubit", dtype="complex128"), weights=w, fuse=fuse)
        ref = qiskit_probs(bm.circuit(fuse=fuse))
        np.testing.assert_allclose(bm.probs().detach().numpy(), ref, atol=1e-12)
    assert BornMachine(small, 3, weights=w).fuse is True


def test_sample_and_log_prob():
    dev = qphys.device("torch.qubit", dtype="complex128")
    bm = BornMachine(HardwareEfficientAnsatz(1), 3, device=dev, seed=4)
    p = bm.probs().detach()
    s = bm.sample(20000, seed=1)
    assert s.shape == (20000, 3) and set(s.unique().tolist()) <= {0, 1}
    freq = empirical_distribution(s.numpy(), 3)
    assert float((freq - p).abs().max()) < 5 * math.sqrt(0.25 / 20000)
    assert torch.equal(s, bm.sample(20000, seed=1))
    x = torch.tensor([[0, 0, 0], [1, 0, 1]])
    assert torch.allclose(bm.log_prob(x), torch.log(p[[0, 5]]))


def test_losses_against_direct_formulas():
    rng = np.random.default_rng(0)
    p = torch.tensor(rng.dirichlet(np.ones(8)))
    q = torch.tensor(rng.dirichlet(np.ones(8)))
    bits = indices_to_patterns(np.arange(8), 3)
    sig = (0.5, 1.0, 2.0, 4.0)
    Kd = np.array([[np.mean([np.exp(-np.sum((a - b) ** 2) / (2 * s)) for s in sig]) for b in bits] for a in bits])
    direct = sum(
        (p[i] * p[j] - 2 * p[i] * q[j] + q[i] * q[j]) * Kd[i, j] for i in range(8) for j in range(8)
    )
    assert math.isclose(float(mmd(p, q)), float(direct), rel_tol=1e-12)
    assert math.isclose(float(mmd(p, q, normalize=False)), 4 * float(direct), rel_tol=1e-12)
    assert float(mmd(p, p)) == 0.0
    assert torch.allclose(mmd_kernel(3), torch.tensor(Kd))
    entropy = -(q * q.log()).sum()
    assert math.isclose(float(nll(p, q)), float(kl(p, q) + entropy), rel_tol=1e-12)
    assert math.isclose(float(kl(p, q)), float((q * (q / p).log()).sum()), rel_tol=1e-12)
    with pytest.raises(ParameterError, match="different number of qubits"):
        mmd(p, torch.ones(16) / 16)


def test_metrics():
    valid = bars_and_stripes(2, 2)
    s = np.vstack([valid, valid[:2], [[0, 1, 1, 0]]])
    score = qbas_score(s, valid)
    assert math.isclose(score["precision"], 8 / 9) and score["recall"] == 1.0
    assert math.isclose(score["qbas"], 2 * (8 / 9) / (8 / 9 + 1))
    assert math.isclose(valid_fraction(s, valid), 8 / 9)
    t = bars_and_stripes_distribution(2, 2)
    assert math.isclose(valid_fraction(t, valid), 1.0)
    assert float(kl_divergence(t, t)) == 0.0


def test_exact_training_lbfgs_bas_2x2_converges():
    target = bars_and_stripes_distribution(2, 2)
    dev = qphys.device("torch.qubit", dtype="complex128")
    bm = BornMachine(ChowLiuAnsatz.from_data(2, target, 4), 4, device=dev, seed=0)
    hist = bm.fit(target, steps=80)
    assert hist.loss[-1] < 1e-3 * hist.loss[0]
    p = bm.probs().detach()
    assert float(kl_divergence(target, p)) < 0.05
    assert valid_fraction(p, bars_and_stripes(2, 2)) > 0.95


def test_exact_training_adam_kl_loss_decreases():
    target = bars_and_stripes_distribution(2, 2)
    bm = BornMachine(HardwareEfficientAnsatz(2), 4, seed=1)
    hist = bm.fit(target, loss="kl", optimizer="adam", lr=0.1, steps=30)
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert hist.kl[-1] == pytest.approx(hist.loss[-1], rel=1e-5)


def test_sampled_mmd_gradient_is_unbiased_and_one_call(spy):
    target = bars_and_stripes_distribution(1, 3)  # 3 qubits: 000 and 111
    dev = qphys.device("torch.qubit", dtype="complex128")
    ans = ChowLiuAnsatz(1, [(0, 1), (1, 2)])
    bm = BornMachine(ans, 3, device=dev, seed=3)
    exact = torch.autograd.grad(bm.loss(target), bm.weights)[0]
    counter = spy(dev)
    grads = [bm.sampled_mmd_gradient(target, shots=4000, seed=s)[0] for s in range(8)]
    P = bm.num_params
    assert counter.calls == [1 + 2 * P] * 8  # base + all shifted circuits, one call per estimate
    mean = torch.stack(grads).mean(0)
    # standard error of each component is below ~0.01 with 8 x 4000 shots
    assert float((mean - exact).abs().max()) < 0.02
    assert float(exact.abs().max()) > 0.05  # a non-trivial gradient


def test_sampled_training_improves_kl_one_call_per_step(spy):
    target = bars_and_stripes_distribution(2, 2)
    dev = qphys.device("torch.qubit", dtype="complex128")
    bm = BornMachine(ChowLiuAnsatz.from_data(1, target, 4), 4, device=dev, seed=5)
    kl0 = float(kl_divergence(target, bm.probs().detach()))
    counter = spy(dev)
    hist = bm.fit_sampled(target, steps=20, shots=500, lr=0.1, seed=0)
    assert len(counter.calls) == 20 and set(counter.calls) == {1 + 2 * bm.num_params}
    kl1 = float(kl_divergence(target, bm.probs().detach()))
    assert kl1 < kl0 - 0.2
    assert len(hist.loss) == 20


def test_bad_input_errors():
    target9 = bars_and_stripes_distribution(3, 3)
    bm = BornMachine(ChowLiuAnsatz(1), 4, seed=0)
    with pytest.raises(ParameterError, match=r"length 2\*\*4 = 16 .* a dataset for a different number of qubits"):
        bm.fit(target9, steps=1)
    with pytest.raises(ParameterError, match="the dataset has 9 bits per sample but the Born machine has 4 qubits"):
        bm.fit(bars_and_stripes(3, 3), steps=1)
    with pytest.raises(ParameterError, match="non-negative and sum to 1"):
        bm.fit(torch.ones(16), steps=1)
    with pytest.raises(ParameterError, match="non-empty"):
        empirical_distribution(np.zeros((0, 4)))
    with pytest.raises(ParameterError, match="only 0 and 1"):
        patterns_to_indices([[0, 2]])
    with pytest.raises(ConfigError, match="loss must be one of"):
        bm.fit(bars_and_stripes_distribution(2, 2), loss="hinge")
    with pytest.raises(ParameterError, match="weights must have shape"):
        BornMachine(ChowLiuAnsatz(1), 4, weights=torch.zeros(3))
    with pytest.raises(ParameterError, match="needs num_params"):
        BornMachine(lambda c, w: c, 2)
    with pytest.raises(ParameterError, match=r"x must be \(M, 4\) bits"):
        bm.log_prob([[0, 1]])

    def u_ansatz(c, w):
        for q in range(2):
            c.u(w[..., 0], w[..., 1], w[..., 2], q)
        return c

    bad = BornMachine(u_ansatz, 2, num_params=3, seed=0)
    with pytest.raises(UnsupportedOperationError, match="two-term ±π/2 shift rule"):
        bad.fit_sampled(bars_and_stripes_distribution(1, 2), steps=1)
