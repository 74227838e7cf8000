"""Monte Carlo estimators: local energies, per-sample log-derivatives, the VMC gradient.

- :func:`local_values`: ``O_loc(σ) = Σ_σ' <σ|O|σ'> ψ(σ')/ψ(σ)`` for a batch, from the operator's
  connected configurations and the ansatz's cached flip ratios — every connected configuration of
  the whole batch in one call, no dense matrices.
- :func:`log_derivatives`: the per-sample Jacobian ``O_k(σ) = ∂ log ψ(σ)/∂p_k`` with
  ``torch.func`` (``functional_call`` + ``vmap`` + ``jacrev``), complex for complex ansätze.
- :func:`energy_gradient`: ``∂E/∂p_k = 2 Re <(O_k - <O_k>)^* (E_loc - E)>`` (the log-derivative
  estimator; parameters are real, NetKet's convention).
- :func:`expect`: the mean and error bar of an operator on samples.

Examples:
    >>> from qphys.nqs.ansatz import RBM
    >>> from qphys.nqs.hamiltonians import transverse_field_ising
    >>> from qphys.nqs.lattice import chain
    >>> H = transverse_field_ising(chain(4))
    >>> rbm = RBM(4, seed=0)
    >>> local_values(H, rbm, torch.ones(2, 4)).shape
    torch.Size([2])
"""

from __future__ import annotations

import torch
from torch.func import functional_call, jacrev, vmap

from qphys.errors import ParameterError
from qphys.nqs.ansatz import Ansatz
from qphys.nqs.operator import PauliOperator
from qphys.nqs.sampler import Samples
from qphys.nqs.stats import Stats, statistics


