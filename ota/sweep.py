"""The paper's comparison on one link: generative, perceptual and MSE deep JSCC vs "BPG + 5G LDPC + QAM"
vs "BPG + capacity".

Grid: every image x scheme x SNR x CBR. An image of H x W pixels gets ``k = round(CBR * 3 * H * W)``
channel symbols (:func:`models.symbols.n_symbols`) in every scheme:

- ``generative``, ``perceptual``, ``mse``: the registered model ``<family>-cbr<N>`` of that CBR
  (``N = 1/CBR``) encodes the image (conditioned on the SNR), the channel carries the symbols, the
  generator decodes the soft symbols with their noise variance and erasures; the output is quantised to
  8 bits before scoring (the PNG it would be). A model whose weights are not shipped is skipped at that
  CBR, with a note.
- ``bpg-ldpc``: the envelope of the (modulation x code rate) configurations (:data:`ENVELOPE`, or a subset):
  among the configurations whose spectral efficiency is within the AWGN capacity at the SNR, the one whose
  image, sent over the sweep's channel, scores the highest PSNR is kept (ties: the lower spectral
  efficiency), as :func:`ota.digital_chain.envelope_best` does over AWGN; here the channel is the
  sweep's own (symbol AWGN or the OFDM link), every candidate meets the SAME channel realisation, each
  phase is timed, and a candidate that could not win even error-free is not simulated
  (:func:`run_envelope`).
- ``bpg-ldpc-fixed``: the paper's fixed configuration :data:`ota.digital_chain.PAPER_CONFIG`
  (16-QAM, rate 2/3, n = 6144), its own curve.
- ``bpg-capacity``: HEVC at the AWGN capacity's bits, delivered without error
  (:func:`ota.digital_chain.capacity_bound`; no channel simulation, the nominal SNR).

A digital image is lost when a transport-block CRC fails (or nothing fitted the budget, or no frame
arrived); it is scored as :func:`ota.digital_chain.lost_image` (mid-grey) and counted as lost.

Channels (``channel``):

- ``awgn``: symbol-level complex AWGN at Es/N0 = SNR (:func:`ota.digital_chain.awgn`); the receiver knows
  the noise variance; there is no header, the receiver is told the image size and configuration.
- ``ofdm``: every scheme's symbols go through the same OFDM link: the symbol interleaver
  (:mod:`phy.symbol_interleaver`, as :meth:`ota.link.Link.frame_symbols` does for JSCC), OFDM frames
  (:meth:`~ota.link.Link.transmit_payload`, kind JSCC or QAM, image size and model/configuration in the
  header), :class:`phy.channel.ChannelEmulator` with the named profile, the receiver, reassembly,
  de-interleaving, and the receiver's per-symbol noise variance into the generator or the soft demapper.
  A QAM payload's header carries ``model_id`` = bits per symbol and ``aux`` = the configuration's
  code id (index + 1 in :data:`CODE_IDS`); the receiver decodes with the configuration it reads there.

Randomness: the channel of one (image, SNR, CBR) is drawn from ``SeedSequence([seed, crc32(key)])``
(``[seed, crc32(key), d]`` for its draw ``d >= 1`` when ``draws`` asks for several realisations), the
same for every scheme and every envelope candidate (common random numbers: the schemes meet the same
noise, fading and impairments; every scheme sends exactly ``k`` symbols, so the bursts have the same length).
An entry does not depend on the order in which entries are computed, so a resumed sweep equals a fresh one.

Resumable store: ``OUT/store.jsonl``, a first line with the configuration that fixes every entry's value
(:meth:`SweepConfig.identity`), then one line per finished (image, scheme, SNR, CBR), appended and flushed
as it completes. A run skips the entries already there; a store made with another configuration is refused
(:class:`SweepError` says what differs). The grid (schemes, SNRs, CBRs, images) is not part of the
configuration: the paper's SNR sweep and CBR sweep can share one folder. ``OUT/results.json`` is written
from the whole store at the end of a run (entries, per-point means and 95 % confidence intervals, notes).

Metrics per image: PSNR, MS-SSIM (images of at least 161 x 161 pixels), LPIPS, and DISTS when its weights
exist (else null, with a note). FID, a property of sets, is computed per point over the images when the
Inception weights exist (from per-entry feature files in ``OUT/fid_features``), else null with a note.

Threads: the sweep sets ``torch.set_num_threads(threads)`` (default 1) while it runs: Sionna's LDPC
decoder is about 50x slower with 2 threads on a 2-core machine, and the LDPC decoding dominates.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from models.channel import PAPER_SNRS_DB
from models.checkpoint import weights_sha256
from models.fid import FEATURE_DIM, FID, frechet_distance
from models.image_io import list_images, load_image
from models.json_file import write_json
from models.metrics import DISTS, LPIPS, MS_SSIM_MIN_SIZE, compute_metrics
from models.pretrained_weights import MissingWeightsError
from models.progress import Progress
from models.registry import DEFAULT_MODEL, available_models
from models.symbols import n_symbols
from ota import options
from ota.digital_chain import (
    CONFIGURATIONS,
    LOST_IMAGE_VALUE,
    PAPER_CONFIG,
    DigitalConfig,
    DigitalError,
    DigitalRx,
    DigitalScheme,
    awgn,
    capacity_bound,
    lost_image,
    psnr_score,
)
from ota.hevc import CHROMA, QualityLadder, decode
from ota.ldpc import DEFAULT_ITERATIONS, EARLY_ITERATIONS
from ota.link import Link, model_id, resolve_device
from phy.channel import ChannelEmulator
from phy.channel_profile import ChannelProfile, get_profile
from phy.frame_config import FrameConfig
from phy.header import PayloadKind
from phy.numerology import Numerology
from phy.receiver import ReceiverConfig

JSCC_SCHEMES = {"generative": "generative", "perceptual": "perceptual", "mse": "mse"}
"""JSCC scheme -> registered model family (``<family>-cbr<N>``)."""
DIGITAL_SCHEMES = ("bpg-ldpc", "bpg-ldpc-fixed", "bpg-capacity")
SCHEMES = (*JSCC_SCHEMES, *DIGITAL_SCHEMES)
CHANNELS = ("awgn", "ofdm")
ENVELOPE = CONFIGURATIONS
"""The envelope's candidate configurations by default (BPSK .. 256-QAM x rates 1/3 .. 5/6)."""
CODE_IDS: tuple[DigitalConfig, ...] = (*CONFIGURATIONS, PAPER_CONFIG)
"""Configurations a QAM frame header can name: ``aux`` = index + 1."""
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


