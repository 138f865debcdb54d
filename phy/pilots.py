"""Pilot subcarriers: known BPSK values whose polarity is scrambled from symbol to symbol.

Pilot ``i`` of OFDM symbol ``n`` carries ``p_n * b_i``: ``b_i`` is the base pattern (+1 on every
pilot except the highest-index one, -1; at FFT 64 this is 802.11a's (1, 1, 1, -1) on -21, -7, 7, 21)
and ``p_n`` the 127-periodic polarity of :mod:`phy.pn_sequence`. Symbols are counted from the first
header symbol; midamble training symbols do not advance the count. The scrambled polarity keeps
the pilots from adding spectral lines and lets the receiver tell symbols apart.
"""

from __future__ import annotations

import numpy as np

from phy.numerology import Numerology
from phy.pn_sequence import pn_signs


def pilot_base(numerology: Numerology) -> np.ndarray:
    """Base pattern ``b``, float32 (n_pilot,), in the order of ``numerology.pilot`` (ascending)."""
    base = np.ones(numerology.n_pilot, dtype=np.float32)
    base[-1] = -1.0
    return base


def pilot_polarity(symbol_index: np.ndarray) -> np.ndarray:
    """Polarity ``p_n`` of OFDM symbols ``n`` (counted from the first header symbol), float32 (n,)."""
    idx = np.asarray(symbol_index, dtype=np.int64)
    return pn_signs(127)[idx % 127]


def pilot_values(numerology: Numerology, symbol_index: np.ndarray) -> np.ndarray:
    """Transmitted pilot values, float32 (n_symbols, n_pilot) of +-1."""
    return pilot_polarity(symbol_index)[:, None] * pilot_base(numerology)[None, :]
