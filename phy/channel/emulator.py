"""Channel emulator: a radio link from transmitter baseband to receiver ADC, in numpy.

SNR definition. ``snr_db`` is the average energy per occupied subcarrier over the noise energy per
subcarrier in the same band. The signal power ``P`` is measured over the input's active samples (the
exactly-zero gap samples between frames are left out). The noise is complex white Gaussian with
variance ``sigma^2`` per complex sample over the whole sampled band of ``fft_size`` bins, of which only
``numerology.occupied_fraction`` carry signal, so ``SNR = P / (sigma^2 * occupied_fraction)``, i.e.
``sigma^2 = P / (10**(snr_db / 10) * occupied_fraction)``. The multipath channel has unit average power
gain, so ``snr_db`` is the average SNR over fading draws; ``truth["snr_db_realised"]`` is the SNR of the
drawn channel (``snr_db`` plus the channel's mean power gain over the occupied subcarriers, in dB).
A profile with ``snr_at_receiver`` (``lab``) scales the noise to the drawn channel's gain instead, so
that ``snr_db`` is the SNR of the received burst, as set and measured on a bench.

Order of the impairments (that of a radio chain; each only where the profile enables it):

1. multipath: the paths of the power-delay profile (``phy.channel.tdl``) with block or Doppler Rayleigh fading
   (``phy.channel.fading``), each path a band-limited fractional delay (``phy.channel.interpolation``);
2. sample-clock offset: resampling by ``1 + sfo_ppm * 1e-6`` about the arrival of input sample 0, which
   therefore stays at ``offset`` while later samples drift (``phy.channel.impairments``);
3. timing: a random number of samples of noise before and after the burst;
4. local oscillators: CFO, a random initial phase and Wiener phase noise of the transmit and receive
   oscillators together (multiplication by ``exp(j theta[n])``);
5. thermal noise of variance ``sigma^2`` on every output sample, padding included;
6. receiver IQ imbalance (``mu y + nu conj(y)``, which mirrors the noise too);
7. receiver DC offset (``dc_offset`` times the signal RMS ``sqrt(P)``, random phase);
8. ADC (``phy.channel.adc``): a gain that puts the RMS of the received burst (signal, noise and DC, as an AGC
   would measure it) ``adc_backoff_db`` below full scale, rounding, clipping; divided back.

``ChannelOutput.offset`` is the output index where input sample 0 arrives through a zero-delay path:
``pad_before + lead``, ``lead`` being the samples of filter pre-cursor of fractional-delay paths
(0 without multipath). The truth dict holds everything drawn (see ``ChannelEmulator.__call__``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phy.channel.adc import adc_gain, quantize
from phy.channel.fading import block_fading, doppler_fading, doppler_grid_step
from phy.channel.impairments import (
    apply_iq_imbalance,
    apply_sfo,
    image_rejection_db,
    iq_imbalance_coefficients,
    lo_phase,
    wiener_phase_noise,
)
from phy.channel.interpolation import fractional_delay_filters
from phy.channel.profile import ChannelError, ChannelProfile, get_profile
from phy.channel.tdl import power_delay_profile
from phy.numerology import Numerology
from phy.samples import finite_complex64

SNR_RANGE_DB = (-20.0, 60.0)


@dataclass(frozen=True)
class ChannelOutput:
    """One emulated reception.

    Attributes:
        samples: received baseband, complex64 (m,), noise padding before and after the burst.
        offset: output index where input sample 0 lands (through a zero-delay path).
        truth: everything drawn for this call (see ``ChannelEmulator.__call__``).
    """

    samples: np.ndarray
    offset: int
    truth: dict


def check_snr_db(snr_db: float) -> float:
    """``snr_db`` as a float, or a ``ChannelError`` when it is not a number in ``SNR_RANGE_DB``."""
    try:
        value = float(snr_db)
    except (TypeError, ValueError):
        raise ChannelError(f"snr_db={snr_db!r} is not a number; expected dB in {list(SNR_RANGE_DB)}") from None
    if not (math.isfinite(value) and SNR_RANGE_DB[0] <= value <= SNR_RANGE_DB[1]):
        raise ChannelError(f"snr_db={snr_db!r} is out of range; expected dB in {list(SNR_RANGE_DB)}")
    return value


def _as_burst(samples: np.ndarray) -> np.ndarray:
    """Validated input burst (:func:`phy.samples.finite_complex64`, not all zero) as complex128 (n,)."""
    x = finite_complex64(samples, "samples", ChannelError).astype(np.complex128)
    if not np.any(x != 0):
        raise ChannelError("samples are all zero; the SNR is set against the signal power, so a signal is needed")
    return x


def _interpolate_gains(grid_gains: np.ndarray, step: int, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of gains on grid points ``0, step, 2 step, ...`` (samples) at ``positions``."""
    grid = np.arange(grid_gains.shape[-1]) * step
    return np.interp(positions, grid, grid_gains.real) + 1j * np.interp(positions, grid, grid_gains.imag)


