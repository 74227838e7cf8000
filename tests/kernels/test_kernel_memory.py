"""The statevector Gram path under a memory budget: default from free memory, each state prepared
once when the states fit, the upper triangle only, a warning when tiling prepares states again,
and the training states kept for ``predict``."""

import copy
import pickle

import numpy as np
import pytest
import torch

import qphys
from qphys.kernels import QSVC, QuantumKernel
from qphys.kernels import kernel as kernel_module
from qphys.templates import zz_feature_map

# 3 qubits, complex128: one state is 8 amplitudes x 16 bytes
STATE = 8 * 16


def fm(c, x):
    return zz_feature_map(c, x, reps=2, entanglement="linear")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    return rng.random((12, 3)) * 2 * np.pi, rng.random((5, 3)) * 2 * np.pi


@pytest.fixture
def dev128():
    return qphys.device("torch.qubit", dtype="complex128")


def reference(X, Y=None):
    """Gram matrix from states prepared one by one (no tiling, no blocks, no cache)."""
    k = QuantumKernel(fm, qphys.device("torch.qubit", dtype="complex128"))
    sx = torch.stack([k.states(x.reshape(1, -1))[0] for x in torch.as_tensor(X)])
    sy = sx if Y is None else torch.stack([k.states(y.reshape(1, -1))[0] for y in torch.as_tensor(Y)])
    return (sx @ sy.conj().T).abs() ** 2


def test_default_budget_is_half_of_free_memory(monkeypatch):
    k = QuantumKernel(fm)
    assert k.max_memory is None
    monkeypatch.setattr(kernel_module, "available_memory", lambda where: 10 << 30)
    assert k.memory_budget() == 5 << 30
    # 750 samples at 16 qubits (the case that was 12x slow): 384 MiB of states, prepared once
    assert 750 * 2**16 * 8 <= k.memory_budget() // 2
    assert QuantumKernel(fm, max_memory=1 << 20).memory_budget() == 1 << 20


def test_each_state_is_prepared_once_when_the_states_fit(data, dev128):
    X, Y = data
    k = QuantumKernel(fm, dev128, max_memory=2 * 12 * STATE)
    K = k.matrix(X)
    assert k.last_stats["circuits"] == 12
    torch.testing.assert_close(K, reference(X), atol=1e-12, rtol=0)
    assert torch.equal(K, K.T)


def test_symmetric_matrix_computes_the_upper_triangle_only(data, dev128, monkeypatch):
    X, _ = data
    computed = []
    original = kernel_module._fidelity
    monkeypatch.setattr(kernel_module, "_fidelity", lambda a, b: computed.append(a.shape[0] * b.shape[0]) or original(a, b))
    monkeypatch.setattr(kernel_module, "GRAM_BLOCK_ROWS", 4)
    K = QuantumKernel(fm, dev128).matrix(X)
    assert sum(computed) == 4 * 12 + 4 * 8 + 4 * 4  # blocks on and above the diagonal: 96 of 144 entries
    torch.testing.assert_close(K, reference(X), atol=1e-12, rtol=0)


def test_tiling_that_prepares_states_again_warns_and_uses_symmetry(data, dev128):
    X, _ = data
    # half the budget holds 8 of the 12 states: block 0..8 resident, rows 8..12 streamed; then block 8..12
    k = QuantumKernel(fm, dev128, max_memory=16 * STATE)
    with pytest.warns(UserWarning, match=r"12 feature states at 3 qubits .* up to 2 times\. Pass max_memory=3072"):
        K = k.matrix(X)
    assert k.last_stats["circuits"] == 8 + 4 + 4  # each pair block once (was 72 preparations)
    torch.testing.assert_close(K, reference(X), atol=1e-12, rtol=0)


def test_rectangular_matrix_with_states_too_large_for_the_cache(data, dev128):
    X, Y = data
    k = QuantumKernel(fm, dev128, max_memory=8 * STATE)  # 4 states in half the budget; Y has 5
    with pytest.warns(UserWarning, match="up to 3 times"):
        K = k.matrix(X, Y)
    torch.testing.assert_close(K, reference(X, Y), atol=1e-12, rtol=0)


