"""The radios' error types: every failure of a radio is a :class:`RadioError`."""

from __future__ import annotations


class RadioError(RuntimeError):
    """A radio that cannot be opened, refuses a call, stops answering, or is used after close."""


class RadioSettingError(RadioError, ValueError):
    """A setting outside what the radio (or the configuration) allows."""


class RadioTimeout(RadioError):
    """A device that did not answer within its deadline."""
