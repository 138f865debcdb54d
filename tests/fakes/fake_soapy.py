"""A fake of the ``SoapySDR`` module, faithful to what ``ota.radios.soapy`` relies on.

From SoapySDR 0.8.1's ``SoapySDR.py`` (Debian's python3-soapysdr) and its C++ API:

* constants with the real values: ``SOAPY_SDR_TX = 0``, ``SOAPY_SDR_RX = 1``, ``SOAPY_SDR_CF32 = "CF32"``,
  flags ``END_BURST = 2``, ``HAS_TIME = 4``, ``END_ABRUPT = 8``, ``ONE_PACKET = 16``, ``MORE_FRAGMENTS = 32``,
  error codes ``TIMEOUT = -1`` .. ``UNDERFLOW = -7``; ``errToStr(code)``; ``Range`` with ``minimum()``,
  ``maximum()``, ``step()``; ``StreamResult`` with ``ret``, ``flags``, ``timeNs``, ``chanMask``.
* ``Device(args)`` (``Device.__new__`` calls ``Device.make``) with a ``"key=value,..."`` string or a dict;
  no matching device raises ``RuntimeError("SoapySDR::Device::make() no match")``; ``device.close()``
  unmakes it. ``Device.enumerate`` fails here: tests must never enumerate.
* ``readStream(stream, buffs, numElems, flags=0, timeoutUs=100000)`` and ``writeStream(stream, buffs,
  numElems, flags=0, timeNs=0, timeoutUs=100000)`` take numpy buffers, move at most the stream's MTU per
  call and return a ``StreamResult`` whose ``ret`` is the count or an error code;
  ``readStreamStatus(stream, timeoutUs=100000)`` reports TX events (``UNDERFLOW``, an END_BURST
  acknowledgement as ``ret=0, flags=END_BURST``) or ``TIMEOUT`` when there is none.
* a driver refuses settings outside its ranges with a ``RuntimeError`` (a C++ exception through SWIG).

Time is virtual (:class:`~fakes.Air`): the RX clock advances as samples are read. A TX burst
starts ``latency`` samples after the RX clock at its first write; while a burst is open, a read waits
(wall clock, at most ``underflow_wait_s`` and its ``timeoutUs``) for the writer to have covered what it
returns, and counts an underflow when it has not; a write waits while the writer is more than ``tx_capacity`` samples
ahead. Like a real device, the TX side does not wait for the host to read: when no read makes room
within ``timeoutUs``, the device is taken to have played out its queue at the sample rate in the wall
time that passed; the RX clock moves on with it, and (the RX stream being active) the next read
reports the samples nobody read as an ``OVERFLOW``. Deterministic faults: ``timeout_at_reads`` /
``overflow_at_reads`` (1-based readStream call numbers that return ``TIMEOUT`` / ``OVERFLOW``, the
latter dropping ``overflow_drop`` samples), ``stall_rx`` (every read times out after ``timeoutUs``),
``hang_rx`` / ``hang_make`` (block until ``release`` is set).

The air gets what is written chunk by chunk (at most an MTU each), and each chunk passes through the
channel emulator alone: with a static profile (``awgn``, the default) the stream stays coherent; a
profile that draws a CFO or a fading channel per call would change it at every chunk.
"""

from __future__ import annotations

import threading
import time
import types
from dataclasses import dataclass, field

import numpy as np

from . import Air

SOAPY_SDR_TX = 0
SOAPY_SDR_RX = 1
SOAPY_SDR_CF32 = "CF32"
SOAPY_SDR_CS16 = "CS16"
SOAPY_SDR_END_BURST = 2
SOAPY_SDR_HAS_TIME = 4
SOAPY_SDR_END_ABRUPT = 8
SOAPY_SDR_ONE_PACKET = 16
SOAPY_SDR_MORE_FRAGMENTS = 32
SOAPY_SDR_TIMEOUT = -1
SOAPY_SDR_STREAM_ERROR = -2
SOAPY_SDR_CORRUPTION = -3
SOAPY_SDR_OVERFLOW = -4
SOAPY_SDR_NOT_SUPPORTED = -5
SOAPY_SDR_TIME_ERROR = -6
SOAPY_SDR_UNDERFLOW = -7
_ERROR_NAMES = {
    SOAPY_SDR_TIMEOUT: "TIMEOUT",
    SOAPY_SDR_STREAM_ERROR: "STREAM_ERROR",
    SOAPY_SDR_CORRUPTION: "CORRUPTION",
    SOAPY_SDR_OVERFLOW: "OVERFLOW",
    SOAPY_SDR_NOT_SUPPORTED: "NOT_SUPPORTED",
    SOAPY_SDR_TIME_ERROR: "TIME_ERROR",
    SOAPY_SDR_UNDERFLOW: "UNDERFLOW",
}


