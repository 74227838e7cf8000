"""qphys.sim.linear_optics: SLOS against permanents (thewalrus) and torch.fock, gradients against
finite differences, batching, sampling, threshold detection, heralding, the Clements mesh, the
memory estimate, errors, and CUDA (``gpu``). Perceval's SLOS/Naive references are in
tests/backends/perceval/."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given
from hypothesis import strategies as st
from thewalrus import perm

import qphys
from qphys.errors import (
    BatchSizeError,
    ConfigError,
    MatrixError,
    ParameterError,
    ResourceError,
    UnsupportedOperationError,
    WireError,
)
from qphys.sim import linear_optics as lo
from qphys.sim.linear_optics.fock_space import rank


def random_unitary(m, rng):
    z = (rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m))) / math.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def permanent_amplitudes(U, s):
    """``<t|U|s> = perm(U[t, s]) / sqrt(t! s!)`` for every pattern, by thewalrus' permanent."""
    m, n = len(s), sum(s)
    cols = [j for j in range(m) for _ in range(s[j])]
    sfact = math.prod(math.factorial(v) for v in s)
    out = []
    for t in lo.patterns(m, n).tolist():
        rows = [i for i in range(m) for _ in range(t[i])]
        tfact = math.prod(math.factorial(v) for v in t)
        # Ryser's formula: numba compiles it in ~8 s per process, BBFG (the default) in ~18 s
        out.append(perm(U[np.ix_(rows, cols)], method="ryser") / math.sqrt(tfact * sfact))
    return np.array(out)


INPUTS = [
    (1, 0),
    (1, 1),
    (1, 1, 1),
    (2, 0, 1),  # bunched
    (0, 3, 0, 1),  # bunched
    (1, 0, 1, 0, 1),
    (2, 2, 0, 0, 1),
    (1, 1, 1, 1, 1, 1),
]


# ---- the Fock space ---------------------------------------------------------------------------
@pytest.mark.parametrize("m,n", [(1, 3), (2, 0), (3, 2), (4, 5), (7, 3), (12, 2)])
def test_patterns_are_ranked_in_perceval_order(m, n):
    pats = lo.patterns(m, n)
    assert pats.shape == (lo.num_patterns(m, n), m)
    assert (pats.sum(1) == n).all()
    assert rank(pats.numpy(), m, n).tolist() == list(range(len(pats)))
    # descending lexicographic: each row is lexicographically larger than the next
    rows = [tuple(r) for r in pats.tolist()]
    assert rows == sorted(rows, reverse=True) and len(set(rows)) == len(rows)


# ---- SLOS against permanents --------------------------------------------------------------------
@pytest.mark.parametrize("s", INPUTS)
def test_amplitudes_match_permanents(s, rng):
    U = random_unitary(len(s), rng)
    ours = lo.amplitudes(torch.tensor(U), s).numpy()
    ref = permanent_amplitudes(U, s)
    assert np.abs(ours - ref).max() < 1e-12
    assert abs(np.sum(np.abs(ours) ** 2) - 1) < 1e-12


def test_probabilities_complex64_close_to_complex128(rng):
    U = torch.tensor(random_unitary(6, rng))
    s = (1, 1, 0, 2, 0, 1)
    p128 = lo.probabilities(U, s)
    p64 = lo.probabilities(U.to(torch.complex64), s)
    assert p64.dtype == torch.float32 and p128.dtype == torch.float64
    assert (p64.double() - p128).abs().max() < 1e-6


def test_vacuum_and_single_photon():
    U = torch.tensor(random_unitary(3, np.random.default_rng(0)))
    assert lo.amplitudes(U, (0, 0, 0)).tolist() == [1.0]
    # one photon: amplitudes are the input column of U
    assert torch.allclose(lo.amplitudes(U, (0, 1, 0)), U[:, 1])


def test_hong_ou_mandel():
    p = lo.probabilities(lo.bs_matrix(), (1, 1))
    assert torch.allclose(p, torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64), atol=1e-15)


