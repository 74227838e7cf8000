import math

import numpy as np
import pytest
import torch

import qphys
from qphys.devices.base import Capabilities
from qphys.devices.torch_qubit import TorchQubitDevice
from qphys.errors import ConfigError, ParameterError, UnsupportedOperationError
from qphys.kernels import QuantumKernel, nearest_psd
from qphys.templates import amplitude_embedding, zz_feature_map


def fm_linear(c, x):
    return zz_feature_map(c, x, reps=2, entanglement="linear")


def qiskit_gram(X, Y=None):
    """Reference: Qiskit's ZZ feature map and Statevector (independent simulator)."""
    from qiskit.circuit.library import zz_feature_map as qzz
    from qiskit.quantum_info import Statevector

    n = X.shape[1]
    fm = qzz(n, reps=2, entanglement="linear")
    def states(A):
        return np.array([Statevector(fm.assign_parameters(row)).data for row in A])
    SX = states(X)
    SY = SX if Y is None else states(Y)
    return np.abs(SX @ SY.conj().T) ** 2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return rng.random((12, 3)) * 2 * np.pi, rng.random((5, 3)) * 2 * np.pi


def test_statevector_gram_matches_qiskit_statevector(data, dev128):
    X, Y = data
    k = QuantumKernel(fm_linear, dev128)
    K = k.matrix(X)
    assert k.last_stats == {"method": "statevector", "circuits": 12, "execute_calls": 1}
    np.testing.assert_allclose(K.numpy(), qiskit_gram(X), atol=1e-10)
    np.testing.assert_allclose(k.matrix(X, Y).numpy(), qiskit_gram(X, Y), atol=1e-10)
    assert K.dtype == torch.float64 and torch.equal(K, K.T)


