"""The radio interface: one small API for every backend (PlutoSDR, SoapySDR, SigMF capture, emulator).

A radio is configured from a :class:`RadioConfig` (sample rate, centre frequencies, gains, analog
bandwidth, buffer size, timeout and the backend's address), transmits bursts once or cyclically,
receives N samples and is closed; it is a context manager. Samples at this interface are
``complex64`` in full-scale units, ``|x| <= 1``; each backend scales to its converters.

Every call that touches a device has a deadline: hardware backends run the device's calls on one
worker thread (:class:`DeadlineWorker`) and give up with a :class:`RadioTimeout` naming the device
and what to check when it does not answer in time. Settings outside what a device can do are refused
with a :class:`RadioSettingError` (a ``ValueError``) that names the device and its range.

Backends are opened by name with :func:`open_radio` (``pluto``, ``soapy``, ``capture``, ``emulator``)
or from a one-string spec with :func:`parse_radio_spec` (``pluto:ip:192.168.2.1``,
``soapy:driver=uhd,serial=...``, ``capture:captures/x.sigmf-meta``, ``emulator:tdl-a``).
"""

from __future__ import annotations

import concurrent.futures
import importlib
import math
import queue
import threading
import time
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

GAIN_MODES = ("manual", "slow_attack", "fast_attack")
RADIO_KINDS = {
    "pluto": "ota.pluto:PlutoRadio",
    "soapy": "ota.soapy:SoapyRadio",
    "capture": "ota.capture_radio:CaptureRadio",
    "emulator": "ota.emulator_radio:EmulatorRadio",
}
PEAK_TOLERANCE = 1e-3  # a burst may exceed |x| = 1 by this much (float rounding); it is clipped to 1
GRACE_S = 0.1  # a device call's deadline exceeds the driver's own timeout by this much, so the driver reports first


class RadioError(RuntimeError):
    """A radio that cannot be opened, refuses a call, stops answering, or is used after close."""


class RadioSettingError(RadioError, ValueError):
    """A setting outside what the radio (or the configuration) allows."""


class RadioTimeout(RadioError):
    """A device that did not answer within its deadline."""


