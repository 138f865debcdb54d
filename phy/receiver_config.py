"""The receiver's settings: equaliser, channel smoothing, detection thresholds, timing, chunking."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from phy.equalization import EQUALIZERS
from phy.frame_config import FrameConfig
from phy.toml_settings import load_settings


@dataclass(frozen=True)
class ReceiverConfig:
    """Receiver settings.

    Attributes:
        equalizer: ``"zf"`` (unbiased, default) or ``"mmse"``.
        channel_smoothing: smooth the LTF channel estimate across subcarriers (LMMSE over the
            narrowest delay window that the data support; see :mod:`phy.channel_estimation`).
        smoothing_significance: F-test threshold (standard deviations) for choosing a wider window.
        false_alarm: probability that white noise crosses the detection threshold at one evaluated
            position (one every 16 samples); sets the STF threshold.
        ltf_threshold: minimum normalised LTF cross-correlation (0..1) that confirms a detection.
        first_path_fraction: correlation power, relative to the peak, that marks the first path.
        timing_backoff: samples the FFT window starts before the first path, inside the cyclic prefix;
            ``None`` means ``max(1, cp_len // 8)``.
        track_sfo: estimate and correct the sampling-frequency offset from the pilots.
        midamble_interval: must equal the transmitter's ``FrameConfig.midamble_interval``.
        remove_dc: subtract each chunk's mean (a radio's DC offset) before detection.
        chunk_samples: samples per chunk for detection and DC removal (memory bound).
    """

    equalizer: str = "zf"
    channel_smoothing: bool = True
    smoothing_significance: float = 3.0
    false_alarm: float = 1e-5
    ltf_threshold: float = 0.1
    first_path_fraction: float = 0.25
    timing_backoff: int | None = None
    track_sfo: bool = True
    midamble_interval: int = 0
    remove_dc: bool = True
    chunk_samples: int = 1 << 20

    def __post_init__(self) -> None:
        if self.equalizer not in EQUALIZERS:
            raise ValueError(f"equalizer={self.equalizer!r} is unknown; expected one of {EQUALIZERS}")
        if not 0 < self.false_alarm < 1:
            raise ValueError(f"false_alarm={self.false_alarm} must be a probability in (0, 1)")
        for name in ("ltf_threshold", "first_path_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} must be in (0, 1]")
        if not self.smoothing_significance > 0:
            raise ValueError(f"smoothing_significance={self.smoothing_significance} must be positive")
        backoff = self.timing_backoff
        if backoff is not None and (int(backoff) != backoff or backoff < 0):
            raise ValueError(f"timing_backoff={self.timing_backoff} must be a non-negative integer or None")
        FrameConfig(midamble_interval=self.midamble_interval)
        if int(self.chunk_samples) != self.chunk_samples or self.chunk_samples < 4096:
            raise ValueError(f"chunk_samples={self.chunk_samples} must be an integer >= 4096")

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "receiver") -> ReceiverConfig:
        """Load from the ``[table]`` of a TOML file (keys are this dataclass's fields)."""
        return load_settings(cls, path, table, ValueError, "receiver configuration")

    def to_dict(self) -> dict:
        """Plain-JSON form (echoed into results)."""
        return asdict(self)
