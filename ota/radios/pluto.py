"""PlutoSDR backend through pyadi-iio (``adi.Pluto``).

Scaling: the interface's full scale ``|x| = 1`` is sent as ``x * 2**14`` (pyadi-iio's convention for
the AD936x DAC, whose 12-bit samples are MSB-aligned in int16), and the 12-bit ADC words (-2048..2047,
delivered in int16) are divided by ``2**11``.

Buffers (as pyadi-iio handles them): a TX buffer is created by the first ``tx()`` with that burst's
length; a cyclic one repeats in hardware until ``tx_destroy_buffer()``, and ``tx()`` on it raises
("TX buffer has been submitted in cyclic mode..."), as does changing ``tx_cyclic_buffer`` or the
length while a buffer exists. So every burst here destroys the previous buffer first (after a
one-shot burst has had time to go out). The RX buffer is created by the first ``rx()`` with the
``rx_buffer_size`` of that moment and keeps up to 4 blocks queued in the kernel, filled before any
change of settings; after (re)configuration it is destroyed and ``flush_buffers`` blocks are read and
discarded (LO and gain settling).

Timeouts: the IIO context's I/O timeout is set to ``timeout_s`` plus the time one RX buffer takes to
fill (``ctx.set_timeout``, in ms), so a refill that gets no data raises ``OSError(ETIMEDOUT)`` from
libiio; on top of that every call runs on a :class:`~ota.radios.device.DeadlineWorker` with a deadline (for
``rx()``, :data:`~ota.radios.device.GRACE_S` longer than libiio's), which also bounds opening the context (a
dead ``ip:`` URI otherwise blocks in connect / DNS) and calls stuck in USB or the kernel. A receive
of n samples starts no ``rx()`` after ``timeout_s`` plus the duration of the whole buffers it needs
plus ``GRACE_S``; while the Pluto delivers at its sample rate, a stall is reported by then.

Limits checked before anything is sent to the device: sample rate 521 kS/s..61.44 MS/s (pyadi-iio
refuses lower rates; the AD9361 tops out at 61.44 MS/s, though USB 2.0 carries only about 4 MS/s
without gaps), LO 325 MHz..3.8 GHz (the AD9363 as shipped; with ``ad9364=True`` 70 MHz..6 GHz for a
Pluto whose firmware has been switched to AD9364 mode, which is outside the AD9363's specification),
RF bandwidth 200 kHz..56 MHz, TX gain -89.75..0 dB (attenuation 0..89.75 dB), manual RX gain as the
AD9361 driver's full gain tables allow: 1..77 dB below 1.3 GHz, -4..71 dB to 4 GHz, -10..62 dB above.
"""

from __future__ import annotations

import errno
import time
from types import ModuleType
from typing import Any

import numpy as np

from ota.radios.config import RadioConfig, check_range
from ota.radios.device import GRACE_S, DeviceRadio
from ota.radios.errors import RadioError, RadioSettingError, RadioTimeout
from ota.radios.radio import wait_until

SAMPLE_RATE_RANGE = (521e3, 61.44e6)
AD9363_LO_RANGE = (325e6, 3.8e9)
AD9364_LO_RANGE = (70e6, 6.0e9)
RF_BANDWIDTH_RANGE = (200e3, 56e6)
TX_GAIN_RANGE = (-89.75, 0.0)
# (upper LO edge in Hz, lowest gain, highest gain) of the AD9361 driver's full RX gain tables.
RX_GAIN_TABLES = ((1.3e9, 1.0, 77.0), (4.0e9, -4.0, 71.0), (6.0e9, -10.0, 62.0))
TX_FULL_SCALE = 2.0**14
RX_FULL_SCALE = 2.0**11
FLUSH_BUFFERS = 2


def _import_adi() -> ModuleType:
    """pyadi-iio's ``adi`` module, or a :class:`RadioError` saying how to install it."""
    try:
        import adi
    except (ImportError, OSError) as exc:  # OSError: pylibiio present but libiio.so missing
        raise RadioError(
            f"the PlutoSDR backend needs pyadi-iio and libiio ({exc}): run pip install -e '.[pluto]' "
            "and install Debian's libiio0 (apt-get install libiio0)"
        ) from exc
    return adi


