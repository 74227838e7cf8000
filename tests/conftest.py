"""Shared fixtures for the qphys test suite.

* ``gpu``-marked tests are skipped when CUDA is absent.
* ``rng``: a seeded numpy generator; ``dev128``: ``torch.qubit`` in complex128.
* ``random_circuit``: a factory of seeded random qubit circuits over the whole gate set.
* Hypothesis runs with a fixed, CI-friendly profile (no deadline, derandomized).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import settings

import qphys
from qphys.testing.reference import GATES

settings.register_profile("qphys", deadline=None, max_examples=25, derandomize=True, print_blob=True)
settings.load_profile("qphys")

def pytest_ignore_collect(collection_path, config):
    """Fixture files are not doctest modules: under ``--doctest-modules`` pytest would import the
    ``conftest.py`` of two sibling folders as one module name ("import file mismatch"). They are
    still loaded as conftests."""
    return True if collection_path.name == "conftest.py" else None


#: (name, number of wires, number of real parameters) of every named qubit gate.
GATE_TABLE = [(name, k, m) for name, (k, m, _) in GATES.items()]


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False on this machine")
    for item in items:
        # the marker, not item.keywords: keywords also hold the names of the folders above the test
        # (a checkout in a folder named "gpu" would skip every test)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def dev128():
    return qphys.device("torch.qubit", dtype="complex128")


def _random_unitary(d, rng):
    z = (rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))) / math.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def make_random_circuit(
    rng, n, depth, *, batch=None, trainable=False, gates=GATE_TABLE, unitaries=True, state_prep=False
):
    """A random circuit over ``gates`` (+ ``unitary`` and optionally a leading ``state_prep``).

    Returns ``(circuit, ops)`` where ``ops`` is a list of ``(name, wires, params)`` with numpy
    parameters (arrays of length ``batch`` for batched ones), for building the same circuit in
    another framework. With ``trainable``, parameters are leaf tensors that require grad
    (returned as ``circuit.leaves``).
    """
    c = qphys.Circuit(wires=n)
    ops, leaves = [], []
    if state_prep:
        v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
        v /= np.linalg.norm(v)
        c.state_prep(torch.tensor(v))
        ops.append(("state_prep", tuple(range(n)), (v,)))
    usable = [g for g in gates if g[1] <= n]
    for _ in range(depth):
        r = rng.random()
        if unitaries and r < 0.06:
            k = int(rng.integers(1, min(n, 3) + 1))
            wires = tuple(int(w) for w in rng.permutation(n)[:k])
            u = _random_unitary(2**k, rng)
            c.unitary(torch.tensor(u), wires)
            ops.append(("unitary", wires, (u,)))
            continue
        name, k, m = usable[int(rng.integers(len(usable)))]
        wires = tuple(int(w) for w in rng.permutation(n)[:k])
        params, values = [], []
        for _ in range(m):
            if batch is not None and rng.random() < 0.5:
                v = rng.uniform(-math.pi, math.pi, size=batch)
            else:
                v = float(rng.uniform(-math.pi, math.pi))
            values.append(v)
            p = torch.tensor(v, dtype=torch.float64)
            if trainable:
                p.requires_grad_(True)
                leaves.append(p)
            params.append(p if (trainable or np.ndim(v)) else float(v))
        getattr(c, name)(*params, *wires)
        ops.append((name, wires, tuple(values)))
    if batch is not None and c.batch_size is None:
        # make sure the circuit is batched
        v = rng.uniform(-math.pi, math.pi, size=batch)
        p = torch.tensor(v, requires_grad=trainable)
        if trainable:
            leaves.append(p)
        c.ry(p, 0)
        ops.append(("ry", (0,), (v,)))
    c.leaves = leaves
    return c, ops


@pytest.fixture(scope="session")
def random_circuit():
    """Factory: ``random_circuit(seed, n, depth, **kw) -> (circuit, ops)`` (see make_random_circuit)."""

    def factory(seed, n, depth, **kwargs):
        return make_random_circuit(np.random.default_rng(seed), n, depth, **kwargs)

    return factory