def errToStr(code: int) -> str:  # noqa: N802 - the real name
    return _ERROR_NAMES.get(code, "UNKNOWN")


class Range:
    """``SoapySDR.Range``."""

    def __init__(self, minimum: float, maximum: float, step: float = 0.0) -> None:
        self._min, self._max, self._step = float(minimum), float(maximum), float(step)

    def minimum(self) -> float:
        return self._min

    def maximum(self) -> float:
        return self._max

    def step(self) -> float:
        return self._step


class StreamResult:
    """``SoapySDR.StreamResult``."""

    def __init__(self, ret: int = 0, flags: int = 0, time_ns: int = 0) -> None:
        self.ret = ret
        self.flags = flags
        self.timeNs = time_ns
        self.chanMask = 0


def parse_args(args: str | dict) -> dict:
    """``"driver=uhd,serial=1"`` -> ``{"driver": "uhd", "serial": "1"}`` (SoapySDR's KwargsFromString)."""
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    pairs = [p.split("=", 1) for p in str(args).split(",") if p.strip()]
    return {k.strip(): (v[0].strip() if v else "") for k, *v in pairs}


@dataclass
class FakeSoapyHardware:
    """One device a fake SoapySDR can open, with its limits, faults and counters (see the module docstring)."""

    driver: str = "fake"
    hardware: str = "FakeB210"
    serial: str = "F00D"
    sample_rate_ranges: list[tuple[float, float]] = field(default_factory=lambda: [(200e3, 56e6)])
    sample_rates: list[float] = field(default_factory=list)  # listSampleRates (used when there are no ranges)
    frequency_range: tuple[float, float] = (70e6, 6e9)
    rx_gain_range: tuple[float, float] = (0.0, 76.0)
    tx_gain_range: tuple[float, float] = (0.0, 89.75)
    bandwidth_ranges: list[tuple[float, float]] = field(default_factory=lambda: [(200e3, 56e6)])
    has_agc: bool = True
    mtu: int = 2040
    air: Air = field(default_factory=Air)
    path_gain_db: float = -80.0
    tx_capacity: int = 65536
    underflow_wait_s: float = 1.0
    timeout_at_reads: set[int] = field(default_factory=set)
    overflow_at_reads: set[int] = field(default_factory=set)
    overflow_drop: int = 4096
    stall_rx: bool = False
    hang_rx: bool = False
    hang_make: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    reads: int = 0
    end_bursts: int = 0
    underflows: int = 0
    tx_written: list[np.ndarray] = field(default_factory=list)
    closed: bool = False
    settings: dict = field(default_factory=dict)

    def identity(self) -> dict:
        return {"driver": self.driver, "serial": self.serial, "label": f"{self.hardware} {self.serial}"}


class _Stream:
    def __init__(self, direction: int, channels: list[int]) -> None:
        self.direction = direction
        self.channels = channels
        self.active = False
        self.closed = False


