"""Fakes of the device APIs the radio backends drive, for tests without hardware.

``fake_adi`` stands in for pyadi-iio's ``adi`` module (``adi.Pluto``), ``fake_soapy`` for the
``SoapySDR`` module (``SoapySDR.Device`` and the module constants). Both model what the backends rely
on, taken from the real sources (pyadi-iio 0.0.21 ``adi/rx_tx.py``, ``adi/ad936x.py``,
``adi/context_manager.py``; SoapySDR 0.8.1 ``SoapySDR.py``): the same attribute and method names,
signatures, limits, error types and messages. Tests inject them by monkeypatching the backend's
loader (``ota.radios.pluto._import_adi``, ``ota.radios.soapy._import_soapy``).

A fake's transmitter reaches its receiver through :class:`Air`: the bursts pass through phy's
channel emulator, so a transmitted OFDM burst is received with noise.
"""

from __future__ import annotations

import numpy as np

from phy.channel import ChannelEmulator
from phy.numerology import Numerology


class Air:
    """What a fake radio's receiver hears from its own transmitter, in virtual time.

    The receiver's sample clock :attr:`now` advances only as samples are read. An emission starts
    where the caller puts it (default ``latency`` samples after ``now``) and is passed through
    :class:`phy.channel.ChannelEmulator` (``profile``, ``snr_db``); the part of the output aligned with
    the input is kept (the emulator's padding is dropped), so emissions placed back to back stay back
    to back. A cyclic emission repeats its period back to back, a fresh channel pass per period.
    Where nothing was emitted the receiver hears complex white noise of the last pass's noise
    variance (``noise_var`` before any). Amplitudes are in the transmitter's full-scale units.

    Args:
        sample_rate: samples/s (the emulator's numerology).
        profile: channel profile name (``phy.channel.PROFILES``).
        snr_db: the emulator's SNR in dB.
        seed: seed of the generator for the channel and the noise.
        latency: samples from "now" to the start of an emission placed without a start.
        noise_var: noise variance per complex sample before the first emission.
    """

    def __init__(
        self,
        *,
        sample_rate: float = 2e6,
        profile: str = "awgn",
        snr_db: float = 30.0,
        seed: int = 0,
        latency: int = 64,
        noise_var: float = 1e-6,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.profile = profile
        self.snr_db = snr_db
        self.latency = latency
        self.noise_var = noise_var
        self.now = 0
        self._segments: list[tuple[int, np.ndarray, bool]] = []  # (start, received samples, from a cyclic period)
        self._period: np.ndarray | None = None
        self._next_period = 0
        self.set_sample_rate(sample_rate)

    def set_sample_rate(self, sample_rate: float) -> None:
        self.emulator = ChannelEmulator(self.profile, Numerology(sample_rate=float(sample_rate)), self.rng)

    def _through_channel(self, samples: np.ndarray) -> np.ndarray:
        """The received version of ``samples`` (n,), aligned with them, complex128 (n,)."""
        output = self.emulator(samples, self.snr_db)
        self.noise_var = float(output.truth["noise_var"])
        aligned = np.zeros(samples.size, complex)
        part = output.samples[output.offset : output.offset + samples.size]
        aligned[: part.size] = part
        return aligned

    def emit(self, samples: np.ndarray, start: int | None = None) -> int:
        """Put ``samples`` (n,) on the air at ``start`` (default ``now + latency``); returns where they end."""
        start = self.now + self.latency if start is None else int(start)
        if np.any(samples != 0):
            self._segments.append((start, self._through_channel(samples), False))
        return start + samples.size

    def start_cyclic(self, period: np.ndarray) -> None:
        """Repeat ``period`` from ``now + latency`` until :meth:`stop_cyclic`."""
        self._period = np.asarray(period, complex)
        self._next_period = self.now + self.latency

    def stop_cyclic(self) -> None:
        """End the cyclic emission at ``now``."""
        self._period = None
        kept = []
        for start, samples, cyclic in self._segments:
            if cyclic and start + samples.size > self.now:
                samples = samples[: max(self.now - start, 0)]
            if samples.size:
                kept.append((start, samples, cyclic))
        self._segments = kept

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` received samples, complex128 (n,); advances :attr:`now`."""
        end = self.now + n
        while self._period is not None and self._next_period < end:
            if np.any(self._period != 0):
                self._segments.append((self._next_period, self._through_channel(self._period), True))
            self._next_period += self._period.size
        out = np.zeros(n, complex)
        covered = np.zeros(n, bool)
        for start, samples, _ in self._segments:
            lo, hi = max(start, self.now), min(start + samples.size, end)
            if lo < hi:
                out[lo - self.now : hi - self.now] += samples[lo - start : hi - start]
                covered[lo - self.now : hi - self.now] = True
        quiet = np.count_nonzero(~covered)
        noise = self.rng.standard_normal((2, quiet)) * np.sqrt(self.noise_var / 2)
        out[~covered] = noise[0] + 1j * noise[1]
        self.now = end
        self._segments = [s for s in self._segments if s[0] + s[1].size > self.now]
        return out
