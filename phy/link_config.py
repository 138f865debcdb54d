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

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from phy.frame_config import FrameConfig
from phy.numerology import Numerology
from phy.receiver_config import ReceiverConfig

TABLES: dict[str, type] = {"ofdm": Numerology, "frame": FrameConfig, "receiver": ReceiverConfig}
"""The TOML tables of a link configuration and the settings each holds."""


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
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LinkConfigError(f"{path}: no such physical-layer configuration file") from None
        except tomllib.TOMLDecodeError as exc:
            raise LinkConfigError(f"{path}: not valid TOML ({exc})") from None
        unknown = sorted(set(data) - set(TABLES))
        if unknown:
            raise LinkConfigError(f"{path}: unknown table(s) {', '.join(unknown)}; expected {', '.join(TABLES)}")
        return cls(**{attribute: _settings(path, name, data.get(name, {}))
                      for attribute, name in zip(("numerology", "frame", "receiver"), TABLES, strict=True)})

    def to_dict(self) -> dict:
        """``{"ofdm": ..., "frame": ..., "receiver": ...}`` in plain JSON."""
        return {"ofdm": self.numerology.to_dict(), "frame": self.frame.to_dict(), "receiver": self.receiver.to_dict()}


def _settings(path: Path, table: str, values: object) -> object:
    """One table's settings object; unknown keys and refused values named with the file and table."""
    kind = TABLES[table]
    if not isinstance(values, dict):
        raise LinkConfigError(f"{path}: [{table}] must be a table of settings")
    allowed = [f.name for f in dataclasses.fields(kind)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise LinkConfigError(f"{path}: unknown key(s) {', '.join(unknown)} in [{table}]; "
                              f"expected some of {', '.join(allowed)}")
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise LinkConfigError(f"{path}: [{table}]: {exc}") from None
