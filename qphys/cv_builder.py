"""Builder methods of photonic (continuous-variable) circuits, mixed into :class:`qphys.Circuit`.

The gates themselves (names, modes, parameters, shift rules) are defined once in
:mod:`qphys.ops.cv`; this module only adds the validated ``Circuit.displacement(...)``-style
methods and the CV measurements.
"""

from __future__ import annotations

import torch

from qphys._validate import describe, is_integer, numeric_tensor, real_number
from qphys.cv import quad
from qphys.errors import MatrixError, ParameterError, UnsupportedOperationError, WireError
from qphys.ir import Measurement, Operation
from qphys.ops.cv import check_unitary


class CVBuilder:
    """Builder methods of photonic circuits, mixed into :class:`qphys.Circuit`.

    Every method validates its input and returns the circuit, so calls chain. Parameters are
    floats or torch tensors; a 1-D tensor of length ``B`` batches the circuit.

    Examples:
        >>> import qphys
        >>> from qphys import cv
        >>> c = qphys.Circuit(modes=2).squeezing(0.3, 0.0, 0).beamsplitter(0.5, 0.1, 0, 1)
        >>> _ = c.expval(cv.N(1))
        >>> [op.name for op in c.operations]
        ['squeezing', 'beamsplitter']
    """

    def _require_cv(self, name):
        if self.family != "cv":
            raise UnsupportedOperationError(
                f"{name} is a photonic (CV) operation and cannot be added to a qubit circuit; "
                "build Circuit(modes=...) for it"
            )

    def displacement(self, r, phi, mode):
        """Displacement ``D(r e^{i phi})``; ``<x> += 2 r cos(phi)`` (hbar = 2)."""
        return self.append("displacement", mode, (r, phi))

    def squeezing(self, r, phi, mode):
        """Squeezing ``S(r e^{i phi})``; ``phi = 0`` squeezes ``x``."""
        return self.append("squeezing", mode, (r, phi))

    def rotation(self, theta, mode):
        """Phase rotation ``R(theta) = exp(i theta n)``."""
        return self.append("rotation", mode, (theta,))

    def beamsplitter(self, theta, phi, m1, m2):
        """Beamsplitter with transmission amplitude ``cos(theta)`` and phase ``phi``."""
        return self.append("beamsplitter", (m1, m2), (theta, phi))

    def two_mode_squeezing(self, r, phi, m1, m2):
        """Two-mode squeezing ``S_2(r e^{i phi})``."""
        return self.append("two_mode_squeezing", (m1, m2), (r, phi))

    def kerr(self, kappa, mode):
        """Kerr interaction ``exp(i kappa n^2)`` (non-Gaussian)."""
        return self.append("kerr", mode, (kappa,))

    def cross_kerr(self, kappa, m1, m2):
        """Cross-Kerr interaction ``exp(i kappa n_1 n_2)`` (non-Gaussian)."""
        return self.append("cross_kerr", (m1, m2), (kappa,))

    def cubic_phase(self, gamma, mode):
        """Cubic phase gate ``exp(i gamma x^3 / 6)`` (hbar = 2; non-Gaussian)."""
        return self.append("cubic_phase", mode, (gamma,))

    def interferometer(self, U, modes=None):
        """A fixed passive interferometer: unitary ``U`` (``M x M``) on ``modes`` (default all).

        Simulators that need gates use the Clements decomposition (:func:`clements`). ``U`` is
        a constant: for a trainable interferometer use
        :func:`qphys.templates.clements_interferometer` with angles.

        Raises:
            MatrixError: ``U`` is not square, not ``len(modes)`` wide, or not unitary.
            ParameterError: ``U`` requires grad (on a CV circuit).

        On a linear-optical circuit ``U`` (``U[out, in]`` on the creation operators, as here) may
        be batched ``(B, k, k)`` and may require grad.
        """
        if self.family == "linear_optics":
            return self._lo_interferometer(U, modes)
        self._require_cv("interferometer")
        if torch.is_tensor(U) and U.requires_grad:
            raise ParameterError(
                "interferometer: U requires grad, but it is a fixed matrix; for a trainable "
                "interferometer use qphys.templates.clements_interferometer(circuit, theta, phi, varphi)"
            )
        u = check_unitary(numeric_tensor(U, what="interferometer: U", error=MatrixError))
        modes = tuple(range(self.num_wires)) if modes is None else modes
        modes = self._check_wires("interferometer", modes)
        if u.shape[0] != len(modes):
            raise MatrixError(
                f"interferometer on {len(modes)} mode(s) needs a {len(modes)}x{len(modes)} "
                f"unitary, got shape {u.shape}"
            )
        self.operations.append(Operation("interferometer", modes, (torch.as_tensor(u),)))
        return self

    # ---- measurements ------------------------------------------------------------------------
    def fock_probs(self, modes=None):
        """Photon-number probabilities of ``modes`` (default all): ``(B, cutoff**k)``, mode
        ``modes[0]`` the most significant index."""
        self._require_cv("fock_probs")
        self.measurements.append(Measurement("fock_probs", wires=self._measure_wires("fock_probs", modes)))
        return self

    def homodyne(self, mode, phi=0.0):
        """Homodyne samples of the quadrature ``x cos(phi) + p sin(phi)`` of ``mode`` (needs
        shots): ``(B, shots)``."""
        self._require_cv("homodyne")
        if not is_integer(mode):
            raise WireError(f"homodyne: mode must be an integer, got {describe(mode)}; e.g. homodyne(0)")
        (mode,) = self._check_wires("homodyne", mode)
        obs = quad(mode, real_number(phi, what="homodyne: phi", error=ParameterError))
        self.measurements.append(Measurement("homodyne", obs=obs, wires=(mode,)))
        return self


__all__ = ["CVBuilder"]
