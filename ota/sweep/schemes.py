"""One scheme for one image at one (SNR, CBR): deep JSCC, the digital envelope, the fixed configuration, capacity."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from models.image_io import quantise
from ota.baseline.chain import (
    PAPER_CONFIG,
    DigitalConfig,
    DigitalError,
    DigitalRx,
    DigitalScheme,
    capacity_bound,
    lost_image,
    psnr_score,
)
from ota.baseline.code_ids import code_id, config_from_header
from ota.baseline.hevc import QualityLadder, decode
from ota.link import Link, model_id
from ota.sweep.channels import Channel
from phy.header import PayloadKind


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