# ---- against torch.fock: heralded single photons from two-mode squeezing ----------------------------
@pytest.mark.parametrize("s", [(1, 1, 0), (2, 1, 0)])
def test_probabilities_match_torch_fock_with_heralded_photons(s, rng):
    """torch.fock starts from the vacuum and has no Fock-state preparation, so the Fock input is
    heralded as in an SPDC source: ``S_2(r)`` on (signal j, idler) gives ``sum_k c_k |k, k>``, and
    detecting ``s_j`` photons on the idler leaves exactly ``|s_j>`` on the signal. The
    interferometer acts on the signal modes; conditioning on the idlers gives ``|<t|U|s>|^2``.
    """
    m, n = len(s), sum(s)
    U = random_unitary(m, rng)
    sources = [j for j in range(m) if s[j]]
    c = qphys.Circuit(modes=m + len(sources))
    for k, j in enumerate(sources):
        c.two_mode_squeezing(0.4, 0.0, j, m + k)
    c.interferometer(torch.tensor(U), modes=tuple(range(m)))
    c.fock_probs()
    cutoff = n + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # probability past the cutoff is in other photon-number sectors
        joint = qphys.execute(c, qphys.device("torch.fock", cutoff=cutoff, dtype="complex128"))[0]
    joint = joint.reshape((cutoff,) * (m + len(sources)))
    heralded = joint[(Ellipsis, *[s[j] for j in sources])] if sources else joint
    pats = lo.patterns(m, n).long()
    cond = heralded[tuple(pats.T)]
    cond = cond / cond.sum()
    assert (cond - lo.probabilities(torch.tensor(U), s)).abs().max() < 1e-12


# ---- batching and gradients --------------------------------------------------------------------------
def test_batch_equals_loop(rng):
    s = (1, 0, 2, 1)
    Us = torch.tensor(np.stack([random_unitary(4, rng) for _ in range(5)]))
    batched = lo.amplitudes(Us, s)
    assert batched.shape == (5, lo.output_size(4, s))
    for b in range(5):
        assert (batched[b] - lo.amplitudes(Us[b], s)).abs().max() < 1e-15


def test_gradcheck_wrt_complex_unitary(rng):
    U = torch.tensor(random_unitary(4, rng)).unsqueeze(0).repeat(2, 1, 1).requires_grad_(True)
    weights = torch.tensor(rng.normal(size=(2, lo.num_patterns(4, 3))))
    assert torch.autograd.gradcheck(lambda u: (lo.probabilities(u, (1, 2, 0, 0)) * weights).sum(), (U,))
    assert torch.autograd.gradcheck(lambda u: lo.amplitudes(u, (1, 0, 1, 1)), (U,))


def test_gradients_of_mesh_phases_match_finite_differences(rng):
    m, s = 4, (1, 1, 0, 1)
    a = torch.tensor(rng.uniform(0, 2 * np.pi, size=(3, 6)), requires_grad=True)
    b = torch.tensor(rng.uniform(0, 2 * np.pi, size=(3, 6)), requires_grad=True)
    ph = torch.tensor(rng.uniform(0, 2 * np.pi, size=(3, m)), requires_grad=True)

    def f(a, b, ph):
        return lo.probabilities(lo.mesh_unitary(a, b, ph), s)

    assert torch.autograd.gradcheck(f, (a, b, ph))
    # central differences by hand on one angle, as an independent check of the backward pass
    w = torch.tensor(rng.normal(size=(3, lo.num_patterns(m, 3))))
    (g,) = torch.autograd.grad((f(a, b, ph) * w).sum(), a)
    h = 1e-6
    for q in (0, 4):
        e = torch.zeros_like(a)
        e[1, q] = h
        with torch.no_grad():
            fd = ((f(a + e, b, ph) - f(a - e, b, ph)) * w).sum() / (2 * h)
        assert abs(float(fd) - float(g[1, q])) < 1e-7


def test_second_derivatives_through_slos(rng):
    a = torch.tensor(rng.uniform(0, 2 * np.pi, size=3), requires_grad=True)
    b = torch.tensor(rng.uniform(0, 2 * np.pi, size=3), requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda a: lo.probabilities(lo.mesh_unitary(a, b), (1, 1, 0)), (a,))


# ---- components, Clements --------------------------------------------------------------------------
def test_mzi_is_ps_bs_ps_bs():
    a, b = 0.3, 1.9
    built = lo.circuit_unitary([lo.ps(a, 0), lo.bs(0), lo.ps(b, 0), lo.bs(0)], 2)[0]
    assert torch.allclose(built, lo.mzi_matrix(a, b), atol=1e-15)


