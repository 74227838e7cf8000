"""Builder methods of linear-optical circuits, mixed into :class:`qphys.Circuit`.

A linear-optical circuit is ``Circuit(modes=m, photons=(1, 1, 0, 0))``: single photons enter the
modes listed in ``photons`` (a Fock state, photons per mode), pass through phase shifters, beam
splitters, Mach-Zehnder interferometers and arbitrary interferometers, and are counted at the
outputs. The operations are defined once in :mod:`qphys.ops.linear_optics` (Perceval's
conventions, stated there); this module adds the validated builder methods and the measurement
options of the family.

**Measurements.** Outcomes are output *patterns*: photons per mode, ordered as Perceval orders
them (descending lexicographic, mode 0 most significant: :func:`qphys.linear_optics.patterns`).

- ``probs()``: the probability of every pattern, ``(B, N)``;
- ``sample()`` / ``counts()``: patterns drawn with shots, ``(B, shots, m)`` photon counts / a
  ``{pattern: count}`` dict per batch row;
- ``photon_numbers(modes)``: mean photons per mode, ``(B, k)``;
- ``state()``: the output amplitudes, ``(B, N)`` (exact simulators only).

``detection="threshold"`` (``probs``, ``sample``, ``counts``) reports click patterns (``1``:
the detector fired) instead of photon numbers; ``heralds={mode: photons}`` (``probs``,
``counts``, ``photon_numbers``) keeps only outcomes where each heralded mode detects that many
photons (post-selection) and reports the other modes, renormalised. Devices record the
probability that the heralds fire in ``Result.metadata["herald_success"]``.

Examples:
    >>> import math, qphys
    >>> c = qphys.Circuit(modes=2, photons=(1, 1)).bs(math.pi / 2, 0, 1).probs()
    >>> c.family, c.photons, c.num_photons
    ('linear_optics', (1, 1), 2)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from qphys.errors import MatrixError, ParameterError, UnsupportedOperationError, WireError
from qphys.ir import DETECTIONS, Measurement, Operation

#: The family name of linear-optical circuits.
LINEAR_OPTICS = "linear_optics"
#: Tolerance of the unitarity check of ``interferometer(U)`` on linear-optical circuits.
UNITARY_ATOL = 1e-5


class LinearOpticsBuilder:
    """Builder methods of linear-optical circuits, mixed into :class:`qphys.Circuit`.

    Every method validates its input and returns the circuit, so calls chain. Angles are floats
    or real torch tensors; a 1-D tensor of length ``B`` batches the circuit.
    """

    photons: tuple[int, ...] | None

    @property
    def num_photons(self) -> int:
        """Photons in the input state (0 for circuits of other families)."""
        return sum(self.photons or ())

    def _require_lo(self, name: str) -> None:
        if self.family != LINEAR_OPTICS:
            raise UnsupportedOperationError(
                f"{name} belongs to linear-optical circuits, and this is a {self.family} circuit; build "
                "Circuit(modes=m, photons=(1, 0, ...)) for single photons through linear optics"
            )

    # ---- components ---------------------------------------------------------------------------
    def ps(self, phi, mode):
        """Phase shifter ``PS(phi)``: ``[[exp(i phi)]]`` on ``mode`` (Perceval's ``PS``)."""
        return self.append("ps", mode, (phi,))

    def bs(self, theta, m1, m2):
        """Beam splitter, Perceval's ``BS(theta)`` (``Rx`` convention): ``[[c, i s], [i s, c]]``,
        ``c = cos(theta/2)``, ``s = sin(theta/2)``; ``theta = pi/2`` is 50:50, ``m1`` the top mode."""
        return self.append("bs", (m1, m2), (theta,))

    def bs_ry(self, theta, m1, m2):
        """Beam splitter in Perceval's ``Ry`` convention: ``[[c, -s], [s, c]]``."""
        return self.append("bs_ry", (m1, m2), (theta,))

    def bs_h(self, theta, m1, m2):
        """Beam splitter in Perceval's ``H`` convention: ``[[c, s], [s, -c]]``."""
        return self.append("bs_h", (m1, m2), (theta,))

    def mzi(self, phi_a, phi_b, m1, m2):
        """Mach-Zehnder interferometer, Perceval's ``"mzi phase first"``: ``PS(phi_a)`` on ``m1``,
        ``BS()``, ``PS(phi_b)`` on ``m1``, ``BS()``; ``phi_b = pi`` passes straight, ``0`` swaps."""
        return self.append("mzi", (m1, m2), (phi_a, phi_b))

    def _lo_interferometer(self, U, modes):
        """``interferometer(U, modes)`` of a linear-optical circuit: ``U`` may be batched
        ``(B, k, k)`` and may require grad (simulators differentiate through it by backprop)."""
        modes = tuple(range(self.num_wires)) if modes is None else modes
        if isinstance(modes, (int, np.integer)):
            modes = (modes,)
        modes = self._check_wires("interferometer", tuple(modes))
        if isinstance(U, np.ndarray) or not torch.is_tensor(U):
            try:
                U = torch.as_tensor(np.asarray(U, dtype=complex))
            except (TypeError, ValueError):
                raise MatrixError(f"interferometer: U must be a complex matrix, got {type(U).__name__}") from None
        if not U.is_complex():
            U = U.to(torch.complex128)
        k = len(modes)
        if U.ndim not in (2, 3) or tuple(U.shape[-2:]) != (k, k):
            raise MatrixError(
                f"interferometer on {k} mode(s) needs a {k}x{k} unitary (or (B, {k}, {k})), got shape "
                f"{tuple(U.shape)}"
            )
        d = U.detach().to(torch.complex128)
        if not bool(torch.isfinite(torch.view_as_real(d)).all()):
            raise MatrixError("interferometer: U has non-finite entries (nan or inf)")
        err = float((d @ d.conj().transpose(-1, -2) - torch.eye(k, dtype=d.dtype, device=d.device)).abs().max())
        if err > UNITARY_ATOL:
            raise MatrixError(
                f"interferometer: U is not unitary (max |U U^dagger - I| = {err:.2e}); a passive linear-optical "
                "network must be unitary; orthonormalise it (the Q of torch.linalg.qr) or build a mesh of mzi"
            )
        if U.ndim == 3:
            if U.shape[0] == 0:
                raise ParameterError("interferometer: the batch of unitaries is empty")
            self._note_batch("interferometer", U.shape[0])
        self.operations.append(Operation("interferometer", modes, (U,)))
        return self

    # ---- measurements ------------------------------------------------------------------------------
    def _check_heralds(self, kind: str, heralds) -> tuple[tuple[int, int], ...]:
        if heralds is None:
            return ()
        if not isinstance(heralds, Mapping):
            raise ParameterError(
                f"{kind}: heralds must be a mapping {{mode: photons}} such as {{2: 0, 3: 1}}, got {heralds!r}"
            )
        items = []
        for mode, count in heralds.items():
            (mode,) = self._check_wires(f"{kind} heralds", (mode,))
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
                raise ParameterError(f"{kind}: the herald on mode {mode} must be a photon count >= 0, got {count!r}")
            items.append((mode, int(count)))
        if len(items) >= self.num_wires:
            raise WireError(
                f"{kind}: heralding all {self.num_wires} modes leaves nothing to measure; herald at most "
                f"{self.num_wires - 1} of them"
            )
        if sum(c for _, c in items) > self.num_photons:
            raise ParameterError(
                f"{kind}: the heralds {dict(items)} ask for {sum(c for _, c in items)} photons but the input "
                f"state {self.photons} has {self.num_photons}; they could never fire"
            )
        return tuple(sorted(items))

    def _check_detection(self, kind: str, detection, heralds) -> str:
        if detection not in DETECTIONS:
            raise ParameterError(f"{kind}: detection must be one of {DETECTIONS}, got {detection!r}")
        if detection == "threshold" and heralds:
            raise UnsupportedOperationError(
                f"{kind}: heralds are photon counts and need photon-number-resolving detection; use "
                "detection='pnr' with heralds, or threshold detection without them"
            )
        return detection

    def _lo_measurement(self, kind: str, wires, heralds, detection) -> Measurement:
        if wires is not None:
            raise WireError(
                f"{kind} of a linear-optical circuit reports whole output patterns (all modes); drop the "
                "wires, and condition on modes with heralds={mode: photons}"
            )
        h = self._check_heralds(kind, heralds)
        return Measurement(kind, heralds=h, detection=self._check_detection(kind, detection, h))

    def photon_numbers(self, modes=None, *, heralds: Mapping[int, int] | None = None):
        """Mean photon number of ``modes`` (default: every mode not heralded): ``(B, k)``.

        With ``heralds`` the means are conditional on the heralds firing.

        Raises:
            UnsupportedOperationError: not a linear-optical circuit.
            WireError: a mode out of range, repeated, or heralded.
        """
        self._require_lo("photon_numbers")
        h = self._check_heralds("photon_numbers", heralds)
        heralded = {mode for mode, _ in h}
        if modes is None:
            modes = tuple(k for k in range(self.num_wires) if k not in heralded)
        elif isinstance(modes, (int, np.integer)):
            modes = (modes,)
        modes = self._check_wires("photon_numbers", tuple(modes))
        clash = sorted(heralded & set(modes))
        if clash:
            raise WireError(f"photon_numbers: mode(s) {clash} are heralded (their count is fixed); measure the others")
        self.measurements.append(Measurement("photon_numbers", wires=modes, heralds=h, detection="pnr"))
        return self


__all__ = ["LinearOpticsBuilder", "LINEAR_OPTICS"]
