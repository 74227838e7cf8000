"""A gate is defined once, in its :class:`~qphys.ops.OpSpec`: builder methods, the inverse used by
``Circuit.adjoint``, the adjoint simulator's matrix derivatives and the conformance gate list
all follow the registry."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import qphys
from qphys import cv
from qphys.ops import OpSpec, get_spec, register, registered_names
from qphys.testing import conformance_qubit
from qphys.testing import reference as ref

ALL = registered_names()


@pytest.mark.parametrize("name", ALL)
def test_builder_method_matches_the_spec(name):
    spec = get_spec(name)
    method = getattr(qphys.Circuit, name, None)
    assert method is not None, f"registered op {name!r} has no Circuit.{name} builder"
    params = [p for p in inspect.signature(method).parameters if p != "self"]
    assert params == [*spec.param_names, *spec.wire_names], f"Circuit.{name}{tuple(params)} vs spec"
    assert len(spec.param_names) == spec.num_params
    if spec.num_wires is not None:
        assert len(spec.wire_names) == spec.num_wires
    assert method.__doc__, f"Circuit.{name} needs a docstring"


def test_conformance_gate_list_is_the_registry():
    named = [n for n in registered_names("qubit") if not get_spec(n).matrix_param]
    assert sorted(conformance_qubit.GATE_NAMES) == named
    assert set(ref.GATES) == set(named), "the independent reference covers every registered gate"


def test_registering_a_second_spec_under_a_name_fails():
    with pytest.raises(ValueError, match="'rx' is already registered"):
        register(OpSpec("rx", "qubit", 1, 1, param_names=("theta",)))
    with pytest.raises(ValueError, match="param_names has 2 entries for 1 parameter"):
        register(OpSpec("bad_gate", "qubit", 1, 1, param_names=("a", "b")))
    assert "bad_gate" not in registered_names()


def _matrix(name, params):
    spec = get_spec(name)
    if name == "unitary":
        return np.asarray(params[0])
    return spec.matrix(*[torch.tensor(p, dtype=torch.float64) for p in params], dtype=torch.complex128).numpy()


@pytest.mark.parametrize("name", registered_names("qubit"))
def test_qubit_inverse_from_the_spec_is_the_dagger(name):
    spec = get_spec(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == "state_prep":
        with pytest.raises(qphys.errors.UnsupportedOperationError, match="state_prep has no inverse"):
            spec.invert((torch.tensor([1.0, 0.0]),))
        return
    if name == "unitary":
        q, _ = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
        params = (torch.as_tensor(q),)
    else:
        params = tuple(float(v) for v in rng.uniform(-math.pi, math.pi, spec.num_params))
    inv_name, inv_params = spec.invert(params)
    u = _matrix(name, params)
    v = _matrix(inv_name, inv_params)
    np.testing.assert_allclose(v @ u, np.eye(len(u)), atol=1e-12)


def test_cv_circuit_adjoint_inverts_on_torch_fock():
    u, _ = np.linalg.qr(np.array([[1.0, 2.0], [0.5, -1.0]]) + 1j * np.array([[0.3, 0.0], [1.0, 0.2]]))
    c = qphys.Circuit(modes=2).displacement(0.3, 0.4, 0).squeezing(0.2, 0.1, 1).rotation(0.5, 0)
    c.beamsplitter(0.7, 0.3, 0, 1).two_mode_squeezing(0.1, 0.2, 1, 0).kerr(0.3, 0).cross_kerr(0.2, 0, 1)
    c.cubic_phase(0.05, 1).interferometer(u)
    assert {op.name for op in c.operations} == set(registered_names("cv"))
    full = qphys.Circuit(modes=2)
    full.operations = c.operations + c.adjoint().operations
    p = qphys.execute(full.fock_probs(), qphys.device("torch.fock", cutoff=14)).values[0]
    assert float(p[0]) > 1 - 1e-4, "U then U^dagger returns the vacuum"


@pytest.mark.parametrize("name", [n for n in registered_names("qubit") if get_spec(n).matrix_frequencies])
def test_matrix_frequencies_give_exact_matrix_derivatives(name):
    spec = get_spec(name)
    rng = np.random.default_rng(7)
    params = [torch.tensor(v, dtype=torch.float64) for v in rng.uniform(-math.pi, math.pi, spec.num_params)]
    for j, w in enumerate(spec.matrix_frequencies):
        s = (math.pi / 2) / w

        def f(x, j=j):
            ps = list(params)
            ps[j] = x
            return spec.matrix(*ps, dtype=torch.complex128)

        rule = (f(params[j] + s) - f(params[j] - s)) * (w / 2)
        _, exact = torch.func.jvp(f, (params[j],), (torch.ones_like(params[j]),))
        torch.testing.assert_close(rule, exact, atol=1e-12, rtol=0)


def test_cv_measurement_helpers_still_on_circuit():
    c = qphys.Circuit(modes=1).displacement(0.1, 0.0, 0).homodyne(0).expval(cv.N(0))
    assert [m.kind for m in c.measurements] == ["homodyne", "expval"]