@pytest.mark.parametrize("convention", lo.BS_CONVENTIONS)
def test_beam_splitters_are_unitary_with_perceval_reflectivity(convention, rng):
    theta = torch.tensor(rng.uniform(0, 4 * np.pi, size=5))
    phases = [torch.tensor(rng.uniform(0, 2 * np.pi, size=5)) for _ in range(4)]
    M = lo.bs_matrix(theta, *phases, convention=convention)
    eye = torch.eye(2, dtype=M.dtype).expand(5, 2, 2)
    assert torch.allclose(M @ M.mH, eye, atol=1e-14)
    assert torch.allclose(M[:, 0, 0].abs() ** 2, torch.cos(theta / 2) ** 2)


def test_batched_component_parameters_and_errors():
    phi = torch.linspace(0, 1, 4)
    U = lo.circuit_unitary([lo.bs(0), lo.ps(phi, 1), lo.mzi(1, 0.2, phi)], 3)
    assert U.shape == (4, 3, 3)
    for b in range(4):
        single = lo.circuit_unitary([lo.bs(0), lo.ps(float(phi[b]), 1), lo.mzi(1, 0.2, float(phi[b]))], 3)[0]
        assert torch.allclose(U[b], single)
    with pytest.raises(BatchSizeError, match="batch size 3 differs"):
        lo.circuit_unitary([lo.ps(torch.zeros(4), 0), lo.ps(torch.zeros(3), 1)], 2)
    with pytest.raises(WireError, match=r"mode 2 is not an integer in \[0, 2\)"):
        lo.circuit_unitary([lo.bs(1)], 2)
    with pytest.raises(UnsupportedOperationError, match="unknown kind"):
        lo.circuit_unitary([lo.Component("kerr", (0,), (0.1,))], 2)
    with pytest.raises(UnsupportedOperationError, match="convention 'Rz'"):
        lo.circuit_unitary([lo.bs(0, convention="Rz")], 2)
    with pytest.raises(ParameterError, match="takes 2 parameter"):
        lo.circuit_unitary([lo.Component("mzi", (0, 1), (0.1,))], 2)
    with pytest.raises(MatrixError, match=r"needs a \(2, 2\) or \(B, 2, 2\) matrix"):
        lo.circuit_unitary([lo.unitary(np.eye(3), (0, 1))], 3)
    with pytest.raises(ParameterError, match="must be finite"):
        lo.ps_matrix(float("nan"))


@pytest.mark.parametrize("m", [2, 3, 4, 5, 8])
def test_clements_round_trip(m, rng):
    for U in [random_unitary(m, rng), np.eye(m), np.eye(m)[::-1], np.diag(np.exp(1j * rng.uniform(0, 6, m)))]:
        mesh = lo.clements_decomposition(U)
        assert mesh.phi_a.shape == (lo.num_mzis(m),) and mesh.phases.shape == (m,)
        assert ((mesh.phi_a >= 0) & (mesh.phi_a < 2 * np.pi) & (mesh.phi_b >= 0) & (mesh.phi_b < 2 * np.pi)).all()
        V = lo.mesh_unitary(torch.tensor(mesh.phi_a), torch.tensor(mesh.phi_b), torch.tensor(mesh.phases))
        assert np.abs(V.numpy() - U).max() < 1e-12
        W = lo.circuit_unitary(mesh.components(), m)[0]
        assert np.abs(W.numpy() - U).max() < 1e-12


def test_mesh_layout_and_batched_mesh(rng):
    assert lo.mesh_modes(5) == [0, 2, 1, 3, 0, 2, 1, 3, 0, 2]
    a = torch.tensor(rng.uniform(0, 6, size=(3, 10)))
    b = torch.tensor(rng.uniform(0, 6, size=(3, 10)))
    U = lo.mesh_unitary(a, b, dtype=torch.complex64)
    assert U.shape == (3, 5, 5) and U.dtype == torch.complex64
    comps = [lo.mzi(k, a[:, q], b[:, q]) for q, k in enumerate(lo.mesh_modes(5))]
    assert torch.allclose(U, lo.circuit_unitary(comps, 5, dtype=torch.complex64), atol=1e-6)
    with pytest.raises(ParameterError, match="m \\(m - 1\\) / 2 MZIs"):
        lo.mesh_unitary(torch.zeros(4), torch.zeros(4))
    with pytest.raises(MatrixError, match="not unitary|needs a unitary"):
        lo.clements_decomposition(np.ones((3, 3)))


