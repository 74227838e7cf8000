"""Exact references by enumeration of all ``2**N`` configurations (small systems).

Used by tests and benchmarks to measure variational energies and fidelities without Monte Carlo
noise: :func:`state_vector` normalises an ansatz over the whole basis (wire 0 the most significant
bit, so it matches qphys state vectors and :meth:`PauliOperator.to_sparse`).

Examples:
    >>> from qphys.nqs.ansatz import RBM
    >>> from qphys.nqs.hamiltonians import transverse_field_ising
    >>> from qphys.nqs.lattice import chain
    >>> H = transverse_field_ising(chain(4))
    >>> e = variational_energy(RBM(4, seed=0), H)
    >>> e > H.ground_state_energy()
    True
"""

from __future__ import annotations

import numpy as np
import torch

from qphys.errors import ResourceError
from qphys.nqs.operator import PauliOperator, index_to_spins

#: Largest number of spins that is enumerated.
MAX_ENUMERATED_SITES = 24


def _check_size(n: int) -> None:
    if n > MAX_ENUMERATED_SITES:
        raise ResourceError(
            f"enumerating 2**{n} configurations is too large; exact references stop at "
            f"{MAX_ENUMERATED_SITES} spins (use Monte Carlo estimates instead)"
        )


def all_configurations(n_sites: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Every ±1 configuration of ``n_sites`` spins, in basis order, ``(2**n_sites, n_sites)``.

    Raises:
        ResourceError: more than :data:`MAX_ENUMERATED_SITES` spins.

    Examples:
        >>> all_configurations(2).tolist()
        [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]
    """
    _check_size(n_sites)
    return torch.from_numpy(index_to_spins(np.arange(2**n_sites), n_sites)).to(dtype)


@torch.no_grad()
def log_amplitudes(model: torch.nn.Module, *, chunk: int = 1 << 16) -> torch.Tensor:
    """``log ψ`` of every basis state (unnormalised), in chunks of ``chunk`` configurations."""
    n = model.n_sites
    _check_size(n)
    out = []
    for start in range(0, 2**n, chunk):
        idx = np.arange(start, min(2**n, start + chunk))
        sigma = torch.from_numpy(index_to_spins(idx, n)).to(model.device)
        out.append(model(sigma).cpu())
    return torch.cat(out)


def state_vector(model: torch.nn.Module, *, magnetization: int | None = None) -> torch.Tensor:
    """The normalised wave function as a ``complex128`` vector of length ``2**N``.

    Args:
        model: the ansatz.
        magnetization: keep only configurations with ``Σ σ_i`` equal to this (the sector a
            magnetisation-conserving sampler explores); other amplitudes are set to zero.

    Examples:
        >>> from qphys.nqs.ansatz import RBM
        >>> psi = state_vector(RBM(3, seed=0))
        >>> round(float(psi.abs().pow(2).sum()), 12)
        1.0
    """
    logpsi = log_amplitudes(model).to(torch.complex128)
    if magnetization is not None:
        total = all_configurations(model.n_sites).sum(-1)
        logpsi = torch.where(total == magnetization, logpsi, torch.tensor(-torch.inf, dtype=logpsi.dtype))
    logpsi = logpsi - logpsi.real.max()
    psi = torch.exp(logpsi)
    return psi / torch.linalg.vector_norm(psi)


def variational_energy(
    model: torch.nn.Module, hamiltonian: PauliOperator, *, magnetization: int | None = None
) -> float:
    """``<ψ|H|ψ> / <ψ|ψ>`` by enumeration and a sparse matrix-vector product.

    ``magnetization`` restricts ψ to one sector (see :func:`state_vector`), as sampled by
    exchange moves; meaningful when the Hamiltonian conserves the magnetisation.
    """
    psi = state_vector(model, magnetization=magnetization).numpy()
    h = hamiltonian.to_sparse()
    return float(np.real(np.vdot(psi, h @ psi)))


def fidelity(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """``|<a|b>|² / (<a|a><b|b>)`` of two state vectors.

    Examples:
        >>> fidelity(np.array([1.0, 0.0]), np.array([1.0, 1.0]))
        0.5
    """
    a = np.asarray(a.detach().cpu() if torch.is_tensor(a) else a, dtype=complex)
    b = np.asarray(b.detach().cpu() if torch.is_tensor(b) else b, dtype=complex)
    return float(abs(np.vdot(a, b)) ** 2 / (np.vdot(a, a).real * np.vdot(b, b).real))
