"""Power-delay profiles: the 3GPP TR 38.901 TDL-A/B/C tables and a simple exponential profile.

A power-delay profile is a pair ``(delays_s (L,), powers (L,))``: path delays in seconds, the first
path at 0, and mean path powers (linear) normalised to sum to 1, so the channel has unit average
power gain.

TDL-A, TDL-B and TDL-C are the NLOS (all paths Rayleigh) tapped delay lines of TR 38.901
Tables 7.7.2-1, 7.7.2-2 and 7.7.2-3. Their delays are normalised to an rms delay spread of 1 and are
scaled as in Section 7.7.3: ``tau = tau_normalised * delay_spread_s``. Table 7.7.3-1 names the delay
spreads 10 ns (very short), 30 ns (short), 100 ns (nominal), 300 ns (long) and 1000 ns (very long).

The exponential profile has paths every ``tap_spacing_s`` (one sample period in the emulator) with
powers ``r**k``; the ratio ``r`` is solved for so that the rms delay spread of the discrete profile
equals the one requested, and the profile is long enough to span 30 dB of decay.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

# (normalised delays, powers in dB) per model, in the tables' path order.
TDL_TABLES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "TDL-A": (  # TR 38.901 Table 7.7.2-1
        (0.0000, 0.3819, 0.4025, 0.5868, 0.4610, 0.5375, 0.6708, 0.5750, 0.7618, 1.5375, 1.8978, 2.2242,
         2.1718, 2.4942, 2.5119, 3.0582, 4.0810, 4.4579, 4.5695, 4.7966, 5.0066, 5.3043, 9.6586),
        (-13.4, 0.0, -2.2, -4.0, -6.0, -8.2, -9.9, -10.5, -7.5, -15.9, -6.6, -16.7,
         -12.4, -15.2, -10.8, -11.3, -12.7, -16.2, -18.3, -18.9, -16.6, -19.9, -29.7),
    ),
    "TDL-B": (  # TR 38.901 Table 7.7.2-2
        (0.0000, 0.1072, 0.2155, 0.2095, 0.2870, 0.2986, 0.3752, 0.5055, 0.3681, 0.3697, 0.5700, 0.5283,
         1.1021, 1.2756, 1.5474, 1.7842, 2.0169, 2.8294, 3.0219, 3.6187, 4.1067, 4.2790, 4.7834),
        (0.0, -2.2, -4.0, -3.2, -9.8, -1.2, -3.4, -5.2, -7.6, -3.0, -8.9, -9.0,
         -4.8, -5.7, -7.5, -1.9, -7.6, -12.2, -9.8, -11.4, -14.9, -9.2, -11.3),
    ),
    "TDL-C": (  # TR 38.901 Table 7.7.2-3
        (0.0000, 0.2099, 0.2219, 0.2329, 0.2176, 0.6366, 0.6448, 0.6560, 0.6584, 0.7935, 0.8213, 0.9336,
         1.2285, 1.3083, 2.1704, 2.7105, 4.2589, 4.6003, 5.4902, 5.6077, 6.3065, 6.6374, 7.0427, 8.6523),
        (-4.4, -1.2, -3.5, -5.2, -2.5, 0.0, -2.2, -3.9, -7.4, -7.1, -10.7, -11.1,
         -5.1, -6.8, -8.7, -13.2, -13.9, -13.9, -15.8, -17.1, -16.0, -15.7, -21.6, -22.8),
    ),
}
EXPONENTIAL = "exp"
PDP_MODELS = (*TDL_TABLES, EXPONENTIAL)
EXPONENTIAL_SPAN_DB = 30.0


def rms_delay_spread(delays_s: np.ndarray, powers: np.ndarray) -> float:
    """RMS delay spread in seconds of paths ``delays_s (L,)`` with powers ``(L,)`` (any scale)."""
    p = np.asarray(powers, dtype=float) / np.sum(powers)
    d = np.asarray(delays_s, dtype=float)
    mean = np.sum(p * d)
    return float(np.sqrt(max(np.sum(p * d**2) - mean**2, 0.0)))


def _check_delay_spread(delay_spread_s: float) -> float:
    ds = float(delay_spread_s)
    if not (math.isfinite(ds) and ds > 0):
        raise ValueError(f"delay_spread_s={delay_spread_s!r} must be a positive number of seconds")
    return ds


def tdl_profile(model: str, delay_spread_s: float) -> tuple[np.ndarray, np.ndarray]:
    """TR 38.901 TDL model scaled to an rms delay spread.

    Args:
        model: "TDL-A", "TDL-B" or "TDL-C".
        delay_spread_s: rms delay spread in seconds (e.g. 300e-9).

    Returns:
        ``delays_s (L,)`` in seconds and ``powers (L,)`` linear, summing to 1 (L = 23, 23, 24).
    """
    if model not in TDL_TABLES:
        raise ValueError(f"unknown TDL model {model!r}; expected one of {sorted(TDL_TABLES)}")
    ds = _check_delay_spread(delay_spread_s)
    delays, powers_db = (np.array(v, dtype=float) for v in TDL_TABLES[model])
    powers = 10.0 ** (powers_db / 10.0)
    return delays * ds, powers / powers.sum()


def _geometric_powers(ratio: float, n_taps: int) -> np.ndarray:
    return ratio ** np.arange(n_taps, dtype=float)


def exponential_profile(delay_spread_s: float, tap_spacing_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Exponentially decaying paths every ``tap_spacing_s`` with rms delay spread ``delay_spread_s``.

    The number of paths is ``max(2, ceil(ln(10**3) * delay_spread_s / tap_spacing_s) + 1)`` (30 dB of
    decay of a continuous exponential of that rms spread); the power ratio between successive paths
    is solved for so that the discrete profile's rms delay spread is exactly the one requested.

    Returns:
        ``delays_s (L,)`` = ``k * tap_spacing_s`` and ``powers (L,)`` linear, decreasing, summing to 1.
    """
    ds = _check_delay_spread(delay_spread_s)
    spacing = float(tap_spacing_s)
    if not (math.isfinite(spacing) and spacing > 0):
        raise ValueError(f"tap_spacing_s={tap_spacing_s!r} must be a positive number of seconds")
    decay = EXPONENTIAL_SPAN_DB / 10.0 * math.log(10.0)
    n_taps = max(2, math.ceil(decay * ds / spacing) + 1)
    delays = spacing * np.arange(n_taps, dtype=float)

    def excess(ratio: float) -> float:
        return rms_delay_spread(delays, _geometric_powers(ratio, n_taps)) - ds

    # rms spread grows from 0 (ratio -> 0) to that of equal powers (ratio -> 1), which exceeds ds.
    ratio = brentq(excess, 1e-15, 1.0 - 1e-12, xtol=1e-14, rtol=1e-12)
    powers = _geometric_powers(ratio, n_taps)
    return delays, powers / powers.sum()


def power_delay_profile(model: str, delay_spread_s: float, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The profile of a model name in ``PDP_MODELS`` (``"exp"`` uses one path per sample period)."""
    if model == EXPONENTIAL:
        return exponential_profile(delay_spread_s, 1.0 / sample_rate)
    if model not in TDL_TABLES:
        raise ValueError(f"unknown power-delay profile {model!r}; expected one of {list(PDP_MODELS)}")
    return tdl_profile(model, delay_spread_s)