def test_reference_states_are_kept_for_the_next_call(data, dev128):
    X, Y = data
    k = QuantumKernel(fm, dev128)
    k.matrix(Y)  # Y is the reference set of a symmetric call
    K = k.matrix(X, Y)  # ... and of the rectangular one: only X is prepared
    assert k.last_stats["circuits"] == 12 and k.last_stats["reused_states"] == 5
    torch.testing.assert_close(K, reference(X, Y), atol=1e-12, rtol=0)
    # other data or other parameters: prepared afresh
    k.matrix(X, Y + 0.1)
    assert k.last_stats["circuits"] == 17
    k.clear_cache()
    k.matrix(X, Y + 0.1)
    assert k.last_stats["circuits"] == 17


def test_kept_states_follow_the_parameters_and_the_gradient(dev128):
    def fm_w(c, x, w):
        for q in range(2):
            c.h(q).rz(x[:, q] * w[q], q)
        return c.cx(0, 1).ry(w[2], 1)

    X = torch.rand(6, 2, dtype=torch.float64)
    k = QuantumKernel(fm_w, dev128, params=torch.tensor([0.5, 1.5, 0.3]))
    with torch.no_grad():
        K0 = k.matrix(X)
        k.weights.add_(0.2)
        K1 = k.matrix(X)
    assert k.last_stats["circuits"] == 6 and not torch.allclose(K0, K1)
    k.matrix(X).sum().backward()  # with gradients: nothing from the cache, the graph reaches the weights
    assert k.weights.grad is not None and bool(torch.isfinite(k.weights.grad).all())
    assert k.weights.grad.abs().sum() > 0


def test_qsvc_predict_reuses_the_training_states(data):
    X, Y = data
    y = np.array([0, 1] * 6)
    model = QSVC(QuantumKernel(fm, qphys.device("torch.qubit", dtype="complex128"))).fit(X, y)
    assert model.kernel_.last_stats["circuits"] == 12
    pred = model.predict(Y)
    assert model.kernel_.last_stats == {"method": "statevector", "circuits": 5, "execute_calls": 1, "reused_states": 12}
    fresh = QSVC(QuantumKernel(fm, qphys.device("torch.qubit", dtype="complex128"))).fit(X, y)
    fresh.kernel_.clear_cache()
    np.testing.assert_array_equal(fresh.predict(Y), pred)


def test_copies_and_pickles_leave_the_kept_states_behind(data):
    X, _ = data
    k = QuantumKernel(fm)
    k.matrix(X)
    assert k._state_cache is not None
    assert copy.deepcopy(k)._state_cache is None
    assert pickle.loads(pickle.dumps(k))._state_cache is None
    assert k._state_cache is not None


def test_max_memory_must_be_positive_bytes():
    from qphys.errors import ConfigError

    for bad in (0, -1, 1.5, True, "1GB"):
        with pytest.raises(ConfigError, match="max_memory must be a positive number of bytes or None"):
            QuantumKernel(fm, max_memory=bad)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_budget_blocks_and_kept_states(data):
    """On CUDA the default budget is half of the free GPU memory; blocks, symmetry and the kept
    states give the CPU reference."""
    X, Y = data
    dev = qphys.device("torch.qubit", dtype="complex128", torch_device="cuda")
    free, _ = torch.cuda.mem_get_info(dev.torch_device)
    assert abs(QuantumKernel(fm, dev).memory_budget() - free // 2) <= 0.05 * free
    k = QuantumKernel(fm, dev)
    k.matrix(Y)
    K = k.matrix(X, Y)
    assert k.last_stats["reused_states"] == 5 and K.device.type == "cpu"
    torch.testing.assert_close(K, reference(X, Y), atol=1e-10, rtol=0)
    tiled = QuantumKernel(fm, dev, max_memory=16 * STATE)
    with pytest.warns(UserWarning, match="up to 2 times"):
        torch.testing.assert_close(tiled.matrix(X), reference(X), atol=1e-10, rtol=0)
