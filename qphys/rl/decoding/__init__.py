"""Decoders for the toric code and surface-code memory circuits, and how to score them.

One module per subsystem:

- :mod:`~qphys.rl.decoding.mwpm` — :class:`MWPMDecoder`, minimum-weight perfect matching by PyMatching
  (the standard baseline), for :class:`~qphys.rl.codes.ToricCode` code-capacity noise (bit-flip; for
  depolarizing noise X and Z are matched separately, ignoring their correlation, as in the literature) and
  for Stim circuits; :class:`CorrelatedMWPMDecoder`, PyMatching's correlated matching on a detector error
  model that keeps Y errors as correlated X+Z edges (the stronger depolarizing baseline).
- :mod:`~qphys.rl.decoding.neural` — :class:`NeuralDecoder`, a supervised network from the syndrome image
  to the logical class of the error: a CNN, or (``arch='equivariant'``) the translation-invariant network
  of :mod:`~qphys.rl.decoding.equivariant`.
- :mod:`~qphys.rl.decoding.deepq` — :class:`DeepQDecoder` and :func:`train_deepq_decoder`, the deep-Q
  agent of Andreasson et al. (bit-flip) and Fitzek et al. (depolarizing): defect-centred perspectives,
  Pauli flips next to a defect (:mod:`~qphys.rl.defect_actions`), double dueling DQN with replay,
  target network and a curriculum of error rates.
- :mod:`~qphys.rl.decoding.rl_decoder` — :class:`RLDecoder`, an SB3 Q-network policy acting in
  :class:`~qphys.rl.decoding_env.ToricCodeDecodingEnv` (any qubit, first-defect view), batched.
- :mod:`~qphys.rl.decoding.evaluation` — :func:`evaluate` (logical failure rate with a Wilson 95%
  interval and the decoder's throughput), :func:`paired_difference` (two decoders on the same syndromes)
  and :func:`threshold_plot`.
- :mod:`~qphys.rl.decoding.shipped` — :func:`load_decoder` loads a shipped decoder by name.

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
from qphys.rl.decoding.deepq import DeepQDecoder, PerspectiveQNetwork, train_deepq_decoder
from qphys.rl.decoding.evaluation import (
    DecodingResult,
    PairedDifference,
    evaluate,
    paired_difference,
    threshold_plot,
    wilson_interval,
)
from qphys.rl.decoding.mwpm import CorrelatedMWPMDecoder, MWPMDecoder, toric_detector_error_model
from qphys.rl.decoding.neural import NeuralDecoder, ToricCNN
from qphys.rl.decoding.rl_decoder import RLDecoder, ToricFeaturesExtractor, train_rl_decoder
from qphys.rl.decoding.shipped import load_decoder, shipped_decoders

__all__ = [
    "WEIGHTS_DIR",
    "CorrelatedMWPMDecoder",
    "DecodingResult",
    "DeepQDecoder",
    "PairedDifference",
    "PerspectiveQNetwork",
    "MWPMDecoder",
    "NeuralDecoder",
    "RLDecoder",
    "ToricCNN",
    "ToricFeaturesExtractor",
    "evaluate",
    "load_decoder",
    "paired_difference",
    "shipped_decoders",
    "threshold_plot",
    "toric_detector_error_model",
    "train_deepq_decoder",
    "train_rl_decoder",
    "weights_path",
    "wilson_interval",
]
