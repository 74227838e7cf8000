import math

import numpy as np
import pytest
import torch

import qphys
from qphys.errors import ConfigError, ParameterError
from qphys.kernels import QuantumKernel, target_alignment, train_alignment
from qphys.kernels.datasets import ad_hoc_data, checkerboard, double_cake


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(training_size=20, test_size=5, n=2, gap=0.3),
        dict(training_size=5, test_size=3, n=3, gap=0.1, entanglement="linear"),
        dict(training_size=6, test_size=2, n=4, gap=0.2, sampling_method="hypercube", divisions=6),
        dict(training_size=4, test_size=2, n=2, gap=0.0, labelling_method="measurement"),
    ],
)
def test_ad_hoc_data_reproduces_qiskit_machine_learning(kwargs):
    qml_datasets = pytest.importorskip("qiskit_machine_learning.datasets")
    from qiskit_machine_learning.utils import algorithm_globals

    algorithm_globals.random_seed = 12345
    ref = qml_datasets.ad_hoc_data(**kwargs, one_hot=False)
    ours = ad_hoc_data(**kwargs, seed=12345)
    for a, b in zip(ref, ours):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_ad_hoc_data_shapes_and_errors():
    xtr, ytr, xte, yte, total = ad_hoc_data(3, 2, 2, 0.3, seed=0, one_hot=True, include_sample_total=True)
    assert xtr.shape == (6, 2) and ytr.shape == (6, 2) and xte.shape == (4, 2) and total[0] == 10
    assert ((xtr >= 0) & (xtr < 2 * np.pi)).all()
    with pytest.raises(ParameterError, match="training_size must be a non-negative integer"):
        ad_hoc_data(-1, 2, 2)
    with pytest.raises(ParameterError, match="training_size \\+ test_size is 0"):
        ad_hoc_data(0, 0, 2)
    with pytest.raises(ConfigError, match="grid sampling supports n <= 3"):
        ad_hoc_data(2, 2, 4)
    with pytest.raises(ParameterError, match="gap must be >= 0"):
        ad_hoc_data(2, 2, 2, -0.1)


def test_target_alignment_values_and_errors():
    y = np.array([1, 1, -1, -1])
    ideal = torch.outer(torch.tensor(y, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))
    assert math.isclose(float(target_alignment(ideal, y, rescale_class_labels=False)), 1.0)
    assert math.isclose(float(target_alignment(ideal, (y + 1) // 2, rescale_class_labels=False)), 1.0)
    K = torch.eye(4, dtype=torch.float64)
    # <I, yy^T> = sum y_i^2 = 4; |I| = 2; |yy^T| = 4
    assert math.isclose(float(target_alignment(K, y, rescale_class_labels=False)), 0.5)
    with pytest.raises(ParameterError, match=r"binary labels in \{-1, 1\} or \{0, 1\}, got values \[0.0, 1.0, 2.0\]"):
        target_alignment(K[:3, :3], [0, 1, 2])
    with pytest.raises(ParameterError, match="y has 3 labels but the kernel matrix has 4 rows"):
        target_alignment(K, [1, -1, 1])
    with pytest.raises(ParameterError, match="square Gram matrix"):
        target_alignment(torch.ones(2, 3), [1, -1])


def test_train_alignment_increases_alignment():
    X, y = double_cake(3)

    def fm(c, x, w):
        for q in range(2):
            c.h(q).rz(w[0, q] * x[:, q], q).ry(w[1, q], q)
        return c.crz(w[2, 0], 0, 1)

    gen = torch.Generator().manual_seed(0)
    k = QuantumKernel(fm, qphys.device("torch.qubit", dtype="complex128"),
                      params=torch.rand(3, 2, generator=gen, dtype=torch.float64) * 2)
    with torch.no_grad():
        a0 = float(target_alignment(k.matrix(X), y))
    hist = train_alignment(k, X, y, steps=40, lr=0.1, batch_size=None, seed=0)
    with torch.no_grad():
        a1 = float(target_alignment(k.matrix(X), y))
    assert len(hist) == 40 and a1 > a0 + 0.05
    with pytest.raises(ParameterError, match="the kernel has no trainable parameters"):
        train_alignment(QuantumKernel(lambda c, x: c.ry(x[:, 0], 0), n_qubits=1), X, y)
    with pytest.raises(ConfigError, match="batch_size must be an integer >= 2"):
        train_alignment(k, X, y, batch_size=1)


def test_small_datasets():
    X, y = double_cake(3)
    assert X.shape == (6, 2) and set(y.tolist()) == {-1, 1}
    Xc, yc = checkerboard(50, seed=1)
    assert Xc.shape == (50, 2) and set(yc.tolist()) <= {-1, 1}
