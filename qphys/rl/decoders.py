"""The former home of the decoders, kept so that ``from qphys.rl.decoders import ...`` keeps working.

The decoders now live in :mod:`qphys.rl.decoding` (one module each for matching, the neural decoder,
the RL decoder and evaluation); this module re-exports the same names.

Examples:
    >>> from qphys.rl.decoders import MWPMDecoder
    >>> from qphys.rl.decoding import MWPMDecoder as same
    >>> MWPMDecoder is same
    True
"""

from __future__ import annotations

from qphys.rl.decoding import *  # noqa: F403
from qphys.rl.decoding import __all__  # noqa: F401
