"""802.11a's length-127 pseudo-noise sequence (scrambler polynomial x^7 + x^4 + 1).

With the all-ones initial state the generator emits ``0 0 0 0 1 1 1 0 1 1 1 1 0 0 1 0 ...``; mapped
0 -> +1, 1 -> -1 this is the pilot polarity sequence ``p_0 .. p_126`` of IEEE 802.11a (17.3.5.9).
The physical layer reuses it wherever it needs known pseudo-random bits: pilot polarities, the
header's padding bits and the payload's padding symbols.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PN_PERIOD = 127


@lru_cache(maxsize=1)
def pn127() -> np.ndarray:
    """One period of the sequence, uint8 0/1 shape (127,) (read-only)."""
    state = [1] * 7  # x^1 .. x^7, all ones
    out = np.empty(PN_PERIOD, dtype=np.uint8)
    for i in range(PN_PERIOD):
        bit = state[6] ^ state[3]
        out[i] = bit
        state = [bit, *state[:6]]
    out.setflags(write=False)
    return out


def pn_bits(n: int, start: int = 0) -> np.ndarray:
    """``n`` bits of the periodic sequence from position ``start``, uint8 0/1 shape (n,)."""
    return pn127()[(start + np.arange(n)) % PN_PERIOD]


def pn_signs(n: int, start: int = 0) -> np.ndarray:
    """The same bits as BPSK signs (0 -> +1, 1 -> -1), float32 shape (n,)."""
    return (1.0 - 2.0 * pn_bits(n, start)).astype(np.float32)