def config_by_name(name: str) -> DigitalConfig:
    """A configuration of :data:`CODE_IDS` by name (e.g. ``16qam-1/2``)."""
    for config in CODE_IDS:
        if config.name == name:
            return config
    raise SweepError(f"unknown digital configuration {name!r}; expected some of {[c.name for c in CODE_IDS]}")


def code_id(config: DigitalConfig) -> int:
    """Header ``aux`` of a QAM payload sent with ``config`` (index + 1 in :data:`CODE_IDS`)."""
    return CODE_IDS.index(config) + 1


def config_from_header(bits_per_symbol: int, aux: int) -> DigitalConfig | None:
    """The configuration a QAM header names (None when the id is unknown or disagrees with the QAM order)."""
    if not 1 <= aux <= len(CODE_IDS) or CODE_IDS[aux - 1].bits_per_symbol != bits_per_symbol:
        return None
    return CODE_IDS[aux - 1]


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
        profile: channel-emulator profile for ``ofdm`` (:data:`phy.channel_profile.PROFILES`).
        limit: sweep only the first ``limit`` images.
        seed: seed of every channel draw.
        draws: channel realisations per (image, SNR, CBR), each its own entry (draw 0 is the one a
            single-draw sweep makes; more draws extend a store).
        configs: names of the envelope's candidates (None: all of :data:`ENVELOPE`).
        numerology, frame_config, receiver_config: the OFDM link (``ofdm`` only).
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
    numerology: Numerology = field(default_factory=Numerology)
    frame_config: FrameConfig = field(default_factory=FrameConfig)
    receiver_config: ReceiverConfig = field(default_factory=ReceiverConfig)
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
            for name in self.configs:
                config_by_name(name)
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or self.draws < 1:
            raise SweepError(f"draws must be a positive number of channel realisations, got {self.draws!r}")
        if self.threads is not None and self.threads < 1:
            raise SweepError(f"threads must be >= 1, got {self.threads}")

    @property
    def envelope(self) -> tuple[DigitalConfig, ...]:
        """The envelope's candidate configurations."""
        return ENVELOPE if self.configs is None else tuple(config_by_name(n) for n in self.configs)

    def identity(self, metrics: list[str]) -> dict:
        """Everything that fixes the value of an entry (the grid and the run's speed settings do not):
        a store made under another identity is not resumed."""
        ofdm = self.channel == "ofdm"
        return {
            "store_version": STORE_VERSION,
            "data": str(self.data.resolve()),
            "channel": self.channel,
            "profile": get_profile(self.profile).to_dict() if ofdm else None,
            "phy": {"numerology": self.numerology.to_dict(), "frame": self.frame_config.to_dict(),
                    "receiver": self.receiver_config.to_dict()} if ofdm else None,
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


# ---------------------------------------------------------------- channels


@dataclass
class Received:
    """What a receiver recovers of one payload.

    Attributes:
        symbols: complex64 (k,), soft symbols in payload order (0 where erased).
        noise_var: float32 (k,), complex noise variance per symbol (inf where erased).
        erased: bool (k,), symbols that no frame delivered.
        fields: header fields read (kind, height, width, identifier, aux); None when no frame arrived.
        info: reception facts for the results (frames, SNR estimates); empty for the symbol-level channel.
    """

    symbols: np.ndarray
    noise_var: np.ndarray
    erased: np.ndarray
    fields: dict | None
    info: dict


class SymbolChannel:
    """``awgn``: complex AWGN on the symbols at Es/N0 = ``snr_db``, noise variance known, no header."""

    def send(self, symbols: np.ndarray, snr_db: float, seed: np.random.SeedSequence, *, kind: PayloadKind,
             height: int, width: int, identifier: int, aux: int) -> Received:
        """Symbols complex64 (k,), E|s|^2 = 1 -> :class:`Received`; the receiver is told the header fields."""
        received, noise_var = awgn(symbols, snr_db, np.random.default_rng(seed))
        fields = {"kind": kind, "height": height, "width": width, "identifier": identifier, "aux": aux}
        return Received(received, noise_var, np.zeros(symbols.size, bool), fields, {})


class OfdmChannel:
    """``ofdm``: interleave -> OFDM frames -> channel emulator -> receiver -> reassembly -> de-interleave.

    Args:
        air: the link whose transmitter and receiver carry every scheme's payloads.
        profile: the channel emulator's profile.
    """

    def __init__(self, air: Link, profile: ChannelProfile) -> None:
        self.air = air
        self.profile = profile

    def send(self, symbols: np.ndarray, snr_db: float, seed: np.random.SeedSequence, *, kind: PayloadKind,
             height: int, width: int, identifier: int, aux: int) -> Received:
        """Symbols complex64 (k,), E|s|^2 = 1 -> :class:`Received` (erased where no frame arrived)."""
        sequence = int(seed.generate_state(1)[0]) & 0xFFFF
        burst = self.air.frame_payload(symbols, kind=kind, sequence=sequence, height=height, width=width,
                                       identifier=identifier, aux=aux)
        emulator = ChannelEmulator(self.profile, self.air.numerology, np.random.default_rng(seed))
        payload, frames = self.air.receive_payload(emulator(burst.samples, snr_db).samples, kind, sequence,
                                                   total_len=symbols.size)
        header = payload.header
        fields = None if header is None else {"kind": header.payload_kind, "height": header.height,
                                              "width": header.width, "identifier": header.model_id,
                                              "aux": header.aux}
        noise_var = payload.noise_var
        finite = noise_var[np.isfinite(noise_var)]
        info = {
            "frames_expected": len(burst.frame_starts),
            "frames_decoded": payload.frames_decoded,
            "snr_db_est": float(np.mean([f.diagnostics.snr_db for f in frames])) if frames else None,
            "post_eq_snr_db": float(-10 * np.log10(np.mean(finite))) if finite.size else None,
            "erased_fraction": float(payload.erased.mean()),
        }
        return Received(payload.symbols, noise_var, payload.erased, fields, info)


Channel = SymbolChannel | OfdmChannel


# ---------------------------------------------------------------- metrics


@functools.lru_cache(maxsize=4)
def _lpips(weights: str | None) -> LPIPS:
    return LPIPS(features_path=weights)


@functools.lru_cache(maxsize=4)
def _optional_metric(name: str) -> tuple[torch.nn.Module | None, str]:
    """DISTS or FID when its weights exist: (module, source) or (None, why not). Loaded once per process."""
    try:
        module = {"dists": DISTS, "fid": FID}[name]()
    except MissingWeightsError as exc:
        return None, str(exc)
    return module, module.source


class Scorer:
    """The metrics of one sweep: PSNR, MS-SSIM, LPIPS always; DISTS and FID when their weights exist."""

    def __init__(self, device: torch.device, lpips_weights: str | None = None) -> None:
        self.device = device
        self.lpips = _lpips(lpips_weights).to(device)
        dists, self.dists_source = _optional_metric("dists")
        fid, self.fid_source = _optional_metric("fid")
        self.dists = None if dists is None else dists.to(device)
        self.fid = None if fid is None else fid.to(device)

    @property
    def available(self) -> list[str]:
        """Metric keys this scorer fills (``fid`` is per point)."""
        return ["psnr_db", "ms_ssim", "lpips"] + ["dists"] * (self.dists is not None) + ["fid"] * (self.fid is not None)

    def sources(self) -> dict[str, str | None]:
        return {"lpips": self.lpips.source, "dists": None if self.dists is None else self.dists_source,
                "fid": None if self.fid is None else self.fid_source}

    def notes(self) -> list[str]:
        missing = [(n, s) for n, s, m in (("DISTS", self.dists_source, self.dists), ("FID", self.fid_source, self.fid))
                   if m is None]
        return [f"{name} is null: {why}" for name, why in missing]

    @torch.no_grad()
    def score(self, reference: torch.Tensor, image: torch.Tensor) -> dict[str, float | None]:
        """(3, H, W) reference and reconstruction in [0, 1] -> the per-image metrics of :data:`IMAGE_METRICS`."""
        x, y = reference[None].to(self.device), image[None].to(self.device)
        values = {k: float(v[0]) for k, v in compute_metrics(x, y, self.lpips).items()}
        values["dists"] = None if self.dists is None else float(self.dists(x, y)[0])
        return values

    @torch.no_grad()
    def features(self, image: torch.Tensor) -> np.ndarray:
        """FID Inception pool3 features of one (3, H, W) image: float64 (2048,)."""
        return self.fid.inception(image[None].to(self.device).float())[0].reshape(FEATURE_DIM).double().cpu().numpy()


# ---------------------------------------------------------------- schemes


class Clock:
    """Wall time per phase [s] of one entry (:data:`PHASES`)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[phase] = self.totals.get(phase, 0.0) + time.perf_counter() - start


@dataclass
class Outcome:
    """One scheme's result for one image at one (SNR, CBR): the image to score and what to record."""

    image: torch.Tensor
    record: dict


def quantise(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) in [0, 1] -> the same rounded to 8 bits (what a saved PNG holds)."""
    return image.clamp(0, 1).mul(255).round().div(255)


def run_jscc(link: Link, image: torch.Tensor, snr_db: float, channel: Channel, seed: np.random.SeedSequence,
             clock: Clock) -> Outcome:
    """Deep JSCC: encoder -> channel -> generator with the receiver's noise variance and erasures."""
    height, width = int(image.shape[1]), int(image.shape[2])
    with clock("encode_s"):
        symbols = link.encode(image, snr_db)
    with clock("channel_s"):
        rx = channel.send(symbols, snr_db, seed, kind=PayloadKind.JSCC, height=height, width=width,
                          identifier=model_id(link.name), aux=round(1 / link.cbr))
    with clock("decode_s"):
        out = quantise(link.decode(rx.symbols, rx.noise_var, rx.erased, (height, width)))
    return Outcome(out, {"k": int(symbols.size), "model": link.name, "reception": rx.info})


def send_digital(config: DigitalConfig, ladder: QualityLadder, k: int, snr_db: float, channel: Channel,
                 seed: np.random.SeedSequence, clock: Clock) -> tuple[DigitalRx, dict]:
    """One digital configuration over the channel: (its reception, facts to record).

    Raises:
        DigitalError: ``k`` symbols of ``config`` hold no transport block.
    """
    scheme = DigitalScheme.from_config(config, chroma=ladder.chroma)
    layout = scheme.layout(k)
    with clock("encode_s"):
        source = ladder.within(layout.info_bits)
    with clock("channel_code_s"):
        tx = scheme.transmit(ladder.pixels, k, ladder)
    with clock("channel_s"):
        rx = channel.send(tx.symbols, snr_db, seed, kind=PayloadKind.QAM, height=ladder.height,
                          width=ladder.width, identifier=config.bits_per_symbol, aux=code_id(config))
    with clock("decode_s"):
        read = None if rx.fields is None else config_from_header(rx.fields["identifier"], rx.fields["aux"])
        if read is None:
            why = "no frame of the transmission was received" if rx.fields is None else "unknown code id in the header"
            received = DigitalRx(None, False, np.zeros(0, bool), np.zeros(0, np.uint8), False, why,
                                 ladder.height, ladder.width)
        else:
            receiver = DigitalScheme.from_config(read, chroma=ladder.chroma)
            received = receiver.receive(rx.symbols, rx.noise_var, rx.fields["height"], rx.fields["width"], sent=tx)
    facts = {
        "config": config.to_dict(),
        "budget_bits": layout.info_bits,
        "bitstream_bits": None if source is None else source.bitstream_bits,
        "quality": None if source is None else source.quality,
        "transport_blocks": len(layout.blocks),
        "crc_ok": received.crc_ok,
        "bits_ok": received.bits_ok,
        "lost": received.lost,
        "reason": received.reason,
        "reception": rx.info,
    }
    return received, facts


def _lost(ladder: QualityLadder, reason: str, **facts: object) -> Outcome:
    return Outcome(lost_image(ladder.height, ladder.width), {"lost": True, "crc_ok": False, "reason": reason, **facts})


def error_free_score(reference: torch.Tensor, ladder: QualityLadder, config: DigitalConfig, k: int,
                     scores: dict[int | None, float]) -> float:
    """PSNR [dB] that ``config`` reaches with ``k`` symbols when every bit arrives: the bound of its envelope entry.

    It is the score of the HEVC coding that fits the configuration's budget (the lost image's when none
    fits), found without simulating the channel; ``scores`` caches it by quality (None: nothing fits).

    Raises:
        DigitalError: ``k`` symbols of ``config`` hold no transport block.
    """
    source = ladder.within(DigitalScheme.from_config(config, chroma=ladder.chroma).layout(k).info_bits)
    quality = None if source is None else source.quality
    if quality not in scores:
        image = lost_image(ladder.height, ladder.width) if source is None else decode(source.data)
        scores[quality] = psnr_score(reference, image)
    return scores[quality]


def run_envelope(reference: torch.Tensor, ladder: QualityLadder, k: int, snr_db: float,
                 configs: tuple[DigitalConfig, ...], channel: Channel, seed: np.random.SeedSequence,
                 clock: Clock) -> Outcome:
    """"BPG + LDPC": the candidate within capacity whose received image has the highest PSNR.

    Ties go to the lower spectral efficiency (then to the earlier of ``configs``). Candidates are visited
    from the highest spectral efficiency down, and one whose :func:`error_free_score` is below the best
    received score so far is skipped without simulating it: a reception scores at most its error-free
    score, so it could not win. The result is the same as simulating every candidate (once one
    configuration decodes, the lower ones, with their smaller budgets, mostly cannot beat it), at a
    fraction of the LDPC decoding.
    """
    capacity = math.log2(1 + 10 ** (snr_db / 10))
    ascending = sorted((c for c in configs if c.spectral_efficiency <= capacity), key=lambda c: c.spectral_efficiency)
    best: tuple[float, DigitalRx, dict] | None = None
    scores: dict[str, float] = {}
    skipped: list[str] = []
    bounds: dict[int | None, float] = {}
    for config in reversed(ascending):  # a later candidate wins a tie, so the order ascending wins it
        try:
            with clock("encode_s"):
                bound = error_free_score(reference, ladder, config, k, bounds)
            if best is not None and bound < best[0]:
                skipped.append(config.name)
                continue
            rx, facts = send_digital(config, ladder, k, snr_db, channel, seed, clock)
        except DigitalError:
            continue
        scores[config.name] = psnr_score(reference, rx.scored_image)
        if best is None or scores[config.name] >= best[0]:
            best = (scores[config.name], rx, facts)
    envelope = {"envelope_scores": scores, "envelope_tried": len(scores), "envelope_skipped": skipped,
                "capacity_bits_per_symbol": capacity}
    if best is None:
        return _lost(ladder, f"no candidate configuration within capacity fits {k} symbols", config=None, **envelope)
    return Outcome(best[1].scored_image, {**best[2], **envelope})


def run_fixed(ladder: QualityLadder, k: int, snr_db: float, channel: Channel, seed: np.random.SeedSequence,
              clock: Clock) -> Outcome:
    """The paper's fixed configuration (16-QAM, rate 2/3, n = 6144) over the channel."""
    try:
        rx, facts = send_digital(PAPER_CONFIG, ladder, k, snr_db, channel, seed, clock)
    except DigitalError as exc:
        return _lost(ladder, str(exc), config=PAPER_CONFIG.to_dict())
    return Outcome(rx.scored_image, facts)


def run_capacity(ladder: QualityLadder, k: int, snr_db: float, clock: Clock) -> Outcome:
    """"BPG + capacity": HEVC at the capacity's bits, received without error."""
    with clock("encode_s"):
        coded = capacity_bound(ladder.pixels, k, snr_db, ladder=ladder)
    if coded is None:
        return _lost(ladder, "HEVC at its lowest quality exceeds the capacity's bits", crc_ok=None,
                     bitstream_bits=None, quality=None)
    with clock("decode_s"):
        image = decode(coded.data)
    return Outcome(image, {"lost": False, "crc_ok": None, "bitstream_bits": coded.bitstream_bits,
                           "quality": coded.quality})


# ---------------------------------------------------------------- store


class ResultStore:
    """``OUT/store.jsonl``: the configuration identity on the first line, then one JSON line per entry.

    A line cut short by an interruption (the last one) is dropped when the store is opened.
    """

    def __init__(self, path: Path, identity: dict) -> None:
        self.path = path
        self.identity = json.loads(json.dumps(identity))
        self.entries: dict[str, dict] = {}
        if path.exists():
            self._load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_lines([{"kind": "config", "identity": self.identity}], mode="w")

    def _load(self) -> None:
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):  # an interrupted write: drop the partial line
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        lines = [json.loads(line) for line in complete.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("kind") != "config":
            raise SweepError(f"{self.path} is not a sweep store (no configuration line); use another --out")
        stored = lines[0]["identity"]
        if stored != self.identity:
            keys = sorted(k for k in set(stored) | set(self.identity) if stored.get(k) != self.identity.get(k))
            diff = "; ".join(f"{k}: {stored.get(k)!r} there, {self.identity.get(k)!r} now" for k in keys)
            raise SweepError(
                f"{self.path} holds a sweep with a different configuration ({diff}); "
                "use another --out, or delete the store to start over"
            )
        for line in lines[1:]:
            self.entries[line["key"]] = line

    def _write_lines(self, lines: list[dict], mode: str = "a") -> None:
        with open(self.path, mode) as f:
            f.write("".join(json.dumps(line) + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def add(self, entry: dict) -> None:
        """Append one finished entry (it must carry its ``key``)."""
        self._write_lines([entry])
        self.entries[entry["key"]] = entry


# ---------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class Task:
    """One entry to compute."""

    image: str
    scheme: str
    snr_db: float
    cbr: Fraction
    draw: int = 0

    @property
    def key(self) -> str:
        return entry_key(self.image, self.scheme, self.snr_db, self.cbr, self.draw)


@dataclass
class SweepRun:
    """What :func:`run_sweep` did: the results written, how many entries were new, where it wrote."""

    results: dict
    new: int
    reused: int
    wall_s: float
    out: Path


def jscc_model(scheme: str, cbr: Fraction) -> str:
    """Registered name of a JSCC scheme's model at ``cbr``: ``perceptual`` at 1/48 -> ``perceptual-cbr48``."""
    return f"{JSCC_SCHEMES[scheme]}-cbr{cbr.denominator}"


def _skipped(config: SweepConfig) -> list[dict]:
    """(scheme, CBR) pairs with no shipped model, with the reason."""
    shipped = available_models()
    skipped = []
    for scheme in config.schemes:
        for cbr in config.cbrs:
            if scheme not in JSCC_SCHEMES:
                continue
            name = jscc_model(scheme, cbr)
            if cbr.numerator != 1:
                reason = f"no {scheme} model: JSCC models exist only at CBRs 1/N"
            elif name not in shipped:
                reason = f"no shipped model {name!r} (shipped: {', '.join(sorted(shipped)) or 'none'})"
            else:
                continue
            skipped.append({"scheme": scheme, "cbr": cbr_text(cbr), "reason": reason})
    return skipped


def _images(config: SweepConfig) -> dict[str, Path]:
    """The sweep's images by name (file stem), each read once and checked to be usable."""
    paths = list_images(config.data)[: config.limit]
    names = [p.stem for p in paths]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise SweepError(f"image names must be unique (entries are keyed by name): {', '.join(twins)}")
    for path in paths:
        height, width = load_image(path).shape[-2:]
        if min(height, width) < MS_SSIM_MIN_SIZE:
            raise SweepError(f"{path} is {height}x{width} pixels; MS-SSIM needs at least "
                             f"{MS_SSIM_MIN_SIZE}x{MS_SSIM_MIN_SIZE}")
    return dict(zip(names, paths, strict=True))


def _check_models(store: ResultStore, current: dict[str, str]) -> None:
    """Refuse to mix entries of a model whose weights (``current``: name -> :func:`weights_sha256`) changed
    since they were computed."""
    for entry in store.entries.values():
        name, sha = entry.get("model"), entry.get("model_weights_sha256")
        if name in current and sha != current[name]:
            raise SweepError(f"{store.path}: entries of model {name!r} were made with another checkpoint "
                             f"(sha256 {sha[:12]}..., now {current[name][:12]}...); use another --out")


class Sweeper:
    """Computes entries: holds the models, the links, the channel and the metrics of one run."""

    def __init__(self, config: SweepConfig, scorer: Scorer, out: Path) -> None:
        self.config = config
        self.scorer = scorer
        self.out = out
        self.links: dict[str, Link] = {}
        self.shipped = available_models()
        self.model_sha = {name: weights_sha256(path) for name, path in self.shipped.items()}
        self.channel: Channel = SymbolChannel()
        if config.channel == "ofdm":
            if not self.shipped:
                raise SweepError("--channel ofdm needs a shipped JSCC model for the link's transmitter and receiver")
            air = DEFAULT_MODEL if DEFAULT_MODEL in self.shipped else sorted(self.shipped)[0]
            self.channel = OfdmChannel(self.link(air), get_profile(config.profile))

    def link(self, name: str) -> Link:
        """The link of a registered model (loaded once)."""
        if name not in self.links:
            c = self.config
            self.links[name] = Link.load(name, c.numerology, c.frame_config, c.receiver_config, device=c.device)
        return self.links[name]

    def compute(self, task: Task, image: torch.Tensor, ladder: QualityLadder) -> dict:
        """One entry: run the scheme, score the result, return the store line."""
        clock = Clock()
        k = n_symbols(ladder.height, ladder.width, float(task.cbr))
        seed = channel_seed(self.config.seed, task.image, task.snr_db, task.cbr, task.draw)
        if task.scheme in JSCC_SCHEMES:
            name = jscc_model(task.scheme, task.cbr)
            outcome = run_jscc(self.link(name), image, task.snr_db, self.channel, seed, clock)
            if outcome.record.pop("k") != k:
                raise SweepError(f"model {name!r} does not send {k} symbols for CBR {cbr_text(task.cbr)} "
                                 f"(its card says CBR {self.link(name).cbr:.5f})")
            outcome.record["model_weights_sha256"] = self.model_sha[name]
        elif task.scheme == "bpg-ldpc":
            outcome = run_envelope(image, ladder, k, task.snr_db, self.config.envelope, self.channel, seed, clock)
        elif task.scheme == "bpg-ldpc-fixed":
            outcome = run_fixed(ladder, k, task.snr_db, self.channel, seed, clock)
        else:
            outcome = run_capacity(ladder, k, task.snr_db, clock)
        with clock("metrics_s"):
            metrics = self.scorer.score(image, outcome.image)
            fid_file = self._fid_features(task, image, outcome.image)
        return {
            "key": task.key, "image": task.image, "scheme": task.scheme, "snr_db": task.snr_db,
            "cbr": cbr_text(task.cbr), "cbr_value": float(task.cbr), "draw": task.draw, "k": k,
            **metrics, **outcome.record, "fid_features": fid_file,
            "timings": {phase: clock.totals.get(phase, 0.0) for phase in PHASES},
        }

    def _fid_features(self, task: Task, reference: torch.Tensor, image: torch.Tensor) -> str | None:
        """Save the Inception features of the reconstruction (and once of the reference); None without FID."""
        if self.scorer.fid is None:
            return None
        folder = self.out / FID_FOLDER
        folder.mkdir(exist_ok=True)
        ref = folder / f"ref-{task.image}.npy"
        if not ref.exists():
            np.save(ref, self.scorer.features(reference))
        name = f"{hashlib.sha1(task.key.encode()).hexdigest()[:20]}.npy"
        np.save(folder / name, self.scorer.features(image))
        return f"{FID_FOLDER}/{name}"


def _tasks(config: SweepConfig, images: dict[str, Path], skipped: list[dict]) -> list[Task]:
    """Every entry of the grid, image-major (one HEVC ladder per image), skipped models left out."""
    off = {(s["scheme"], s["cbr"]) for s in skipped}
    return [Task(image, scheme, snr, cbr, draw) for image in images for cbr in config.cbrs
            for snr in config.snrs_db for draw in range(config.draws)
            for scheme in config.schemes if (scheme, cbr_text(cbr)) not in off]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Set torch's CPU threads for the duration (None: unchanged)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_sweep(config: SweepConfig, out: str | Path, *, progress: bool = True) -> SweepRun:
    """Compute every missing entry of the grid into ``out/store.jsonl``, then write ``out/results.json``.

    Everything is checked (images, options, the store's configuration) before any entry is computed.
    """
    t_start = time.perf_counter()
    out = Path(out)
    images = _images(config)
    skipped = _skipped(config)
    with torch_threads(config.threads):
        device = resolve_device(config.device)
        scorer = Scorer(device, config.lpips_weights)
        store = ResultStore(out / STORE_FILE, config.identity(scorer.available))
        sweeper = Sweeper(config, scorer, out)
        _check_models(store, sweeper.model_sha)
        tasks = _tasks(config, images, skipped)
        todo = [t for t in tasks if t.key not in store]
        by_image: dict[str, list[Task]] = defaultdict(list)
        for task in todo:
            by_image[task.image].append(task)
        with Progress(total=len(todo), desc="sweep", unit="entry", disable=not progress) as bar:
            for name, image_tasks in by_image.items():
                image = load_image(images[name])
                ladder = QualityLadder(image)
                for task in image_tasks:
                    bar.set_postfix(image=name, scheme=task.scheme, snr=f"{task.snr_db:g}", cbr=cbr_text(task.cbr),
                                    draw=task.draw)
                    store.add(sweeper.compute(task, image, ladder))
                    bar.update()
    wall_s = time.perf_counter() - t_start
    run_info = {
        "schemes": list(config.schemes), "snrs_db": list(config.snrs_db),
        "cbrs": [cbr_text(c) for c in config.cbrs], "draws": config.draws, "limit": config.limit,
        "images": list(images), "device": str(device), "threads": config.threads,
        "new_entries": len(todo), "reused_entries": len(tasks) - len(todo), "wall_s": wall_s,
    }
    results = build_results(store, out, scorer, skipped, run_info)
    write_json(out / RESULTS_FILE, results)
    return SweepRun(results, len(todo), len(tasks) - len(todo), wall_s, out)


# ---------------------------------------------------------------- results


def mean_and_ci(values: list[float], level: float = 0.95) -> dict[str, float | int]:
    """Mean, sample standard deviation and the half-width of the ``level`` t-confidence interval of the mean."""
    array = np.asarray(values, dtype=np.float64)
    n = array.size
    std = float(array.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)) if n > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "ci95": half, "n": n}


def _metric_summary(group: list[dict], key: str) -> dict[str, float | int | list[float]] | None:
    """:func:`mean_and_ci` of one metric over a point's entries (every image and draw), plus the spread over
    channel draws: ``draw_means`` (the mean over images of each draw, in draw order), ``draw_min``,
    ``draw_max``, and the 10th / 90th percentiles over the entries (``p10``, ``p90``). None without values."""
    by_draw: dict[int, list[float]] = defaultdict(list)
    for entry in group:
        if entry.get(key) is not None:
            by_draw[entry.get("draw", 0)].append(entry[key])
    if not by_draw:
        return None
    values = [v for draw in sorted(by_draw) for v in by_draw[draw]]
    draw_means = [float(np.mean(by_draw[draw])) for draw in sorted(by_draw)]
    p10, p90 = np.percentile(values, [10, 90])
    return {**mean_and_ci(values), "draw_means": draw_means, "draw_min": min(draw_means),
            "draw_max": max(draw_means), "p10": float(p10), "p90": float(p90)}


def _fid(entries: list[dict], out: Path) -> float | None:
    """FID of one point over its images (None without features, or with fewer than two images)."""
    files = [(out / FID_FOLDER / f"ref-{e['image']}.npy", out / e["fid_features"]) for e in entries
             if e.get("fid_features")]
    if len(files) < 2 or not all(r.exists() and g.exists() for r, g in files):
        return None
    real = np.stack([np.load(r) for r, _ in files])
    generated = np.stack([np.load(g) for _, g in files])
    return frechet_distance(real, generated)


def summarise(entries: list[dict], out: Path) -> list[dict]:
    """Per (scheme, SNR, CBR) point: every metric's mean, std and 95 % CI over its entries (images x channel
    draws) and spread over draws (:func:`_metric_summary`), lost count, FID."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for entry in entries:
        groups[(entry["scheme"], entry["snr_db"], entry["cbr"])].append(entry)
    points = []
    order = {s: i for i, s in enumerate(SCHEMES)}

    def position(item: tuple[tuple, list[dict]]) -> tuple:
        (scheme, snr, _), group = item
        return order[scheme], snr, group[0]["cbr_value"]

    for (scheme, snr, cbr), group in sorted(groups.items(), key=position):
        metrics = {key: summary for key in IMAGE_METRICS if (summary := _metric_summary(group, key)) is not None}
        fid = _fid(group, out)
        if fid is not None:
            metrics["fid"] = {"mean": fid, "std": 0.0, "ci95": 0.0, "n": len(group)}
        points.append({
            "scheme": scheme, "snr_db": snr, "cbr": cbr, "cbr_value": group[0]["cbr_value"],
            "n_images": len({e["image"] for e in group}), "n_draws": len({e.get("draw", 0) for e in group}),
            "n_lost": sum(bool(e.get("lost")) for e in group) if scheme in DIGITAL_SCHEMES else None,
            "metrics": metrics,
        })
    return points


def versions() -> dict:
    """Versions of what produced the numbers: :func:`ota.options.versions` plus the digital chain's codecs."""
    from importlib.metadata import version

    import pillow_heif

    return {**options.versions(), "sionna-no-rt": version("sionna-no-rt"), "pillow-heif": pillow_heif.__version__,
            "libheif": pillow_heif.libheif_version()}


def build_results(store: ResultStore, out: Path, scorer: Scorer, skipped: list[dict], run_info: dict) -> dict:
    """The content of ``results.json``: configuration, versions, notes, every entry, per-point summaries."""
    entries = sorted(store.entries.values(),
                     key=lambda e: (e["image"], e["scheme"], e["snr_db"], e["cbr_value"], e.get("draw", 0)))
    notes = scorer.notes() + [f"{s['scheme']} at CBR {s['cbr']} skipped: {s['reason']}" for s in skipped]
    return {
        "config": {**store.identity, "metric_sources": scorer.sources(), "last_run": run_info},
        "versions": versions(),
        "notes": notes,
        "skipped": skipped,
        "entries": entries,
        "points": summarise(entries, out),
    }


def load_results(out: str | Path) -> dict:
    """``out/results.json`` of a sweep (a clear error when it is missing)."""
    path = Path(out) / RESULTS_FILE
    if not path.is_file():
        raise SweepError(f"{path} does not exist; run `ota sweep --out {out}` first")
    return json.loads(path.read_text())
