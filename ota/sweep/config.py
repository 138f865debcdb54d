"""Sweep configuration: schemes, channels, the grid's keys and seeds, and :class:`SweepConfig`."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from models.channel import PAPER_SNRS_DB
from ota import options
from ota.baseline.chain import (
    CONFIGURATIONS,
    LOST_IMAGE_VALUE,
    PAPER_CONFIG,
    DigitalConfig,
    DigitalError,
)
from ota.baseline.code_ids import config_by_name
from ota.baseline.hevc import CHROMA
from ota.baseline.ldpc import DEFAULT_ITERATIONS, EARLY_ITERATIONS
from phy.channel import get_profile
from phy.link_config import LinkConfig

JSCC_SCHEMES = {"generative": "generative", "perceptual": "perceptual", "mse": "mse"}
"""JSCC scheme -> registered model family (``<family>-cbr<N>``)."""
DIGITAL_SCHEMES = ("bpg-ldpc", "bpg-ldpc-fixed", "bpg-capacity")
SCHEMES = (*JSCC_SCHEMES, *DIGITAL_SCHEMES)
CHANNELS = ("awgn", "ofdm")
ENVELOPE = CONFIGURATIONS
"""The envelope's candidate configurations by default (BPSK .. 256-QAM x rates 1/3 .. 5/6)."""
PAPER_CBRS = (Fraction(1, 96), Fraction(1, 48), Fraction(1, 24), Fraction(1, 12))
"""The paper's CBR sweep (at 10 dB)."""
IMAGE_METRICS = ("psnr_db", "ms_ssim", "lpips", "dists")
"""Per-image metrics of an entry (``dists`` null without its weights)."""
STORE_FILE = "store.jsonl"
RESULTS_FILE = "results.json"
FID_FOLDER = "fid_features"
STORE_VERSION = 1
PHASES = ("encode_s", "channel_code_s", "channel_s", "decode_s", "metrics_s")
"""Timed phases of an entry [s]: source/JSCC encoding, LDPC+QAM, the channel, decoding, scoring."""


class SweepError(ValueError):
    """A sweep that cannot run as asked: bad grid or options, unusable images, or a store of another configuration."""


def cbr_text(cbr: Fraction) -> str:
    """``Fraction(1, 48)`` -> ``"1/48"``."""
    return f"{cbr.numerator}/{cbr.denominator}"


def as_cbr(value: Fraction | float | str) -> Fraction:
    """A CBR as an exact fraction (``1/48``, ``"1/48"`` or 0.0208333 -> ``Fraction(1, 48)``), in (0, 1)."""
    try:
        cbr = Fraction(value).limit_denominator(10_000)
    except (ValueError, TypeError, ZeroDivisionError):
        raise SweepError(f"CBR {value!r} is not a number; expected a fraction like 1/48") from None
    if not 0 < cbr < 1:
        raise SweepError(f"CBR {value!r} must be between 0 and 1, e.g. 1/48")
    return cbr


def entry_key(image: str, scheme: str, snr_db: float, cbr: Fraction, draw: int = 0) -> str:
    """The store's key of one entry: ``image|scheme|snr|cbr``, and ``|draw<d>`` for draws after the first."""
    return f"{image}|{scheme}|{snr_db:g}|{cbr_text(cbr)}" + (f"|draw{draw}" if draw else "")


def channel_seed(seed: int, image: str, snr_db: float, cbr: Fraction, draw: int = 0) -> np.random.SeedSequence:
    """Seed of channel realisation ``draw`` of one (image, SNR, CBR), shared by every scheme."""
    return np.random.SeedSequence([seed, zlib.crc32(f"{image}|{snr_db:g}|{cbr_text(cbr)}".encode())]
                                  + ([draw] if draw else []))


