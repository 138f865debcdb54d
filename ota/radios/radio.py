"""The radio interface: one small API for every backend, and what each backend says about itself.

A radio is configured from a :class:`~ota.radios.config.RadioConfig` (sample rate, centre
frequencies, gains, analog bandwidth, buffer size, timeout and the backend's address), transmits
bursts once or cyclically, receives N samples and is closed; it is a context manager. Samples at
this interface are ``complex64`` in full-scale units, ``|x| <= 1``; each backend scales to its
converters. Settings outside what a device can do are refused with a
:class:`~ota.radios.errors.RadioSettingError` (a ``ValueError``) that names the device and its range;
hardware backends (:class:`~ota.radios.device.DeviceRadio`) give every device call a deadline.

A backend also describes itself to the command line and to :mod:`ota.radios`' registry: its
:attr:`Radio.kind` (the name of ``--radio KIND[:ADDRESS]``), the field its address sets, its own
command-line options, and how the link opens it.
"""

from __future__ import annotations

import argparse
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ota.radios.config import RadioConfig
from ota.radios.errors import RadioError
from phy.samples import finite_complex64

if TYPE_CHECKING:
    from phy.numerology import Numerology

PEAK_TOLERANCE = 1e-3  # a burst may exceed |x| = 1 by this much (float rounding); it is clipped to 1


def as_burst(burst: np.ndarray) -> np.ndarray:
    """Check a burst for transmission: complex (n,), n >= 1, finite, ``|x| <= 1``; returns complex64 (n,).

    Peaks up to ``1 + PEAK_TOLERANCE`` (float rounding of a burst normalised to full scale) are clipped
    to ``|x| = 1``; larger ones are an error, since the DAC would clip or wrap them.
    """
    x = finite_complex64(burst, "the burst")
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


class Radio(ABC):
    """One radio: ``configure``, ``transmit`` (once or cyclic), ``receive``, ``close``; a context manager.

    Subclasses implement ``_apply``, ``_transmit``, ``_stop``, ``_receive`` and ``_close``; this class
    checks the arguments and that the radio is open, so that every backend behaves the same.
    :attr:`overflows` counts the receive overflows (samples the device dropped) that the backend's library
    reports (SoapySDR's ``SOAPY_SDR_OVERFLOW``; pyadi-iio reports none, so a Pluto's stays 0), and
    :attr:`receive_gaps` says where the last :meth:`receive`'s output has them.

    A backend declares, as class attributes, what :mod:`ota.radios` needs to list and open it:

    Attributes:
        kind: its name, the ``KIND`` of ``--radio KIND[:ADDRESS]`` (a class that declares one is a backend).
        address_field: the :class:`RadioConfig` field that ``ADDRESS`` sets (see :meth:`with_address`).
        address_name: ``ADDRESS`` as the help text names it, e.g. ``"URI"``.
        address_example: an address for help and error messages, e.g. ``"ip:192.168.2.1"``.
    """

    kind: ClassVar[str]
    address_field: ClassVar[str]
    address_name: ClassVar[str]
    address_example: ClassVar[str]

    @classmethod
    def with_address(cls, config: RadioConfig, address: str) -> RadioConfig:
        """``config`` with the ``ADDRESS`` of ``KIND:ADDRESS`` set."""
        return config.replace(**{cls.address_field: address})

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        """Add this backend's own command-line options to ``parser`` (default: none)."""
        return

    @classmethod
    def apply_options(cls, config: RadioConfig, args: argparse.Namespace, *, record: bool) -> RadioConfig:
        """``config`` with this backend's options in ``args`` applied; ``record``: the command transmits
        (and a recording backend writes), rather than receives. Default: ``config`` unchanged."""
        return config

    @classmethod
    def open_for_link(cls, config: RadioConfig, *, numerology: Numerology, metadata: dict) -> Radio:
        """Open this backend for a link command: ``numerology`` is the link's, ``metadata`` what a recording
        should say about the transmission. Default: ``cls(config)``."""
        return cls(config)

    def __init__(self, config: RadioConfig, name: str) -> None:
        if not isinstance(config, RadioConfig):
            raise TypeError(f"config must be a RadioConfig; got {type(config).__name__}")
        self._config = config
        self.name = name
        self._closed = False
        self.overflows = 0
        self.receive_gaps: list[int] = []
        """Indices into the last :meth:`receive`'s samples before which the device dropped samples."""

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
        self.receive_gaps = []
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


def wait_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline`` (returns at once when it has)."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
