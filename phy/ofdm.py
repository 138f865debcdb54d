"""OFDM modulation and demodulation between occupied-subcarrier values and time samples.

Both directions use the orthonormal DFT (``norm="ortho"``): a symbol with unit energy on each of
its ``n_occupied`` subcarriers has mean sample power ``n_occupied / N``, and white noise of variance
``sigma2`` per time sample has variance ``sigma2`` on every subcarrier. Subcarrier values are always
given in the ascending order of ``numerology.occupied`` (signed indices, DC excluded).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from phy.numerology import Numerology


def positions(numerology: Numerology, indices: np.ndarray) -> np.ndarray:
    """Positions of signed subcarrier ``indices`` inside ``numerology.occupied``, int (len(indices),)."""
    return np.searchsorted(numerology.occupied, np.asarray(indices))


def to_time(numerology: Numerology, values: np.ndarray) -> np.ndarray:
    """Occupied-subcarrier values (..., n_occupied) -> time-domain symbols without CP (..., N), complex64."""
    n = numerology.fft_size
    grid = np.zeros((*values.shape[:-1], n), dtype=np.complex64)
    grid[..., numerology.bins(numerology.occupied)] = values
    return scipy.fft.ifft(grid, axis=-1, norm="ortho").astype(np.complex64, copy=False)


def modulate(numerology: Numerology, values: np.ndarray) -> np.ndarray:
    """OFDM symbols with cyclic prefix.

    Args:
        values: complex (n_symbols, n_occupied), subcarrier values.

    Returns:
        complex64 (n_symbols * (N + cp_len),): each symbol's last ``cp_len`` samples, then the symbol.
    """
    time = to_time(numerology, values)
    return np.concatenate([time[:, -numerology.cp_len :], time], axis=1).reshape(-1)


def demodulate(
    samples: np.ndarray,
    numerology: Numerology,
    first: np.ndarray,
    n_symbols: int,
    stride: int,
    cfo: np.ndarray | None = None,
    phase_origin: np.ndarray | None = None,
) -> np.ndarray:
    """FFT of evenly spaced N-sample windows for a batch of frames, returning the occupied subcarriers.

    Args:
        samples: complex64 (n,).
        numerology: the numerology.
        first: int (B,), index of each frame's first window's first sample.
        n_symbols: windows per frame.
        stride: samples from one window start to the next (``N + cp_len`` inside a segment).
        cfo: float (B,), carrier frequency offset to remove [cycles/sample]: sample ``i`` of frame ``b`` is
            multiplied by ``exp(-j 2 pi cfo[b] (i - phase_origin[b]))`` before the FFT; ``None`` for none.
        phase_origin: int (B,), sample index where frame ``b``'s removed CFO has zero phase.

    Returns:
        complex64 (B, n_symbols, n_occupied).

    Raises:
        IndexError: when a window leaves ``samples`` (the caller checks this beforehand).
    """
    n = numerology.fft_size
    first = np.asarray(first, dtype=np.int64).reshape(-1)
    if n_symbols <= 0 or first.size == 0:
        return np.zeros((first.size, max(n_symbols, 0), len(numerology.occupied)), dtype=np.complex64)
    if first.min() < 0 or first.max() + (n_symbols - 1) * stride + n > samples.size:
        raise IndexError(f"windows of {n_symbols} symbols (stride {stride}) leave the {samples.size} samples")
    samples = np.ascontiguousarray(samples, dtype=np.complex64)
    block = np.empty((first.size, n_symbols, n), dtype=np.complex64)
    rot_sample = None
    if cfo is not None:
        cfo = np.asarray(cfo, dtype=np.float64)
        rot_sample = np.exp(-2j * np.pi * cfo[:, None] * np.arange(n)[None, :]).astype(np.complex64)
    step = samples.itemsize
    for b, start in enumerate(first):
        view = np.lib.stride_tricks.as_strided(
            samples[start:], shape=(n_symbols, n), strides=(stride * step, step), writeable=False
        )
        if rot_sample is None:
            block[b] = view
        else:
            np.multiply(view, rot_sample[b], out=block[b])
    spectrum = scipy.fft.fft(block, axis=-1, norm="ortho", overwrite_x=True)
    out = np.take(spectrum, numerology.bins(numerology.occupied), axis=-1)
    if cfo is not None:
        starts = first[:, None] + stride * np.arange(n_symbols)[None, :] - np.asarray(phase_origin)[:, None]
        out *= np.exp(-2j * np.pi * cfo[:, None] * starts.astype(np.float64)).astype(np.complex64)[:, :, None]
    return out.astype(np.complex64, copy=False)
