"""How the transmitter cuts a payload into frames and scales the waveform."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from phy.toml_settings import load_settings


@dataclass(frozen=True)
class FrameConfig:
    """Framing and waveform-level settings.

    Attributes:
        max_payload_symbols: payload OFDM symbols per frame at most (midambles not counted); a longer
            payload is split into several frames, each decodable alone.
        midamble_interval: an LTF (guard + two copies) after every this many payload symbols, for
            channels that change during a frame; 0 means none.
        target_rms: RMS amplitude of every frame's samples (the gaps are zeros), in DAC units where
            full scale is 1.
        peak_limit: magnitudes above this are clipped (the DAC's range); ``None`` means no clipping.
        inter_frame_gap: zero samples after every frame, the last one included, so that a burst
            repeated cyclically by a radio keeps the same spacing.
    """

    max_payload_symbols: int = 256
    midamble_interval: int = 0
    target_rms: float = 0.25
    peak_limit: float | None = 1.0
    inter_frame_gap: int = 400

    def __post_init__(self) -> None:
        if int(self.max_payload_symbols) != self.max_payload_symbols or self.max_payload_symbols < 1:
            raise ValueError(f"max_payload_symbols={self.max_payload_symbols} must be a positive integer")
        if int(self.midamble_interval) != self.midamble_interval or self.midamble_interval < 0:
            raise ValueError(f"midamble_interval={self.midamble_interval} must be a non-negative integer (0 = none)")
        if not (self.target_rms > 0 and self.target_rms < float("inf")):
            raise ValueError(f"target_rms={self.target_rms} must be a positive finite amplitude")
        if self.peak_limit is not None and not self.peak_limit > 0:
            raise ValueError(f"peak_limit={self.peak_limit} must be positive or None (no clipping)")
        if int(self.inter_frame_gap) != self.inter_frame_gap or self.inter_frame_gap < 0:
            raise ValueError(f"inter_frame_gap={self.inter_frame_gap} must be a non-negative number of samples")

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "frame") -> FrameConfig:
        """Load from the ``[table]`` of a TOML file (keys are this dataclass's fields)."""
        return load_settings(cls, path, table, ValueError, "frame configuration")

    def to_dict(self) -> dict:
        """Plain-JSON form (echoed into results and captures)."""
        return asdict(self)
