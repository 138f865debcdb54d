"""Peak-to-average power ratio (PAPR) of a waveform and its complementary CDF."""

from __future__ import annotations

import numpy as np


def papr_db(samples: np.ndarray) -> float:
    """Peak power over mean power, in dB, of a block of complex samples (NaN when all are zero).

    Raises:
        ValueError: when ``samples`` is empty.
    """
    x = np.asarray(samples)
    if x.size == 0:
        raise ValueError("papr_db needs at least one sample; got an empty array")
    power = np.abs(x.astype(np.complex128)) ** 2
    mean = power.mean()
    return float(10 * np.log10(power.max() / mean)) if mean > 0 else float("nan")


def symbol_papr_db(samples: np.ndarray, symbol_len: int) -> np.ndarray:
    """PAPR of each consecutive block of ``symbol_len`` samples (a partial last block is dropped).

    Returns:
        float64 (n_blocks,) in dB; blocks that are all zero (inter-frame gaps) are left out.
    """
    if symbol_len < 1:
        raise ValueError(f"symbol_len={symbol_len} must be a positive number of samples")
    x = np.asarray(samples, dtype=np.complex128)
    n = x.size // symbol_len
    power = np.abs(x[: n * symbol_len].reshape(n, symbol_len)) ** 2
    mean = power.mean(axis=1)
    keep = mean > 0
    return 10 * np.log10(power[keep].max(axis=1) / mean[keep])


def ccdf(values_db: np.ndarray, thresholds_db: np.ndarray) -> np.ndarray:
    """Complementary CDF ``P(value > threshold)`` at each threshold, float64 (len(thresholds_db),)."""
    v = np.sort(np.asarray(values_db, dtype=np.float64).ravel())
    t = np.asarray(thresholds_db, dtype=np.float64)
    if v.size == 0:
        return np.full(t.shape, np.nan)
    return 1.0 - np.searchsorted(v, t, side="right") / v.size
