import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_classifiers_train, parametrize_with_checks

import qphys
from qphys.errors import ParameterError
from qphys.kernels import QSVC, QuantumKernel
from qphys.kernels.datasets import ad_hoc_data
from qphys.templates import angle_embedding, zz_feature_map

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "uses 30 features = 30 qubits; the default kernel accepts at most 16 features"
    ),
    "check_classifiers_train": (
        "the default ZZ feature-map kernel (Qiskit's default too) fits standardized blobs to ~0.6 "
        "accuracy, below the check's 0.83; test_qsvc_angle_kernel_passes_classifiers_train shows "
        "the estimator itself passes with a smoother kernel"
    ),
}


@parametrize_with_checks([QSVC()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


def test_qsvc_angle_kernel_passes_classifiers_train():
    model = QSVC(QuantumKernel(lambda c, x: angle_embedding(c, x)))
    check_classifiers_train("QSVC", model)
    check_classifiers_train("QSVC", model, readonly_memmap=True)


def zz_linear(c, x):
    return zz_feature_map(c, x, reps=2, entanglement="linear")


def test_ad_hoc_tutorial_accuracy_one():
    xtr, ytr, xte, yte = ad_hoc_data(20, 5, 2, 0.3, seed=12345)
    model = QSVC(QuantumKernel(zz_linear, qphys.device("torch.qubit", dtype="complex128"))).fit(xtr, ytr)
    assert model.score(xte, yte) == 1.0
    assert model.score(xtr, ytr) == 1.0


def test_gridsearch_and_pipeline():
    xtr, ytr, xte, yte = ad_hoc_data(10, 5, 2, 0.3, seed=1)
    grid = GridSearchCV(QSVC(QuantumKernel(zz_linear)), {"C": [0.1, 1.0, 10.0]}, cv=3).fit(xtr, ytr)
    assert grid.best_params_["C"] in (0.1, 1.0, 10.0)
    assert grid.score(xte, yte) >= 0.8
    pipe = Pipeline([("scale", MinMaxScaler((0, 2 * np.pi))), ("qsvc", QSVC(QuantumKernel(zz_linear)))])
    pipe.fit(xtr, ytr)
    assert pipe.predict(xte).shape == (10,)
    assert QSVC(C=3.0).get_params()["C"] == 3.0


def test_qsvc_errors():
    with pytest.raises(ParameterError, match="X has 20 features; the default quantum kernel"):
        QSVC().fit(np.zeros((4, 20)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        QSVC().fit(np.array([[0.0, np.nan], [1.0, 1.0]]), [0, 1])
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero number"):
        QSVC().fit(np.ones((4, 2)), [0, 1, 0, 1], sample_weight=np.zeros(4))
    model = QSVC().fit(np.array([[0.1, 0.2], [1.0, 2.0]]), [0, 1])
    with pytest.raises(ValueError, match="X has 3 features, but QSVC is expecting 2 features"):
        model.predict(np.ones((1, 3)))
