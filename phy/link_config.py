"""One configuration of the physical layer: numerology, framing and receiver, from one TOML file.

A ``--phy-config FILE.toml`` holds up to three tables, each optional (absent: the defaults)::

    [ofdm]          # phy.numerology.Numerology: fft_size, cp_len, sample_rate, occupied_edge, pilots
    fft_size = 64
    [frame]         # phy.frame_config.FrameConfig: max_payload_symbols, midamble_interval, ...
    midamble_interval = 8
    [receiver]      # phy.receiver_config.ReceiverConfig: equalizer, channel_smoothing, track_sfo, ...
    equalizer = "mmse"

:meth:`LinkConfig.to_dict` gives the same three tables (what result files echo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from phy.frame_config import FrameConfig
from phy.numerology import Numerology
from phy.receiver_config import ReceiverConfig
from phy.toml_settings import build, read_toml

TABLES: dict[str, type] = {"ofdm": Numerology, "frame": FrameConfig, "receiver": ReceiverConfig}
"""The TOML tables of a link configuration and the settings each holds, in the order of :class:`LinkConfig`'s fields."""


class LinkConfigError(ValueError):
    """A link configuration file that is missing, not TOML, or has unknown tables, keys or values."""


@dataclass(frozen=True)
class LinkConfig:
    """The numerology, the framing and the receiver settings of a link."""

    numerology: Numerology = field(default_factory=Numerology)
    frame: FrameConfig = field(default_factory=FrameConfig)
    receiver: ReceiverConfig = field(default_factory=ReceiverConfig)

    @classmethod
    def from_toml(cls, path: str | Path) -> LinkConfig:
        """Read ``[ofdm]``, ``[frame]`` and ``[receiver]`` (each optional) from a TOML file."""
        data = read_toml(path, LinkConfigError, "physical-layer configuration")
        unknown = sorted(set(data) - set(TABLES))
        if unknown:
            raise LinkConfigError(f"{path}: unknown table(s) {', '.join(unknown)}; expected {', '.join(TABLES)}")
        return cls(*(build(kind, data.get(table, {}), path, table, LinkConfigError) for table, kind in TABLES.items()))

    def to_dict(self) -> dict:
        """``{"ofdm": ..., "frame": ..., "receiver": ...}`` in plain JSON (a ``--phy-config`` file's tables)."""
        return {table: settings.to_dict() for table, settings in self._tables().items()}

    def non_default_tables(self) -> list[str]:
        """The tables whose settings differ from the defaults, in :data:`TABLES` order."""
        return [table for table, settings in self._tables().items() if settings != TABLES[table]()]

    def _tables(self) -> dict[str, object]:
        """Table name -> its settings object."""
        return dict(zip(TABLES, (self.numerology, self.frame, self.receiver), strict=True))