class FakeSoapyDevice:
    """The ``SoapySDR.Device`` methods the backend uses, on one :class:`FakeSoapyHardware`."""

    def __init__(self, hardware: FakeSoapyHardware) -> None:
        self._hw = hardware
        self._cond = threading.Condition()
        self._tx_cursor = 0
        self._burst_open = False
        self._missed_rx = False  # samples played out while nobody read: the next read reports OVERFLOW
        self._status: list[StreamResult] = []
        self._streams: list[_Stream] = []
        hardware.settings.update({
            (d, name): value for d in (SOAPY_SDR_RX, SOAPY_SDR_TX)
            for name, value in (("rate", 1e6), ("freq", 1e9), ("gain", 0.0), ("bw", 1e6), ("agc", False))
        })

    def _alive(self) -> FakeSoapyHardware:
        assert not self._hw.closed, "a SoapySDR device was used after close()"
        return self._hw

    def getDriverKey(self) -> str:  # noqa: N802 - the SoapySDR API's names
        return self._alive().driver

    def getHardwareKey(self) -> str:  # noqa: N802
        return self._alive().hardware

    # --- ranges ---

    def getSampleRateRange(self, direction: int, channel: int) -> list[Range]:  # noqa: N802
        return [Range(*r) for r in self._alive().sample_rate_ranges]

    def listSampleRates(self, direction: int, channel: int) -> list[float]:  # noqa: N802
        return list(self._alive().sample_rates)

    def getFrequencyRange(self, direction: int, channel: int) -> list[Range]:  # noqa: N802
        return [Range(*self._alive().frequency_range)]

    def getGainRange(self, direction: int, channel: int) -> Range:  # noqa: N802
        hw = self._alive()
        return Range(*(hw.rx_gain_range if direction == SOAPY_SDR_RX else hw.tx_gain_range))

    def getBandwidthRange(self, direction: int, channel: int) -> list[Range]:  # noqa: N802
        return [Range(*r) for r in self._alive().bandwidth_ranges]

    # --- settings ---

    def _set(self, direction: int, name: str, value: object, allowed: list[tuple[float, float]]) -> None:
        hw = self._alive()
        if allowed is not None and not any(lo <= value <= hi for lo, hi in allowed):
            raise RuntimeError(f"{name} {value} out of range for {hw.hardware}")
        hw.settings[(direction, name)] = value

    def setSampleRate(self, direction: int, channel: int, rate: float) -> None:  # noqa: N802
        hw = self._alive()
        allowed = hw.sample_rate_ranges or [(r, r) for r in hw.sample_rates]
        self._set(direction, "rate", float(rate), allowed)
        if direction == SOAPY_SDR_RX:
            hw.air.set_sample_rate(rate)

    def getSampleRate(self, direction: int, channel: int) -> float:  # noqa: N802
        return self._alive().settings[(direction, "rate")]

    def setFrequency(self, direction: int, channel: int, frequency: float) -> None:  # noqa: N802
        self._set(direction, "freq", float(frequency), [self._alive().frequency_range])

    def getFrequency(self, direction: int, channel: int) -> float:  # noqa: N802
        return self._alive().settings[(direction, "freq")]

    def setGain(self, direction: int, channel: int, gain: float) -> None:  # noqa: N802
        hw = self._alive()
        self._set(direction, "gain", float(gain), [hw.rx_gain_range if direction == SOAPY_SDR_RX else hw.tx_gain_range])

    def getGain(self, direction: int, channel: int) -> float:  # noqa: N802
        return self._alive().settings[(direction, "gain")]

    def setBandwidth(self, direction: int, channel: int, bandwidth: float) -> None:  # noqa: N802
        self._set(direction, "bw", float(bandwidth), self._alive().bandwidth_ranges)

    def getBandwidth(self, direction: int, channel: int) -> float:  # noqa: N802
        return self._alive().settings[(direction, "bw")]

    def hasGainMode(self, direction: int, channel: int) -> bool:  # noqa: N802
        return self._alive().has_agc

    def setGainMode(self, direction: int, channel: int, automatic: bool) -> None:  # noqa: N802
        if automatic and not self._alive().has_agc:
            raise RuntimeError("automatic gain control is not supported")
        self._set(direction, "agc", bool(automatic), None)

    def getGainMode(self, direction: int, channel: int) -> bool:  # noqa: N802
        return self._alive().settings[(direction, "agc")]

    # --- streams ---

    def setupStream(self, direction: int, fmt: str, channels: list[int] = (0,), args: dict | None = None) -> _Stream:  # noqa: N802
        self._alive()
        if fmt != SOAPY_SDR_CF32:
            raise RuntimeError(f"setupStream: format {fmt} is not supported by this fake")
        stream = _Stream(direction, list(channels))
        self._streams.append(stream)
        return stream

    def getStreamMTU(self, stream: _Stream) -> int:  # noqa: N802
        return self._alive().mtu

    def activateStream(self, stream: _Stream, flags: int = 0, timeNs: int = 0, numElems: int = 0) -> int:  # noqa: N802,N803
        self._alive()
        stream.active = True
        return 0

    def deactivateStream(self, stream: _Stream, flags: int = 0, timeNs: int = 0) -> int:  # noqa: N802,N803
        self._alive()
        stream.active = False
        return 0

    def closeStream(self, stream: _Stream) -> None:  # noqa: N802
        self._alive()
        stream.closed = True

    @staticmethod
    def _buffer(buffs: list, n: int) -> np.ndarray:
        buff = buffs[0]
        if not isinstance(buff, np.ndarray) or buff.dtype != np.complex64 or buff.size < n:
            raise TypeError(f"CF32 needs a complex64 numpy buffer of >= {n} elements, got {type(buff).__name__}")
        return buff

    def _gain(self) -> float:
        hw = self._hw
        total = hw.settings[(SOAPY_SDR_TX, "gain")] + hw.settings[(SOAPY_SDR_RX, "gain")] + hw.path_gain_db
        return 10 ** (total / 20)

    def readStream(self, stream: _Stream, buffs: list, numElems: int, flags: int = 0,  # noqa: N802,N803
                   timeoutUs: int = 100000) -> StreamResult:  # noqa: N803
        hw = self._alive()
        buff = self._buffer(buffs, numElems)
        hw.reads += 1
        if hw.hang_rx:
            hw.release.wait()
            return StreamResult(SOAPY_SDR_TIMEOUT)
        if hw.stall_rx or not stream.active:
            hw.release.wait(timeoutUs / 1e6)
            return StreamResult(SOAPY_SDR_TIMEOUT)
        with self._cond:
            if hw.reads in hw.timeout_at_reads:
                return StreamResult(SOAPY_SDR_TIMEOUT)
            if hw.reads in hw.overflow_at_reads:
                hw.air.read(hw.overflow_drop)
                return StreamResult(SOAPY_SDR_OVERFLOW)
            if self._missed_rx:
                self._missed_rx = False
                return StreamResult(SOAPY_SDR_OVERFLOW)
            n = min(numElems, hw.mtu)
            wait_s = min(hw.underflow_wait_s, timeoutUs / 1e6)
            if self._burst_open and not self._cond.wait_for(lambda: self._tx_cursor >= hw.air.now + n,
                                                             timeout=wait_s):
                hw.underflows += 1
                self._status.append(StreamResult(SOAPY_SDR_UNDERFLOW))
                self._tx_cursor = max(self._tx_cursor, hw.air.now + n)
            received = hw.air.read(n) * self._gain()
            buff[:n] = np.clip(received.real, -1, 1) + 1j * np.clip(received.imag, -1, 1)
            self._cond.notify_all()
            return StreamResult(n)

    def writeStream(self, stream: _Stream, buffs: list, numElems: int, flags: int = 0, timeNs: int = 0,  # noqa: N802,N803
                    timeoutUs: int = 100000) -> StreamResult:  # noqa: N803
        hw = self._alive()
        buff = self._buffer(buffs, numElems)
        with self._cond:
            if not stream.active:
                return StreamResult(SOAPY_SDR_STREAM_ERROR)
            n = min(numElems, hw.mtu)
            if not self._burst_open:
                self._tx_cursor = max(self._tx_cursor, hw.air.now + hw.air.latency)
            def room() -> bool:
                return self._tx_cursor + n - hw.air.now <= hw.tx_capacity

            waited_from = time.monotonic()
            if not self._cond.wait_for(room, timeout=timeoutUs / 1e6):
                self._play_out(time.monotonic() - waited_from)
                if not room():
                    return StreamResult(SOAPY_SDR_TIMEOUT)
            chunk = np.clip(buff[:n].real, -1, 1) + 1j * np.clip(buff[:n].imag, -1, 1)
            hw.tx_written.append(chunk.astype(np.complex64))
            self._tx_cursor = hw.air.emit(chunk, start=self._tx_cursor)
            self._burst_open = not flags & SOAPY_SDR_END_BURST
            if not self._burst_open:
                hw.end_bursts += 1
                self._status.append(StreamResult(0, SOAPY_SDR_END_BURST))
            self._cond.notify_all()
            return StreamResult(n, flags & SOAPY_SDR_END_BURST)

    def _play_out(self, seconds: float) -> None:
        """Advance the device clock by what the TX queue played in ``seconds`` of wall time with nobody reading."""
        hw = self._hw
        played = min(int(seconds * hw.settings[(SOAPY_SDR_TX, "rate")]), max(self._tx_cursor - hw.air.now, 0))
        if played > 0:
            hw.air.read(played)
            self._missed_rx = self._missed_rx or any(s.active for s in self._streams if s.direction == SOAPY_SDR_RX)

    def readStreamStatus(self, stream: _Stream, timeoutUs: int = 100000) -> StreamResult:  # noqa: N802,N803
        self._alive()
        with self._cond:
            if not self._status:
                self._cond.wait(timeoutUs / 1e6)
            return self._status.pop(0) if self._status else StreamResult(SOAPY_SDR_TIMEOUT)

    def close(self) -> None:
        self._alive().closed = True


class FakeSoapyModule(types.ModuleType):
    """Stands in for the ``SoapySDR`` module; ``Device(args)`` opens the first matching hardware."""

    def __init__(self, devices: list[FakeSoapyHardware]) -> None:
        super().__init__("SoapySDR")
        for name, value in globals().items():
            if name.startswith("SOAPY_SDR_"):
                setattr(self, name, value)
        self.errToStr = errToStr
        self.Range = Range
        self.StreamResult = StreamResult
        self.devices = devices
        module = self

        class Device(FakeSoapyDevice):
            def __new__(cls, *args: object) -> FakeSoapyDevice:
                return cls.make(*args)

            @staticmethod
            def make(args: str | dict = "") -> FakeSoapyDevice:
                wanted = parse_args(args)
                for hardware in module.devices:
                    if all(hardware.identity().get(k) == v for k, v in wanted.items()):
                        if hardware.hang_make:
                            hardware.release.wait()
                            break
                        hardware.closed = False
                        return FakeSoapyDevice(hardware)
                raise RuntimeError("SoapySDR::Device::make() no match")

            @staticmethod
            def enumerate(*args: object) -> list:
                raise AssertionError("tests must never enumerate SoapySDR devices")

        self.Device = Device