# ---- measurements ------------------------------------------------------------------------------------
def test_sampling_chi_square_and_reproducibility(rng):
    s = (1, 1, 0, 1)
    U = torch.tensor(np.stack([random_unitary(4, rng) for _ in range(2)]))
    p = lo.probabilities(U, s)
    shots = 20000
    idx = lo.sample(p, shots, generator=torch.Generator().manual_seed(11))
    assert idx.shape == (2, shots) and idx.dtype == torch.int64
    again = lo.sample(p, shots, generator=torch.Generator().manual_seed(11))
    assert torch.equal(idx, again)
    hist = lo.counts(idx, p.shape[-1])
    assert (hist.sum(-1) == shots).all()
    for b in range(2):
        expected = p[b].numpy() * shots
        keep = expected > 5  # chi-square needs populated bins; pool the rest
        obs, exp = hist[b].numpy()[keep], expected[keep]
        if (~keep).any() and expected[~keep].sum() > 0:
            obs, exp = np.append(obs, hist[b].numpy()[~keep].sum()), np.append(exp, expected[~keep].sum())
        assert scipy.stats.chisquare(obs, exp).pvalue > 1e-3
    pats = lo.index_to_patterns(idx, 4, 3)
    assert pats.shape == (2, shots, 4) and (pats.sum(-1) == 3).all()
    with pytest.raises(ConfigError, match="shots must be a positive integer"):
        lo.sample(p, 0, generator=torch.Generator())


def test_threshold_detection_sums_fock_patterns(rng):
    m, s = 4, (2, 1, 0, 1)
    n = sum(s)
    p = lo.probabilities(torch.tensor(random_unitary(m, rng)), s)
    clicks = lo.threshold_patterns(m, n)
    tp = lo.threshold_probabilities(p, m, n)
    assert tp.shape == (len(clicks),) and abs(float(tp.sum()) - 1) < 1e-12
    fock = lo.patterns(m, n)
    for k, c in enumerate(clicks.tolist()):
        mask = ((fock > 0).to(torch.uint8) == torch.tensor(c, dtype=torch.uint8)).all(1)
        assert abs(float(p[mask].sum()) - float(tp[k])) < 1e-14
    assert clicks.sum(1).min() == 1 and clicks.sum(1).max() == min(m, n)


def test_photon_numbers_two_ways(rng):
    U = torch.tensor(np.stack([random_unitary(5, rng) for _ in range(3)]))
    s = (0, 2, 1, 0, 1)
    from_probs = lo.photon_numbers(lo.probabilities(U, s), 5, 4)
    exact = lo.photon_numbers_exact(U, s)
    assert from_probs.shape == exact.shape == (3, 5)
    assert torch.allclose(from_probs, exact, atol=1e-12)
    assert torch.allclose(exact.sum(-1), torch.full((3,), 4.0, dtype=torch.float64))


def test_heralding_conditions_and_renormalises(rng):
    m, s = 5, (1, 1, 1, 0, 0)
    n = sum(s)
    U = torch.tensor(random_unitary(m, rng), requires_grad=False)
    p = lo.probabilities(U, s)
    heralds = {3: 1, 4: 0}
    cond, success = lo.herald(p, m, n, heralds)
    rest_m, rest_n = lo.herald_rest(m, n, heralds)
    assert (rest_m, rest_n) == (3, 2) and cond.shape == (lo.num_patterns(3, 2),)
    fock = lo.patterns(m, n)
    keep = (fock[:, 3] == 1) & (fock[:, 4] == 0)
    assert abs(float(success) - float(p[keep].sum())) < 1e-14
    # the kept patterns, restricted to modes 0..2, are patterns(3, 2) in order
    assert torch.equal(fock[keep][:, :3], lo.patterns(3, 2))
    assert torch.allclose(cond, p[keep] / p[keep].sum())
    general, succ2 = lo.condition(p, keep)
    assert torch.allclose(general[keep], cond) and float(succ2) == pytest.approx(float(success))
    with pytest.raises(ParameterError, match="ask for 4 photons but the state has 3"):
        lo.herald(p, m, n, {3: 2, 4: 2})
    with pytest.raises(WireError, match="herald mode 7"):
        lo.herald(p, m, n, {7: 0})
    with pytest.raises(ParameterError, match=r"shape \(N,\) or \(B, N\) with N = 35"):
        lo.herald(p[:-1], m, n, heralds)


