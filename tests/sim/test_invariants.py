"""Property tests (hypothesis): gate matrices are unitary and match the independent reference,
states stay normalized, shift rules reproduce exact derivatives (four-term rule for
controlled rotations), and ``Circuit.adjoint`` inverts a circuit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import qphys
from qphys.ops import get_spec, registered_names
from qphys.ops.qubit import QUBIT_GATES
from qphys.testing import reference as ref

ANGLES = st.floats(min_value=-2 * math.pi, max_value=2 * math.pi, allow_nan=False)
SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
PARAM_GATES = [name for name, (_, m, _) in ref.GATES.items() if m > 0]


def test_reference_and_registry_cover_the_same_gates():
    assert set(ref.GATES) == set(QUBIT_GATES)
    assert {n for n in registered_names("qubit") if get_spec(n).matrix_param} == {"unitary", "state_prep"}
    for name in QUBIT_GATES:  # the reference and the registry agree on each gate's shape
        k, m, _ = ref.GATES[name]
        assert (get_spec(name).num_wires, get_spec(name).num_params) == (k, m), name
    assert qphys.Circuit.cnot is qphys.Circuit.cx


def _matrix(name, params, dtype=torch.complex128):
    spec = get_spec(name)
    ts = [torch.as_tensor(p, dtype=torch.float64) for p in params]
    return spec.matrix(*ts, dtype=dtype)


@pytest.mark.parametrize("name", QUBIT_GATES)
@given(params=st.lists(ANGLES, min_size=3, max_size=3))
def test_gate_matrix_unitary_and_equal_to_reference(name, params):
    k, m, _ = ref.GATES[name]
    params = params[:m]
    u = _matrix(name, params).numpy()
    d = 2**k
    assert u.shape == (d, d)
    np.testing.assert_allclose(u @ u.conj().T, np.eye(d), atol=1e-12)
    np.testing.assert_allclose(u, ref.gate_matrix(name, params), atol=1e-12)
    spec = get_spec(name)
    if spec.structure == "diagonal":
        diag = spec.diagonal(*[torch.tensor(p, dtype=torch.float64) for p in params], dtype=torch.complex128)
        np.testing.assert_allclose(np.diag(diag.numpy()), u, atol=1e-12)
    if spec.structure == "permutation":
        perm = np.zeros((d, d))
        for new, old in enumerate(spec.permutation):
            perm[new, old] = 1
        np.testing.assert_allclose(u, perm, atol=0)


@pytest.mark.parametrize("name", PARAM_GATES)
@given(seed=SEEDS)
def test_batched_gate_matrices_stack_the_unbatched_ones(name, seed):
    rng = np.random.default_rng(seed)
    _, m, _ = ref.GATES[name]
    values = rng.uniform(-math.pi, math.pi, size=(m, 3))
    batched = get_spec(name).matrix(*[torch.tensor(v) for v in values], dtype=torch.complex128).numpy()
    assert batched.shape[0] == 3
    for b in range(3):
        np.testing.assert_allclose(batched[b], ref.gate_matrix(name, values[:, b]), atol=1e-12)


@given(seed=SEEDS, n=st.integers(1, 5), depth=st.integers(0, 25), batched=st.booleans())
def test_norm_is_preserved(seed, n, depth, batched, random_circuit, dev128):
    c, _ = random_circuit(seed, n, depth, batch=2 if batched else None, state_prep=seed % 3 == 0)
    c.state()
    for dev, tol in ((dev128, 1e-12), (qphys.device("torch.qubit"), 1e-5)):
        psi = qphys.execute(c, dev).state
        norms = psi.abs().pow(2).sum(-1)
        np.testing.assert_allclose(norms.numpy(), np.ones_like(norms.numpy()), atol=tol)


def _expval_fn(name, j, params, seed):
    """θ -> <O> for: random product state, gate(params with params[j] = θ), random Hermitian O."""
    rng = np.random.default_rng(seed)
    k, _, _ = ref.GATES[name]
    n = 3
    wires = tuple(int(w) for w in rng.permutation(n)[:k])
    prep = rng.uniform(-math.pi, math.pi, size=(n, 3))
    a = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    obs = qphys.Hermitian((a + a.conj().T) / 2, [0, 1, 2])

    def f(theta):
        ps = list(params)
        ps[j] = theta
        c = qphys.Circuit(wires=n)
        for w in range(n):
            c.u(*prep[w], w)
        getattr(c, name)(*ps, *wires)
        c.expval(obs)
        return float(ref.measure(c)[0])

    return f


@pytest.mark.parametrize("name", PARAM_GATES)
@given(params=st.lists(ANGLES, min_size=3, max_size=3), seed=SEEDS)
def test_shift_rules_give_exact_derivatives(name, params, seed):
    _, m, _ = ref.GATES[name]
    params = params[:m]
    spec = get_spec(name)
    for j in range(m):
        rule = spec.grad_recipe[j]
        if name in ("crx", "cry", "crz"):
            assert len(rule) == 4, f"{name} needs the four-term rule"
        f = _expval_fn(name, j, params, seed)
        shifted = sum(coeff * f(params[j] + s) for coeff, s in rule)
        h = 1e-5
        exact = (f(params[j] + h) - f(params[j] - h)) / (2 * h)
        assert abs(shifted - exact) < 1e-6, f"{name} param {j}: shift rule {shifted} vs derivative {exact}"


@pytest.mark.parametrize("name", ["crx", "cry", "crz"])
def test_two_term_rule_is_wrong_for_controlled_rotations(name):
    """The four-term rule is not decoration: the plain two-term rule misses the derivative."""
    f = _expval_fn(name, 0, [0.8], 3)
    two = 0.5 * (f(0.8 + math.pi / 2) - f(0.8 - math.pi / 2))
    exact = (f(0.8 + 1e-5) - f(0.8 - 1e-5)) / 2e-5
    assert abs(two - exact) > 1e-3


@given(seed=SEEDS, n=st.integers(1, 4))
def test_circuit_adjoint_inverts(seed, n, random_circuit, dev128):
    c, _ = random_circuit(seed, n, 15)
    full = c.copy()
    full.operations = c.operations + c.adjoint().operations
    psi = qphys.execute(full.state(), dev128).state.numpy()
    expected = np.zeros(2**n)
    expected[0] = 1
    assert ref.phase_distance(psi, expected) < 1e-10
