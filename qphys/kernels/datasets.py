"""Datasets for quantum-kernel experiments.

:func:`ad_hoc_data` re-implements Qiskit Machine Learning's ``ad_hoc_data`` (Havlicek et al.,
Nature 567, 209 (2019)) so that qphys does not depend on qiskit-machine-learning. It draws from
``numpy.random.default_rng(seed)`` in the same order as Qiskit ML does from
``algorithm_globals.random`` seeded with the same value, so ``seed=12345`` reproduces the data of
Qiskit's kernel tutorial exactly (tests compare against qiskit-machine-learning when installed).
The grid labelling is vectorized (all grid points at once) instead of Qiskit's per-point loop.
:func:`double_cake` is the small dataset of PennyLane's kernel-alignment demo.
"""

from __future__ import annotations

import itertools as it

import numpy as np

from qphys.errors import ConfigError, ParameterError


def _z_diag(i: int, n: int) -> np.ndarray:
    """Diagonal of Z on qubit ``i`` of ``n`` (qubit 0 most significant)."""
    idx = np.arange(2**n)
    return 1.0 - 2.0 * ((idx >> (n - 1 - i)) & 1)


def _hadamard_n(n: int) -> np.ndarray:
    h = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2)
    out = np.eye(1)
    for _ in range(n):
        out = np.kron(out, h)
    return out


