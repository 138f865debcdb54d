"""OFDM numerology: FFT size, cyclic prefix, the subcarrier map and the sample rate.

Subcarriers are indexed as signed integers ``-fft_size/2 .. fft_size/2 - 1`` with 0 the DC bin.
The default is 802.11a-like: FFT 64, CP 16, 48 data and 4 pilot subcarriers on +-1..+-26 with
pilots at +-7 and +-21, DC and the band edges null. Larger FFT sizes keep the same occupied
fraction (26/64 of the band on each side) and the same pilot spacing of 14 subcarriers, so
the spectrum shape and the pilot density do not change with the FFT size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from phy.toml_settings import load_settings

SUPPORTED_FFT_SIZES = (64, 128, 256, 512, 1024)


def _default_pilots(fft_size: int) -> tuple[int, ...]:
    """Pilot subcarriers: +-7, +-21, +-35, ... (spacing 14) inside the occupied band."""
    edge = round(26 * fft_size / 64)
    positive = list(range(7, edge + 1, 14))
    return tuple(sorted([-p for p in positive] + positive))


@dataclass(frozen=True)
class Numerology:
    """One OFDM numerology.

    Attributes:
        fft_size: FFT length N (samples per OFDM symbol before the cyclic prefix).
        cp_len: cyclic-prefix length in samples.
        sample_rate: baseband sample rate in samples/s (subcarrier spacing = sample_rate / N).
        occupied_edge: the highest occupied subcarrier index; +-1..+-occupied_edge are used.
            ``None`` means ``round(26 * N / 64)`` (802.11a's 26 at N = 64).
        pilots: pilot subcarrier indices; ``None`` means spacing 14 from +-7 (802.11a at N = 64).
    """

    fft_size: int = 64
    cp_len: int = 16
    sample_rate: float = 2e6
    occupied_edge: int | None = None
    pilots: tuple[int, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        n = self.fft_size
        if n not in SUPPORTED_FFT_SIZES:
            raise ValueError(f"fft_size={n} is not supported; expected one of {SUPPORTED_FFT_SIZES}")
        if not 0 < self.cp_len < n:
            raise ValueError(f"cp_len={self.cp_len} must be between 1 and fft_size-1={n - 1}")
        if not self.sample_rate > 0:
            raise ValueError(f"sample_rate={self.sample_rate} must be positive (samples/s)")
        edge = round(26 * n / 64) if self.occupied_edge is None else int(self.occupied_edge)
        if not 1 < edge < n // 2:
            raise ValueError(f"occupied_edge={edge} must be between 2 and fft_size/2-1={n // 2 - 1}")
        object.__setattr__(self, "occupied_edge", edge)
        pilots = _default_pilots(n) if self.pilots is None else tuple(int(p) for p in self.pilots)
        bad = [p for p in pilots if p == 0 or abs(p) > edge]
        if bad:
            raise ValueError(f"pilots {bad} are outside the occupied subcarriers +-1..+-{edge} (DC excluded)")
        object.__setattr__(self, "pilots", pilots)

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "ofdm") -> Numerology:
        """Load from the ``[table]`` of a TOML file (keys are this dataclass's fields)."""
        return load_settings(cls, path, table, ValueError, "OFDM numerology")

    def to_dict(self) -> dict:
        """Plain-JSON form (echoed into results and captures)."""
        d = asdict(self)
        d["pilots"] = list(self.pilots)
        return d

    @cached_property
    def occupied(self) -> np.ndarray:
        """Occupied subcarrier indices (data and pilots), ascending, shape (n_occupied,)."""
        e = self.occupied_edge
        return np.array([k for k in range(-e, e + 1) if k != 0])

    @cached_property
    def data(self) -> np.ndarray:
        """Data subcarrier indices, ascending, shape (n_data,)."""
        return np.array([k for k in self.occupied if k not in set(self.pilots)])

    @cached_property
    def pilot(self) -> np.ndarray:
        """Pilot subcarrier indices, ascending, shape (n_pilot,)."""
        return np.array(sorted(self.pilots))

    @property
    def n_data(self) -> int:
        return len(self.data)

    @property
    def n_pilot(self) -> int:
        return len(self.pilot)

    @property
    def symbol_len(self) -> int:
        """Samples per OFDM symbol including the cyclic prefix."""
        return self.fft_size + self.cp_len

    @property
    def subcarrier_spacing(self) -> float:
        """Subcarrier spacing in Hz."""
        return self.sample_rate / self.fft_size

    @property
    def occupied_fraction(self) -> float:
        """Fraction of the sampled band that carries energy (for SNR definitions)."""
        return len(self.occupied) / self.fft_size

    def bins(self, indices: np.ndarray) -> np.ndarray:
        """FFT bin numbers (0..N-1) of signed subcarrier indices."""
        return np.mod(indices, self.fft_size)
