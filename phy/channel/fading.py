"""Rayleigh fading of the paths of a power-delay profile: block fading and Doppler (Jakes) fading.

Every path fades independently of the others with mean power equal to its profile power.

* Block fading: one complex Gaussian gain per path, constant over a call.
* Doppler fading: each path is a sum of ``N_SINUSOIDS`` complex sinusoids with random angles of
  arrival ``alpha`` and phases ``phi``, both uniform on [0, 2 pi) (the Monte-Carlo sum-of-sinusoids
  model of Clarke's isotropic scattering): ``g(t) = sqrt(p / M) * sum_m exp(j (2 pi f_d cos(alpha_m) t +
  phi_m))``. Its autocorrelation ``E[g(t) g*(t + tau)] = p J0(2 pi f_d tau)`` is exact for any number of
  sinusoids, so the Doppler spectrum is the classical (Jakes) one of TR 38.901 Section 7.7.2; the gain
  becomes Gaussian as the number of sinusoids grows. The gains are band-limited to ``f_d``, so they are
  evaluated on a coarse time grid and interpolated linearly in between (see ``doppler_grid_step``).
"""

from __future__ import annotations

import math

import numpy as np

N_SINUSOIDS = 32
GRID_POINTS_PER_DOPPLER_PERIOD = 100


def block_fading(powers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rayleigh gains, one per path: complex128 (L,), ``E|g_l|^2 = powers[l]``."""
    p = np.asarray(powers, dtype=float)
    draws = rng.standard_normal((2, p.size))
    return np.sqrt(p / 2.0) * (draws[0] + 1j * draws[1])


def doppler_fading(
    powers: np.ndarray, doppler_hz: float, times_s: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Time-varying Rayleigh gains with a Jakes Doppler spectrum.

    Args:
        powers: mean path powers, shape (L,).
        doppler_hz: maximum Doppler shift f_d in Hz (> 0).
        times_s: times in seconds at which to evaluate the gains, shape (T,).
        rng: source of the angles and phases.

    Returns:
        complex128 (L, T).
    """
    if not doppler_hz > 0:
        raise ValueError(f"doppler_hz={doppler_hz!r} must be positive (Hz)")
    p = np.asarray(powers, dtype=float)
    angles = rng.uniform(0.0, 2.0 * math.pi, (p.size, N_SINUSOIDS))
    phases = rng.uniform(0.0, 2.0 * math.pi, (p.size, N_SINUSOIDS))
    t = np.asarray(times_s, dtype=float)
    arg = 2.0 * math.pi * doppler_hz * np.cos(angles)[:, :, None] * t[None, None, :] + phases[:, :, None]
    return np.sqrt(p / N_SINUSOIDS)[:, None] * np.exp(1j * arg).sum(axis=1)


def doppler_grid_step(doppler_hz: float, sample_rate: float) -> int:
    """Samples between grid points of Doppler gains: 1/100 of a Doppler period, at least 1.

    Linear interpolation between grid points then errs by at most ``(2 pi / 100)**2 / 8`` (-66 dB).
    """
    return max(1, math.floor(sample_rate / (GRID_POINTS_PER_DOPPLER_PERIOD * doppler_hz)))