@dataclass(frozen=True)
class RadioConfig:
    """Settings of one radio, for every backend (each uses the fields that apply to it).

    Attributes:
        sample_rate: baseband sample rate of TX and RX in samples/s.
        center_freq: RF centre frequency of TX and RX in Hz.
        tx_center_freq, rx_center_freq: separate TX / RX centre frequencies in Hz (None: ``center_freq``).
        rf_bandwidth: analog filter bandwidth of TX and RX in Hz (None: the sample rate for Pluto,
            the driver's choice for SoapySDR).
        tx_gain_db: TX gain in dB (None: leave the device's). PlutoSDR: minus the attenuation,
            -89.75..0; SoapySDR: the device's overall TX gain (its ``getGainRange``).
        rx_gain_db: RX gain in dB for ``gain_mode="manual"`` (None: leave the device's).
        gain_mode: ``"manual"``, ``"slow_attack"`` or ``"fast_attack"`` (the AD936x AGC modes;
            SoapySDR has one automatic mode that both select).
        rx_buffer_size: samples per device RX buffer (Pluto ``rx_buffer_size``).
        timeout_s: deadline in s for opening the radio and for each device call; a receive of n
            samples may take ``timeout_s + n / sample_rate``.
        uri: PlutoSDR IIO context URI (``ip:192.168.2.1``, ``usb:1.2.5``).
        device_args: SoapySDR device arguments (``driver=uhd,serial=...``); never empty (no discovery).
        capture_path: SigMF capture that the capture radio replays as its received stream.
        record_path: SigMF capture that the capture radio writes every transmitted burst to.
        profile: channel profile name of the emulator (``phy.channel_profile.PROFILES``).
        snr_db: SNR of the emulator in dB (the channel emulator's definition).
        seed: seed of the emulator's random generator.
    """

    sample_rate: float = 2e6
    center_freq: float = 915e6
    tx_center_freq: float | None = None
    rx_center_freq: float | None = None
    rf_bandwidth: float | None = None
    tx_gain_db: float | None = None
    rx_gain_db: float | None = None
    gain_mode: str = "manual"
    rx_buffer_size: int = 16384
    timeout_s: float = 3.0
    uri: str = "ip:192.168.2.1"
    device_args: str = ""
    capture_path: str | None = None
    record_path: str | None = None
    profile: str = "awgn"
    snr_db: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        def number(value: object) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

        for name in ("sample_rate", "center_freq", "tx_center_freq", "rx_center_freq", "rf_bandwidth", "timeout_s"):
            value = getattr(self, name)
            optional = name in ("tx_center_freq", "rx_center_freq", "rf_bandwidth")
            if not (value is None and optional) and not (number(value) and value > 0):
                raise RadioSettingError(f"radio setting {name}={value!r} must be a positive number")
        for name in ("tx_gain_db", "rx_gain_db", "snr_db"):
            value = getattr(self, name)
            if not (value is None and name != "snr_db") and not number(value):
                raise RadioSettingError(f"radio setting {name}={value!r} must be a finite number of dB")
        if self.gain_mode not in GAIN_MODES:
            raise RadioSettingError(f"gain_mode={self.gain_mode!r} is not known; expected one of {GAIN_MODES}")
        if self.gain_mode != "manual" and self.rx_gain_db is not None:
            raise RadioSettingError(
                f"rx_gain_db={self.rx_gain_db} applies only with gain_mode='manual' (the AGC sets the gain in "
                f"{self.gain_mode!r}); leave rx_gain_db out or set gain_mode='manual'"
            )
        for name, low in (("rx_buffer_size", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise RadioSettingError(f"radio setting {name}={value!r} must be an integer >= {low}")
        for name in ("uri", "device_args", "profile"):
            if not isinstance(getattr(self, name), str):
                raise RadioSettingError(f"radio setting {name}={getattr(self, name)!r} must be a string")
        for name in ("capture_path", "record_path"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
            elif value is not None and not isinstance(value, str):
                raise RadioSettingError(f"radio setting {name}={value!r} must be a path")

    @property
    def tx_freq(self) -> float:
        """TX centre frequency in Hz."""
        return self.center_freq if self.tx_center_freq is None else self.tx_center_freq

    @property
    def rx_freq(self) -> float:
        """RX centre frequency in Hz."""
        return self.center_freq if self.rx_center_freq is None else self.rx_center_freq

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "radio") -> RadioConfig:
        """Load from the ``[table]`` of a TOML file (keys are this dataclass's fields; paths as written)."""
        with open(path, "rb") as f:
            data = tomllib.load(f)
        if table not in data:
            raise RadioSettingError(f"{path}: no [{table}] table; expected the radio settings there")
        values = dict(data[table])
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RadioSettingError(f"{path} [{table}]: unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain-JSON form (echoed into results and captures)."""
        return asdict(self)

    def replace(self, **changes: Any) -> RadioConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def format_quantity(value: float, unit: str) -> str:
    """``2e6, "S/s"`` -> ``"2 MS/s"``: a value with an SI prefix (k, M, G) for readable messages."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.6g} {prefix}{unit}"
    return f"{value:.6g} {unit}"


def check_range(
    value: float, ranges: Sequence[tuple[float, float]], *, what: str, unit: str, device: str, note: str = ""
) -> None:
    """Raise :class:`RadioSettingError` unless ``low <= value <= high`` for one ``(low, high)`` of ``ranges``.

    The message reads ``"<what> <value> is outside what <device> can do (<low>..<high>, ...)"`` plus ``note``.
    """
    if any(low <= value <= high for low, high in ranges):
        return
    text = ", ".join(
        format_quantity(low, unit) if low == high else f"{format_quantity(low, unit)}..{format_quantity(high, unit)}"
        for low, high in ranges
    )
    raise RadioSettingError(
        f"{what} {format_quantity(value, unit)} is outside what {device} can do ({text or 'no range reported'})"
        + (f"; {note}" if note else "")
    )


def as_burst(burst: np.ndarray) -> np.ndarray:
    """Check a burst for transmission: complex (n,), n >= 1, finite, ``|x| <= 1``; returns complex64 (n,).

    Peaks up to ``1 + PEAK_TOLERANCE`` (float rounding of a burst normalised to full scale) are clipped
    to ``|x| = 1``; larger ones are an error, since the DAC would clip or wrap them.
    """
    x = np.asarray(burst)
    if x.ndim != 1 or x.size == 0 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"a burst must be a non-empty 1-D complex array; got {x.dtype} shape {x.shape}")
    x = x.astype(np.complex64)
    if not np.isfinite(x.view(np.float32)).all():
        raise ValueError("the burst contains NaN or infinity; expected finite complex samples")
    magnitude = np.abs(x)
    peak = float(magnitude.max())
    if peak > 1 + PEAK_TOLERANCE:
        raise ValueError(
            f"the burst's peak |x| = {peak:.4g} exceeds full scale 1.0; scale it to |x| <= 1 "
            "(the transmitter's peak limit) before sending"
        )
    if peak > 1:
        x = np.where(magnitude > 1, x / np.maximum(magnitude, 1), x).astype(np.complex64)
    return x


class DeadlineWorker:
    """Runs one device's calls on a single daemon thread so that each call has a deadline.

    A call that does not return in time raises :class:`RadioTimeout` (``"<device> did not answer within
    T s (<what>): <hint>"``) and leaves the worker *hung*: the stuck call cannot be cancelled, so every
    later call fails at once with a :class:`RadioError` saying so. Exceptions raised by the call
    itself propagate unchanged.

    Args:
        device: the device as named in messages, e.g. ``"PlutoSDR at ip:192.168.2.1"``.
        hint: what to check when it does not answer.
    """

    def __init__(self, device: str, hint: str) -> None:
        self.device = device
        self.hint = hint
        self.hung: str | None = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"radio worker: {device}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as exc:  # handed to the caller's thread
                    future.set_exception(exc)

    def call(self, what: str, timeout_s: float, function: Callable, *args: Any) -> Any:
        """``function(*args)`` on the worker thread, waiting at most ``timeout_s`` seconds for it."""
        if self.hung is not None:
            raise RadioError(
                f"{self.device} stopped answering earlier ({self.hung}); close it and open it again ({self.hint})"
            )
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((function, args, future))
        try:
            return future.result(timeout=max(timeout_s, 0.0))
        except concurrent.futures.TimeoutError:
            if future.done():  # the call itself raised a TimeoutError (OSError ETIMEDOUT) or just finished
                return future.result()
            self.hung = f"{what} did not return within {timeout_s:.3g} s"
            raise RadioTimeout(
                f"{self.device} did not answer within {timeout_s:.3g} s ({what}): {self.hint}"
            ) from None

    def stop(self) -> None:
        """Let the thread end after the calls queued so far (a hung thread stays until its call returns)."""
        self._jobs.put(None)


class Radio(ABC):
    """One radio: ``configure``, ``transmit`` (once or cyclic), ``receive``, ``close``; a context manager.

    Subclasses implement ``_apply``, ``_transmit``, ``_stop``, ``_receive`` and ``_close``; this class
    checks the arguments and that the radio is open, so that every backend behaves the same.
    :attr:`overflows` counts the receive overflows (samples the device dropped) that the backend's library
    reports (SoapySDR's ``SOAPY_SDR_OVERFLOW``; pyadi-iio reports none, so a Pluto's stays 0).
    """

    kind: ClassVar[str]

    def __init__(self, config: RadioConfig, name: str) -> None:
        if not isinstance(config, RadioConfig):
            raise TypeError(f"config must be a RadioConfig; got {type(config).__name__}")
        self._config = config
        self.name = name
        self._closed = False
        self.overflows = 0

    @property
    def config(self) -> RadioConfig:
        """The settings in force."""
        return self._config

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RadioError(f"{self.name} is closed; open a new radio to use it again")

    def configure(self, config: RadioConfig) -> None:
        """Apply new settings (validated against the device first; on error the old ones stay in force)."""
        self._check_open()
        if not isinstance(config, RadioConfig):
            raise TypeError(f"config must be a RadioConfig; got {type(config).__name__}")
        self._apply(config)
        self._config = config

    def transmit(self, burst: np.ndarray, *, cyclic: bool = False) -> None:
        """Send ``burst`` (complex (n,), ``|x| <= 1``) once, or repeat it until the next burst or :meth:`stop`.

        Returns once the burst is handed to the device; a one-shot burst goes out in the background
        and the next :meth:`transmit` waits for it. A new burst replaces a cyclic one (once the samples a
        driver has already queued have gone out).
        """
        self._check_open()
        self._transmit(as_burst(burst), bool(cyclic))

    def stop(self) -> None:
        """Stop a cyclic burst (nothing happens when none is running)."""
        self._check_open()
        self._stop()

    def receive(self, n: int) -> np.ndarray:
        """The next ``n`` received samples, complex64 (n,) in full-scale units.

        Gives up with :class:`RadioTimeout` after about ``config.timeout_s + n / config.sample_rate``
        seconds (hardware backends: plus :data:`GRACE_S`, and a Pluto counts whole RX buffers).
        """
        self._check_open()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"receive(n): n={n!r} must be a positive integer number of samples")
        samples = self._receive(int(n))
        return np.asarray(samples, dtype=np.complex64)

    def close(self) -> None:
        """Stop transmitting and release the device; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._close()

    def describe(self) -> dict:
        """Plain-JSON description for results and captures: kind, device, config and the device's settings."""
        self._check_open()
        return {"kind": self.kind, "device": self.name, "config": self.config.to_dict(), "settings": self._settings()}

    def __enter__(self) -> Radio:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}{', closed' if self._closed else ''})"

    def _settings(self) -> dict:
        """Settings read back from the device (backends that have one override this)."""
        return {}

    @abstractmethod
    def _apply(self, config: RadioConfig) -> None: ...

    @abstractmethod
    def _transmit(self, burst: np.ndarray, cyclic: bool) -> None: ...

    @abstractmethod
    def _stop(self) -> None: ...

    @abstractmethod
    def _receive(self, n: int) -> np.ndarray: ...

    @abstractmethod
    def _close(self) -> None: ...


def open_radio(kind: str, config: RadioConfig | None = None, **options: Any) -> Radio:
    """Open a radio backend by name (``pluto``, ``soapy``, ``capture``, ``emulator``).

    ``options`` are the backend's keyword arguments (e.g. ``loop=True`` for ``capture``).
    """
    if kind not in RADIO_KINDS:
        raise RadioSettingError(f"unknown radio kind {kind!r}; expected one of {sorted(RADIO_KINDS)}")
    module_name, class_name = RADIO_KINDS[kind].split(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    return backend(config or RadioConfig(), **options)


def parse_radio_spec(spec: str, config: RadioConfig | None = None) -> tuple[str, RadioConfig]:
    """``"kind:address"`` -> ``(kind, config with the address set)``.

    ``pluto:ip:192.168.2.1`` sets ``uri``; ``soapy:driver=uhd`` sets ``device_args``;
    ``capture:path`` sets ``capture_path``; ``emulator:tdl-a`` sets ``profile``. A bare kind keeps
    ``config``'s address.
    """
    config = config or RadioConfig()
    kind, _, address = spec.partition(":")
    if kind not in RADIO_KINDS:
        raise RadioSettingError(
            f"radio {spec!r}: unknown kind {kind!r}; expected one of {sorted(RADIO_KINDS)} "
            "as in pluto:ip:192.168.2.1, soapy:driver=uhd, capture:path.sigmf-meta or emulator:awgn"
        )
    if not address:
        return kind, config
    field_name = {"pluto": "uri", "soapy": "device_args", "capture": "capture_path", "emulator": "profile"}[kind]
    return kind, config.replace(**{field_name: address})


def wait_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline`` (returns at once when it has)."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
