"""Lattice field theory: φ⁴ and U(1) actions, HMC, and normalizing flows as exact samplers.

Flow-based sampling after Albergo, Kanwar & Shanahan, PRD 100, 034515 (2019) and Kanwar et al.,
PRL 125, 121601 (2020) (gauge-equivariant couplings; for 2D U(1) also an autoregressive flow on the
free plaquette angles, :class:`PlaquetteFlow`): a flow ``q`` trained by reverse KL proposes whole configurations, and an
independence Metropolis step makes the chain target ``e^{−S}`` exactly. HMC and local Metropolis
are the references. Needs the ``lattice`` extra (zuko) for the flows: ``pip install "qphys[lattice]"``.

Examples:
    >>> import torch
    >>> from qphys.lattice import Phi4Action, make_phi4_flow, train_flow, flow_metropolis, magnetization
    >>> S = Phi4Action(m2=-4.0, lam=8.0)
    >>> flow = make_phi4_flow(4, n_layers=2, hidden=(8,))
    >>> _ = train_flow(flow, S, steps=20, batch_size=64, progress=False)
    >>> chain = flow_metropolis(flow, S, n_steps=256, measure={"M": magnetization}, seed=1)
    >>> 0.0 < chain.acceptance <= 1.0
    True
"""

from qphys.lattice.diagnostics import (
    AutocorrelationTime,
    Estimate,
    autocorrelation,
    effective_sample_size,
    integrated_autocorrelation_time,
    jackknife,
    mean_with_error,
)
from qphys.lattice.flows import (
    AffineCoupling,
    ConvNet,
    FourierScaling,
    LatticeFlow,
    SplineCoupling,
    Z2ContextNet,
    checkerboard,
    make_phi4_flow,
)
from qphys.lattice.gauge_flows import GaugeEquivariantCoupling, NCPTransform, make_u1_flow
from qphys.lattice.hmc import HMCResult, hmc, hmc_step, leapfrog, local_metropolis_sweep
from qphys.lattice.phi4 import (
    Phi4Action,
    magnetization,
    susceptibility,
    susceptibility_samples,
    two_point_function,
)
from qphys.lattice.plaquette_flow import PlaquetteFlow
from qphys.lattice.sampling import FlowMCMCResult, flow_hmc, flow_metropolis, metropolis_indices
from qphys.lattice.train import TrainingHistory, reverse_kl_backward, train_flow
from qphys.lattice.u1 import (
    U1Action,
    bessel_i,
    exact_charge_variance,
    exact_plaquette,
    gauge_transform,
    plaquette_mean,
    plaquettes,
    topological_charge,
    wrap,
)

__all__ = [
    "AffineCoupling",
    "AutocorrelationTime",
    "ConvNet",
    "Estimate",
    "FourierScaling",
    "FlowMCMCResult",
    "GaugeEquivariantCoupling",
    "HMCResult",
    "LatticeFlow",
    "NCPTransform",
    "Phi4Action",
    "PlaquetteFlow",
    "SplineCoupling",
    "TrainingHistory",
    "U1Action",
    "Z2ContextNet",
    "autocorrelation",
    "bessel_i",
    "checkerboard",
    "effective_sample_size",
    "exact_charge_variance",
    "exact_plaquette",
    "flow_hmc",
    "flow_metropolis",
    "gauge_transform",
    "hmc",
    "hmc_step",
    "integrated_autocorrelation_time",
    "jackknife",
    "leapfrog",
    "local_metropolis_sweep",
    "magnetization",
    "make_phi4_flow",
    "make_u1_flow",
    "mean_with_error",
    "metropolis_indices",
    "plaquette_mean",
    "plaquettes",
    "reverse_kl_backward",
    "susceptibility",
    "susceptibility_samples",
    "topological_charge",
    "train_flow",
    "two_point_function",
    "wrap",
]