def rx_gain_range(rx_freq: float) -> tuple[float, float]:
    """Manual RX gain range in dB of the AD9361 full gain table that applies at ``rx_freq`` (Hz)."""
    for edge, low, high in RX_GAIN_TABLES:
        if rx_freq <= edge:
            return low, high
    return RX_GAIN_TABLES[-1][1:]


class PlutoRadio(DeviceRadio):
    """A PlutoSDR (AD9363) through pyadi-iio.

    Args:
        config: the settings; ``config.uri`` names the IIO context (``ip:192.168.2.1``, ``usb:1.2.5``).
        ad9364: allow the AD9364 tuning range 70 MHz..6 GHz (firmware switched to AD9364 mode).
        flush_buffers: RX blocks read and discarded after every (re)configuration.
    """

    kind = "pluto"
    address_field = "uri"
    address_name = "URI"
    address_example = "ip:192.168.2.1"

    def __init__(self, config: RadioConfig, *, ad9364: bool = False, flush_buffers: int = FLUSH_BUFFERS) -> None:
        super().__init__(config, f"PlutoSDR at {config.uri}")
        if not config.uri:
            raise RadioSettingError(
                "the PlutoSDR backend needs a URI such as ip:192.168.2.1 or usb:1.2.5 (iio_info -s lists them); "
                "it does not scan for devices"
            )
        self._lo_range = AD9364_LO_RANGE if ad9364 else AD9363_LO_RANGE
        self._flush_buffers = int(flush_buffers)
        self._check(config)
        adi = _import_adi()
        self._pending = np.zeros(0, np.complex64)
        self._tx_busy_until = 0.0
        self._cyclic = False
        check = f"check the USB/Ethernet link, `iio_info -u {config.uri}`, and that no other program holds"
        self._open("opening the IIO context", adi.Pluto, config.uri, hint=f"{check} the Pluto", advice=f"{check} it")

    def _library_error(self, what: str, exc: Exception) -> RadioError:
        """libiio's ETIMEDOUT is a :class:`RadioTimeout`; anything else pyadi-iio raises (bare Exception,
        ValueError, OSError) a refusal."""
        if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
            return RadioTimeout(
                f"{self.name} did not answer within {self._io_timeout(self.config):.3g} s ({what}: {exc}): "
                f"check the USB/Ethernet link and `iio_info -u {self.config.uri}`"
            )
        return super()._library_error(what, exc)

    def _set(self, attribute: str, value: Any) -> None:
        self._call(f"{attribute}={value!r}", setattr, self._device, attribute, value)

    def _check(self, config: RadioConfig) -> None:
        """Refuse settings outside the Pluto's limits (before anything reaches the device)."""
        device = self.name
        check_range(config.sample_rate, [SAMPLE_RATE_RANGE], what="sample rate", unit="S/s", device=device)
        note = (
            "the AD9364 range of a Pluto in AD9364 mode" if self._lo_range == AD9364_LO_RANGE else
            "the AD9363 as shipped; a Pluto switched to AD9364 mode tunes 70 MHz..6 GHz (open it with ad9364=True)"
        )
        for what, freq in (("TX centre frequency", config.tx_freq), ("RX centre frequency", config.rx_freq)):
            check_range(freq, [self._lo_range], what=what, unit="Hz", device=device, note=note)
        bandwidth = config.sample_rate if config.rf_bandwidth is None else config.rf_bandwidth
        check_range(bandwidth, [RF_BANDWIDTH_RANGE], what="RF bandwidth", unit="Hz", device=device)
        if config.tx_gain_db is not None:
            check_range(config.tx_gain_db, [TX_GAIN_RANGE], what="TX gain", unit="dB", device=device,
                        note="the TX gain is minus the attenuation")
        if config.rx_gain_db is not None:
            check_range(config.rx_gain_db, [rx_gain_range(config.rx_freq)], what="RX gain", unit="dB",
                        device=device, note=f"at {config.rx_freq / 1e6:g} MHz (AD9361 full gain table)")
        if config.rx_buffer_size < 16:
            raise RadioSettingError(f"rx_buffer_size={config.rx_buffer_size} is too small for {device}; use >= 16")

    def _apply(self, config: RadioConfig) -> None:
        self._check(config)
        self._set("sample_rate", int(round(config.sample_rate)))
        bandwidth = int(round(config.sample_rate if config.rf_bandwidth is None else config.rf_bandwidth))
        self._set("rx_rf_bandwidth", bandwidth)
        self._set("tx_rf_bandwidth", bandwidth)
        self._set("rx_lo", int(round(config.rx_freq)))
        self._set("tx_lo", int(round(config.tx_freq)))
        self._set("gain_control_mode_chan0", config.gain_mode)
        if config.rx_gain_db is not None:  # pyadi-iio ignores it unless the mode is manual (set above)
            self._set("rx_hardwaregain_chan0", float(config.rx_gain_db))
        if config.tx_gain_db is not None:
            self._set("tx_hardwaregain_chan0", float(config.tx_gain_db))
        self._set("rx_buffer_size", int(config.rx_buffer_size))
        io_timeout = self._io_timeout(config)
        self._call("set_timeout", self._device.ctx.set_timeout, int(round(io_timeout * 1000)))
        self._call("rx_destroy_buffer", self._device.rx_destroy_buffer)
        self._pending = np.zeros(0, np.complex64)
        for _ in range(self._flush_buffers):
            self._call("rx (flushing stale buffers)", self._device.rx, timeout_s=io_timeout + GRACE_S)

    @staticmethod
    def _io_timeout(config: RadioConfig) -> float:
        """libiio's I/O timeout in s: ``timeout_s`` plus the time one RX buffer takes to fill."""
        return config.timeout_s + config.rx_buffer_size / config.sample_rate

    def _destroy_tx(self) -> None:
        """Stop what the TX buffer is sending, after a one-shot burst has had its time on air."""
        wait_until(self._tx_busy_until)
        self._call("tx_destroy_buffer", self._device.tx_destroy_buffer)

    def _transmit(self, burst: np.ndarray, cyclic: bool) -> None:
        self._destroy_tx()
        self._set("tx_cyclic_buffer", cyclic)
        duration = burst.size / self.config.sample_rate
        self._call("tx", self._device.tx, np.round(burst * np.float32(TX_FULL_SCALE)).astype(np.complex64),
                   timeout_s=self.config.timeout_s + duration)
        self._tx_busy_until = 0.0 if cyclic else time.monotonic() + duration
        self._cyclic = cyclic
        self._pending = np.zeros(0, np.complex64)  # received before this burst

    def _stop(self) -> None:
        if self._cyclic:
            self._call("tx_destroy_buffer", self._device.tx_destroy_buffer)
            self._cyclic = False

    def _receive(self, n: int) -> np.ndarray:
        config = self.config
        buffers = -(-(n - self._pending.size) // config.rx_buffer_size)
        deadline = time.monotonic() + config.timeout_s + buffers * config.rx_buffer_size / config.sample_rate + GRACE_S
        chunks, have = [self._pending], self._pending.size
        while have < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RadioTimeout(
                    f"{self.name} delivered {have} of {n} samples within {config.timeout_s:g} s plus their "
                    f"duration: check the USB/Ethernet link and `iio_info -u {config.uri}`"
                )
            block = self._call("rx", self._device.rx, timeout_s=self._io_timeout(config) + GRACE_S)
            block = (np.asarray(block) / RX_FULL_SCALE).astype(np.complex64)
            chunks.append(block)
            have += block.size
        samples = np.concatenate(chunks)
        self._pending = samples[n:]
        return samples[:n]

    def _settings(self) -> dict:
        names = ("sample_rate", "rx_lo", "tx_lo", "rx_rf_bandwidth", "tx_rf_bandwidth", "gain_control_mode_chan0",
                 "rx_hardwaregain_chan0", "tx_hardwaregain_chan0", "rx_buffer_size")
        return {name: self._call(f"reading {name}", getattr, self._device, name) for name in names}

    def _shut_down(self) -> None:
        """Destroy the TX and RX buffers (pyadi-iio frees the IIO context with the device object)."""
        if self._device is not None and self._worker.hung is None:
            self._quietly(self._destroy_buffers)

    def _destroy_buffers(self) -> None:
        self._destroy_tx()
        self._call("rx_destroy_buffer", self._device.rx_destroy_buffer)