def test_heralding_is_differentiable(rng):
    a = torch.tensor(rng.uniform(0, 6, size=6), requires_grad=True)
    b = torch.tensor(rng.uniform(0, 6, size=6), requires_grad=True)

    def f(a):
        cond, success = lo.herald(lo.probabilities(lo.mesh_unitary(a, b), (1, 1, 0, 1)), 4, 3, {3: 1})
        return torch.cat([cond, success.reshape(1)])

    assert torch.autograd.gradcheck(f, (a,))


# ---- memory estimate -----------------------------------------------------------------------------------
def test_memory_estimate_scales_and_raises():
    base = lo.slos_memory(12, 6, 64)
    assert lo.slos_memory(12, 6, 128) - lo.slos_memory(12, 6, 0 + 1) > base  # grows with the batch
    assert lo.slos_memory(12, 6, 64, dtype=torch.complex128) > base
    assert lo.slos_memory(12, 6, 64, requires_grad=True) > base
    assert lo.slos_memory(12, 7, 64) > base and lo.slos_memory(13, 6, 64) > base
    assert lo.check_slos_memory(12, 6, 64, limit=base) == base
    # B = 1: the index tables (m indices per parent pattern) and the pattern tables dominate
    assert lo.slos_memory(24, 8, 1, tables=False) < lo.slos_memory(24, 8, 1) / 4
    with pytest.raises(ResourceError, match=r"SLOS for 6 photons in 12 modes \(batch 64, complex128, with gradients\) needs about .* but the limit is 1.0 MiB; use fewer photons"):
        lo.check_slos_memory(12, 6, 64, dtype=torch.complex128, requires_grad=True, limit=2**20)
    with pytest.raises(ParameterError, match="dtype must be"):
        lo.slos_memory(4, 2, 1, dtype=torch.float32)


