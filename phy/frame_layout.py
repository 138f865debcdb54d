"""Where each part of a frame lies, in samples from the frame's first sample.

A frame is::

    STF | LTF | header symbols | payload symbols 0..M-1 | LTF | payload symbols M..2M-1 | LTF | ...

with an LTF midamble after every ``M = midamble_interval`` payload symbols (none when M is 0 or the
payload fits in M symbols). Each LTF starts a *segment*: the OFDM symbols that follow it up to the
next LTF, equalised with the channel that LTF measured. Segment 0 holds the header symbols and the
first payload symbols. The header takes ``ceil(HEADER_CODED_BITS / n_data)`` symbols; the payload
``ceil(payload_len / n_data)``, its last symbol padded. Both transmitter and receiver use this class,
so they agree on the layout by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from phy.frame_config import FrameConfig
from phy.header import HEADER_CODED_BITS
from phy.numerology import Numerology
from phy.preamble import Preamble


@dataclass(frozen=True)
class Segment:
    """One training field and the OFDM symbols equalised with it.

    Attributes:
        ltf_start: offset of the LTF's guard [samples from the frame start].
        first_symbol: offset of the first OFDM symbol's cyclic prefix [samples].
        n_symbols: OFDM symbols in the segment (segment 0 counts the header symbols).
        first_index: pilot-polarity count of the first symbol (header symbol 0 is 0).
        first_payload: index of the first payload OFDM symbol in the segment (in segment 0 the one
            after the header).
    """

    ltf_start: int
    first_symbol: int
    n_symbols: int
    first_index: int
    first_payload: int


class FrameLayout:
    """Frame layout of one numerology and frame configuration."""

    def __init__(self, numerology: Numerology, frame_config: FrameConfig) -> None:
        self.numerology = numerology
        self.frame_config = frame_config
        self.preamble = Preamble(numerology)

    @cached_property
    def n_header_symbols(self) -> int:
        """OFDM symbols carrying the coded header bits."""
        return -(-HEADER_CODED_BITS // self.numerology.n_data)

    @property
    def header_start(self) -> int:
        """Offset of the first header symbol's cyclic prefix [samples]."""
        return self.preamble.length

    @property
    def max_payload_len(self) -> int:
        """Payload symbols that fit in one frame."""
        return self.frame_config.max_payload_symbols * self.numerology.n_data

    def n_payload_symbols(self, payload_len: int) -> int:
        """Payload OFDM symbols for ``payload_len`` symbols."""
        return -(-int(payload_len) // self.numerology.n_data)

    def segments(self, payload_len: int) -> list[Segment]:
        """The frame's segments, in order."""
        sym = self.numerology.symbol_len
        ltf_len, n_h = self.preamble.ltf_len, self.n_header_symbols
        n_pay = self.n_payload_symbols(payload_len)
        m = self.frame_config.midamble_interval or max(n_pay, 1)
        first = min(m, n_pay)
        out = [Segment(self.preamble.stf_len, self.header_start, n_h + first, 0, 0)]
        done = first
        while done < n_pay:
            prev = out[-1]
            ltf_start = prev.first_symbol + prev.n_symbols * sym
            count = min(m, n_pay - done)
            out.append(Segment(ltf_start, ltf_start + ltf_len, count, n_h + done, done))
            done += count
        return out

    def payload_symbol_ends(self, payload_len: int) -> np.ndarray:
        """Where each payload OFDM symbol ends, int64 (n_payload_symbols,) [samples from the frame start]."""
        n_h, sym = self.n_header_symbols, self.numerology.symbol_len
        ends = [seg.first_symbol + (k + 1) * sym for i, seg in enumerate(self.segments(payload_len))
                for k in range(n_h if i == 0 else 0, seg.n_symbols)]
        return np.array(ends, np.int64)

    def frame_length(self, payload_len: int) -> int:
        """Samples in a frame carrying ``payload_len`` symbols (the inter-frame gap not included)."""
        last = self.segments(payload_len)[-1]
        return last.first_symbol + last.n_symbols * self.numerology.symbol_len