def test_compute_uncompute_matches_statevector_upper_triangle_one_call(data, dev128, spy):
    X, Y = data
    exact = QuantumKernel(fm_linear, dev128).matrix(X)
    k = QuantumKernel(fm_linear, dev128, method="compute-uncompute")
    counter = spy(dev128)
    K = k.matrix(X)
    assert counter.calls == [12 * 11 // 2]  # strict upper triangle, one device call
    assert torch.allclose(K, exact, atol=1e-10)
    assert torch.equal(K.diagonal(), torch.ones(12, dtype=torch.float64))
    KXY = k.matrix(X, Y)
    assert counter.calls[-1] == 12 * 5
    assert torch.allclose(KXY, QuantumKernel(fm_linear, dev128).matrix(X, Y), atol=1e-10)


def test_compute_uncompute_non_batching_device_sends_one_list(data, spy):
    class ListOnly(TorchQubitDevice):
        name = "torch.qubit.listonly"
        capabilities = Capabilities(
            operations=TorchQubitDevice.capabilities.operations,
            native_diff=("backprop", "adjoint"),
            batching=False,
        )

    X, _ = data
    dev = ListOnly(dtype="complex128")
    counter = spy(dev)
    K = QuantumKernel(fm_linear, dev, method="compute-uncompute").matrix(X[:6])
    assert counter.calls == [15]
    np.testing.assert_allclose(K.numpy(), qiskit_gram(X[:6]), atol=1e-10)
    Ks = QuantumKernel(fm_linear, dev).matrix(X[:6])  # statevector path, row circuits in one call
    assert counter.calls[-1] == 6
    np.testing.assert_allclose(Ks.numpy(), qiskit_gram(X[:6]), atol=1e-10)


def test_max_circuits_per_job_splits_calls(data, dev128, spy):
    X, _ = data
    counter = spy(dev128)
    QuantumKernel(fm_linear, dev128, method="compute-uncompute", max_circuits_per_job=30).matrix(X)
    assert counter.calls == [30, 30, 6]


def test_shots_within_noise_and_postprocessing(data):
    X, _ = data
    exact = QuantumKernel(fm_linear, qphys.device("torch.qubit", dtype="complex128")).matrix(X)
    shots = 2000
    dev = qphys.device("torch.qubit", shots=shots, seed=3)
    k = QuantumKernel(fm_linear, dev)
    assert k.resolved_method() == "compute-uncompute"
    K = k.matrix(X)
    sigma = torch.sqrt(exact * (1 - exact) / shots) + 1 / shots
    assert bool(((K - exact).abs() <= 5 * sigma).all())
    assert float((K - exact).abs().max()) > 0  # really sampled
    # same seed, same noise
    assert torch.equal(K, QuantumKernel(fm_linear, qphys.device("torch.qubit", shots=shots, seed=3)).matrix(X))
    Kp = QuantumKernel(fm_linear, dev, postprocess=("clip", "psd")).matrix(X)
    assert float(torch.linalg.eigvalsh(Kp).min()) >= -1e-10
    assert torch.allclose(Kp, Kp.T)


def test_nearest_psd_is_projection():
    rng = np.random.default_rng(0)
    A = torch.tensor(rng.normal(size=(6, 6)))
    S = A + A.T
    P = nearest_psd(S)
    w = torch.linalg.eigvalsh(P)
    assert float(w.min()) >= -1e-10
    assert torch.allclose(nearest_psd(P), P, atol=1e-10)  # idempotent
    Q = A @ A.T
    assert torch.allclose(nearest_psd(Q), Q, atol=1e-10)  # PSD input unchanged


def test_tiles_give_same_matrix(data, dev128, spy):
    X, Y = data
    full = QuantumKernel(fm_linear, dev128).matrix(X, Y)
    # 3 qubits, complex128: one state row = 8 * 16 bytes; force recompute-per-tile of 2 rows
    k = QuantumKernel(fm_linear, dev128, max_memory=8 * 16 * 4 * 4)
    counter = spy(dev128)
    tiled = k.matrix(X, Y)
    assert len(counter.calls) > 2 and max(counter.calls) <= 2
    assert torch.allclose(full, tiled, atol=1e-12)
    with pytest.warns(UserWarning, match="prepares some states up to 2 times"):
        K_tiled = k.matrix(X)
    assert torch.allclose(K_tiled, QuantumKernel(fm_linear, dev128).matrix(X), atol=1e-12)


def test_trainable_kernel_gradients_statevector_and_parameter_shift(dev128):
    def fm(c, x, w):
        for q in range(2):
            c.h(q).rz(x[:, q] * w[q], q)
        c.cx(0, 1).ry(w[2], 1)
        return c

    X = torch.tensor([[0.3, 1.2], [2.0, 0.4], [1.1, 2.5]], dtype=torch.float64)
    w0 = torch.tensor([0.7, -1.3, 0.4], dtype=torch.float64)
    grads = {}
    for method in ("statevector", "compute-uncompute"):
        k = QuantumKernel(fm, dev128, params=w0, method=method,
                          diff_method="parameter-shift" if method != "statevector" else "best")
        loss = (k.matrix(X) ** 2).sum()
        loss.backward()
        grads[method] = k.weights.grad.clone()
    # finite differences
    def f(w):
        k = QuantumKernel(fm, dev128, params=w)
        with torch.no_grad():
            return float((k.matrix(X) ** 2).sum())
    fd = torch.tensor([(f(w0 + h) - f(w0 - h)) / 2e-6 for h in torch.eye(3, dtype=torch.float64) * 1e-6],
                      dtype=torch.float64)
    assert torch.allclose(grads["statevector"], fd, atol=1e-6)
    assert torch.allclose(grads["compute-uncompute"], fd, atol=1e-6)


def test_bad_inputs_raise_clear_errors(dev128):
    k = QuantumKernel(fm_linear, dev128)
    with pytest.raises(ParameterError, match="X has 3 features but Y has 2"):
        k.matrix(np.ones((4, 3)), np.ones((2, 2)))
    with pytest.raises(ParameterError, match="X contains NaN or inf"):
        k.matrix(np.array([[0.1, math.nan]]))
    with pytest.raises(ParameterError, match="Y contains NaN or inf"):
        k.matrix(np.ones((2, 2)), np.array([[0.1, math.inf]]))
    with pytest.raises(ParameterError, match=r"X is empty \(shape \(0, 2\)\)"):
        k.matrix(np.zeros((0, 2)))
    with pytest.raises(ParameterError, match="must be a 2-D array"):
        k.matrix(np.ones(3))
    with pytest.raises(ParameterError, match="must be numeric"):
        k.matrix(np.array([["a", "b"]]))
    with pytest.raises(qphys.errors.WireError, match="3 features need 3 wires"):
        QuantumKernel(fm_linear, dev128, n_qubits=2).matrix(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="method must be one of"):
        QuantumKernel(fm_linear, method="pairwise")
    with pytest.raises(ConfigError, match="postprocess steps must be among"):
        QuantumKernel(fm_linear, postprocess="flip")
    with pytest.raises(UnsupportedOperationError, match="needs an exact device that returns states"):
        QuantumKernel(fm_linear, qphys.device("torch.qubit", shots=10), method="statevector").matrix(np.ones((2, 2)))
    amp = QuantumKernel(lambda c, x: amplitude_embedding(c, x, normalize=True), dev128,
                        n_qubits=1, method="compute-uncompute")
    with pytest.raises(UnsupportedOperationError, match="needs an invertible feature map"):
        amp.matrix(np.array([[1.0, 0.0], [0.6, 0.8]]))
    # amplitude embedding works on the statevector path
    K = QuantumKernel(lambda c, x: amplitude_embedding(c, x, normalize=True), dev128, n_qubits=1).matrix(
        np.array([[1.0, 0.0], [0.6, 0.8]]))
    assert abs(float(K[0, 1]) - 0.36) < 1e-12


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_statevector_gram_on_cuda_matches_cpu(data):
    X, Y = data
    cpu = QuantumKernel(fm_linear, qphys.device("torch.qubit", dtype="complex128")).matrix(X, Y)
    gpu = QuantumKernel(fm_linear, qphys.device("torch.qubit", dtype="complex128", torch_device="cuda"))
    K = gpu.matrix(X, Y)
    assert K.device.type == "cpu"
    assert torch.allclose(K, cpu, atol=1e-10)
    Kc = QuantumKernel(fm_linear, qphys.device("torch.qubit", dtype="complex128", torch_device="cuda"),
                       method="compute-uncompute").matrix(X)
    assert torch.allclose(Kc, QuantumKernel(fm_linear, qphys.device("torch.qubit", dtype="complex128")).matrix(X),
                          atol=1e-10)
