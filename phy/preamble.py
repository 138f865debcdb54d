"""The frame preamble: 802.11a-style short training field (STF) then long training field (LTF).

Why 802.11a's short + long training rather than Schmidl & Cox: the STF's short period gives a
coarse CFO range that does not depend on the FFT size, and its many repetitions make detection a
delay-and-correlate over one period that the receiver evaluates with block sums at a stride of one
period (cheap over long captures). Schmidl & Cox repeat half an OFDM symbol, so their coarse range
is +-1 subcarrier spacing (+-977 Hz at FFT 1024 and 2 MS/s), which would need a second symbol and
an integer-CFO search to cover the +-50 kHz of an uncalibrated radio. The LTF's two identical
copies then give fine timing (cross-correlation), fine CFO (their phase difference), a least-squares
channel estimate on every occupied subcarrier, and the noise variance (their difference).

Generalisation to any numerology:

* STF: tones on subcarriers ``m * N / 16`` (``m = +-1, +-2, ...`` inside the occupied band) carrying
  802.11a's values for ``|m| <= 6``, so its waveform has a period of 16 samples for every FFT size
  (it is 802.11a's STF at N = 64). CFO range +-``sample_rate / 32`` (+-62.5 kHz at 2 MS/s). It
  lasts ``10 * N / 64`` periods (2.5 N samples: 160 at N = 64), so detection energy and coarse CFO
  accuracy grow with N as the fine-CFO range (+-``sample_rate / (2 N)``) shrinks.
* LTF: BPSK on every occupied subcarrier (802.11a's L sequence at N = 64; otherwise the cyclic
  shift of the 127-bit PN sequence with the lowest PAPR), a guard of ``2 * cp_len`` samples (the
  symbol's tail) and two copies of the N-sample symbol.

Every part has unit mean energy per occupied subcarrier (the STF's fewer tones are boosted), so the
preamble has the same mean power as the OFDM symbols that follow it.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from phy.numerology import Numerology
from phy.ofdm import to_time
from phy.pn_sequence import pn_signs

STF_PERIOD = 16
"""Samples per STF repetition (all FFT sizes)."""

_STF_80211A = {1: -1 - 1j, 2: -1 - 1j, 3: 1 + 1j, 4: 1 + 1j, 5: 1 + 1j, 6: 1 + 1j,
               -1: 1 + 1j, -2: -1 - 1j, -3: -1 - 1j, -4: 1 + 1j, -5: -1 - 1j, -6: 1 + 1j}
"""802.11a's STF values on subcarriers 4m (before the sqrt(13/6) boost), keyed by m."""

_LTF_80211A = np.array(
    [1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1,
     1, -1, -1, 1, 1, -1, 1, -1, 1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, 1, 1],
    dtype=np.float32,
)
"""802.11a's L_{-26..26} without the DC entry."""


def _papr(x: np.ndarray) -> float:
    p = np.abs(x) ** 2
    return float(p.max() / p.mean())


class Preamble:
    """STF and LTF of one numerology (see the module docstring).

    Attributes (all read-only arrays):
        stf: complex64 (stf_len,), ``stf_len = 2.5 * N``.
        ltf_values: float32 (n_occupied,), the LTF's +-1 on ``numerology.occupied``.
        ltf_symbol: complex64 (N,), one LTF copy in time.
        ltf: complex64 (2 * cp_len + 2 * N,), guard + two copies (also used as the midamble).
    """

    def __init__(self, numerology: Numerology) -> None:
        self.numerology = numerology
        n = numerology.fft_size
        self.stf_period = STF_PERIOD
        self.stf_repetitions = 10 * n // 64
        self.stf_len = self.stf_period * self.stf_repetitions
        self.ltf_guard = 2 * numerology.cp_len
        self.ltf_len = self.ltf_guard + 2 * n
        if numerology.occupied_edge < n // STF_PERIOD:
            raise ValueError(
                f"occupied_edge={numerology.occupied_edge} is below N/16={n // STF_PERIOD}: the STF needs at "
                "least its first tone pair inside the occupied band"
            )

    @cached_property
    def stf_tones(self) -> np.ndarray:
        """Signed subcarrier indices of the STF tones, int (n_tones,)."""
        step = self.numerology.fft_size // STF_PERIOD
        m_max = self.numerology.occupied_edge // step
        m = np.array([i for i in range(-m_max, m_max + 1) if i != 0])
        return m * step

    @cached_property
    def stf(self) -> np.ndarray:
        num = self.numerology
        step = num.fft_size // STF_PERIOD
        m = self.stf_tones // step
        extra = pn_signs(len(m), start=64)
        values = np.array([_STF_80211A.get(int(k), (1 + 1j) * extra[i]) for i, k in enumerate(m)], np.complex64)
        values *= np.sqrt(len(num.occupied) / (2.0 * len(m)))
        full = np.zeros(len(num.occupied), dtype=np.complex64)
        full[np.searchsorted(num.occupied, self.stf_tones)] = values
        period = to_time(num, full)[:STF_PERIOD]
        out = np.tile(period, self.stf_repetitions)
        out.setflags(write=False)
        return out

    @cached_property
    def ltf_values(self) -> np.ndarray:
        num = self.numerology
        occ = num.occupied
        if num.fft_size == 64 and np.array_equal(occ, np.r_[-26:0, 1:27]):
            values = _LTF_80211A.copy()
        else:
            candidates = np.stack([pn_signs(len(occ), start=s) for s in range(127)])
            paprs = [_papr(to_time(num, c)) for c in candidates]
            values = candidates[int(np.argmin(paprs))]
        values.setflags(write=False)
        return values

    @cached_property
    def ltf_symbol(self) -> np.ndarray:
        out = to_time(self.numerology, self.ltf_values.astype(np.complex64))
        out.setflags(write=False)
        return out

    @cached_property
    def ltf(self) -> np.ndarray:
        sym = self.ltf_symbol
        out = np.concatenate([sym[-self.ltf_guard :], sym, sym])
        out.setflags(write=False)
        return out

    @property
    def length(self) -> int:
        """Samples in STF + LTF."""
        return self.stf_len + self.ltf_len
