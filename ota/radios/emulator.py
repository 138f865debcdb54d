"""Emulator backend: no radio; what is transmitted comes back through :class:`phy.channel.ChannelEmulator`.

The received stream is built as it is read (time advances only with :meth:`receive`): each burst
passes through the emulator with ``config.profile`` and ``config.snr_db`` (generator seeded with
``config.seed``), noise padding before and after included, and the stream continues across calls.
A cyclic burst is passed again and again, a fresh channel and noise draw each time, so repeats are
separated by the profile's noise padding; a one-shot burst is followed by noise only, as is a stream
in which nothing was sent. That noise is complex white Gaussian of the emulator's ``noise_var`` for
the last burst, or, before any burst, of the variance the emulator's SNR definition gives a signal
of RMS ``reference_rms`` (the transmitter's ``FrameConfig.target_rms`` by default); the profile's
receiver impairments (IQ imbalance, DC offset, ADC) apply to the bursts' passes only.

A new burst replaces what a cyclic burst had queued but not yet delivered; a one-shot burst's pass is
delivered in full before the next burst's.
"""

from __future__ import annotations

import argparse
from collections import deque

import numpy as np

from ota.radios.config import RadioConfig
from ota.radios.errors import RadioSettingError
from ota.radios.radio import Radio
from phy.channel import ChannelEmulator, ChannelError, check_snr_db, get_profile
from phy.frame_config import FrameConfig
from phy.numerology import Numerology


class EmulatorRadio(Radio):
    """A simulated radio link.

    Args:
        config: ``profile``, ``snr_db``, ``seed`` and ``sample_rate`` (the rest is ignored).
        numerology: the OFDM numerology the SNR refers to (default: ``Numerology(sample_rate=config.sample_rate)``).
        reference_rms: signal RMS that sets the noise level before any burst was sent (full-scale units).
    """

    kind = "emulator"
    address_field = "profile"
    address_name = "PROFILE"
    address_example = "tdl-a"

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        from ota.options import snr_db  # the command line's SNR type; only ota.options calls add_options

        parser.add_argument("--radio-snr", type=snr_db, default=None,
                            help="emulator radio: channel SNR in dB (default 20)")
        parser.add_argument("--radio-seed", type=int, default=None, help="emulator radio: seed of its random draws")

    @classmethod
    def apply_options(cls, config: RadioConfig, args: argparse.Namespace, *, record: bool) -> RadioConfig:
        changes = {"snr_db": args.radio_snr, "seed": args.radio_seed}
        return config.replace(**{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def open_for_link(cls, config: RadioConfig, *, numerology: Numerology, metadata: dict) -> EmulatorRadio:
        """The emulator's SNR refers to the link's numerology."""
        return cls(config, numerology=numerology)

    def __init__(
        self,
        config: RadioConfig,
        *,
        numerology: Numerology | None = None,
        reference_rms: float = FrameConfig().target_rms,
    ) -> None:
        super().__init__(config, f"channel emulator ({config.profile}, {config.snr_db:g} dB)")
        self._numerology = numerology
        self._reference_rms = float(reference_rms)
        if not self._reference_rms > 0:
            raise RadioSettingError(f"reference_rms={reference_rms!r} must be a positive amplitude (full scale 1)")
        self._queue: deque[tuple[np.ndarray, bool]] = deque()  # (samples, from a cyclic burst)
        self._queued = 0
        self._cyclic_burst: np.ndarray | None = None
        self._apply(config)

    def _apply(self, config: RadioConfig) -> None:
        numerology = self._numerology or Numerology(sample_rate=config.sample_rate)
        if numerology.sample_rate != config.sample_rate:
            raise RadioSettingError(
                f"the numerology's sample rate {numerology.sample_rate:g} differs from the radio's "
                f"{config.sample_rate:g} samples/s"
            )
        try:
            profile = get_profile(config.profile)
            snr_db = check_snr_db(config.snr_db)
            emulator = ChannelEmulator(profile, numerology, np.random.default_rng(config.seed))
        except ChannelError as exc:
            raise RadioSettingError(f"channel emulator at {config.sample_rate:g} samples/s: {exc}") from exc
        self.name = f"channel emulator ({profile.name}, {snr_db:g} dB)"
        self._emulator = emulator
        self._snr_db = snr_db
        self._noise_var = self._reference_rms**2 / (10.0 ** (snr_db / 10.0) * numerology.occupied_fraction)
        self._queue.clear()
        self._queued = 0

    def _pass(self, burst: np.ndarray) -> np.ndarray:
        """One pass of ``burst`` through the channel (noise padding included); remembers its noise level."""
        if not np.any(burst != 0):
            return self._noise(burst.size)
        output = self._emulator(burst, self._snr_db)
        self._noise_var = float(output.truth["noise_var"])
        return output.samples

    def _noise(self, n: int) -> np.ndarray:
        noise = self._emulator.rng.standard_normal((2, n)) * np.sqrt(self._noise_var / 2.0)
        return (noise[0] + 1j * noise[1]).astype(np.complex64)

    def _enqueue(self, samples: np.ndarray, cyclic: bool) -> None:
        self._queue.append((samples, cyclic))
        self._queued += samples.size

    def _transmit(self, burst: np.ndarray, cyclic: bool) -> None:
        self._drop_cyclic()
        self._cyclic_burst = burst if cyclic else None
        self._enqueue(self._pass(burst), cyclic)

    def _drop_cyclic(self) -> None:
        """Forget the queued passes of a cyclic burst (they would not have gone out)."""
        kept = [(s, c) for s, c in self._queue if not c]
        self._queue = deque(kept)
        self._queued = sum(s.size for s, _ in kept)

    def _stop(self) -> None:
        self._drop_cyclic()
        self._cyclic_burst = None

    def _receive(self, n: int) -> np.ndarray:
        while self._queued < n:
            if self._cyclic_burst is not None:
                self._enqueue(self._pass(self._cyclic_burst), True)
            else:
                self._enqueue(self._noise(n - self._queued), False)
        parts, need = [], n
        while need:
            samples, cyclic = self._queue.popleft()
            if samples.size > need:
                self._queue.appendleft((samples[need:], cyclic))
                samples = samples[:need]
            parts.append(samples)
            need -= samples.size
        self._queued -= n
        return np.concatenate(parts)

    def _settings(self) -> dict:
        return {"profile": self._emulator.profile.to_dict(), "snr_db": self._snr_db, "noise_var": self._noise_var,
                "numerology": self._emulator.numerology.to_dict()}

    def _close(self) -> None:
        self._queue.clear()
        self._queued = 0
        self._cyclic_burst = None
