"""The classical digital chain the deep JSCC is compared with: "BPG + 5G LDPC + QAM" and "BPG + capacity".

An image of ``k`` channel symbols' budget is sent as:

1. **Source:** HEVC intra, 4:4:4 (:mod:`ota.baseline.hevc`), at the highest quality whose packed bitstream fits
   the source budget ``bits_budget(k, bits_per_symbol, code_rate) = floor(k * bps * rate)`` bits.
2. **Channel code:** 5G NR LDPC transport blocks (:mod:`ota.baseline.ldpc`): by default one transport block
   of exactly ``k * bps`` coded bits (38.212 segments it into code blocks of up to 8448 bits);
   with ``block_coded_bits = n`` the payload is cut into transport blocks of ``n`` coded bits each
   (the paper's CBR sweep: 16-QAM, rate 2/3, ``n = 6144``), plus one shorter block for the rest when
   it can carry at least 24 bits. Each transport block has its own CRC.
3. **Modulation:** Gray QAM (:mod:`ota.baseline.qam`), unit energy; exactly ``k`` symbols. Symbols left over
   when the rest is too short for a transport block are known filler symbols (a fixed pseudo-random
   sequence of the same constellation) that the receiver ignores.

The receiver soft-demaps with its per-symbol noise variance, decodes, checks every CRC, rebuilds the
HEIF file from the bitstream and the image size of the frame header, and decodes it. The image is
*lost* when any transport block fails its CRC or when nothing fitted the budget (HEVC at its lowest
quality is larger than the budget; then an empty payload is sent). A lost image is scored as
:data:`LOST_IMAGE_VALUE` mid-grey (:func:`lost_image`): the "cliff" of the paper's plots.

"BPG + LDPC" at one SNR is the envelope over (modulation, code rate) configurations:
:func:`envelope_best` simulates each configuration over AWGN at that SNR (the image itself, with the
given generator) and keeps the one whose received image scores best (a lost image scores as mid-grey),
after dropping those whose spectral efficiency ``bps * rate`` exceeds the AWGN capacity
``log2(1 + SNR)`` (they cannot decode reliably at any block length). Simulating the real image and
code length includes everything a threshold table would miss (transport-block size, segmentation,
finite length). "BPG + capacity" is HEVC at :func:`capacity_bits` bits delivered without error.

SNR is Es/N0 per channel symbol: ``E|s|^2 = 1`` and complex noise variance ``10^(-SNR/10)``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from models.metrics import psnr
from ota.baseline.hevc import CHROMA, HevcError, HevcImage, QualityLadder, decode, unpack_bitstream
from ota.baseline.ldpc import DEFAULT_ITERATIONS, MAX_CODE_RATE, MIN_INFO_BITS, LdpcCode, LdpcError
from ota.baseline.qam import MODULATIONS, Qam, bits_per_symbol
from phy.channel.awgn import awgn

LOST_IMAGE_VALUE = 0.5
"""A lost image is replaced by a uniform image of this value (mid-grey, in [0, 1]) and scored as such."""
CODE_RATES: tuple[Fraction, ...] = (Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), Fraction(3, 4), Fraction(5, 6))
FILLER_SEED = 0x5EED
"""Seed of the fixed filler-symbol sequence (known to both ends; not a random draw of the experiment)."""


class DigitalError(ValueError):
    """A configuration, symbol budget or received array that the digital chain cannot work with."""


def _as_rate(code_rate: Fraction | float | str) -> Fraction:
    """A code rate as an exact fraction (floats are read as the nearest fraction with denominator <= 1024)."""
    try:
        rate = Fraction(code_rate)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        raise DigitalError(f"code rate {code_rate!r} is not a number or fraction like '2/3'") from exc
    rate = rate.limit_denominator(1024)
    if not 0 < rate <= MAX_CODE_RATE:
        raise DigitalError(f"code rate must be in (0, {MAX_CODE_RATE:.3f}], got {code_rate!r}")
    return rate


def bits_budget(k_symbols: int, bits_per_symbol: int, code_rate: Fraction | float | str) -> int:
    """Source bits that ``k_symbols`` symbols carry: ``floor(k * bits_per_symbol * code_rate)``."""
    if k_symbols < 0 or bits_per_symbol < 1:
        raise DigitalError(f"need k_symbols >= 0 and bits_per_symbol >= 1, got {k_symbols}, {bits_per_symbol}")
    return math.floor(k_symbols * bits_per_symbol * _as_rate(code_rate))


def capacity_bits(k_symbols: int, snr_db: float) -> int:
    """Bits ``k`` uses of a complex AWGN channel carry at capacity: ``floor(k * log2(1 + SNR))``."""
    if k_symbols < 0 or not math.isfinite(snr_db):
        raise DigitalError(f"need k_symbols >= 0 and a finite SNR, got {k_symbols}, {snr_db}")
    return math.floor(k_symbols * math.log2(1 + 10 ** (snr_db / 10)))


def capacity_bound(
    image: torch.Tensor | np.ndarray,
    k_symbols: int,
    snr_db: float,
    ladder: QualityLadder | None = None,
    chroma: str = CHROMA,
) -> HevcImage | None:
    """"BPG + capacity": HEVC at :func:`capacity_bits` bits, received without error (None: nothing fits).

    ``ladder`` (the image's encodings, reused) takes the place of ``image`` and ``chroma`` when given.
    """
    ladder = ladder or QualityLadder(image, chroma)
    return ladder.within(capacity_bits(k_symbols, snr_db))


def lost_image(height: int, width: int) -> torch.Tensor:
    """The stand-in for a lost image: (3, H, W) float32, every value :data:`LOST_IMAGE_VALUE`."""
    return torch.full((3, height, width), LOST_IMAGE_VALUE, dtype=torch.float32)


def block_error_rate(
    code: LdpcCode, qam: Qam, es_n0_db: float, n_blocks: int, rng: np.random.Generator, batch: int = 16
) -> float:
    """Fraction of ``n_blocks`` random transport blocks of ``code`` lost over AWGN at Es/N0 = ``es_n0_db``.

    A block is lost when its CRC fails or (undetected error) its decoded bits differ from those sent.
    Blocks are decoded ``batch`` at a time.
    """
    if n_blocks < 1 or code.n_coded % qam.bits_per_symbol:
        raise DigitalError(f"need n_blocks >= 1 and {code.n_coded} coded bits in whole {qam.modulation} symbols")
    errors = 0
    for start in range(0, n_blocks, batch):
        bits = rng.integers(0, 2, (min(batch, n_blocks - start), code.n_info), dtype=np.uint8)
        received, noise_var = awgn(qam.map(code.encode(bits).reshape(-1)), es_n0_db, rng)
        decoded, ok = code.decode(qam.demap(received, noise_var).reshape(bits.shape[0], code.n_coded))
        errors += int((~ok | (decoded != bits).any(axis=1)).sum())
    return errors / n_blocks


def threshold_db(snr_db: list[float], bler: list[float], target: float = 0.1) -> float | None:
    """The SNR where a measured BLER curve first falls to ``target`` (linear in dB between grid points).

    None when the curve does not cross ``target`` inside the grid (already below it at the first point,
    or never reaching it).
    """
    for i in range(1, len(snr_db)):
        if bler[i - 1] > target >= bler[i]:
            fraction = (bler[i - 1] - target) / (bler[i - 1] - bler[i])
            return snr_db[i - 1] + fraction * (snr_db[i] - snr_db[i - 1])
    return None


@dataclass(frozen=True)
class DigitalConfig:
    """One digital configuration: modulation, code rate and (optionally) the transport-block length.

    Attributes:
        modulation: a key of :data:`ota.baseline.qam.MODULATIONS`.
        code_rate: information bits per coded bit (exact fraction).
        block_coded_bits: None: one transport block fills the symbols; else coded bits per transport block.
    """

    modulation: str
    code_rate: Fraction
    block_coded_bits: int | None = None

    def __post_init__(self) -> None:
        bps = bits_per_symbol(self.modulation)
        object.__setattr__(self, "code_rate", _as_rate(self.code_rate))
        n = self.block_coded_bits
        if n is not None and (not isinstance(n, int) or n <= 0 or n % bps):
            raise DigitalError(f"block_coded_bits must be a positive multiple of {bps} ({self.modulation}), got {n!r}")

    @property
    def bits_per_symbol(self) -> int:
        return MODULATIONS[self.modulation]

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per channel symbol, ``bps * rate``."""
        return self.bits_per_symbol * float(self.code_rate)

    @property
    def name(self) -> str:
        """E.g. ``16qam-2/3`` or ``16qam-2/3-n6144``."""
        rate = f"{self.code_rate.numerator}/{self.code_rate.denominator}"
        block = f"-n{self.block_coded_bits}" if self.block_coded_bits else ""
        return f"{self.modulation}-{rate}{block}"

    def to_dict(self) -> dict[str, object]:
        return {"modulation": self.modulation, "code_rate": str(self.code_rate),
                "block_coded_bits": self.block_coded_bits, "name": self.name}


CONFIGURATIONS: tuple[DigitalConfig, ...] = tuple(DigitalConfig(m, r) for m in MODULATIONS for r in CODE_RATES)
"""BPSK .. 256-QAM x rates 1/3 .. 5/6, one transport block per image: the envelope's candidates."""
PAPER_CONFIG = DigitalConfig("16qam", Fraction(2, 3), block_coded_bits=6144)
"""The paper's fixed configuration for the CBR sweep: 16-QAM, rate 2/3, n = 6144."""


@dataclass(frozen=True)
class BlockLayout:
    """How ``k`` symbols are filled: transport blocks (n_info, n_coded) in order, then filler symbols."""

    blocks: tuple[tuple[int, int], ...]
    filler_symbols: int

    @property
    def info_bits(self) -> int:
        return sum(n_info for n_info, _ in self.blocks)

    @property
    def coded_bits(self) -> int:
        return sum(n_coded for _, n_coded in self.blocks)


@dataclass
class DigitalTx:
    """What :meth:`DigitalScheme.transmit` sends.

    Attributes:
        symbols: complex64 (k,), unit average energy.
        source: the HEVC coding sent, or None when nothing fitted (an empty payload is sent: the image is lost).
        payload_bits: uint8 (layout.info_bits,), the packed bitstream's bits (MSB first) and zero padding.
        config: the configuration used.
        layout: the transport blocks and filler symbols.
    """

    symbols: np.ndarray
    source: HevcImage | None
    payload_bits: np.ndarray = field(repr=False)
    config: DigitalConfig
    layout: BlockLayout


@dataclass
class DigitalRx:
    """What :meth:`DigitalScheme.receive` recovers.

    Attributes:
        image: (3, H, W) float32 in [0, 1], or None when the image is lost.
        crc_ok: every transport block passed its CRC.
        blocks_ok: bool (n_blocks,), each transport block's CRC.
        payload_bits: uint8 (layout.info_bits,), the decoded payload.
        bits_ok: the payload equals the one sent (only when the sent :class:`DigitalTx` was given, else None).
        reason: why the image is lost ("" when it is not).
        height, width: image size [pixels].
    """

    image: torch.Tensor | None
    crc_ok: bool
    blocks_ok: np.ndarray
    payload_bits: np.ndarray = field(repr=False)
    bits_ok: bool | None
    reason: str
    height: int
    width: int

    @property
    def lost(self) -> bool:
        return self.image is None

    @property
    def scored_image(self) -> torch.Tensor:
        """The image to score: the received one, or :func:`lost_image` when it is lost."""
        return lost_image(self.height, self.width) if self.image is None else self.image


def _runs(blocks: tuple[tuple[int, int], ...]) -> list[tuple[tuple[int, int], int]]:
    """Consecutive equal transport blocks as (block, count): each run is coded as one batch."""
    return [(block, len(list(run))) for block, run in itertools.groupby(blocks)]


@functools.lru_cache(maxsize=64)
def _code(n_info: int, n_coded: int, bits_per_symbol: int, num_iter: int) -> LdpcCode:
    """LDPC codes are costly to build (the decoding graph); the schemes share them."""
    return LdpcCode(n_info, n_coded, bits_per_symbol=bits_per_symbol, num_iter=num_iter)


class DigitalScheme:
    """HEVC + 5G NR LDPC + QAM for one configuration.

    Args:
        modulation: a key of :data:`ota.baseline.qam.MODULATIONS`.
        code_rate: e.g. ``Fraction(2, 3)``, ``"2/3"`` or ``0.5``.
        block_coded_bits: coded bits per transport block (None: one transport block per image).
        num_iter: LDPC belief-propagation iterations.
        demapping: "app" (exact) or "maxlog".
        chroma: HEVC chroma format (:data:`ota.baseline.hevc.CHROMA` "444" by default); both ends must agree.
    """

    def __init__(
        self,
        modulation: str,
        code_rate: Fraction | float | str,
        *,
        block_coded_bits: int | None = None,
        num_iter: int = DEFAULT_ITERATIONS,
        demapping: str = "app",
        chroma: str = CHROMA,
    ) -> None:
        self.config = DigitalConfig(modulation, code_rate, block_coded_bits)
        self.num_iter = num_iter
        self.chroma = chroma
        self.qam = Qam(modulation, demapping)

    @classmethod
    def from_config(cls, config: DigitalConfig, **kwargs: object) -> DigitalScheme:
        return cls(config.modulation, config.code_rate, block_coded_bits=config.block_coded_bits, **kwargs)

    def layout(self, k_symbols: int) -> BlockLayout:
        """The transport blocks that fill ``k_symbols`` symbols (error if not even one fits)."""
        bps, rate, n = self.config.bits_per_symbol, self.config.code_rate, self.config.block_coded_bits
        if not isinstance(k_symbols, int | np.integer) or k_symbols < 1:
            raise DigitalError(f"k_symbols must be a positive integer, got {k_symbols!r}")
        total = int(k_symbols) * bps
        n = n or total
        blocks = [(math.floor(n * rate), n)] * (total // n)
        rest = total - n * len(blocks)
        if rest and self._fits(math.floor(rest * rate), rest):
            blocks.append((math.floor(rest * rate), rest))
            rest = 0
        if not blocks or not self._fits(*blocks[0]):
            raise DigitalError(
                f"{k_symbols} symbols of {self.config.name} carry no 5G NR transport block "
                f"(at least {MIN_INFO_BITS} information bits at a supported rate are needed)"
            )
        return BlockLayout(tuple(blocks), rest // bps)

    def _fits(self, n_info: int, n_coded: int) -> bool:
        """Whether a transport block of these sizes exists (the short last block may not)."""
        try:
            _code(n_info, n_coded, self.config.bits_per_symbol, self.num_iter)
        except LdpcError:
            return False
        return True

    def _filler(self, n_symbols: int) -> np.ndarray:
        bits = np.random.default_rng(FILLER_SEED).integers(0, 2, n_symbols * self.qam.bits_per_symbol, dtype=np.uint8)
        return self.qam.map(bits)

    def transmit(
        self, image: torch.Tensor | np.ndarray, k_symbols: int, ladder: QualityLadder | None = None
    ) -> DigitalTx:
        """Code ``image`` into exactly ``k_symbols`` symbols.

        Args:
            image: (3, H, W) float in [0, 1] or (H, W, 3) uint8.
            k_symbols: channel symbols available.
            ladder: the image's :class:`~ota.baseline.hevc.QualityLadder` (same chroma), to reuse encodings
                across calls.
        """
        layout = self.layout(k_symbols)
        ladder = ladder or QualityLadder(image, self.chroma)
        if ladder.chroma != self.chroma:
            raise DigitalError(f"the ladder codes {ladder.chroma} chroma, the scheme {self.chroma}")
        source = ladder.within(layout.info_bits)
        payload = np.zeros(layout.info_bits, dtype=np.uint8)
        if source is not None:
            packed = np.unpackbits(np.frombuffer(source.bitstream, dtype=np.uint8))
            payload[: packed.size] = packed
        coded, start = [], 0
        for (n_info, n_coded), count in _runs(layout.blocks):
            code = _code(n_info, n_coded, self.config.bits_per_symbol, self.num_iter)
            coded.append(code.encode(payload[start : start + count * n_info].reshape(count, n_info)).reshape(-1))
            start += count * n_info
        symbols = np.concatenate([self.qam.map(np.concatenate(coded)), self._filler(layout.filler_symbols)])
        return DigitalTx(symbols.astype(np.complex64), source, payload, self.config, layout)

    def receive(
        self,
        symbols_hat: np.ndarray,
        noise_var: np.ndarray | float,
        height: int,
        width: int,
        sent: DigitalTx | None = None,
    ) -> DigitalRx:
        """Recover the image from the receiver's soft symbols.

        Args:
            symbols_hat: complex (k,), equalised symbols in the unit of the sent ones.
            noise_var: float (k,) or scalar, complex noise variance per symbol (``inf`` = erased).
            height, width: image size from the frame header.
            sent: the transmitted :class:`DigitalTx`, to report ``bits_ok`` (simulation only).
        """
        symbols_hat = np.asarray(symbols_hat)
        if symbols_hat.ndim != 1:
            raise DigitalError(f"expected symbols of shape (k,), got {symbols_hat.shape}")
        noise_var = np.broadcast_to(np.asarray(noise_var, dtype=np.float32), symbols_hat.shape)
        layout = self.layout(symbols_hat.size)
        n_data = layout.coded_bits // self.config.bits_per_symbol
        llr = self.qam.demap(symbols_hat[:n_data], noise_var[:n_data])
        bits, blocks_ok, start = [], [], 0
        for (n_info, n_coded), count in _runs(layout.blocks):
            code = _code(n_info, n_coded, self.config.bits_per_symbol, self.num_iter)
            decoded, ok = code.decode(llr[start : start + count * n_coded].reshape(count, n_coded))
            bits.append(decoded.reshape(-1))
            blocks_ok.append(ok)
            start += count * n_coded
        payload = np.concatenate(bits)
        blocks_ok = np.concatenate(blocks_ok)
        bits_ok = None if sent is None else bool(np.array_equal(payload, sent.payload_bits))
        image, reason = None, ""
        if not blocks_ok.all():
            reason = f"{int((~blocks_ok).sum())} of {blocks_ok.size} transport blocks failed their CRC"
        else:
            try:
                image = decode(unpack_bitstream(np.packbits(payload).tobytes(), height, width, self.chroma))
            except HevcError as exc:
                reason = f"no decodable image in the payload ({exc})"
        return DigitalRx(image, bool(blocks_ok.all()), blocks_ok, payload, bits_ok, reason, height, width)


def psnr_score(reference: torch.Tensor, image: torch.Tensor) -> float:
    """PSNR [dB] of a (3, H, W) image against the reference: the envelope's default score."""
    return float(psnr(reference[None], image[None])[0])


@dataclass
class EnvelopePoint:
    """The best configuration at one SNR.

    Attributes:
        config: the configuration chosen (None when none is below capacity: the image is lost).
        score: its mean score over the trials (the lost image's score when ``config`` is None).
        rx: its last reception (None when ``config`` is None).
        scores: mean score of every configuration simulated, by name.
    """

    config: DigitalConfig | None
    score: float
    rx: DigitalRx | None
    scores: dict[str, float]


def envelope_best(
    image: torch.Tensor | np.ndarray,
    k_symbols: int,
    snr_db: float,
    configs: tuple[DigitalConfig, ...] = CONFIGURATIONS,
    *,
    rng: np.random.Generator,
    trials: int = 1,
    ladder: QualityLadder | None = None,
    score: Callable[[torch.Tensor, torch.Tensor], float] = psnr_score,
) -> EnvelopePoint:
    """"BPG + LDPC" at ``snr_db``: the configuration whose received image scores best over AWGN.

    Each configuration below the AWGN capacity that can fill ``k_symbols`` sends the image ``trials``
    times through :func:`phy.channel.awgn.awgn`; a lost image scores as :func:`lost_image`. Ties go to the configuration
    with the lower spectral efficiency (the more robust one). Higher scores are better. ``ladder``
    (the image's encodings, reused across SNRs) sets the chroma format; without it, :data:`CHROMA`.
    """
    if trials < 1:
        raise DigitalError(f"trials must be >= 1, got {trials}")
    ladder = ladder or QualityLadder(image)
    reference = torch.from_numpy(ladder.pixels).permute(2, 0, 1).float().div(255.0)
    capacity = math.log2(1 + 10 ** (snr_db / 10))
    candidates = sorted((c for c in configs if c.spectral_efficiency <= capacity), key=lambda c: c.spectral_efficiency)
    best = EnvelopePoint(None, score(reference, lost_image(ladder.height, ladder.width)), None, {})
    for config in candidates:
        scheme = DigitalScheme.from_config(config, chroma=ladder.chroma)
        try:
            tx = scheme.transmit(ladder.pixels, k_symbols, ladder)
        except DigitalError:
            continue
        values, rx = [], None
        for _ in range(trials):
            received, noise_var = awgn(tx.symbols, snr_db, rng)
            rx = scheme.receive(received, noise_var, ladder.height, ladder.width, sent=tx)
            values.append(score(reference, rx.scored_image))
        mean = float(np.mean(values))
        best.scores[config.name] = mean
        if best.config is None or mean > best.score:
            best = EnvelopePoint(config, mean, rx, best.scores)
    return best
