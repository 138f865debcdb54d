"""Analog-to-digital converter: gain to a back-off below full scale, rounding to integers, clipping.

A ``bits``-bit converter gives each of I and Q as an integer in ``[-2**(bits-1), 2**(bits-1) - 1]`` (the
PlutoSDR's 12-bit samples as it delivers them in int16, i.e. ``ci16``). Full scale is the amplitude
``2**(bits-1)`` of one component, so a full-scale complex tone is 0 dBFS. The gain before the converter
puts the input's complex RMS ``backoff_db`` below full scale, as an AGC would; values past full scale clip.
The emulator divides the integers by that gain again, so its output keeps its own scale while lying on
the converter's grid.
"""

from __future__ import annotations

import numpy as np


def adc_gain(rms: float, bits: int, backoff_db: float) -> float:
    """Converter steps (LSB) per input unit that put ``rms`` at ``backoff_db`` below full scale."""
    if not rms > 0:
        raise ValueError(f"rms={rms!r} must be positive")
    return 2.0 ** (bits - 1) * 10.0 ** (-backoff_db / 20.0) / rms


def quantize(x: np.ndarray, bits: int, gain: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Convert ``x (n,)`` complex with ``gain`` LSB per unit.

    Returns:
        ``codes`` int16 (n, 2) (I, Q integers as the radio delivers them), ``y`` complex64 (n,) the codes
        divided by ``gain`` (back in the input's units), and the fraction of I and Q values that clipped.
    """
    if not 2 <= bits <= 16:
        raise ValueError(f"bits={bits!r} must be between 2 and 16")
    top = 2 ** (bits - 1)
    scaled = np.stack([np.real(x), np.imag(x)], axis=-1) * gain
    rounded = np.rint(scaled)
    clipped = (rounded > top - 1) | (rounded < -top)
    codes = np.clip(rounded, -top, top - 1).astype(np.int16)
    y = (codes[:, 0] + 1j * codes[:, 1].astype(float)) / gain
    fraction = float(clipped.mean()) if clipped.size else 0.0
    return codes, y.astype(np.complex64), fraction
