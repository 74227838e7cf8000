"""Toric code geometry, Pauli algebra, noise sampling and Stim surface-code circuits."""

import itertools

import numpy as np
import pytest
import stim

from qphys.errors import ConfigError
from qphys.rl.codes import ToricCode, from_xz, surface_code_memory_circuit, validate_rate


def gf2_rank(m):
    m = (np.array(m, dtype=np.uint8) % 2).copy()
    rank = 0
    rows, cols = m.shape
    for c in range(cols):
        piv = next((r for r in range(rank, rows) if m[r, c]), None)
        if piv is None:
            continue
        m[[rank, piv]] = m[[piv, rank]]
        for r in range(rows):
            if r != rank and m[r, c]:
                m[r] ^= m[rank]
        rank += 1
    return rank


def stim_pauli(x, z):
    """A stim.PauliString from binary X and Z supports (an independent Pauli algebra)."""
    return stim.PauliString("".join("_XZY"[int(a) + 2 * int(b)] for a, b in zip(x, z)))


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_stabilizers_and_logicals_commute_checked_with_stim(d):
    code = ToricCode(d)
    n = code.n_qubits
    zero = np.zeros(n, dtype=np.uint8)
    x_stabs = [stim_pauli(row, zero) for row in code.hx]  # vertex stars: X type
    z_stabs = [stim_pauli(zero, row) for row in code.hz]  # plaquettes: Z type
    lx = [stim_pauli(row, zero) for row in code.logical_x]
    lz = [stim_pauli(zero, row) for row in code.logical_z]
    for a, b in itertools.product(x_stabs, z_stabs):
        assert a.commutes(b)
    for logical in lx + lz:
        assert all(logical.commutes(s) for s in x_stabs + z_stabs)
    # X_k anticommutes with Z_k only
    for i, j in itertools.product(range(2), range(2)):
        assert lx[i].commutes(lz[j]) == (i != j)


@pytest.mark.parametrize("d", [3, 5])
def test_code_parameters_two_logical_qubits(d):
    code = ToricCode(d)
    assert code.hz.sum(axis=1).tolist() == [4] * d * d and code.hx.sum(axis=1).tolist() == [4] * d * d
    assert code.hz.sum(axis=0).tolist() == [2] * code.n_qubits  # each edge borders two plaquettes
    k = code.n_qubits - gf2_rank(code.hx) - gf2_rank(code.hz)
    assert k == 2
    # logicals are not products of stabilizers
    assert gf2_rank(np.vstack([code.hz, code.logical_z])) == gf2_rank(code.hz) + 2
    assert gf2_rank(np.vstack([code.hx, code.logical_x])) == gf2_rank(code.hx) + 2


@pytest.mark.parametrize("d", [3, 5])
def test_stabilizers_have_zero_syndrome_and_trivial_class(d):
    code = ToricCode(d)
    plaq_ops = from_xz(np.zeros_like(code.hz), code.hz)  # Z on the plaquette's edges
    star_ops = from_xz(code.hx, np.zeros_like(code.hx))  # X on the star's edges
    for ops in (plaq_ops, star_ops):
        assert not code.syndrome(ops).any()
        assert not code.logical_class(ops).any()


def test_logical_representatives_have_requested_class():
    code = ToricCode(5)
    bits = ToricCode.class_bits(np.arange(16))
    reps = code.logical_representative(bits)
    assert not code.syndrome(reps).any()
    np.testing.assert_array_equal(code.logical_class(reps), bits)
    np.testing.assert_array_equal(ToricCode.class_index(bits), np.arange(16))


def test_single_errors_make_defect_pairs_and_y_makes_both_kinds():
    code = ToricCode(3)
    for q in range(code.n_qubits):
        for pauli, (n_plaq, n_vert) in {1: (2, 0), 3: (0, 2), 2: (2, 2)}.items():
            e = np.zeros(code.n_qubits, dtype=np.uint8)
            e[q] = pauli
            s = code.syndrome(e)
            assert (s[:9].sum(), s[9:].sum()) == (n_plaq, n_vert)
    e = np.zeros(code.n_qubits, dtype=np.uint8)
    e[0] = 1  # X on h(0,0) borders plaquettes (0,0) and (2,0)
    assert np.flatnonzero(code.syndrome(e)).tolist() == [0, 6]
    assert code.qubit_label(0) == "h(0,0)" and code.qubit_label(9) == "v(0,0)"


