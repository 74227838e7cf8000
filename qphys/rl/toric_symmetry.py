"""The point symmetries of the toric code (the 8 rotations and reflections of the square lattice).

The toric code on the ``d x d`` torus is invariant under translations and under the dihedral group D4 of the
square lattice: rotating the lattice by 90 degrees about the centre of a plaquette maps plaquettes to
plaquettes, vertices to vertices and horizontal edges to vertical ones. A decoding episode mapped by such a
symmetry is another valid episode with the same rewards, so a deep-Q agent can learn from each stored
transition in eight orientations (data augmentation), and a decoder can average its values over them.

:class:`ToricSymmetries` computes, for each of the 8 group elements, the permutation of plaquettes, of
vertices, of qubits and of the defect-centred actions of :class:`~qphys.rl.defect_actions.DefectActions`,
from the coordinates of the lattice (vertex ``(r, c)`` at point ``(r, c)``, edge ``h(r, c)`` at
``(r, c + 1/2)``, ``v(r, c)`` at ``(r + 1/2, c)``, plaquette ``(r, c)`` at ``(r + 1/2, c + 1/2)``;
:mod:`qphys.rl.codes`), so every table follows from the geometry rather than being written by hand.

Examples:
    >>> import numpy as np
    >>> from qphys.rl.codes import ToricCode
    >>> from qphys.rl.defect_actions import DefectActions
    >>> code = ToricCode(3)
    >>> sym = ToricSymmetries(DefectActions(code, "bitflip"))
    >>> e = np.zeros((1, code.n_qubits), np.uint8); e[0, 0] = 1  # X on h(0,0)
    >>> g = 1  # a 90-degree rotation
    >>> bool((code.syndrome(e[:, sym.qubit_src[g]]) == code.syndrome(e)[:, sym.stabilizer_src[g]]).all())
    True
"""

from __future__ import annotations

import numpy as np
import torch

from qphys.errors import ConfigError
from qphys.rl.defect_actions import DefectActions

__all__ = ["ToricSymmetries"]

#: The 8 elements of D4 as 2x2 integer matrices acting on (row, column) offsets: 4 rotations, 4 reflections.
_D4 = [np.array(m) for m in (
    [[1, 0], [0, 1]], [[0, 1], [-1, 0]], [[-1, 0], [0, -1]], [[0, -1], [1, 0]],
    [[1, 0], [0, -1]], [[-1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1], [-1, 0]],
)]


class ToricSymmetries:
    """Permutation tables of the 8 point symmetries for a :class:`~qphys.rl.defect_actions.DefectActions`.

    Element ``g`` maps a point ``x`` (relative to the centre of plaquette ``(0, 0)``) to ``M_g x``. The tables
    are in *gather* form: the transformed object at index ``j`` is the original at ``src[g, j]``.

    Args:
        actions: the action set (code and noise).

    Attributes:
        n: 8. qubit_src: ``(8, n_qubits)``. stabilizer_src: ``(8, 2 d**2)`` over the flat syndrome
        (plaquettes then vertices). image_src: ``(8, 2, d**2)`` over a syndrome image's two channels.
        action_map: ``(8, n_actions)``, the image of each global action (scatter form: action ``a`` becomes
        ``action_map[g, a]``).

    Raises:
        ConfigError: ``actions`` is not a :class:`DefectActions`.
    """

    n = len(_D4)

    def __init__(self, actions: DefectActions):
        if not isinstance(actions, DefectActions):
            raise ConfigError(f"ToricSymmetries needs a qphys.rl.defect_actions.DefectActions, got {type(actions).__name__}")
        self.actions = actions
        d = actions.code.d
        self.d = d
        rr, cc = np.meshgrid(np.arange(d), np.arange(d), indexing="ij")
        rr, cc = rr.ravel(), cc.ravel()
        # doubled coordinates (integers), relative to the centre (1, 1) of plaquette (0, 0)
        pts = {
            "plaquette": np.stack([2 * rr + 1, 2 * cc + 1], 1),
            "vertex": np.stack([2 * rr, 2 * cc], 1),
            "qubit": np.concatenate([np.stack([2 * rr, 2 * cc + 1], 1), np.stack([2 * rr + 1, 2 * cc], 1)]),
        }
        src = {}
        for kind, p in pts.items():
            index = {tuple(x): i for i, x in enumerate(p % (2 * d))}
            rel = p - 1
            perms = []
            for m in _D4:
                img = (rel @ m.T + 1) % (2 * d)
                dest = np.array([index[tuple(x)] for x in img])  # object i goes to dest[i]
                gather = np.empty_like(dest)
                gather[dest] = np.arange(len(dest))
                perms.append(gather)
            src[kind] = np.stack(perms)
        self.qubit_src = src["qubit"]
        self.stabilizer_src = np.concatenate([src["plaquette"], src["vertex"] + d * d], 1)
        self.image_src = np.stack([src["plaquette"], src["vertex"]], 1)
        # actions: local action a at cell k acts with Pauli p on qubit q anchored at stabilizer (kind, k)
        n_local = actions.n_local
        key = {}
        for a in range(n_local):
            for k in range(d * d):
                key[(int(actions.anchor[a]), k, int(actions.qubit.reshape(n_local, -1)[a, k]), int(actions.pauli[a]))] = (
                    a * d * d + k)
        amap = np.empty((self.n, actions.n_actions), dtype=np.int64)
        for g in range(self.n):
            dest_stab = [np.argsort(src["plaquette"][g]), np.argsort(src["vertex"][g])]
            dest_q = np.argsort(self.qubit_src[g])
            for a in range(n_local):
                kind, p = int(actions.anchor[a]), int(actions.pauli[a])
                for k in range(d * d):
                    q = int(actions.qubit.reshape(n_local, -1)[a, k])
                    amap[g, a * d * d + k] = key[(kind, int(dest_stab[kind][k]), int(dest_q[q]), p)]
        self.action_map = amap
        self._torch: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._torch:
            self._torch[device] = (torch.as_tensor(self.image_src, device=device),
                                   torch.as_tensor(self.action_map, device=device))
        return self._torch[device]

    def images(self, images: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Apply element ``g[b]`` to each syndrome image ``images[b]`` ``(B, 2, d, d)``."""
        src, _ = self._tables(images.device)
        b = len(images)
        flat = images.reshape(b, 2, -1)
        return flat.gather(2, src[g]).view_as(images)

    def global_actions(self, actions: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Apply element ``g[b]`` to each global action ``actions[b]``."""
        _, amap = self._tables(actions.device)
        return amap[g, actions]

    def random(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
        """``n`` group elements drawn uniformly (int64 in ``[0, 8)``)."""
        return torch.randint(0, self.n, (n,), generator=generator, device=device)