@torch.no_grad()
def local_values(
    operator: PauliOperator,
    model: Ansatz,
    sigma: torch.Tensor,
    *,
    chunk: int = 1 << 18,
    dense: bool | None = None,
) -> torch.Tensor:
    """Local values ``O_loc(σ)`` of ``operator`` on a batch ``(B, N)``; complex if ψ or O is complex.

    Args:
        operator: a :class:`~qphys.nqs.operator.PauliOperator`.
        model: the ansatz.
        sigma: configurations ``(B, N)``.
        chunk: connected configurations are evaluated in blocks of about this many hidden-unit
            values (blocks that stay in cache are several times faster than one huge block).
        dense: evaluate every flip pattern of every configuration (``True``) or only the non-zero
            elements (``False``); default: dense when at least 3/4 of the elements are non-zero.

    Raises:
        ParameterError: the operator and the ansatz have different numbers of sites.
    """
    if operator.n_sites != model.n_sites:
        raise ParameterError(
            f"the operator acts on {operator.n_sites} sites but the ansatz has {model.n_sites}"
        )
    sigma = sigma.to(model.dtype)
    cache = model.cache(sigma)
    complex_out = model.is_complex or not operator.is_real
    out_dtype = torch.complex128 if complex_out else torch.float64
    mels = operator.off_diagonal(sigma)
    out = operator.diagonal(sigma).to(out_dtype).clone()
    nonzero = mels != 0
    b, f = mels.shape
    if f == 0:
        return out
    rows_per_chunk = max(chunk // max(model.ratio_width, 1), 1)
    sites_all = operator.flip_sites.to(sigma.device)
    if dense is None:
        dense = int(nonzero.sum()) * 4 >= 3 * b * f
    if dense:
        # (almost) every flip pattern is connected: all of them at once, no gathers
        step = max(rows_per_chunk // f, 1)
        for start in range(0, b, step):
            sl = slice(start, start + step)
            sub_cache = model.cache_rows(cache, sl)
            ratio = torch.exp(model.log_ratio_all(sigma[sl], sites_all, sub_cache))
            ratio = ratio if complex_out else ratio.real
            out[sl] += (mels[sl].to(out_dtype) * ratio.to(out_dtype)).sum(-1)
        return out
    row, flip = torch.nonzero(nonzero, as_tuple=True)
    sites = sites_all[flip]
    mel = mels[row, flip].to(out_dtype)
    for start in range(0, row.shape[0], rows_per_chunk):
        sl = slice(start, start + rows_per_chunk)
        ratio = torch.exp(model.log_ratio(sigma, sites[sl], cache, row[sl]))
        out.index_add_(0, row[sl], mel[sl] * (ratio if complex_out else ratio.real).to(out_dtype))
    return out


def _param_dict(model: Ansatz) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}


def log_derivatives(model: Ansatz, sigma: torch.Tensor, *, chunk_size: int | None = None) -> torch.Tensor:
    """Per-sample ``∂ log ψ(σ)/∂p`` for every trainable parameter, flattened: ``(B, n_params)``.

    Real for real ansätze, complex (``∂Re log ψ + i ∂Im log ψ`` per real parameter) otherwise.
    Parameters are ordered as ``model.named_parameters()``.

    Examples:
        >>> from qphys.nqs.ansatz import RBM
        >>> rbm = RBM(3, seed=0)
        >>> s = torch.tensor([[1.0, -1.0, 1.0]])
        >>> log_derivatives(rbm, s)[0, :3].tolist()  # ∂/∂a_i = σ_i
        [1.0, -1.0, 1.0]
    """
    params = _param_dict(model)
    names = list(params)
    sigma = sigma.to(model.dtype)

    def single(p, s):
        out = functional_call(model, p, (s[None],))[0]
        return torch.stack([out.real, out.imag]) if out.is_complex() else out

    jac = vmap(jacrev(single), in_dims=(None, 0), chunk_size=chunk_size)(params, sigma)
    b = sigma.shape[0]
    if model.is_complex:
        flat = torch.cat([jac[k].reshape(b, 2, -1) for k in names], dim=2)
        return torch.complex(flat[:, 0], flat[:, 1])
    return torch.cat([jac[k].reshape(b, -1) for k in names], dim=1)


def centered(
    o: torch.Tensor, e_loc: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(O - <O>, E_loc - <E_loc>)`` scaled by ``sqrt(w)`` so that ``S = Re[Ō^H Ō]``.

    Args:
        o: log-derivatives ``(B, P)``.
        e_loc: local values ``(B,)``.
        weights: probabilities of the rows (default: uniform ``1/B``, i.e. Monte Carlo samples).
    """
    if weights is None:
        scale = o.shape[0] ** -0.5
        return (o - o.mean(0)) * scale, (e_loc - e_loc.mean()) * scale
    w = weights.to(o.real.dtype)
    root = w.sqrt()
    o_mean = (w.to(o.dtype)[:, None] * o).sum(0)
    e_mean = (w.to(e_loc.dtype) * e_loc).sum()
    return (o - o_mean) * root.to(o.dtype)[:, None], (e_loc - e_mean) * root.to(e_loc.dtype)


def realify(o: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack real and imaginary parts so that ``Re[O^H O] = Õ^T Õ`` and ``Re[O^H e] = Õ^T ẽ``."""
    if o.is_complex() or e.is_complex():
        o = o if o.is_complex() else o.to(torch.complex128)
        e = e if e.is_complex() else e.to(torch.complex128)
        return torch.cat([o.real, o.imag]), torch.cat([e.real, e.imag])
    return o, e


def energy_gradient(o: torch.Tensor, e_loc: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``∂E/∂p = 2 Re <ΔO^* ΔE_loc>`` from log-derivatives ``(B, P)`` and local energies ``(B,)``.

    ``weights`` (probabilities of the rows) turn the sample mean into an exact expectation over
    enumerated configurations.
    """
    oc, ec = realify(*centered(o, e_loc, weights))
    return 2.0 * (oc.T @ ec.to(oc.dtype))


def expect(operator: PauliOperator, model: Ansatz, samples: Samples | torch.Tensor) -> Stats:
    """Mean and error bar of ``operator`` on ``samples`` (a :class:`Samples` or ``(B, N)`` tensor).

    Examples:
        >>> from qphys import Z
        >>> from qphys.nqs.ansatz import RBM
        >>> from qphys.nqs.operator import PauliOperator
        >>> s = expect(PauliOperator(Z(0), 2), RBM(2, seed=0), torch.tensor([[1.0, 1.0], [-1.0, 1.0]]))
        >>> s.mean
        0.0
    """
    sigma = samples.sigma if isinstance(samples, Samples) else samples[:, None, :]
    chains, per_chain, n = sigma.shape
    values = local_values(operator, model, sigma.reshape(-1, n))
    return statistics(values.reshape(chains, per_chain))
