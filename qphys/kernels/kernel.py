"""Fidelity quantum kernels ``k(x, x') = |<φ(x)|φ(x')>|²``.

Two ways to compute a Gram matrix, chosen per device:

* **statevector** (exact devices that return states): the ``N`` feature states are prepared in
  batched executions (tiles of bounded memory) and the Gram matrix is the matrix product
  ``|S_X S_Y^†|²`` — ``N`` state preparations instead of ``N²`` circuits. Each state is prepared
  once whenever the states fit in the memory budget (``max_memory``; default: half of the memory
  free when the matrix is computed); a symmetric matrix computes only its upper triangle of
  blocks. When they do not fit, the rows are processed in resident blocks and the other states
  are prepared again for each block — a warning says how many times and which ``max_memory``
  avoids it. The states of the reference set (``X`` of ``matrix(X)``, ``Y`` of ``matrix(X, Y)``:
  the training set of :class:`~qphys.kernels.QSVC`) are kept for the next call with the same
  data and parameters, so ``predict`` prepares only the test states.
* **compute-uncompute** (shot-based simulators and hardware): the circuit ``U(y)`` followed by
  ``U(x)^†`` is run for every pair and ``k`` is the probability of ``|0…0>``. For a symmetric
  matrix only the strict upper triangle is run (the diagonal is 1 by construction unless
  ``evaluate_diagonal=True``). All pair circuits go to the device in one ``execute`` call (as
  one batched circuit on devices that batch natively), split only by ``max_circuits_per_job`` or,
  on local batching simulators, by ``max_memory``. Shot noise can be cleaned up afterwards by
  clipping to ``[0, 1]`` and/or projecting onto the positive-semidefinite cone.

When the feature map has trainable parameters the kernel is a differentiable torch function of
them (backprop through ``torch.qubit`` on the statevector path; any of qphys' gradient methods on
the compute-uncompute path).

With an ``executor`` (:mod:`qphys.parallel`) the statevector path runs in tiles on the workers:
the Gram matrix is cut into square tiles of ``tile_size`` rows (only the upper triangle of a
symmetric matrix); a task prepares the feature states of its row block and of its column block
once each and returns the tile, so a worker holds at most ``2 × tile_size`` states. States are
prepared again for every tile they take part in (about ``N²/tile_size`` preparations in all,
instead of ``N``): the price of tasks that share nothing. The result equals the local one.
Compute-uncompute kernels (and kernels whose parameters need gradients) run their pair
circuits through :func:`qphys.execute` on the executor, sharded, with gradients.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from qphys._warn import warn
from qphys.circuit import Circuit
from qphys.devices.base import Device
from qphys.devices.torch_qubit import available_memory, fmt_bytes
from qphys.diff import execute
from qphys.errors import ConfigError, DifferentiationError, ParameterError, UnsupportedOperationError
from qphys.parallel import as_executor, payload, run_tasks

log = logging.getLogger(__name__)

METHODS = ("auto", "statevector", "compute-uncompute")
POSTPROCESS = ("clip", "psd")
#: state vectors a tile being prepared occupies per row (the state plus the gates' temporaries)
WORKSPACE_FACTOR = 4
#: share of the memory free at call time that the default ``max_memory`` takes
DEFAULT_MEMORY_FRACTION = 0.5
#: rows of one block of the Gram matrix product (the overlap block is rows x columns)
GRAM_BLOCK_ROWS = 256


def as_features(X, name: str = "X") -> torch.Tensor:
    """Validate a feature matrix and return it as a float64 ``(N, F)`` tensor.

    Raises:
        ParameterError: not 2-D, empty, complex, or containing NaN/inf.
    """
    if torch.is_tensor(X):
        t = X
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise ParameterError(f"{name} cannot be converted to an array: {exc}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ParameterError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.array(arr, dtype=np.float64 if arr.dtype == bool else arr.dtype, copy=True))
    if t.is_complex():
        raise ParameterError(f"{name} must be real-valued features, got a complex array")
    if t.ndim != 2:
        raise ParameterError(
            f"{name} must be a 2-D array (n_samples, n_features), got shape {tuple(t.shape)}; "
            "use X.reshape(1, -1) for a single sample or X.reshape(-1, 1) for a single feature"
        )
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ParameterError(f"{name} is empty (shape {tuple(t.shape)}); a kernel needs at least one sample")
    if not t.is_floating_point() or t.dtype != torch.float64:
        t = t.to(torch.float64)
    if not bool(torch.isfinite(t.detach()).all()):
        raise ParameterError(f"{name} contains NaN or inf; clean or impute the features first")
    return t


class QuantumKernel(torch.nn.Module):
    """Fidelity kernel of a feature map: ``k(x, x') = |<0|U(x)^† U(x')|0>|²``.

    Args:
        feature_map: ``feature_map(circuit, x)`` appends the embedding of the feature batch ``x``
            (``(B, F)`` tensor) to ``circuit``; with ``params`` it is called as
            ``feature_map(circuit, x, params)`` (tensor) or ``feature_map(circuit, x, **params)``
            (dict). Any qphys template works, e.g. :func:`qphys.templates.zz_feature_map`.
        device: device name or instance. For agreement to 1e-8 between devices use
            ``qphys.device("torch.qubit", dtype="complex128")``.
        n_qubits: circuit width (default: the number of features).
        params: trainable feature-map parameters (a tensor or a dict of tensors); they become
            ``torch.nn.Parameter``s of this module.
        method: ``"auto"`` (statevector when the device is exact and returns states, else
            compute-uncompute), ``"statevector"`` or ``"compute-uncompute"``.
        shots: shots per compute-uncompute circuit (default: the device's).
        seed: sampling seed (reproducible shot noise).
        postprocess: ``None``, ``"clip"`` (entries into ``[0, 1]``), ``"psd"`` (nearest PSD
            matrix by eigenvalue clipping; square symmetric matrices only) or a sequence of them
            applied in order.
        evaluate_diagonal: run the ``k(x_i, x_i)`` circuits of a symmetric matrix too
            (compute-uncompute); otherwise the diagonal is exactly 1.
        max_circuits_per_job: split compute-uncompute circuits into device calls of at most this
            many circuits (for providers that cap a job's size); default: all in one call.
        max_memory: bytes of state vectors the kernel may hold (statevector path, and batched
            compute-uncompute on local simulators); default ``None``: half of the memory free
            on the device's torch device when a matrix is computed. A 16-qubit state is 512 KiB
            in complex64, so 1000 samples need 512 MiB to prepare each state once.
        diff_method: gradient method for trainable parameters (see :func:`qphys.execute`).
        progress: show a tqdm bar over tiles.
        executor: compute on an executor's workers (:mod:`qphys.parallel`; see the module docstring).
        tile_size: rows of one Gram tile on an executor (default: :meth:`default_tile_size`).

    Examples:
        >>> import torch, qphys
        >>> from qphys.templates import zz_feature_map
        >>> from qphys.kernels import QuantumKernel
        >>> kernel = QuantumKernel(zz_feature_map)
        >>> K = kernel.matrix(torch.rand(5, 2))
        >>> K.shape, bool(torch.allclose(K.diagonal(), torch.ones(5, dtype=K.dtype), atol=1e-5))
        (torch.Size([5, 5]), True)
    """

    def __init__(
        self,
        feature_map: Callable,
        device: str | Device = "torch.qubit",
        *,
        n_qubits: int | None = None,
        params=None,
        method: str = "auto",
        shots: int | None = None,
        seed: int | None = None,
        postprocess: str | Sequence[str] | None = None,
        evaluate_diagonal: bool = False,
        max_circuits_per_job: int | None = None,
        max_memory: int | None = None,
        diff_method: str = "best",
        progress: bool = False,
        executor=None,
        tile_size: int | None = None,
    ):
        super().__init__()
        if not callable(feature_map):
            raise ParameterError(f"feature_map must be callable(circuit, x), got {type(feature_map).__name__}")
        if method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if n_qubits is not None and (isinstance(n_qubits, bool) or not isinstance(n_qubits, int) or n_qubits < 1):
            raise ParameterError(f"n_qubits must be a positive integer or None, got {n_qubits!r}")
        steps = () if postprocess is None else ((postprocess,) if isinstance(postprocess, str) else tuple(postprocess))
        for s in steps:
            if s not in POSTPROCESS:
                raise ConfigError(f"postprocess steps must be among {POSTPROCESS}, got {s!r}")
        if max_circuits_per_job is not None and (not isinstance(max_circuits_per_job, int) or max_circuits_per_job < 1):
            raise ConfigError(f"max_circuits_per_job must be a positive integer, got {max_circuits_per_job!r}")
        if max_memory is not None and (isinstance(max_memory, bool) or not isinstance(max_memory, int)
                                       or max_memory <= 0):
            raise ConfigError(f"max_memory must be a positive number of bytes or None, got {max_memory!r}")
        if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
            raise ConfigError(f"shots must be a positive integer or None, got {shots!r}")
        if tile_size is not None and (isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1):
            raise ConfigError(f"tile_size must be a positive integer or None, got {tile_size!r}")
        self.executor = as_executor(executor)
        self.tile_size = tile_size
        self.feature_map = feature_map
        if isinstance(device, str):
            from qphys.devices import device as make

            device = make(device)
        self.device = device
        self.n_qubits = n_qubits
        self.method = method
        self.shots = shots
        self.seed = seed
        self.postprocess = steps
        self.evaluate_diagonal = evaluate_diagonal
        self.max_circuits_per_job = max_circuits_per_job
        self.max_memory = max_memory
        self.diff_method = diff_method
        self.progress = progress
        self._param_kind = None
        if params is not None:
            if isinstance(params, dict):
                self._param_kind = "dict"
                self._param_names = tuple(params)
                for k, v in params.items():
                    self.register_parameter(k, _as_parameter(v, k))
            else:
                self._param_kind = "tensor"
                self.register_parameter("weights", _as_parameter(params, "params"))
        #: counters of the last :meth:`matrix` call: circuits run (state preparations on the
        #: statevector path) and device calls made
        self.last_stats: dict = {}
        self._state_cache: tuple | None = None  # (key, states) of the last reference set

    # ---- configuration --------------------------------------------------------------------
    @property
    def shots_in_use(self) -> int | None:
        return self.shots if self.shots is not None else self.device.shots

    def resolved_method(self) -> str:
        """The path :meth:`matrix` takes on this device (``statevector``/``compute-uncompute``)."""
        caps = self.device.capabilities
        can_sv = caps.exact and "state" in caps.measurements and self.shots_in_use is None
        if self.method == "statevector":
            if not can_sv:
                raise UnsupportedOperationError(
                    f"the statevector kernel path needs an exact device that returns states; "
                    f"{self.device.name!r} with shots={self.shots_in_use} does not. Use "
                    "method='compute-uncompute' or an exact simulator such as torch.qubit"
                )
            if self.executor is not None and torch.is_grad_enabled() and any(
                    p.requires_grad for p in self.parameters()):
                raise DifferentiationError(
                    "the statevector kernel differentiates by backprop, which does not cross processes; with "
                    "an executor use method='compute-uncompute' (gradients on the workers) or torch.no_grad()"
                )
            return "statevector"
        if self.method == "compute-uncompute":
            return "compute-uncompute"
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        if can_sv and (not needs_grad or ("backprop" in caps.native_diff and self.executor is None)):
            return "statevector"
        return "compute-uncompute"

    def _width(self, n_features: int) -> int:
        return self.n_qubits if self.n_qubits is not None else n_features

    def circuit(self, x: torch.Tensor) -> Circuit:
        """The feature-map circuit (no measurements) for the feature batch ``x``."""
        c = Circuit(wires=self._width(x.shape[-1]))
        if self._param_kind is None:
            out = self.feature_map(c, x)
        elif self._param_kind == "tensor":
            out = self.feature_map(c, x, self.weights)
        else:
            out = self.feature_map(c, x, **{k: getattr(self, k) for k in self._param_names})
        if out is not None and out is not c:
            if not isinstance(out, Circuit):
                raise ParameterError(
                    f"feature_map must append to the circuit it is given (returning it or None), "
                    f"got {type(out).__name__}"
                )
            c = out
        if not c.operations:
            raise ParameterError("feature_map appended no operations; the kernel would be constant 1")
        return c

    # ---- public API -------------------------------------------------------------------------
    def forward(self, X, Y=None) -> torch.Tensor:
        return self.matrix(X, Y)

    def matrix(self, X, Y=None) -> torch.Tensor:
        """Gram matrix ``K[i, j] = k(X[i], Y[j])`` (``Y=None``: ``Y = X``, symmetric).

        Returns:
            A float64 CPU tensor ``(N, M)``; differentiable in the trainable parameters.

        Raises:
            ParameterError: empty/NaN/non-2-D input, or ``X`` and ``Y`` with different numbers
                of features.
        """
        X = as_features(X, "X")
        symmetric = Y is None
        if not symmetric:
            Y = as_features(Y, "Y")
            if Y.shape[1] != X.shape[1]:
                raise ParameterError(
                    f"X has {X.shape[1]} features but Y has {Y.shape[1]}; both must have the "
                    "same number of features (the feature map's input dimension)"
                )
        if self.n_qubits is None and X.shape[1] > 30:
            raise ParameterError(
                f"X has {X.shape[1]} features, which would mean {X.shape[1]} qubits; pass "
                "n_qubits= with a feature map that compresses the features"
            )
        method = self.resolved_method()
        self.last_stats = {"method": method, "circuits": 0, "execute_calls": 0}
        if method == "statevector" and self.executor is not None:
            K = self._gram_tiles(X, None if symmetric else Y)
        elif method == "statevector":
            K = self._gram_statevector(X, None if symmetric else Y).cpu()
        else:
            K = self._gram_compute_uncompute(X, None if symmetric else Y)
        return self._postprocess(K, symmetric)

    def diagonal(self, X) -> torch.Tensor:
        """``k(x_i, x_i)``: ones for pure-state fidelity kernels (no circuits are run)."""
        X = as_features(X, "X")
        return torch.ones(X.shape[0], dtype=torch.float64)

    # ---- statevector path --------------------------------------------------------------------
    def _run(self, circuits: list[Circuit], *, shots=None):
        self.last_stats["execute_calls"] += 1
        self.last_stats["circuits"] += sum(c.batch_size or 1 for c in circuits)
        kwargs = {} if self.seed is None else {"seed": self.seed}
        return execute(circuits, self.device, diff_method=self.diff_method, shots=shots, executor=self.executor,
                       **kwargs)

    def states(self, X) -> torch.Tensor:
        """Feature states ``(N, 2**n)`` of the rows of ``X`` in tiles of bounded memory."""
        X = as_features(X, "X")
        if not self.last_stats:
            self.last_stats = {"method": "statevector", "circuits": 0, "execute_calls": 0}
        return self._prepare(X, self._tile_rows(self._width(X.shape[1]), self.memory_budget()))

    def memory_budget(self) -> int:
        """Bytes of state vectors the kernel may hold: ``max_memory``, or by default
        :data:`DEFAULT_MEMORY_FRACTION` of the memory free now on the device's torch device."""
        if self.max_memory is not None:
            return self.max_memory
        where = getattr(self.device, "torch_device", None)
        where = where if isinstance(where, torch.device) else torch.device("cpu")
        return max(1 << 26, int(available_memory(where) * DEFAULT_MEMORY_FRACTION))

    def __getstate__(self):  # copies and pickles (sklearn's clone, joblib) leave the kept states behind
        state = self.__dict__.copy()
        state["_state_cache"] = None
        state["executor"] = None  # a connection to a cluster does not travel
        return state

    def clear_cache(self) -> None:
        """Forget the kept states of the last reference set (frees their memory)."""
        self._state_cache = None

    def _prepare(self, X: torch.Tensor, rows: int) -> torch.Tensor:
        tiles = [self._states_tile(X[a : a + rows]) for a in _progress(range(0, X.shape[0], rows), self.progress,
                                                                        "feature states")]
        return torch.cat(tiles, 0)

    def _states_tile(self, x: torch.Tensor) -> torch.Tensor:
        if self.device.capabilities.batching:
            c = self.circuit(x).state()
            (r,) = self._run([c])
            s = r.state
            if c.batch_size is None:
                s = s.reshape(1, -1).expand(x.shape[0], -1)
            return s
        circuits = [self.circuit(row.reshape(1, -1)).state() for row in x]
        results = self._run(circuits)
        return torch.cat([torch.as_tensor(r.state).reshape(1, -1) for r in results], 0)

    def _itemsize(self) -> int:
        dtype = getattr(self.device, "dtype", torch.complex128)
        return torch.empty((), dtype=dtype).element_size() if isinstance(dtype, torch.dtype) else 16

    def _state_bytes(self, n: int) -> int:
        return 2**n * self._itemsize()

    def _tile_rows(self, n: int, budget: int | None = None) -> int:
        """Rows of one batched preparation whose workspace fits in ``budget`` bytes."""
        budget = self.memory_budget() if budget is None else budget
        return max(1, budget // (self._state_bytes(n) * WORKSPACE_FACTOR))

    # ---- tiles on an executor ------------------------------------------------------------------
    def default_tile_size(self, n_qubits: int, rows: int, cols: int | None = None) -> int:
        """Rows of a Gram tile on the executor: the largest that gives every worker slot at least
        two tiles (``b`` row blocks make ``b (b + 1) / 2`` tiles of a symmetric matrix, ``b²``
        otherwise) and whose two blocks of states fit in the memory budget (:meth:`memory_budget`).

        Examples:
            >>> from concurrent.futures import ThreadPoolExecutor
            >>> from qphys.templates import zz_feature_map
            >>> QuantumKernel(zz_feature_map, executor=ThreadPoolExecutor(2)).default_tile_size(4, 4000)
            1334
        """
        workers = self.executor.workers if self.executor is not None else 1
        longest = max(rows, cols or 0)
        blocks = 1
        while blocks < longest and (blocks * (blocks + 1) // 2 if cols is None else blocks * blocks) < 2 * workers:
            blocks += 1
        return max(1, min(math.ceil(longest / blocks), self._tile_rows(n_qubits, self.memory_budget() // 2)))

    def _gram_tiles(self, X: torch.Tensor, Y: torch.Tensor | None) -> torch.Tensor:
        N = X.shape[0]
        M = N if Y is None else Y.shape[0]
        n = self._width(X.shape[1])
        T = self.tile_size or self.default_tile_size(n, N, None if Y is None else M)
        blob = payload(self._tile_worker(), "the kernel (its feature map)")
        row_blocks = [(a, min(N, a + T)) for a in range(0, N, T)]
        col_blocks = row_blocks if Y is None else [(a, min(M, a + T)) for a in range(0, M, T)]
        tasks, where = [], []
        for bi, (a, b) in enumerate(row_blocks):
            for bj, (c, d) in enumerate(col_blocks):
                if Y is None and bj < bi:
                    continue
                other = None if (Y is None and bi == bj) else (X if Y is None else Y)[c:d].detach().cpu()
                tasks.append((blob, X[a:b].detach().cpu(), other))
                where.append((a, b, c, d))
        tiles = run_tasks(self.executor, gram_tile, tasks, progress=self.progress, desc="Gram tiles")
        K = torch.zeros(N, M, dtype=torch.float64)
        for (a, b, c, d), tile in zip(where, tiles):
            K[a:b, c:d] = tile
        if Y is None:
            K = torch.triu(K) + torch.triu(K, 1).transpose(0, 1)
        self.last_stats.update(
            tiles=len(tasks), tile_size=T, execute_calls=len(tasks),
            circuits=sum(t[1].shape[0] + (0 if t[2] is None else t[2].shape[0]) for t in tasks),
        )
        return K

    def _tile_worker(self) -> QuantumKernel:
        """A copy for the workers: no executor, no kept states, no gradients, no progress bars."""
        clone = QuantumKernel.__new__(QuantumKernel)
        clone.__dict__.update(self.__getstate__())
        clone.progress = False
        return clone

    # ---- kept states of the reference set ------------------------------------------------------
    def _cacheable(self) -> bool:
        return not (torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()))

    def _cache_key(self, X: torch.Tensor) -> tuple:
        digest = hashlib.sha1(X.detach().cpu().contiguous().numpy().tobytes())
        for p in self.parameters():
            digest.update(p.detach().cpu().contiguous().numpy().tobytes())
        return (tuple(X.shape), digest.hexdigest(), id(self.device), self.n_qubits)

    def _reference_states(self, X: torch.Tensor, rows: int) -> torch.Tensor:
        """States of the reference set: from the cache, or prepared (and kept when allowed)."""
        cacheable = self._cacheable()
        key = self._cache_key(X) if cacheable else None
        if key is not None and self._state_cache is not None and self._state_cache[0] == key:
            self.last_stats["reused_states"] = X.shape[0]
            return self._state_cache[1]
        S = self._prepare(X, rows)
        self._state_cache = (key, S.detach()) if cacheable else None
        return S

    def _gram_statevector(self, X, Y):
        n = self._width(X.shape[1])
        s = self._state_bytes(n)
        budget = self.memory_budget()
        half = budget // 2
        if Y is None:
            N = X.shape[0]
            if N * s <= half:  # every state once; upper triangle of blocks
                SX = self._reference_states(X, self._tile_rows(n, half))
                return _gram_symmetric(lambda a, b: SX[a:b], N, GRAM_BLOCK_ROWS, lambda a: SX[a:])
            return self._gram_symmetric_blocked(X, n, budget)
        M = Y.shape[0]
        if M * s <= half:  # reference states held; the rows of X streamed, each prepared once
            SY = self._reference_states(Y, self._tile_rows(n, half))
            rows = self._tile_rows(n, max(budget - M * s, s * WORKSPACE_FACTOR))
            it = _progress(range(0, X.shape[0], rows), self.progress, "Gram rows")
            return torch.cat([_fidelity(self._states_tile(X[a : a + rows]), SY) for a in it], 0)
        return self._gram_blocked(X, Y, n, budget)

    def _warn_recompute(self, n: int, count: int, passes: int, budget: int) -> None:
        need = count * self._state_bytes(n) * 2
        warn(
            f"the {count} feature states at {n} qubits ({fmt_bytes(count * self._state_bytes(n))}) do not fit in "
            f"half of the kernel's memory budget ({fmt_bytes(budget)}); tiling prepares some states up to "
            f"{passes} times. Pass max_memory={need} (bytes) or more to prepare each state once",
            UserWarning,
        )
        log.info("Gram matrix: %d states at %d qubits exceed half of max_memory=%d; %d passes",
                 count, n, budget, passes)

    def _resident_rows(self, n: int, budget: int) -> tuple[int, int]:
        """Rows held resident (half the budget) and rows prepared per streamed tile (the other half)."""
        s = self._state_bytes(n)
        return max(1, (budget // 2) // s), self._tile_rows(n, budget // 2)

    def _gram_symmetric_blocked(self, X, n: int, budget: int) -> torch.Tensor:
        N = X.shape[0]
        resident, rows = self._resident_rows(n, budget)
        self._warn_recompute(n, N, math.ceil(N / resident), budget)
        uppers = []
        for a in _progress(range(0, N, resident), self.progress, "Gram blocks"):
            b = min(N, a + resident)
            SA = self._prepare(X[a:b], rows)
            parts = [_fidelity(SA, SA)]
            parts += [_fidelity(SA, self._states_tile(X[c : c + rows])) for c in range(b, N, rows)]
            uppers.append((a, torch.cat(parts, 1)))
        return _assemble_symmetric(uppers, N)

    def _gram_blocked(self, X, Y, n: int, budget: int) -> torch.Tensor:
        resident, rows = self._resident_rows(n, budget)
        self._warn_recompute(n, Y.shape[0], math.ceil(X.shape[0] / resident), budget)
        blocks = []
        for a in _progress(range(0, X.shape[0], resident), self.progress, "Gram blocks"):
            SA = self._prepare(X[a : a + resident], rows)
            blocks.append(torch.cat([_fidelity(SA, self._states_tile(Y[c : c + rows]))
                                     for c in range(0, Y.shape[0], rows)], 1))
        return torch.cat(blocks, 0)

    # ---- compute-uncompute path -----------------------------------------------------------------
    def pair_circuit(self, x: torch.Tensor, y: torch.Tensor) -> Circuit:
        """``U(y)`` then ``U(x)^†``, measuring probabilities: ``k(x, y) = P(0…0)``."""
        c = self.circuit(y)
        try:
            inv = self.circuit(x).adjoint()
        except UnsupportedOperationError as exc:
            raise UnsupportedOperationError(
                f"the compute-uncompute kernel needs an invertible feature map: {exc}; use an "
                "exact statevector device (method='statevector')"
            ) from None
        for op in inv.operations:
            c.append(op.name, op.wires, op.params)
        return c.probs()

    def _gram_compute_uncompute(self, X, Y):
        N = X.shape[0]
        if Y is None:
            offset = 0 if self.evaluate_diagonal else 1
            ii, jj = torch.triu_indices(N, N, offset)
            M = N
        else:
            M = Y.shape[0]
            ii = torch.arange(N).repeat_interleave(M)
            jj = torch.arange(M).repeat(N)
        Yb = X if Y is None else Y
        values = self._pair_values(X[ii], Yb[jj]) if len(ii) else torch.zeros(0, dtype=torch.float64)
        if Y is not None:
            return values.reshape(N, M)
        K = torch.zeros(N, N, dtype=torch.float64)
        K = K.index_put((ii, jj), values)
        upper = K.triu(1)
        diag = K.diagonal() if self.evaluate_diagonal else torch.ones(N, dtype=torch.float64)
        return upper + upper.transpose(0, 1) + torch.diag(diag)

    def _pair_values(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        shots = self.shots_in_use
        P = A.shape[0]
        caps = self.device.capabilities
        if caps.batching:
            chunk = self.max_circuits_per_job or P
            n = self._width(A.shape[1])
            chunk = min(chunk, max(1, self._tile_rows(n)))
            out = []
            for a in _progress(range(0, P, chunk), self.progress, "kernel circuits"):
                c = self.pair_circuit(A[a : a + chunk], B[a : a + chunk])
                (r,) = self._run([c], shots=shots)
                p = r.probs
                p0 = p[..., 0].reshape(-1)
                if c.batch_size is None:
                    p0 = p0.expand(min(chunk, P - a))
                out.append(p0)
            return torch.cat(out).to(torch.float64).cpu()
        circuits = [self.pair_circuit(a.reshape(1, -1), b.reshape(1, -1)) for a, b in zip(A, B)]
        chunk = self.max_circuits_per_job or len(circuits)
        out = []
        for a in _progress(range(0, len(circuits), chunk), self.progress, "kernel jobs"):
            results = self._run(circuits[a : a + chunk], shots=shots)
            out.extend(torch.as_tensor(r.probs).reshape(-1)[0].to(torch.float64).cpu() for r in results)
        return torch.stack(out)

    # ---- post-processing ----------------------------------------------------------------------
    def _postprocess(self, K: torch.Tensor, symmetric: bool) -> torch.Tensor:
        for step in self.postprocess:
            if step == "clip":
                K = K.clamp(0.0, 1.0)
            elif step == "psd":
                if symmetric:
                    K = nearest_psd(K)
                else:
                    log.debug("postprocess 'psd' skipped for a non-square (test vs train) matrix")
        return K


def nearest_psd(K: torch.Tensor) -> torch.Tensor:
    """The positive-semidefinite matrix nearest to symmetric ``K`` in Frobenius norm.

    Negative eigenvalues (shot noise) are set to zero (Hubregtsen et al.'s "clipping").

    Examples:
        >>> import torch
        >>> from qphys.kernels import nearest_psd
        >>> K = torch.tensor([[1.0, 1.2], [1.2, 1.0]], dtype=torch.float64)
        >>> bool(torch.linalg.eigvalsh(nearest_psd(K)).min() >= -1e-12)
        True
    """
    sym = 0.5 * (K + K.transpose(-1, -2))
    w, v = torch.linalg.eigh(sym)
    return (v * w.clamp_min(0.0).unsqueeze(-2)) @ v.transpose(-1, -2)


def _gram_symmetric(rows_of: Callable, N: int, block: int, from_row: Callable) -> torch.Tensor:
    """Symmetric ``|S S^†|²`` from its upper triangle: block ``a`` computes columns ``a..N`` only."""
    uppers = [(a, _fidelity(rows_of(a, min(N, a + block)), from_row(a))) for a in range(0, N, block)]
    return _assemble_symmetric(uppers, N)


def _assemble_symmetric(uppers: list, N: int) -> torch.Tensor:
    """The full matrix from row blocks ``(a, U)`` where ``U`` holds columns ``a..N`` of rows
    ``a..a+len(U)``; the lower triangle is the upper one transposed (exactly symmetric)."""
    rows = []
    for a, U in uppers:
        b = a + U.shape[0]
        left = [V[:, a - c : b - c].transpose(0, 1) for c, V in uppers if c < a]
        rows.append(torch.cat([*left, U], 1))
    K = torch.cat(rows, 0)
    # the diagonal blocks came from one product each; make them exactly symmetric too
    return torch.triu(K) + torch.triu(K, 1).transpose(0, 1)


def gram_tile(kernel: bytes, XA: torch.Tensor, XB: torch.Tensor | None) -> torch.Tensor:
    """Task: the Gram tile ``|S_A S_B^†|²`` of two row blocks (``XB=None``: the diagonal tile of
    ``XA``), each block's states prepared once; a float64 CPU tensor."""
    import pickle

    k: QuantumKernel = pickle.loads(kernel)
    with torch.no_grad():
        k.last_stats = {"method": "statevector", "circuits": 0, "execute_calls": 0}
        SA = k.states(XA)
        SB = SA if XB is None else k.states(XB)
        return _fidelity(SA, SB).cpu()


def _fidelity(SA: torch.Tensor, SB: torch.Tensor) -> torch.Tensor:
    overlap = SA @ SB.conj().transpose(0, 1)
    return (overlap.real**2 + overlap.imag**2).to(torch.float64)


def _as_parameter(v, name) -> torch.nn.Parameter:
    if isinstance(v, torch.nn.Parameter):
        return v
    t = torch.as_tensor(v)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ParameterError(f"feature-map parameter {name!r} contains NaN or inf")
    return torch.nn.Parameter(t.clone())


def _progress(it, enabled: bool, desc: str):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, total=math.ceil(len(it)) if hasattr(it, "__len__") else None)
