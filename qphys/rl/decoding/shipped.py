"""Loading the decoders shipped in ``qphys/rl/weights`` by name.

Names are the file names without ``decoder_`` and ``.pt``: ``deepq_d{3,5,7}_bitflip`` and
``deepq_d5_depolarizing`` (the deep-Q agents, :class:`~qphys.rl.decoding.deepq.DeepQDecoder`),
``equivariant_d5_depolarizing`` (the syndrome-only translation-invariant network), ``cnn_d{3,5}_{noise}``
(the earlier CNNs, :class:`~qphys.rl.decoding.neural.NeuralDecoder`) and ``dqn_d3_bitflip`` (the SB3 agent,
:class:`~qphys.rl.decoding.rl_decoder.RLDecoder`). The training commands are in ``examples/``.

Examples:
    >>> from qphys.rl.decoding.shipped import load_decoder, shipped_decoders
    >>> "equivariant_d5_depolarizing" in shipped_decoders()
    True
    >>> load_decoder("cnn_d3_bitflip").code.d
    3
"""

from __future__ import annotations

import torch

from qphys.errors import ConfigError
from qphys.rl.decoding._common import WEIGHTS_DIR, weights_path

__all__ = ["load_decoder", "shipped_decoders"]


def shipped_decoders() -> list[str]:
    """Names of the shipped decoders (for :func:`load_decoder`)."""
    return sorted(p.name[len("decoder_"):-len(".pt")] for p in WEIGHTS_DIR.glob("decoder_*.pt"))


def load_decoder(name: str, *, device: str | torch.device = "cpu"):
    """Load a shipped decoder by name (see the module docstring), whatever its kind.

    Raises:
        ConfigError: no shipped decoder of that name (the message lists the names there are).
    """
    path = weights_path(f"decoder_{name}.pt")
    if not path.exists():
        raise ConfigError(f"no shipped decoder named {name!r}; shipped: {shipped_decoders()}")
    fmt = torch.load(path, map_location="cpu", weights_only=True).get("format")
    if fmt == "qphys.DeepQDecoder/1":
        from qphys.rl.decoding.deepq import DeepQDecoder

        return DeepQDecoder.load(path, device=device)
    if fmt == "qphys.NeuralDecoder/1":
        from qphys.rl.decoding.neural import NeuralDecoder

        return NeuralDecoder.load(path, device=device)
    if fmt == "qphys.RLDecoder/1":
        from qphys.rl.decoding.rl_decoder import RLDecoder

        return RLDecoder.load(path, device=device)
    raise ConfigError(f"{path} has an unknown format {fmt!r}")
