"""Decoders for the toric code and surface-code memory circuits, and how to score them.

One module per subsystem:

- :mod:`~qphys.rl.decoding.mwpm` — :class:`MWPMDecoder`, minimum-weight perfect matching by PyMatching
  (the standard baseline), for :class:`~qphys.rl.codes.ToricCode` code-capacity noise (bit-flip; for
  depolarizing noise X and Z are matched separately, ignoring their correlation, as in the literature) and
  for Stim circuits.
- :mod:`~qphys.rl.decoding.neural` — :class:`NeuralDecoder`, a supervised convolutional network from the
  syndrome image to the logical class of the error.
- :mod:`~qphys.rl.decoding.rl_decoder` — :class:`RLDecoder`, a trained Q-network policy (Andreasson et al.
  2019) acting in :class:`~qphys.rl.decoding_env.ToricCodeDecodingEnv`, batched over many syndromes.
- :mod:`~qphys.rl.decoding.evaluation` — :func:`evaluate` (logical failure rate with a Wilson 95%
  interval and the decoder's throughput) and :func:`threshold_plot`.

All decoders share one interface: ``predict(syndromes) -> logical-class bits (shots, k)``, the logical
operators the decoder's correction flips (toric code: ``(x0, x1, z0, z1)``; Stim: one bit per
observable). A shot fails when any predicted bit differs from the true one. Shipped weights live in
``qphys/rl/weights`` (:func:`weights_path`).

Examples:
    >>> from qphys.rl.codes import ToricCode
    >>> from qphys.rl.decoding import MWPMDecoder, evaluate
    >>> code = ToricCode(3)
    >>> res = evaluate(MWPMDecoder(code), code, "bitflip", 0.05, shots=2000, seed=1)
    >>> 0.02 < res.failure_rate < 0.11
    True
"""

from __future__ import annotations

from qphys.rl.decoding._common import WEIGHTS_DIR, weights_path
from qphys.rl.decoding.evaluation import DecodingResult, evaluate, threshold_plot, wilson_interval
from qphys.rl.decoding.mwpm import MWPMDecoder
from qphys.rl.decoding.neural import NeuralDecoder, ToricCNN
from qphys.rl.decoding.rl_decoder import RLDecoder, ToricFeaturesExtractor, train_rl_decoder

__all__ = [
    "WEIGHTS_DIR",
    "DecodingResult",
    "MWPMDecoder",
    "NeuralDecoder",
    "RLDecoder",
    "ToricCNN",
    "ToricFeaturesExtractor",
    "evaluate",
    "threshold_plot",
    "train_rl_decoder",
    "weights_path",
    "wilson_interval",
]