def named_configs(names: tuple[str, ...]) -> tuple[DigitalConfig, ...]:
    """The digital configurations of ``names`` (:func:`ota.baseline.code_ids.config_by_name`), or SweepError."""
    try:
        return tuple(config_by_name(name) for name in names)
    except DigitalError as exc:
        raise SweepError(str(exc)) from None


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SweepConfig:
    """What to sweep and how.

    Attributes:
        data: folder of images (all of them, sorted, or the first ``limit``).
        schemes: names from :data:`SCHEMES`.
        snrs_db: channel SNRs [dB] (Es/N0 per symbol; for ``ofdm`` the emulator's SNR, see :mod:`phy.channel`).
        cbrs: channel bandwidth ratios (complex channel uses per real source dimension).
        channel: ``awgn`` (symbol level) or ``ofdm`` (the full link).
        profile: channel-emulator profile for ``ofdm`` (:data:`phy.channel.PROFILES`).
        limit: sweep only the first ``limit`` images.
        seed: seed of every channel draw.
        draws: channel realisations per (image, SNR, CBR), each its own entry (draw 0 is the one a
            single-draw sweep makes; more draws extend a store).
        configs: names of the envelope's candidates (None: all of :data:`ENVELOPE`).
        phy: the OFDM link's numerology, framing and receiver (``ofdm`` only).
        device: torch device for the models and metrics (``auto``: CUDA when present).
        lpips_weights: AlexNet features file for LPIPS (default ``$JSCC_WEIGHTS_DIR``).
        threads: torch CPU threads during the sweep (None: leave torch's setting).
    """

    data: Path
    schemes: tuple[str, ...] = SCHEMES
    snrs_db: tuple[float, ...] = PAPER_SNRS_DB
    cbrs: tuple[Fraction, ...] = (Fraction(1, 48),)
    channel: str = "awgn"
    profile: str = "awgn"
    limit: int | None = None
    seed: int = 0
    draws: int = 1
    configs: tuple[str, ...] | None = None
    phy: LinkConfig = field(default_factory=LinkConfig)
    device: str = "auto"
    lpips_weights: str | None = None
    threads: int | None = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", Path(self.data))
        object.__setattr__(self, "schemes", tuple(self.schemes))
        object.__setattr__(self, "snrs_db", tuple(float(s) for s in self.snrs_db))
        object.__setattr__(self, "cbrs", tuple(as_cbr(c) for c in self.cbrs))
        unknown = [s for s in self.schemes if s not in SCHEMES]
        if unknown or not self.schemes:
            raise SweepError(f"unknown scheme(s) {unknown}; expected some of {', '.join(SCHEMES)}")
        for name, values in (("scheme", self.schemes), ("SNR", self.snrs_db), ("CBR", self.cbrs)):
            if not values or len(set(values)) != len(values):
                raise SweepError(f"each {name} must be given once, and at least one: got {list(values)}")
        lo, hi = options.SNR_RANGE_DB
        bad = [s for s in self.snrs_db if not (math.isfinite(s) and lo <= s <= hi)]
        if bad:
            raise SweepError(f"SNRs {bad} out of range; expected {lo:g} to {hi:g} dB")
        if self.channel not in CHANNELS:
            raise SweepError(f"unknown channel {self.channel!r}; expected one of {', '.join(CHANNELS)}")
        get_profile(self.profile)
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise SweepError(f"limit must be a positive number of images, got {self.limit!r}")
        if self.configs is not None:
            if not self.configs:
                raise SweepError("the envelope needs at least one configuration")
            named_configs(self.configs)
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or self.draws < 1:
            raise SweepError(f"draws must be a positive number of channel realisations, got {self.draws!r}")
        if self.threads is not None and self.threads < 1:
            raise SweepError(f"threads must be >= 1, got {self.threads}")

    @property
    def envelope(self) -> tuple[DigitalConfig, ...]:
        """The envelope's candidate configurations."""
        return ENVELOPE if self.configs is None else named_configs(self.configs)

    def identity(self, metrics: list[str]) -> dict:
        """Everything that fixes the value of an entry (the grid and the run's speed settings do not):
        a store made under another identity is not resumed."""
        ofdm = self.channel == "ofdm"
        return {
            "store_version": STORE_VERSION,
            "data": str(self.data.resolve()),
            "channel": self.channel,
            "profile": get_profile(self.profile).to_dict() if ofdm else None,
            # the keys of the stores written before LinkConfig (its ``ofdm`` table is ``numerology`` here)
            "phy": {"numerology": self.phy.numerology.to_dict(), "frame": self.phy.frame.to_dict(),
                    "receiver": self.phy.receiver.to_dict()} if ofdm else None,
            "seed": self.seed,
            "envelope": [c.name for c in self.envelope],
            "envelope_score": "psnr_db",
            "fixed": PAPER_CONFIG.name,
            "chroma": CHROMA,
            "ldpc_iterations": DEFAULT_ITERATIONS,
            "ldpc_early_stop_iterations": EARLY_ITERATIONS,
            "lost_image_value": LOST_IMAGE_VALUE,
            "metrics": metrics,
        }
