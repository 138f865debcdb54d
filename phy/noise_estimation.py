"""Noise variance, signal power and SNR of received frames, from what their known symbols left over.

The noise variance ``sigma^2`` of a frame (per subcarrier, receiver units) is pooled from every part of
the frame whose transmitted values the receiver knows: the preamble's and midambles' LTF copies (their
difference, :mod:`phy.channel_estimation`), the pilots and the decoded header symbols. Each part gives a
:class:`Residual`, a sum of squared residuals whose expectation is ``dof * sigma^2 + walk``: ``dof``
counts the noise's share after what the channel and phase estimators absorbed, ``walk`` the phase
random walk's. The pooled estimate is ``sum(total - walk) / sum(dof)``, floored 120 dB below the channel
power (a noiseless input). From it:

* the payload's signal power: received energy on the data subcarriers less the noise, over the
  channel's power gain;
* the SNR: mean received energy per occupied subcarrier less the noise, over the noise (the definition
  of :mod:`phy.channel`), overall and per subcarrier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phy.phase_tracking import PhaseTrack


@dataclass
class Residual:
    """Sums of squared residuals whose expectations are ``dof * sigma^2 + walk`` (each float64 (B,))."""

    total: np.ndarray
    dof: np.ndarray
    walk: np.ndarray

    @classmethod
    def of_training(cls, noise_sum: np.ndarray, noise_dof: float) -> Residual:
        """The residual of an LTF's two copies: ``noise_sum`` (B,) over ``noise_dof`` degrees, no phase walk."""
        batch = len(noise_sum)
        return cls(noise_sum, np.full(batch, noise_dof), np.zeros(batch))


def energy(y: np.ndarray) -> np.ndarray:
    """``sum_l |y[b, l, k]|^2``, float64 (B, K), of complex ``y`` (B, n, K)."""
    parts = np.ascontiguousarray(y, dtype=np.complex64).view(np.float32).reshape(y.shape[0], y.shape[1], -1)
    return np.einsum("bli,bli->bi", parts, parts).reshape(y.shape[0], -1, 2).sum(axis=2, dtype=np.float64)


def residual(y: np.ndarray, correction: np.ndarray, h: np.ndarray, error: np.ndarray, known: np.ndarray,
             track: PhaseTrack, in_track: bool) -> Residual:
    """Squared residuals of known subcarriers after phase correction, and their expectation.

    All arrays hold the same subcarriers: ``y``, ``correction`` (B, n, K), ``h``, ``error`` (B, 1 or n, K),
    ``known`` (B or 1, n, K). ``E|r|^2 = sigma^2 (1 + error_k) + |h_k|^2 var(cpe_l)``, less the part of a
    pilot's own noise that its CPE estimate absorbed (``in_track``: these are the pilots the track used).
    """
    r = y * correction - h * known
    g = np.broadcast_to(np.sum(np.abs(h) ** 2, axis=2), track.cpe.shape)  # (B, n)
    err = np.broadcast_to(np.sum(1 + error, axis=2), track.cpe.shape)
    dof = np.sum(err, axis=1) + np.sum(g * track.noise_part, axis=1)
    if in_track:
        dof = dof - np.sum(track.self_weight, axis=1)
    return Residual(energy(r).sum(axis=1), dof, np.sum(g * track.walk_part, axis=1))


def floor_noise_var(noise_var: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Noise variances (B,) floored at 120 dB below the power of the channel ``h`` (B, ...)."""
    power = np.mean(np.abs(h.reshape(h.shape[0], -1)) ** 2, axis=1)
    return np.maximum(np.maximum(noise_var, 1e-12 * power), 1e-30)


def pooled_noise_var(terms: list[Residual], h: np.ndarray) -> np.ndarray:
    """Noise variance (B,) pooled from the residuals of a frame's known parts, floored against ``h``."""
    dof = sum(t.dof for t in terms)
    return floor_noise_var(sum(t.total - t.walk for t in terms) / np.where(dof > 0, dof, 1.0), h)


def signal_power(received: np.ndarray, noise_var: np.ndarray, n_symbols: int, n_data: int,
                 gain: np.ndarray) -> np.ndarray:
    """Mean power (B,) of the transmitted payload symbols (payload units; 1 where the channel is unknown).

    Args:
        received: float64 (B,), the received energy summed over the payload's data subcarriers.
        noise_var: float64 (B,), the noise variance per subcarrier.
        n_symbols: received payload OFDM symbols that ``received`` sums over.
        n_data: data subcarriers per OFDM symbol.
        gain: float64 (B,), the channel's power ``|h|^2`` summed over the same symbols and subcarriers.
    """
    signal = received - noise_var * n_symbols * n_data
    return np.where(gain > 0, np.maximum(signal / np.where(gain > 0, gain, 1), 1e-6), 1.0)


def snr_db(mean_energy: np.ndarray, noise_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SNR of each frame and of each of its subcarriers [dB].

    Args:
        mean_energy: float64 (B, n_occupied), received energy per OFDM symbol on each subcarrier.
        noise_var: float64 (B,), noise variance per subcarrier.

    Returns:
        ``(snr_db float64 (B,), per_subcarrier_snr_db float32 (B, n_occupied))``; signal power is floored
        at 120 dB below the received energy.
    """
    power = mean_energy - noise_var[:, None]
    floor = 1e-12 * np.maximum(np.mean(mean_energy, axis=1), 1e-30)
    overall = 10 * np.log10(np.maximum(np.mean(power, axis=1), floor) / noise_var)
    per_subcarrier = (10 * np.log10(np.maximum(power, floor[:, None]) / noise_var[:, None])).astype(np.float32)
    return overall, per_subcarrier
