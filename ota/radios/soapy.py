"""SoapySDR backend: any device with a SoapySDR module (a USRP through SoapyUHD, a LimeSDR, a bladeRF...).

The device is opened by its argument string (``driver=uhd,serial=...``) with ``SoapySDR.Device(args)``;
nothing is enumerated. Streams are ``SOAPY_SDR_CF32`` on one channel, full scale 1.0, the interface's
own scale. Settings are checked against what the device reports (``getSampleRateRange`` or
``listSampleRates``, ``getFrequencyRange``, ``getGainRange``, ``getBandwidthRange``) before they are set.

Receiving reads the RX stream, which runs from opening on, with ``readStream`` until N samples are in:
``SOAPY_SDR_OVERFLOW`` (the reader was too slow and the device dropped samples) is counted in
``overflows``, logged and reading goes on; ``SOAPY_SDR_TIMEOUT`` is retried until the receive's
deadline (``timeout_s + n / sample_rate``), then :class:`~ota.radios.errors.RadioTimeout`; any other error
code is a :class:`~ota.radios.errors.RadioError`. Each readStream waits at most what is left of that deadline;
one that overruns its own timeout by :data:`~ota.radios.device.GRACE_S` marks the device as hung. The RX
stream is restarted (deactivated and activated) after every configuration and before every burst, so
that stale samples buffered by the driver are dropped.

Transmitting runs on a writer thread: ``writeStream`` in chunks of the stream's MTU, looping over partial
writes and retrying timeouts. A one-shot burst carries ``SOAPY_SDR_END_BURST`` on its last chunk. SoapySDR
has no cyclic buffer, so a cyclic burst is written over and over, back to back, until the next burst or
:meth:`stop`, and is then ended by a few zeros flagged ``END_BURST``; what the driver has already queued
(its TX buffering: tens of ms for UHD) still goes out first, so a new burst or a stop takes effect that
much later. ``readStreamStatus`` is polled after every pass and underflows (the writer was late: a gap
went on air) are counted in ``underflows``.

The SoapySDR Python bindings come from the system (Debian's ``python3-soapysdr``, 0.8 or later, plus
the module for the device, e.g. ``soapysdr0.8-module-uhd``); they are imported on first use.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from types import ModuleType
from typing import Any

import numpy as np

from ota.radios.config import RadioConfig, check_range
from ota.radios.device import GRACE_S, DeviceRadio
from ota.radios.errors import RadioError, RadioSettingError, RadioTimeout

log = logging.getLogger(__name__)

END_PADDING = 64  # zeros flagged END_BURST that end a cyclic burst
MAX_STATUS_EVENTS = 64  # readStreamStatus events drained per poll at most
READ_SLICE_S = 1.0  # longest single readStream wait; the receive's deadline bounds the total


def _import_soapy() -> ModuleType:
    """The ``SoapySDR`` module, or a :class:`RadioError` saying how to install it."""
    try:
        import SoapySDR
    except ImportError as exc:
        raise RadioError(
            f"the SoapySDR backend needs the SoapySDR Python bindings ({exc}): apt-get install python3-soapysdr "
            "and the module for your device (soapysdr0.8-module-uhd for a USRP), then let the venv see them "
            "(python -m venv --system-site-packages, or a .pth file naming /usr/lib/python3/dist-packages)"
        ) from exc
    return SoapySDR


class SoapyRadio(DeviceRadio):
    """A SoapySDR device, one RX and one TX channel.

    Args:
        config: the settings; ``config.device_args`` selects the device (``driver=uhd,serial=...``).
        channel: the device channel used for RX and TX.

    Attributes:
        overflows: RX overflows seen (samples the device dropped); each also in ``receive_gaps``.
        underflows: TX underflows the device reported (gaps on air).
        timeouts: readStream timeouts that were retried.
    """

    kind = "soapy"
    address_field = "device_args"
    address_name = "DEVICE_ARGS"
    address_example = "driver=uhd"

    def __init__(self, config: RadioConfig, *, channel: int = 0) -> None:
        super().__init__(config, f"SoapySDR device '{config.device_args}'")
        if not config.device_args:
            raise RadioSettingError(
                "the SoapySDR backend needs device_args such as driver=uhd,serial=... (SoapySDRUtil --find lists "
                "devices); it does not enumerate devices"
            )
        self._soapy = _import_soapy()
        self._channel = int(channel)
        self._rx_stream: Any = None
        self._tx_stream: Any = None
        self._writer: _BurstWriter | None = None
        self.underflows = 0
        self.timeouts = 0
        self._open(
            "opening", self._soapy.Device, config.device_args,
            hint=f"check the cable or network link, that the driver's SoapySDR module is installed (SoapySDRUtil "
                 f"--info) and that SoapySDRUtil --make='{config.device_args}' opens it",
            advice=f"check that it is plugged in, that the SoapySDR module for its driver is installed (SoapySDRUtil "
                   f"--info), and the args (SoapySDRUtil --find='{config.device_args}' shows matching devices)",
        )

    def _set_up(self, config: RadioConfig) -> None:
        """Name the device by its driver and hardware, apply the settings, start both streams and the writer."""
        driver = self._call("getDriverKey", self._device.getDriverKey)
        hardware = self._call("getHardwareKey", self._device.getHardwareKey)
        self.name = f"SoapySDR {driver} device {hardware} '{config.device_args}'"
        self._worker.device = self.name
        self._apply(config)
        soapy = self._soapy
        self._rx_stream = self._call("setupStream RX", self._device.setupStream, soapy.SOAPY_SDR_RX,
                                     soapy.SOAPY_SDR_CF32, [self._channel])
        self._tx_stream = self._call("setupStream TX", self._device.setupStream, soapy.SOAPY_SDR_TX,
                                     soapy.SOAPY_SDR_CF32, [self._channel])
        mtu = int(self._call("getStreamMTU", self._device.getStreamMTU, self._tx_stream))
        self._activate(self._rx_stream, "RX")
        self._activate(self._tx_stream, "TX")
        self._writer = _BurstWriter(self, mtu)

    def _check_code(self, what: str, code: int) -> None:
        if code != 0:
            raise RadioError(f"{self.name}: {what} failed: {self._soapy.errToStr(code)} ({code})")

    def _activate(self, stream: Any, what: str) -> None:
        self._check_code(f"activateStream {what}", self._call(f"activateStream {what}", self._device.activateStream,
                                                              stream))

    def _ranges(self, getter: str, direction: int) -> list[tuple[float, float]]:
        ranges = self._call(getter, getattr(self._device, getter), direction, self._channel)
        return [(r.minimum(), r.maximum()) for r in ranges]

    def _check(self, config: RadioConfig) -> None:
        """Refuse settings outside what the device reports it can do."""
        soapy, device = self._soapy, self.name
        for direction, label in ((soapy.SOAPY_SDR_RX, "RX"), (soapy.SOAPY_SDR_TX, "TX")):
            rates = self._ranges("getSampleRateRange", direction)
            if not rates:
                listed = self._call("listSampleRates", self._device.listSampleRates, direction, self._channel)
                rates = [(r, r) for r in listed]
            check_range(config.sample_rate, rates, what=f"{label} sample rate", unit="S/s", device=device)
            freq = config.rx_freq if label == "RX" else config.tx_freq
            check_range(freq, self._ranges("getFrequencyRange", direction), what=f"{label} centre frequency",
                        unit="Hz", device=device)
            gain = config.rx_gain_db if label == "RX" else config.tx_gain_db
            if gain is not None:
                r = self._call("getGainRange", self._device.getGainRange, direction, self._channel)
                check_range(gain, [(r.minimum(), r.maximum())], what=f"{label} gain", unit="dB", device=device)
            if config.rf_bandwidth is not None:
                check_range(config.rf_bandwidth, self._ranges("getBandwidthRange", direction),
                            what=f"{label} RF bandwidth", unit="Hz", device=device,
                            note="leave rf_bandwidth out to keep the driver's choice")
        if config.gain_mode != "manual" and not self._call("hasGainMode", self._device.hasGainMode,
                                                           soapy.SOAPY_SDR_RX, self._channel):
            raise RadioSettingError(f"{device} has no automatic gain control; use gain_mode='manual'")

    def _apply(self, config: RadioConfig) -> None:
        self._check(config)
        soapy, dev, ch = self._soapy, self._device, self._channel
        for direction, label in ((soapy.SOAPY_SDR_RX, "RX"), (soapy.SOAPY_SDR_TX, "TX")):
            freq = config.rx_freq if label == "RX" else config.tx_freq
            self._call(f"setSampleRate {label}", dev.setSampleRate, direction, ch, float(config.sample_rate))
            self._call(f"setFrequency {label}", dev.setFrequency, direction, ch, float(freq))
            if config.rf_bandwidth is not None:
                self._call(f"setBandwidth {label}", dev.setBandwidth, direction, ch, float(config.rf_bandwidth))
        if self._call("hasGainMode", dev.hasGainMode, soapy.SOAPY_SDR_RX, ch):
            self._call("setGainMode RX", dev.setGainMode, soapy.SOAPY_SDR_RX, ch, config.gain_mode != "manual")
        if config.rx_gain_db is not None:
            self._call("setGain RX", dev.setGain, soapy.SOAPY_SDR_RX, ch, float(config.rx_gain_db))
        if config.tx_gain_db is not None:
            self._call("setGain TX", dev.setGain, soapy.SOAPY_SDR_TX, ch, float(config.tx_gain_db))
        if self._rx_stream is not None:
            self._restart_rx()

    def _restart_rx(self) -> None:
        """Deactivate and activate the RX stream: the driver drops what it had buffered."""
        self._check_code("deactivateStream RX", self._call("deactivateStream RX", self._device.deactivateStream,
                                                           self._rx_stream))
        self._activate(self._rx_stream, "RX")

    def _transmit(self, burst: np.ndarray, cyclic: bool) -> None:
        self._writer.wait_one_shot()
        self._restart_rx()
        self._writer.submit(burst, cyclic)

    def _stop(self) -> None:
        self._writer.stop()

    def _receive(self, n: int) -> np.ndarray:
        soapy, dev = self._soapy, self._device
        out = np.empty(n, np.complex64)
        got, overflows = 0, 0
        deadline = time.monotonic() + self.config.timeout_s + n / self.config.sample_rate
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RadioTimeout(
                    f"{self.name} delivered {got} of {n} samples within {self.config.timeout_s:g} s plus their "
                    f"duration ({self.timeouts} readStream timeouts): check the link and that the device streams"
                )
            wait = min(remaining, READ_SLICE_S)
            read = functools.partial(dev.readStream, self._rx_stream, [out[got:]], n - got, flags=0,
                                     timeoutUs=int(wait * 1e6))
            result = self._call("readStream", read, timeout_s=wait + GRACE_S)
            if result.ret > 0:
                got += result.ret
            elif result.ret == soapy.SOAPY_SDR_TIMEOUT:
                self.timeouts += 1
            elif result.ret == soapy.SOAPY_SDR_OVERFLOW:
                overflows += 1
                self.receive_gaps.append(got)
            else:
                raise RadioError(f"{self.name}: readStream failed: {soapy.errToStr(result.ret)} ({result.ret})")
        if overflows:
            self.overflows += overflows
            log.warning("%s: %d overflow(s) while receiving %d samples: the device dropped samples (reader too "
                        "slow); %d in all", self.name, overflows, n, self.overflows)
        return out

    def _settings(self) -> dict:
        soapy, dev, ch = self._soapy, self._device, self._channel
        settings = {}
        for direction, label in ((soapy.SOAPY_SDR_RX, "rx"), (soapy.SOAPY_SDR_TX, "tx")):
            for name in ("SampleRate", "Frequency", "Gain", "Bandwidth"):
                getter = getattr(dev, f"get{name}")
                settings[f"{label}_{name.lower()}"] = self._call(f"get{name}", getter, direction, ch)
        settings["rx_automatic_gain"] = self._call("getGainMode", dev.getGainMode, soapy.SOAPY_SDR_RX, ch)
        settings.update(overflows=self.overflows, underflows=self.underflows, timeouts=self.timeouts)
        return settings

    def _shut_down(self) -> None:
        """End the writer, then (when the device still answers) deactivate and close both streams."""
        if self._writer is not None:
            self._quietly(self._writer.close)
        if self._worker.hung is None:
            self._quietly(self._close_streams)

    def _close_streams(self) -> None:
        for stream, label in ((self._tx_stream, "TX"), (self._rx_stream, "RX")):
            if stream is not None:
                self._call(f"deactivateStream {label}", self._device.deactivateStream, stream)
                self._call(f"closeStream {label}", self._device.closeStream, stream)

    def _disconnect(self) -> None:
        """Unmake the device."""
        self._call("closing the device", self._device.close)


class _BurstWriter:
    """Writes bursts to a SoapyRadio's TX stream on a thread of its own (see the module docstring).

    Errors on that thread are kept and raised by the next :meth:`submit`, :meth:`stop` or :meth:`close`.
    """

    def __init__(self, radio: SoapyRadio, mtu: int) -> None:
        self._radio = radio
        self._soapy = radio._soapy
        self._mtu = max(int(mtu), 1)
        self._cond = threading.Condition()
        self._job: tuple[np.ndarray, bool, int] | None = None  # (burst, cyclic, generation)
        self._generation = 0
        self._started = 0  # generation whose first samples the device accepted
        self._writing = False
        self._closing = False
        self._error: RadioError | None = None
        self._thread = threading.Thread(target=self._run, name=f"TX writer: {radio.name}", daemon=True)
        self._thread.start()

    @property
    def _timeout_s(self) -> float:
        return self._radio.config.timeout_s

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _wait(self, predicate: Any, timeout_s: float, what: str) -> None:
        if not self._cond.wait_for(lambda: predicate() or self._error is not None, timeout=timeout_s):
            raise RadioTimeout(
                f"{self._radio.name}: {what} within {timeout_s:.3g} s: the device stopped taking samples"
            )
        self._raise_error()

    def wait_one_shot(self) -> None:
        """Wait until a one-shot burst being written has gone out (a cyclic one is left running)."""
        with self._cond:
            self._raise_error()
            job = self._job
            if job is not None and not job[1]:
                budget = self._timeout_s + job[0].size / self._radio.config.sample_rate
                self._wait(lambda: self._job is not job, budget, "the previous burst was not written")

    def submit(self, burst: np.ndarray, cyclic: bool) -> None:
        """Replace what is being sent by ``burst``; returns once the device has taken its first samples."""
        with self._cond:
            self._raise_error()
            self._generation += 1
            generation = self._generation
            self._job = (burst, cyclic, generation)
            self._cond.notify_all()
            self._wait(lambda: self._started >= generation, self._timeout_s, "the burst was not accepted")

    def stop(self) -> None:
        """End a cyclic burst (with END_BURST) and wait until the writer is idle."""
        with self._cond:
            self._raise_error()
            if self._job is not None and self._job[1]:
                self._generation += 1
                self._job = None
                self._cond.notify_all()
            self._wait(lambda: not self._writing or (self._job is not None and not self._job[1]), self._timeout_s,
                       "the cyclic burst did not end")

    def close(self) -> None:
        """Stop, let a one-shot burst finish, and end the thread."""
        try:
            self.wait_one_shot()
            self.stop()
        finally:
            with self._cond:
                self._closing = True
                self._generation += 1
                self._cond.notify_all()
            self._thread.join(self._timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closing)
                if self._job is None:
                    return
                burst, cyclic, generation = self._job
                self._writing = True
            try:
                self._write(burst, cyclic, generation)
            except RadioError as exc:
                with self._cond:
                    self._error = exc
            with self._cond:
                self._writing = False
                if self._job is not None and self._job[2] == generation:
                    self._job = None
                self._cond.notify_all()

    def _write(self, burst: np.ndarray, cyclic: bool, generation: int) -> None:
        """Write one burst (cyclic: until the generation changes); ends it with END_BURST."""
        while True:
            position = 0
            while position < burst.size:
                if self._generation != generation:
                    self._write_chunk(np.zeros(END_PADDING, np.complex64), end=True, generation=None)
                    return
                end = min(position + self._mtu, burst.size)
                position += self._write_chunk(burst[position:end], end=end == burst.size and not cyclic,
                                              generation=generation)
            self._poll_status()
            if not cyclic:
                return

    def _write_chunk(self, chunk: np.ndarray, *, end: bool, generation: int | None) -> int:
        """Write ``chunk`` (complex64 (m,)) completely and return m, looping over partial writes.

        Timeouts are retried for ``timeout_s`` without progress. Returns 0 when the cyclic burst of
        ``generation`` was replaced before the device took any of the chunk.
        """
        soapy, radio = self._soapy, self._radio
        written = 0
        deadline = time.monotonic() + self._timeout_s
        while written < chunk.size:
            if generation is not None and self._generation != generation and written == 0 and not end:
                return 0
            flags = soapy.SOAPY_SDR_END_BURST if end else 0
            result = radio._device.writeStream(radio._tx_stream, [chunk[written:]], chunk.size - written,
                                               flags=flags, timeNs=0, timeoutUs=int(0.2 * self._timeout_s * 1e6))
            if result.ret > 0:
                written += result.ret
                deadline = time.monotonic() + self._timeout_s
                if generation is not None and self._started < generation:
                    with self._cond:
                        self._started = generation
                        self._cond.notify_all()
            elif result.ret != soapy.SOAPY_SDR_TIMEOUT:
                raise RadioError(f"{radio.name}: writeStream failed: {soapy.errToStr(result.ret)} ({result.ret})")
            elif time.monotonic() > deadline:
                raise RadioTimeout(f"{radio.name} took no TX samples for {self._timeout_s:g} s (writeStream timed out)")
        return written

    def _poll_status(self) -> None:
        """Drain the TX stream's status events without waiting; count underflows."""
        soapy, radio = self._soapy, self._radio
        for _ in range(MAX_STATUS_EVENTS):
            status = radio._device.readStreamStatus(radio._tx_stream, timeoutUs=0)
            if status.ret in (soapy.SOAPY_SDR_TIMEOUT, soapy.SOAPY_SDR_NOT_SUPPORTED):
                return
            if status.ret == soapy.SOAPY_SDR_UNDERFLOW:
                radio.underflows += 1
                log.warning("%s: TX underflow (a gap went on air); %d in all", radio.name, radio.underflows)