_MEASURE = r"""
import ctypes, json, torch
from qphys.sim import linear_optics as lo

libc = ctypes.CDLL("libc.so.6")


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024


torch.set_num_threads(1)
out = []
for m, n, B, dtype in [(12, 5, 1024, torch.complex64), (8, 8, 512, torch.complex128), (30, 2, 4096, torch.complex64)]:
    s = [0] * m
    for i in range(n):
        s[(i * m) // n] += 1
    U = torch.linalg.qr(torch.randn(B, m, m, dtype=dtype))[0]
    lo.probabilities(U[:1], s)  # build and cache the index tables
    for grad in (False, True):
        V = U.clone().requires_grad_(grad)
        libc.malloc_trim(0)  # give freed heap back, so that the next run's pages show in the RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set size (VmHWM) to the current one
        before = status("VmRSS:")
        if grad:
            lo.probabilities(V, s).sum().backward()
        else:
            with torch.no_grad():
                lo.probabilities(V, s)
        estimate = lo.slos_memory(m, n, B, dtype=dtype, requires_grad=grad, tables=False)
        out.append([m, n, B, str(dtype), grad, status("VmHWM:") - before, estimate])
        del V
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from Linux's /proc and glibc")
def test_memory_estimate_bounds_measured_peak():
    """The estimate against the peak resident memory of a fresh process (Linux's VmHWM, reset just
    before the run; tables excluded: they are built before); it must cover the peak and not
    overshoot by 2.5x."""
    env = dict(os.environ, MALLOC_ARENA_MAX="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE], capture_output=True, text=True, env=env, check=True
    )
    for *case, peak, estimate in json.loads(out.stdout.strip().splitlines()[-1]):
        assert 0.4 * estimate < peak < estimate, (case, peak, estimate)


# ---- input errors ----------------------------------------------------------------------------------------
def test_input_errors():
    U = torch.eye(3, dtype=torch.complex128)
    with pytest.raises(WireError, match="has 2 mode\\(s\\) but the interferometer has 3"):
        lo.amplitudes(U, (1, 1))
    with pytest.raises(ParameterError, match="integers between 0 and 255"):
        lo.amplitudes(U, (1, -1, 0))
    with pytest.raises(ParameterError, match="sequence of photon counts"):
        lo.amplitudes(U, 3)
    with pytest.raises(MatrixError, match="square"):
        lo.amplitudes(torch.zeros(2, 3, dtype=torch.complex64), (1, 0))
    with pytest.raises(MatrixError, match="complex tensor"):
        lo.amplitudes(torch.eye(2), (1, 0))


@given(m=st.integers(1, 6), n=st.integers(0, 4), seed=st.integers(0, 2**31 - 1))
def test_probabilities_sum_to_one(m, n, seed):
    rng = np.random.default_rng(seed)
    s = np.bincount(rng.integers(0, m, size=n), minlength=m)
    p = lo.probabilities(torch.tensor(random_unitary(m, rng)), tuple(int(v) for v in s))
    assert abs(float(p.sum()) - 1) < 1e-12 and float(p.min()) >= 0


# ---- CUDA ------------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_cuda_matches_cpu_without_host_sync(dtype):
    rng = np.random.default_rng(3)
    s = (1, 1, 0, 2, 0, 1, 0)
    U = torch.tensor(np.stack([random_unitary(7, rng) for _ in range(4)])).to(dtype)
    cpu = lo.probabilities(U, s)
    Ug = U.cuda().requires_grad_(True)
    lo.probabilities(Ug, s)  # build and move the tables (host -> device copies happen here, once)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation inside SLOS raises
    try:
        gpu = lo.probabilities(Ug, s)
        amps = lo.amplitudes(Ug, s)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    tol = 1e-5 if dtype == torch.complex64 else 1e-12
    assert gpu.device.type == "cuda" and (gpu.cpu() - cpu).abs().max() < tol
    assert (amps.cpu() - lo.amplitudes(U, s)).abs().max() < tol
    w = torch.randn(gpu.shape, dtype=gpu.dtype, generator=torch.Generator().manual_seed(0))
    (g_gpu,) = torch.autograd.grad((gpu * w.cuda()).sum(), Ug)
    Uc = U.clone().requires_grad_(True)
    (g_cpu,) = torch.autograd.grad((lo.probabilities(Uc, s) * w).sum(), Uc)
    assert (g_gpu.cpu() - g_cpu).abs().max() < 100 * tol


@pytest.mark.gpu
def test_cuda_mesh_measurements_and_memory_estimate():
    dev = torch.device("cuda")
    a = torch.rand(8, 15, device=dev, dtype=torch.float64) * 6
    b = torch.rand(8, 15, device=dev, dtype=torch.float64) * 6
    U = lo.mesh_unitary(a, b)
    assert U.device.type == "cuda"
    s = (1, 0, 1, 0, 1, 1)
    p = lo.probabilities(U, s)
    assert torch.allclose(p, lo.probabilities(U.cpu(), s).to(dev), atol=1e-12)
    tp = lo.threshold_probabilities(p, 6, 4)
    assert tp.device.type == "cuda" and torch.allclose(tp.sum(-1), torch.ones(8, dtype=torch.float64, device=dev))
    cond, success = lo.herald(p, 6, 4, {5: 1})
    assert cond.device.type == "cuda" and success.shape == (8,)
    idx = lo.sample(p, 100, generator=torch.Generator(device="cuda").manual_seed(1))
    assert idx.device.type == "cuda" and lo.counts(idx, p.shape[-1]).sum() == 800
    # the estimate bounds what CUDA really allocates
    m, n, B = 12, 5, 256
    Ub = torch.linalg.qr(torch.randn(B, m, m, dtype=torch.complex64, device=dev))[0]
    lo.probabilities(Ub[:1], (1,) * n + (0,) * (m - n))
    for grad in (False, True):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        Ug = Ub.clone().requires_grad_(grad)
        if grad:
            lo.probabilities(Ug, (1,) * n + (0,) * (m - n)).sum().backward()
        else:
            with torch.no_grad():
                lo.probabilities(Ug, (1,) * n + (0,) * (m - n))
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - start
        assert peak <= lo.slos_memory(m, n, B, requires_grad=grad, device=dev, tables=False)