class ChannelEmulator:
    """Applies a ``ChannelProfile`` to bursts of baseband samples.

    Args:
        profile: a ``ChannelProfile`` or the name of one in ``phy.channel.profile.PROFILES``.
        numerology: the OFDM numerology (sample rate, FFT size and occupied subcarriers for the SNR).
        rng: the generator every random quantity is drawn from (the same seed gives the same output).
    """

    def __init__(self, profile: ChannelProfile | str, numerology: Numerology, rng: np.random.Generator) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        if not isinstance(self.profile, ChannelProfile):
            raise ChannelError(f"profile must be a ChannelProfile or a profile name, got {type(profile).__name__}")
        if not isinstance(numerology, Numerology):
            raise ChannelError(f"numerology must be a phy.numerology.Numerology, got {type(numerology).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise ChannelError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.numerology = numerology
        self.rng = rng
        fs = numerology.sample_rate
        if self.profile.cfo_hz_max >= fs / 2:
            raise ChannelError(
                f"cfo_hz_max={self.profile.cfo_hz_max} Hz must be below half the sample rate ({fs / 2} Hz)"
            )
        if self.profile.tdl_model is None:
            self.path_delays_s, self.path_powers = np.zeros(1), np.ones(1)
        else:
            self.path_delays_s, self.path_powers = power_delay_profile(
                self.profile.tdl_model, self.profile.delay_spread_s, fs
            )
        self.path_filters, self.lead = fractional_delay_filters(self.path_delays_s * fs)
        # DFT of each filter at the occupied subcarriers, phase referred to the zero-delay sample: (L, n_occ).
        n = np.arange(self.path_filters.shape[1]) - self.lead
        dft = np.exp(-2j * np.pi * np.outer(n, numerology.occupied) / numerology.fft_size)
        self.path_responses = self.path_filters @ dft

    def __call__(self, samples: np.ndarray, snr_db: float) -> ChannelOutput:
        """Pass a burst through the channel.

        Args:
            samples: transmitted baseband, complex (n,); exactly-zero samples count as gaps.
            snr_db: average SNR in dB (definition in the module docstring), in ``SNR_RANGE_DB``.

        Returns:
            ``ChannelOutput``; ``truth`` holds: ``profile`` (name), ``snr_db``, ``signal_power`` ``P``,
            ``noise_var`` ``sigma^2`` (per complex sample, output scale), ``pad_before``, ``pad_after``;
            ``path_delays_s (L,)``, ``path_powers (L,)``, ``path_gains`` complex ((L,) for block fading,
            (L, G) at ``path_gain_times_s (G,)`` (s from input sample 0) for Doppler fading),
            ``impulse_response`` complex (n_fir,) (at the burst's middle for Doppler fading) and its
            ``impulse_response_lead`` (index of the zero delay), ``freq_response`` complex (n_occupied,)
            at the occupied subcarriers, phase referred to ``offset``, ``channel_gain`` (mean ``|H|^2``
            over the occupied subcarriers, and over time for Doppler fading), ``snr_db_realised``;
            ``sfo_ppm``; ``cfo_hz``, ``phase0_rad`` (oscillator phase at ``offset`` without phase noise),
            ``phase_noise_rad`` float32 (m,) or None; ``iq_mu``, ``iq_nu``, ``image_rejection_db``;
            ``dc_offset`` complex; ``adc_gain`` (LSB per output unit, None without ADC), ``adc_codes``
            int16 (m, 2) or None, ``adc_clipped_fraction``.
        """
        x = _as_burst(samples)
        snr_db = check_snr_db(snr_db)
        profile, num, rng = self.profile, self.numerology, self.rng
        power = float(np.mean(np.abs(x[x != 0]) ** 2))
        noise_var = power / (10.0 ** (snr_db / 10.0) * num.occupied_fraction)
        truth: dict = {"profile": profile.name, "snr_db": snr_db, "signal_power": power, "noise_var": noise_var}

        y = self._multipath(x, truth)
        if profile.snr_at_receiver and "channel_gain" in truth:
            noise_var *= truth["channel_gain"]
            truth.update(noise_var=noise_var, snr_db_realised=snr_db)
        sfo = rng.uniform(-profile.sfo_ppm, profile.sfo_ppm) if profile.sfo_ppm > 0 else 0.0
        if sfo != 0.0:
            y = apply_sfo(y, sfo, origin=self.lead)
        truth["sfo_ppm"] = sfo

        pad_before = int(rng.integers(profile.pad_before[0], profile.pad_before[1] + 1))
        pad_after = int(rng.integers(profile.pad_after[0], profile.pad_after[1] + 1))
        truth.update(pad_before=pad_before, pad_after=pad_after)
        out = np.concatenate([np.zeros(pad_before, complex), y, np.zeros(pad_after, complex)])
        offset = pad_before + self.lead
        out = self._oscillators(out, offset, truth)

        noise = rng.standard_normal((2, out.size))
        out = out + math.sqrt(noise_var / 2.0) * (noise[0] + 1j * noise[1])
        out = self._receiver(out, power, slice(pad_before, pad_before + y.size), truth)
        return ChannelOutput(samples=np.asarray(out, dtype=np.complex64), offset=offset, truth=truth)

    def _oscillators(self, out: np.ndarray, offset: int, truth: dict) -> np.ndarray:
        """CFO, initial phase and phase noise of the oscillators on ``out (m,)``; fills ``truth``."""
        profile, fs, rng = self.profile, self.numerology.sample_rate, self.rng
        cfo, phase0 = 0.0, 0.0
        if profile.cfo_hz_max > 0:
            cfo = rng.uniform(-profile.cfo_hz_max, profile.cfo_hz_max)
            phase0 = rng.uniform(0.0, 2.0 * math.pi)
        phase_noise = None
        if profile.phase_noise_linewidth_hz > 0:
            phase_noise = wiener_phase_noise(out.size, profile.phase_noise_linewidth_hz, fs, rng)
        truth.update(
            cfo_hz=cfo,
            phase0_rad=phase0,
            phase_noise_rad=None if phase_noise is None else phase_noise.astype(np.float32),
        )
        if cfo == 0.0 and phase_noise is None:
            return out
        pn = np.zeros(out.size) if phase_noise is None else phase_noise
        return out * np.exp(1j * lo_phase(out.size, cfo, fs, phase0, pn, origin=offset))

    def _receiver(self, out: np.ndarray, power: float, burst: slice, truth: dict) -> np.ndarray:
        """Receiver IQ imbalance, DC offset and ADC on the noisy ``out (m,)``; fills ``truth``."""
        profile = self.profile
        amplitude_db, phase_deg = profile.iq_amplitude_db, profile.iq_phase_deg
        mu, nu = iq_imbalance_coefficients(amplitude_db, phase_deg)
        if nu != 0:
            out = apply_iq_imbalance(out, amplitude_db, phase_deg)
        truth.update(iq_mu=mu, iq_nu=nu, image_rejection_db=image_rejection_db(amplitude_db, phase_deg))

        dc = 0j
        if profile.dc_offset > 0:
            dc = profile.dc_offset * math.sqrt(power) * np.exp(1j * self.rng.uniform(0.0, 2.0 * math.pi))
            out = out + dc
        truth["dc_offset"] = complex(dc)

        gain, codes, clipped = None, None, 0.0
        if profile.adc_bits is not None:
            burst_rms = math.sqrt(float(np.mean(np.abs(out[burst]) ** 2)))
            gain = adc_gain(burst_rms, profile.adc_bits, profile.adc_backoff_db)
            codes, out, clipped = quantize(out, profile.adc_bits, gain)
        truth.update(adc_gain=gain, adc_codes=codes, adc_clipped_fraction=clipped)
        return out

    def _multipath(self, x: np.ndarray, truth: dict) -> np.ndarray:
        """Convolve ``x (n,)`` with the faded paths; returns complex128 (n + n_fir - 1,), fills ``truth``."""
        truth.update(path_delays_s=self.path_delays_s, path_powers=self.path_powers, impulse_response_lead=self.lead)
        if self.profile.fading == "doppler":
            return self._doppler_multipath(x, truth)
        gains = np.ones(1, complex) if self.profile.tdl_model is None else block_fading(self.path_powers, self.rng)
        impulse = gains @ self.path_filters
        response = gains @ self.path_responses
        self._record_channel(truth, gains, impulse, response, float(np.mean(np.abs(response) ** 2)))
        return x * impulse[0] if impulse.size == 1 else np.convolve(x, impulse)

    def _doppler_multipath(self, x: np.ndarray, truth: dict) -> np.ndarray:
        """Time-varying paths: each filtered path times its linearly interpolated Doppler gain, summed."""
        fs = self.numerology.sample_rate
        n_out = x.size + self.path_filters.shape[1] - 1
        step = doppler_grid_step(self.profile.doppler_hz, fs)
        n_grid = -(-(n_out - 1) // step) + 1
        times = (np.arange(n_grid) * step - self.lead) / fs
        gains = doppler_fading(self.path_powers, self.profile.doppler_hz, times, self.rng)
        positions = np.arange(n_out, dtype=float)
        y = np.zeros(n_out, complex)
        for path_filter, path_gains in zip(self.path_filters, gains, strict=True):
            y += _interpolate_gains(path_gains, step, positions) * np.convolve(x, path_filter)
        middle = np.array([_interpolate_gains(g, step, self.lead + (x.size - 1) / 2) for g in gains])
        channel_gain = float(np.mean(np.abs(gains.T @ self.path_responses) ** 2))
        self._record_channel(truth, gains, middle @ self.path_filters, middle @ self.path_responses, channel_gain)
        truth["path_gain_times_s"] = times
        return y

    @staticmethod
    def _record_channel(
        truth: dict, gains: np.ndarray, impulse: np.ndarray, response: np.ndarray, channel_gain: float
    ) -> None:
        truth.update(
            path_gains=gains,
            impulse_response=impulse,
            freq_response=response,
            channel_gain=channel_gain,
            snr_db_realised=truth["snr_db"] + 10.0 * math.log10(channel_gain),
        )
