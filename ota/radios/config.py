"""Settings of a radio (:class:`RadioConfig`, one dataclass for every backend, loadable from TOML) and the
check of a setting against the ranges a device can do (:func:`check_range`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ota.radios.errors import RadioSettingError
from phy.toml_settings import load_settings

GAIN_MODES = ("manual", "slow_attack", "fast_attack")


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
        profile: channel profile name of the emulator (``phy.channel.PROFILES``).
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
        return load_settings(cls, path, table, RadioSettingError, "radio settings")

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
