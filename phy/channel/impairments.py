"""Radio front-end impairments: sample-clock offset, local-oscillator phase (CFO, phase noise), IQ imbalance.

Conventions (all functions take and return 1-D complex arrays at the receiver's sample rate):

* SFO: the receiver's sample clock runs at ``(1 + sfo_ppm * 1e-6)`` times the transmitter's. Receive
  sample ``m`` is taken at transmit time ``origin + (m - origin) / (1 + sfo_ppm * 1e-6)`` (in transmit
  samples), so a burst is stretched by ``1 + ppm * 1e-6`` and a tone at ``f`` cycles/sample is received at
  ``f / (1 + ppm * 1e-6)``. It is done by band-limited interpolation (``phy.channel.interpolation``).
* CFO and phase noise: the received signal is multiplied by ``exp(j theta[n])`` with
  ``theta[n] = 2 pi cfo_hz (n - origin) / sample_rate + phase0 + phi[n]``. ``phi`` is the phase noise of
  the transmit and receive oscillators together, a Wiener process with a Lorentzian spectrum of
  3-dB (full) linewidth ``linewidth_hz``: increments of variance ``2 pi linewidth_hz / sample_rate`` rad^2
  per sample; its single-sideband spectrum far from the carrier is ``L(f) = linewidth_hz / (pi f^2)``.
* IQ imbalance (receiver): the Q branch has gain ``g = 10**(amplitude_db / 20)`` and a phase error
  ``phi`` relative to I: ``y = Re(x) + j g (Im(x) cos(phi) - Re(x) sin(phi))``, i.e. ``y = mu x + nu x*`` with
  ``mu = (1 + g e^{-j phi}) / 2`` and ``nu = (1 - g e^{j phi}) / 2``. The image rejection ratio is
  ``|mu|^2 / |nu|^2``.
"""

from __future__ import annotations

import math

import numpy as np

from phy.channel.interpolation import interpolate


def apply_sfo(x: np.ndarray, sfo_ppm: float, origin: float = 0.0) -> np.ndarray:
    """Resample ``x (n,)`` as a receiver whose clock is ``sfo_ppm`` ppm fast would sample it.

    Transmit sample ``origin`` stays at receive sample ``origin``; the output covers the transmit times
    ``[0, n - 1]`` and has ``origin + floor((n - 1 - origin) * (1 + sfo_ppm * 1e-6)) + 1`` samples
    (complex128).
    """
    ratio = 1.0 + float(sfo_ppm) * 1e-6
    if not ratio > 0:
        raise ValueError(f"sfo_ppm={sfo_ppm!r} must be greater than -1e6")
    n = np.asarray(x).shape[0]
    m = int(origin + math.floor((n - 1 - origin) * ratio + 1e-9)) + 1
    times = origin + (np.arange(m, dtype=float) - origin) / ratio
    return interpolate(x, times)


def wiener_phase_noise(
    n: int, linewidth_hz: float, sample_rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Wiener phase noise ``phi (n,)`` in radians, ``phi[0] = 0``, for a 3-dB linewidth in Hz."""
    if not linewidth_hz >= 0:
        raise ValueError(f"linewidth_hz={linewidth_hz!r} must be >= 0 (Hz)")
    steps = rng.standard_normal(n) * math.sqrt(2.0 * math.pi * linewidth_hz / sample_rate)
    steps[0] = 0.0
    return np.cumsum(steps)


def lo_phase(
    n: int, cfo_hz: float, sample_rate: float, phase0: float, phase_noise: np.ndarray, origin: int
) -> np.ndarray:
    """Local-oscillator phase ``theta (n,)`` in radians (CFO ramp through ``phase0`` at ``origin``)."""
    ramp = 2.0 * math.pi * cfo_hz / sample_rate * (np.arange(n, dtype=float) - origin)
    return ramp + phase0 + phase_noise


def iq_imbalance_coefficients(amplitude_db: float, phase_deg: float) -> tuple[complex, complex]:
    """``(mu, nu)`` of ``y = mu x + nu conj(x)`` for a Q-branch gain (dB) and phase error (degrees)."""
    g = 10.0 ** (amplitude_db / 20.0)
    phi = math.radians(phase_deg)
    rotation = complex(math.cos(phi), math.sin(phi))
    return (1.0 + g * rotation.conjugate()) / 2.0, (1.0 - g * rotation) / 2.0


def image_rejection_db(amplitude_db: float, phase_deg: float) -> float:
    """Image rejection ratio ``|mu|^2 / |nu|^2`` in dB (``inf`` without imbalance)."""
    mu, nu = iq_imbalance_coefficients(amplitude_db, phase_deg)
    return math.inf if abs(nu) == 0 else 10.0 * math.log10(abs(mu) ** 2 / abs(nu) ** 2)


def apply_iq_imbalance(x: np.ndarray, amplitude_db: float, phase_deg: float) -> np.ndarray:
    """Receiver IQ imbalance on ``x (n,)``: ``mu x + nu conj(x)``."""
    mu, nu = iq_imbalance_coefficients(amplitude_db, phase_deg)
    return mu * x + nu * np.conj(x)
