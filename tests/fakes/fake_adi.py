"""A fake of pyadi-iio's ``adi`` module with ``adi.Pluto``, faithful to what ``ota.radios.pluto`` relies on.

From pyadi-iio 0.0.21 (and 0.0.17, which behaves the same here):

* ``adi.Pluto(uri)``: a context that cannot be created raises ``Exception("No device found")``
  (``context_manager.__init__`` turns every libiio error into that); a dead network URI blocks in
  libiio's connect first (``hang_open``).
* ``ctx.set_timeout(ms)``: libiio's I/O timeout; a refill that gets no data then raises
  ``OSError(110, "Connection timed out")`` (``stall="timeout"``); a wedged link blocks (``stall="hang"``).
* attributes go through sysfs: ``rx_lo``, ``tx_lo``, ``rx_rf_bandwidth``, ``tx_rf_bandwidth`` must be
  ``int`` (``_set_iio_attr_int``: ``Exception("Value must be an int")``), the gains ``float`` or ``int``
  (``_set_iio_attr_float``); ``sample_rate`` below 521e3 raises pyadi-iio's ``ValueError``; values the
  AD9361 driver rejects raise ``OSError(22, "Invalid argument")`` (LO outside the chip's range,
  sample rate above 61.44 MS/s, TX attenuation outside 0..89.75 dB, manual RX gain outside the gain
  table of the LO's band, unknown gain mode); the driver clamps the RF bandwidth to 200 kHz..56 MHz.
  ``rx_hardwaregain_chan0`` is silently not written unless ``gain_control_mode_chan0 == "manual"``.
* ``tx(data)``: complex data, I and Q cast with ``astype(int16)``; the first call creates the buffer
  with that length and ``tx_cyclic_buffer``; with a cyclic buffer in place it raises "TX buffer has been
  submitted in cyclic mode. To push more data the tx buffer must be destroyed first."; another length
  raises "Buffer length different than data length. Cannot change buffer length on the fly";
  setting ``tx_cyclic_buffer`` while a buffer exists raises "TX buffer already created, buffer must be
  destroyed then recreated to modify tx_cyclic_buffer". ``tx_destroy_buffer()`` drops the buffer
  (a cyclic one stops).
* ``rx()``: the first call creates the buffer with the ``rx_buffer_size`` of that moment; returns that
  many complex samples (complex128 from int16 I/Q of the 12-bit ADC, -2048..2047). The kernel keeps up
  to 4 blocks queued, filled before a change of settings: after a change they come out first (here
  filled with :data:`STALE_CODE`, recognisable) until ``rx_destroy_buffer()``.

Gains: the receiver hears the transmitter's DAC-normalised samples (``tx / 2**14``) through the
:class:`~fakes.Air`, times ``10**((tx_hardwaregain + rx gain + path_gain_db) / 20)``, times 2048
on the ADC; in an AGC mode the rx gain is ``agc_gain_db``.
"""

from __future__ import annotations

import threading
import time
import types
from dataclasses import dataclass, field

import numpy as np

from . import Air

KERNEL_BUFFERS = 4
STALE_CODE = 2047  # I and Q of every sample of a stale block
CYCLIC_ERROR = "TX buffer has been submitted in cyclic mode. To push more data the tx buffer must be destroyed first."
LENGTH_ERROR = "Buffer length different than data length. Cannot change buffer length on the fly"
CYCLIC_SETTER_ERROR = (
    "TX buffer already created, buffer must be destroyed then recreated to modify tx_cyclic_buffer"
)
LO_RANGES = {"ad9363": (325e6, 3.8e9), "ad9364": (70e6, 6.0e9)}
RX_GAIN_TABLES = ((1.3e9, 1, 77), (4.0e9, -4, 71), (6.0e9, -10, 62))


def _einval() -> OSError:
    return OSError(22, "Invalid argument")


@dataclass
class FakePlutoHardware:
    """The PlutoSDR behind a URI; its state and counters persist across opens, as a real one's do.

    Attributes:
        chip: ``"ad9363"`` (as shipped) or ``"ad9364"`` (firmware switched), sets the LO range.
        air: what the receiver hears.
        stall: ``None``, ``"timeout"`` (rx raises ETIMEDOUT after the context timeout) or ``"hang"``
            (rx blocks until :attr:`release` is set).
        hang_open: ``adi.Pluto(uri)`` blocks until :attr:`release` is set, then fails.
        path_gain_db, agc_gain_db: see the module docstring.
    """

    chip: str = "ad9363"
    air: Air = field(default_factory=Air)
    stall: str | None = None
    hang_open: bool = False
    path_gain_db: float = -30.0
    agc_gain_db: float = 40.0
    release: threading.Event = field(default_factory=threading.Event)
    tx_log: list[tuple[bool, np.ndarray]] = field(default_factory=list)  # (cyclic, int16 I/Q (n, 2)) per push
    rx_calls: int = 0
    tx_destroyed: int = 0
    rx_destroyed: int = 0
    opens: int = 0
    attributes: dict = field(default_factory=lambda: {
        "sample_rate": 30720000, "rx_lo": 2400000000, "tx_lo": 2450000000, "rx_rf_bandwidth": 18000000,
        "tx_rf_bandwidth": 18000000, "gain_control_mode_chan0": "slow_attack", "rx_hardwaregain_chan0": 40.0,
        "tx_hardwaregain_chan0": -10.0,
    })


