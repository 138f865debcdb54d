"""The digital configurations a QAM frame header can name, and the header fields that name them.

A QAM payload's frame header carries ``model_id`` = bits per symbol and ``aux`` = the configuration's code
id, its index + 1 in :data:`CODE_IDS` (0 is never a configuration); the receiver decodes with the
configuration it reads there. The order of :data:`CODE_IDS` is part of the air format: append, never reorder.
"""

from __future__ import annotations

from ota.baseline.chain import CONFIGURATIONS, PAPER_CONFIG, DigitalConfig, DigitalError

CODE_IDS: tuple[DigitalConfig, ...] = (*CONFIGURATIONS, PAPER_CONFIG)
"""Configurations a QAM frame header can name: ``aux`` = index + 1."""


def config_by_name(name: str) -> DigitalConfig:
    """A configuration of :data:`CODE_IDS` by name (e.g. ``16qam-1/2``).

    Raises:
        DigitalError: no configuration has that name.
    """
    for config in CODE_IDS:
        if config.name == name:
            return config
    raise DigitalError(f"unknown digital configuration {name!r}; expected some of {[c.name for c in CODE_IDS]}")


def code_id(config: DigitalConfig) -> int:
    """Header ``aux`` of a QAM payload sent with ``config`` (index + 1 in :data:`CODE_IDS`)."""
    return CODE_IDS.index(config) + 1


def config_from_header(bits_per_symbol: int, aux: int) -> DigitalConfig | None:
    """The configuration a QAM header names (None when the id is unknown or disagrees with the QAM order)."""
    if not 1 <= aux <= len(CODE_IDS) or CODE_IDS[aux - 1].bits_per_symbol != bits_per_symbol:
        return None
    return CODE_IDS[aux - 1]