def test_compose_is_pauli_product():
    a = np.array([0, 1, 2, 3, 1, 2, 3, 1], dtype=np.uint8)
    b = np.array([0, 1, 2, 3, 2, 3, 1, 3], dtype=np.uint8)
    expected = [0, 0, 0, 0, 3, 1, 2, 2]  # I, XX=I, YY=I, ZZ=I, XY~Z, YZ~X, ZX~Y, XZ~Y
    assert ToricCode.compose(a, b).tolist() == expected


def test_pure_error_reproduces_syndromes():
    code = ToricCode(5)
    s, _ = code.sample("depolarizing", 0.2, shots=500, seed=3)
    np.testing.assert_array_equal(code.syndrome(code.pure_error(s)), s)


@pytest.mark.parametrize("noise", ["bitflip", "depolarizing"])
def test_noise_rates_and_seeding(noise):
    code = ToricCode(5)
    p, shots = 0.1, 4000
    e = code.sample_errors(noise, p, shots=shots, seed=7)
    np.testing.assert_array_equal(e, code.sample_errors(noise, p, shots=shots, seed=7))
    total = e.size
    frac = (e != 0).mean()
    sigma = np.sqrt(p * (1 - p) / total)
    assert abs(frac - p) < 5 * sigma
    if noise == "bitflip":
        assert set(np.unique(e)) <= {0, 1}
    else:
        counts = np.array([(e == k).sum() for k in (1, 2, 3)]) / total
        assert np.all(np.abs(counts - p / 3) < 5 * np.sqrt(p / 3 / total))


@pytest.mark.parametrize("noise", ["bitflip", "depolarizing"])
def test_sampling_in_blocks_draws_the_same_errors_as_one_block(noise, monkeypatch):
    """sample_errors draws its uniforms in cache-sized row blocks; the block size never shows in the samples."""
    import qphys.rl.codes as codes

    code = ToricCode(3)
    whole = code.sample_errors(noise, 0.2, shots=1000, seed=11)
    monkeypatch.setattr(codes, "_SAMPLE_BLOCK", 7)  # 1000 = 142 blocks of 7 + a remainder of 6
    np.testing.assert_array_equal(code.sample_errors(noise, 0.2, shots=1000, seed=11), whole)
    assert code.sample_errors(noise, 0.2, shots=0, seed=11).shape == (0, code.n_qubits)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="must be >= 2"):
        ToricCode(1)
    with pytest.raises(ConfigError, match="must be an integer"):
        ToricCode(2.5)
    with pytest.raises(ConfigError, match=r"probability in \[0, 1\], got 1.5"):
        ToricCode(3).sample_errors("bitflip", 1.5, shots=1)
    with pytest.raises(ConfigError, match="real number"):
        validate_rate(float("nan"))
    with pytest.raises(ConfigError, match="unknown noise model 'amplitude'"):
        ToricCode(3).sample_errors("amplitude", 0.1, shots=1)
    with pytest.raises(ConfigError, match="has 18 qubits"):
        ToricCode(4).syndrome(np.zeros(18, dtype=np.uint8))


def test_stim_surface_code_circuit():
    c = surface_code_memory_circuit(3, p=1e-3)
    assert c.num_observables == 1 and c.num_detectors == 24
    used = {t.value for inst in c.flattened() for t in inst.targets_copy() if t.is_qubit_target}
    assert len(used) == 17  # 9 data + 8 measurement qubits of the rotated d=3 code
    c5 = surface_code_memory_circuit(5, rounds=2, p=0.0, basis="z")
    dets, obs = c5.compile_detector_sampler(seed=1).sample(50, separate_observables=True)
    assert not dets.any() and not obs.any()  # no noise, no detection events
    with pytest.raises(ConfigError, match="odd integer >= 3, got 4"):
        surface_code_memory_circuit(4)
    with pytest.raises(ConfigError, match="basis must be 'x' or 'z'"):
        surface_code_memory_circuit(3, basis="y")