class FakeIioContext:
    """The part of ``iio.Context`` the backend uses: ``set_timeout(ms)``."""

    def __init__(self) -> None:
        self.timeout_ms = 0

    def set_timeout(self, timeout: int) -> None:
        if not isinstance(timeout, int) or timeout < 0:
            raise TypeError(f"timeout must be a non-negative int of milliseconds, got {timeout!r}")
        self.timeout_ms = timeout


class FakePluto:
    """``adi.Pluto``: the properties and buffer methods of ``ad9364`` / ``rx_tx`` that the backend uses."""

    _device_name = "PlutoSDR"

    def __init__(self, hardware: FakePlutoHardware, uri: str) -> None:
        self._hw = hardware
        self.uri = uri
        self._ctx = FakeIioContext()
        self._rx_buffer_size = 1024
        self._rxbuf: int | None = None  # size of the RX buffer, once created
        self._stale = 0
        self._txbuf: tuple[int, bool] | None = None  # (length, cyclic)
        self._tx_cyclic_buffer = False
        hardware.air.set_sample_rate(hardware.attributes["sample_rate"])

    @property
    def ctx(self) -> FakeIioContext:
        return self._ctx

    # --- attributes (sysfs writes as the AD9361 driver takes them) ---

    def _attr(self, name: str) -> object:
        return self._hw.attributes[name]

    def _write(self, name: str, value: object) -> None:
        self._hw.attributes[name] = value
        if self._rxbuf is not None:
            self._stale = KERNEL_BUFFERS  # the queued blocks were filled with the old settings

    @staticmethod
    def _need_int(value: object) -> int:
        if not isinstance(value, int):
            raise Exception("Value must be an int")
        return value

    @staticmethod
    def _need_float(value: object) -> float:
        if isinstance(value, int):
            value = float(value)
        if not isinstance(value, float):
            raise Exception("Value must be a float")
        return value

    @property
    def sample_rate(self) -> int:
        return self._attr("sample_rate")

    @sample_rate.setter
    def sample_rate(self, rate: object) -> None:
        if rate < 521e3:
            raise ValueError("Error: Does not currently support sample rates below 521e3")
        try:
            parsed = int(str(rate))  # the kernel parses the string pyadi-iio writes
        except ValueError:
            raise _einval() from None
        if parsed > 61440000:
            raise _einval()
        self._write("sample_rate", parsed)
        self._hw.air.set_sample_rate(parsed)

    def _lo(self, name: str, value: object) -> None:
        value = self._need_int(value)
        low, high = LO_RANGES[self._hw.chip]
        if not low <= value <= high:
            raise _einval()
        self._write(name, value)

    @property
    def rx_lo(self) -> int:
        return self._attr("rx_lo")

    @rx_lo.setter
    def rx_lo(self, value: object) -> None:
        self._lo("rx_lo", value)

    @property
    def tx_lo(self) -> int:
        return self._attr("tx_lo")

    @tx_lo.setter
    def tx_lo(self, value: object) -> None:
        self._lo("tx_lo", value)

    def _bandwidth(self, name: str, value: object) -> None:
        self._write(name, int(min(max(self._need_int(value), 200000), 56000000)))

    @property
    def rx_rf_bandwidth(self) -> int:
        return self._attr("rx_rf_bandwidth")

    @rx_rf_bandwidth.setter
    def rx_rf_bandwidth(self, value: object) -> None:
        self._bandwidth("rx_rf_bandwidth", value)

    @property
    def tx_rf_bandwidth(self) -> int:
        return self._attr("tx_rf_bandwidth")

    @tx_rf_bandwidth.setter
    def tx_rf_bandwidth(self, value: object) -> None:
        self._bandwidth("tx_rf_bandwidth", value)

    @property
    def gain_control_mode_chan0(self) -> str:
        return self._attr("gain_control_mode_chan0")

    @gain_control_mode_chan0.setter
    def gain_control_mode_chan0(self, value: object) -> None:
        if str(value) not in ("manual", "slow_attack", "fast_attack", "hybrid"):
            raise _einval()
        self._write("gain_control_mode_chan0", str(value))

    @property
    def rx_hardwaregain_chan0(self) -> float:
        if self.gain_control_mode_chan0 != "manual":
            return self._hw.agc_gain_db
        return self._attr("rx_hardwaregain_chan0")

    @rx_hardwaregain_chan0.setter
    def rx_hardwaregain_chan0(self, value: object) -> None:
        if self.gain_control_mode_chan0 == "manual":
            value = self._need_float(value)
            bands = [(lo, hi) for edge, lo, hi in RX_GAIN_TABLES if self.rx_lo <= edge]
            low, high = bands[0] if bands else RX_GAIN_TABLES[-1][1:]
            if not low <= value <= high:
                raise _einval()
            self._write("rx_hardwaregain_chan0", float(round(value)))

    @property
    def tx_hardwaregain_chan0(self) -> float:
        return self._attr("tx_hardwaregain_chan0")

    @tx_hardwaregain_chan0.setter
    def tx_hardwaregain_chan0(self, value: object) -> None:
        value = self._need_float(value)
        if not -89.75 <= value <= 0:
            raise _einval()
        self._write("tx_hardwaregain_chan0", round(value * 4) / 4)

    @property
    def rx_buffer_size(self) -> int:
        return self._rx_buffer_size

    @rx_buffer_size.setter
    def rx_buffer_size(self, value: int) -> None:
        self._rx_buffer_size = value  # takes effect when the next RX buffer is created

    @property
    def tx_cyclic_buffer(self) -> bool:
        return self._tx_cyclic_buffer

    @tx_cyclic_buffer.setter
    def tx_cyclic_buffer(self, value: bool) -> None:
        if self._txbuf:
            raise Exception(CYCLIC_SETTER_ERROR)
        self._tx_cyclic_buffer = value

    # --- buffers ---

    def tx(self, data_np: np.ndarray) -> None:
        if self._txbuf and self._tx_cyclic_buffer:
            raise Exception(CYCLIC_ERROR)
        iq = np.stack([np.real(data_np).astype(np.int16), np.imag(data_np).astype(np.int16)], axis=-1)
        if not self._txbuf:
            self._txbuf = (len(iq), self._tx_cyclic_buffer)
        if len(iq) != self._txbuf[0]:
            raise Exception(LENGTH_ERROR)
        self._hw.tx_log.append((self._tx_cyclic_buffer, iq))
        samples = (iq[:, 0] + 1j * iq[:, 1].astype(float)) / 2.0**14
        if self._tx_cyclic_buffer:
            self._hw.air.start_cyclic(samples)
        else:
            self._hw.air.emit(samples)

    def tx_destroy_buffer(self) -> None:
        if self._txbuf and self._txbuf[1]:
            self._hw.air.stop_cyclic()
        self._txbuf = None
        self._hw.tx_destroyed += 1

    def rx_destroy_buffer(self) -> None:
        self._rxbuf = None
        self._stale = 0
        self._hw.rx_destroyed += 1

    def _gain_db(self) -> float:
        return self.tx_hardwaregain_chan0 + self.rx_hardwaregain_chan0 + self._hw.path_gain_db

    def rx(self) -> np.ndarray:
        hw = self._hw
        hw.rx_calls += 1
        if hw.stall == "hang":
            hw.release.wait()
            raise OSError(110, "Connection timed out")
        if hw.stall == "timeout":
            time.sleep(self._ctx.timeout_ms / 1000)  # 0 would be "no timeout"; the backend always sets one
            raise OSError(110, "Connection timed out")
        if self._rxbuf is None:
            self._rxbuf = self._rx_buffer_size
        if self._stale:
            self._stale -= 1
            return np.full(self._rxbuf, STALE_CODE + 1j * STALE_CODE)
        analog = hw.air.read(self._rxbuf) * 10 ** (self._gain_db() / 20) * 2048
        i = np.clip(np.round(analog.real), -2048, 2047).astype(np.int16)
        q = np.clip(np.round(analog.imag), -2048, 2047).astype(np.int16)
        return i + 1j * q


class FakeAdiModule(types.ModuleType):
    """Stands in for the ``adi`` module: ``Pluto(uri)`` opens the :class:`FakePlutoHardware` at ``uri``."""

    def __init__(self, devices: dict[str, FakePlutoHardware]) -> None:
        super().__init__("adi")
        self.devices = devices

    def Pluto(self, uri: str = "") -> FakePluto:  # noqa: N802 - the real class name
        hardware = self.devices.get(uri)
        if hardware is not None and hardware.hang_open:
            hardware.release.wait()
        if hardware is None or hardware.hang_open:
            raise Exception("No device found")
        hardware.opens += 1
        return FakePluto(hardware, uri)