def _random_unitary(dims: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.random((dims, dims)) + 1j * rng.random((dims, dims))
    herm = a.conj().T @ a
    eigvals, eigvecs = np.linalg.eig(herm)
    return eigvecs[:, eigvals.argsort()[::-1]]


def _states(x: np.ndarray, z_diags, zz, h_n) -> np.ndarray:
    """``U_Φ(x) H U_Φ(x) H |0>`` for rows of ``x``: ``(B, 2**n)``."""
    pre = x @ z_diags
    for (i, j), d in zz.items():
        pre = pre + ((np.pi - x[:, i]) * (np.pi - x[:, j]))[:, None] * d[None, :]
    phase = np.exp(1j * pre)
    dims = z_diags.shape[1]
    psi0 = np.ones(dims) / np.sqrt(dims)
    return phase * ((phase * psi0) @ h_n.T)


def ad_hoc_data(
    training_size: int,
    test_size: int,
    n: int,
    gap: float = 0.0,
    *,
    seed: int | None = None,
    one_hot: bool = False,
    class_labels=(0, 1),
    entanglement: str = "full",
    sampling_method: str = "grid",
    divisions: int = 0,
    labelling_method: str = "expectation",
    include_sample_total: bool = False,
):
    """Havlicek et al.'s ad hoc dataset, separable by the ZZ feature-map kernel.

    Points ``x ∈ [0, 2π)^n`` are labelled by the sign of ``<Φ(x)|V† Z^{⊗n} V|Φ(x)>`` for a random
    unitary ``V``; points with ``|<…>| <= gap`` are discarded.

    Args:
        training_size, test_size: samples per class.
        n: number of features (= qubits).
        gap: separation gap Δ.
        seed: seed of ``numpy.random.default_rng``; equal to Qiskit ML's
            ``algorithm_globals.random_seed`` it reproduces Qiskit's data.
        one_hot: return one-hot labels ``(2N, 2)``.
        class_labels: the two labels used when not one-hot (class A, class B).
        entanglement: ``"full"``, ``"linear"`` or ``"circular"`` second-order terms.
        sampling_method: ``"grid"`` (``n <= 3``), ``"hypercube"`` or ``"sobol"``.
        divisions: strata per dimension for ``"hypercube"``.
        labelling_method: ``"expectation"`` or ``"measurement"``.
        include_sample_total: also return ``array([2 * (training_size + test_size)])``.

    Returns:
        ``(x_train, y_train, x_test, y_test)`` with class A first.

    Raises:
        ParameterError, ConfigError: invalid sizes or options.

    Examples:
        >>> from qphys.kernels.datasets import ad_hoc_data
        >>> xtr, ytr, xte, yte = ad_hoc_data(20, 5, 2, 0.3, seed=12345)
        >>> xtr.shape, sorted(set(ytr.tolist()))
        ((40, 2), [0, 1])
    """
    for name, v in (("training_size", training_size), ("test_size", test_size), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ParameterError(f"{name} must be a non-negative integer, got {v!r}")
    if n < 1:
        raise ParameterError(f"n (number of qubits/features) must be at least 1, got {n}")
    if training_size + test_size == 0:
        raise ParameterError("training_size + test_size is 0; ask for at least one sample per class")
    if labelling_method not in ("expectation", "measurement"):
        raise ConfigError(f"labelling_method must be 'expectation' or 'measurement', got {labelling_method!r}")
    if gap < 0 and labelling_method == "expectation":
        raise ParameterError(f"gap must be >= 0, got {gap}")
    if entanglement not in ("full", "linear", "circular"):
        raise ConfigError(f"entanglement must be 'full', 'linear' or 'circular', got {entanglement!r}")
    if sampling_method not in ("grid", "hypercube", "sobol"):
        raise ConfigError(f"sampling_method must be 'grid', 'hypercube' or 'sobol', got {sampling_method!r}")
    if sampling_method == "grid" and n > 3:
        raise ConfigError(f"grid sampling supports n <= 3, got n={n}; use sampling_method='hypercube' or 'sobol'")
    if sampling_method == "hypercube" and divisions < 1:
        raise ConfigError("sampling_method='hypercube' needs divisions >= 1 (about training_size)")
    if len(class_labels) != 2:
        raise ParameterError(f"class_labels must hold two labels, got {class_labels!r}")

    rng = np.random.default_rng(seed)
    dims = 2**n
    h_n = _hadamard_n(n)
    z = np.array([_z_diag(i, n) for i in range(n)])
    if entanglement == "full":
        pairs = list(it.combinations(range(n), 2))
    else:
        pairs = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if entanglement == "circular" else [])
    zz = {p: z[p[0]] * z[p[1]] for p in pairs}
    z_n = np.diag(np.sign(np.diag(h_n)))
    v = _random_unitary(dims, rng)
    obs = v.conj().T @ z_n @ v

    if labelling_method == "expectation":

        def label(psi):
            ev = np.real(np.einsum("bi,ij,bj->b", psi.conj(), obs, psi))
            return (np.abs(ev) > gap) * np.sign(ev)

    else:
        evals, evecs = np.linalg.eigh(obs)

        def label(psi):
            prob = np.abs(psi @ evecs.conj()) ** 2
            toss = rng.random((psi.shape[0], 1))
            collapsed = (np.cumsum(prob, axis=1) >= toss).argmax(axis=-1)
            return np.sign(evals[collapsed])

    per_class = training_size + test_size
    if sampling_method == "grid":
        count = {1: 5000, 2: 100, 3: 20}[n]
        xvals = np.linspace(0, 2 * np.pi, count, endpoint=False)
        grid = np.array(list(it.product(*[xvals] * n)))
        labels = label(_states(grid, z, zz, h_n)).reshape(*[count] * n)
        feats = {}
        for cls in (1, -1):
            if not np.any(labels == cls):
                raise ParameterError(f"gap={gap} leaves no grid point in class {cls}; use a smaller gap")
            found = []
            while len(found) < per_class:
                draws = tuple(int(rng.choice(count)) for _ in range(n))
                if labels[draws] == cls:
                    found.append([xvals[d] for d in draws])
            feats[cls] = np.array(found).reshape(per_class, n)
        a, b = feats[1], feats[-1]
    else:
        a = np.empty((per_class, n))
        b = np.empty((per_class, n))
        a_cur = b_cur = 0
        rounds = 0
        while a_cur < per_class or b_cur < per_class:
            rounds += 1
            if rounds > 10000:
                raise ParameterError(f"gap={gap} rejects almost every sample; use a smaller gap")
            n_pass = (per_class - a_cur) + (per_class - b_cur)
            if sampling_method == "sobol":
                from scipy.stats.qmc import Sobol

                n_pass = 2 ** ((n_pass - 1).bit_length())
                x = 2 * np.pi * Sobol(d=n, scramble=True, seed=rng).random(n_pass)
            else:
                x = _hypercube(n, n_pass, divisions, rng)
            lab = label(_states(x, z, zz, h_n))
            take = min(int(np.sum(lab == 1)), per_class - a_cur)
            a[a_cur : a_cur + take] = x[lab == 1][:take]
            a_cur += take
            take = min(int(np.sum(lab == -1)), per_class - b_cur)
            b[b_cur : b_cur + take] = x[lab == -1][:take]
            b_cur += take

    x_train = np.concatenate((a[:training_size], b[:training_size]), axis=0)
    x_test = np.concatenate((a[training_size:], b[training_size:]), axis=0)
    if one_hot:
        y_train = np.array([[1, 0]] * training_size + [[0, 1]] * training_size).reshape(-1, 2)
        y_test = np.array([[1, 0]] * test_size + [[0, 1]] * test_size).reshape(-1, 2)
    else:
        y_train = np.array([class_labels[0]] * training_size + [class_labels[1]] * training_size)
        y_test = np.array([class_labels[0]] * test_size + [class_labels[1]] * test_size)
    if include_sample_total:
        return x_train, y_train, x_test, y_test, np.array([2 * per_class])
    return x_train, y_train, x_test, y_test


def _hypercube(n: int, n_samples: int, n_div: int, rng: np.random.Generator) -> np.ndarray:
    samples = np.empty((n_samples, n))
    bin_size = 2 * np.pi / n_div
    all_bins = np.tile(np.arange(n_div), (n_samples + n_div - 1) // n_div)
    for dim in range(n):
        rng.shuffle(all_bins)
        samples[:, dim] = (all_bins[:n_samples] + rng.random(n_samples)) * bin_size
    return samples


def double_cake(num_sectors: int = 3):
    """PennyLane's kernel-alignment demo data: two concentric rings of ``num_sectors`` points
    with alternating labels (the inner ring's labels flipped).

    Returns:
        ``X`` of shape ``(2 * num_sectors, 2)`` and labels ``y`` in {-1, 1}.

    Examples:
        >>> from qphys.kernels.datasets import double_cake
        >>> X, y = double_cake(3)
        >>> X.shape, sorted(set(y.tolist()))
        ((6, 2), [-1, 1])
    """
    if isinstance(num_sectors, bool) or not isinstance(num_sectors, (int, np.integer)) or num_sectors < 1:
        raise ParameterError(f"num_sectors must be a positive integer, got {num_sectors!r}")
    sector = 2 * np.pi / num_sectors
    angles = (np.arange(num_sectors) + 0.5) * sector
    lab = 2 * np.remainder(np.floor_divide(angles, sector), 2) - 1
    x = np.hstack([0.7 * np.cos(angles), 0.35 * np.cos(angles)])
    y = np.hstack([0.7 * np.sin(angles), 0.35 * np.sin(angles)])
    return np.vstack([x, y]).T, np.hstack([lab, -lab]).astype(int)


def checkerboard(n_samples: int, *, cells: int = 4, seed: int | None = None):
    """Uniform points in ``[0, 1]^2`` labelled ±1 by the colour of a ``cells x cells`` board.

    A harder, non-linearly-separable set for kernel-alignment training.

    Examples:
        >>> from qphys.kernels.datasets import checkerboard
        >>> X, y = checkerboard(10, seed=0)
        >>> X.shape
        (10, 2)
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ParameterError(f"n_samples must be a positive integer, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, 2))
    cell = np.floor(X * cells).astype(int)
    y = np.where((cell[:, 0] + cell[:, 1]) % 2 == 0, 1, -1)
    return X, y
