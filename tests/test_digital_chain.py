"""The digital chain (HEVC + 5G LDPC + QAM): budgets, layouts, end-to-end over AWGN, envelope, capacity."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from ota.baseline.chain import (
    CONFIGURATIONS,
    LOST_IMAGE_VALUE,
    PAPER_CONFIG,
    DigitalConfig,
    DigitalError,
    DigitalScheme,
    awgn,
    bits_budget,
    capacity_bits,
    capacity_bound,
    envelope_best,
    lost_image,
    threshold_db,
)
from ota.baseline.hevc import QualityLadder, decode

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    """(3, 48, 64): smooth colour ramps with a little noise, small enough for a few hundred symbols."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64] / 64
    ramps = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x + 3 * y)]) + 0.02 * rng.standard_normal((3, 48, 64))
    return torch.from_numpy(np.clip(ramps, 0, 1)).float()


def test_budget_and_capacity_formulas():
    assert bits_budget(24576, 4, Fraction(2, 3)) == 65536  # a Kodak image at CBR 1/48, 16-QAM rate 2/3
    assert bits_budget(24576, 4, "2/3") == bits_budget(24576, 4, 2 / 3) == 65536
    assert bits_budget(10, 1, "1/3") == 3 and bits_budget(7, 6, 0.75) == 31
    assert capacity_bits(1000, 0.0) == 1000
    assert capacity_bits(1000, 10.0) == math.floor(1000 * math.log2(11)) == 3459
    with pytest.raises(DigitalError):
        bits_budget(10, 2, 1.5)


def test_threshold_interpolation():
    assert threshold_db([0.0, 1.0, 2.0], [1.0, 0.5, 0.0]) == pytest.approx(1.8)
    assert threshold_db([0.0, 1.0], [1.0, 0.1]) == pytest.approx(1.0)
    assert threshold_db([0.0, 1.0], [0.05, 0.0]) is None and threshold_db([0.0, 1.0], [1.0, 0.9]) is None


def test_configurations():
    assert len(CONFIGURATIONS) == 25 and len({c.name for c in CONFIGURATIONS}) == 25
    assert {c.bits_per_symbol for c in CONFIGURATIONS} == {1, 2, 4, 6, 8}
    assert PAPER_CONFIG.name == "16qam-2/3-n6144" and PAPER_CONFIG.spectral_efficiency == pytest.approx(8 / 3)
    with pytest.raises(DigitalError, match="multiple of 6"):
        DigitalConfig("64qam", "1/2", block_coded_bits=6143)


def test_layouts_fill_exactly_k_symbols():
    paper = DigitalScheme.from_config(PAPER_CONFIG)
    kodak = paper.layout(24576)
    assert kodak.blocks == ((4096, 6144),) * 16 and kodak.filler_symbols == 0
    with_rest = paper.layout(2 * 1536 + 500)  # 2000 coded bits left: a shorter third block
    assert with_rest.blocks == ((4096, 6144),) * 2 + ((1333, 2000),) and with_rest.filler_symbols == 0
    with_filler = paper.layout(2 * 1536 + 5)  # 20 coded bits left: too few for a block, 5 filler symbols
    assert with_filler.blocks == ((4096, 6144),) * 2 and with_filler.filler_symbols == 5
    single = DigitalScheme("qpsk", "1/2").layout(1000)
    assert single.blocks == ((1000, 2000),) and single.info_bits == bits_budget(1000, 2, 0.5)
    with pytest.raises(DigitalError, match="no 5G NR transport block"):
        DigitalScheme("bpsk", "1/3").layout(30)


def test_round_trip_at_high_snr_reproduces_the_hevc_image(image):
    rng = np.random.default_rng(1)
    scheme = DigitalScheme("16qam", "1/2", block_coded_bits=1024)
    k = 3 * 256 + 3  # three blocks of 1024 coded bits; 12 coded bits left: 3 filler symbols
    tx = scheme.transmit(image, k)
    assert tx.layout.filler_symbols == 3
    assert tx.symbols.shape == (k,) and tx.symbols.dtype == np.complex64
    assert np.mean(np.abs(tx.symbols) ** 2) == pytest.approx(1.0, abs=0.1)
    assert tx.source is not None and tx.source.bitstream_bits <= tx.layout.info_bits
    assert tx.layout.info_bits - tx.source.bitstream_bits < 0.3 * tx.layout.info_bits  # the budget is used
    received, noise_var = awgn(tx.symbols, 25.0, rng)
    rx = scheme.receive(received, noise_var, 48, 64, sent=tx)
    assert rx.crc_ok and rx.bits_ok and not rx.lost and rx.blocks_ok.shape == (3,)
    assert torch.equal(rx.image, decode(tx.source.data))


def test_very_low_snr_loses_the_image(image):
    rng = np.random.default_rng(2)
    scheme = DigitalScheme("16qam", "2/3")
    tx = scheme.transmit(image, 600)
    received, noise_var = awgn(tx.symbols, -3.0, rng)
    rx = scheme.receive(received, noise_var, 48, 64, sent=tx)
    assert not rx.crc_ok and rx.lost and rx.bits_ok is False and "CRC" in rx.reason
    assert torch.equal(rx.scored_image, torch.full((3, 48, 64), LOST_IMAGE_VALUE))


def test_a_budget_below_the_lowest_quality_sends_nothing(image):
    scheme = DigitalScheme("bpsk", "1/3")
    tx = scheme.transmit(image, 240)  # 80 source bits: HEVC needs several hundred
    assert tx.source is None and not tx.payload_bits.any()
    rx = scheme.receive(tx.symbols, np.full(240, 1e-3), 48, 64)
    assert rx.crc_ok and rx.lost and "empty bitstream" in rx.reason and rx.bits_ok is None


def test_chroma_420_round_trip_and_mismatched_ladder(image):
    scheme = DigitalScheme("qpsk", "3/4", chroma="420")
    tx = scheme.transmit(image, 800)
    rx = scheme.receive(tx.symbols, np.full(800, 1e-3), 48, 64)
    assert tx.source.chroma == "420" and torch.equal(rx.image, decode(tx.source.data))
    with pytest.raises(DigitalError, match="chroma"):
        scheme.transmit(image, 800, QualityLadder(image))


def test_erased_symbols_lose_the_image(image):
    scheme = DigitalScheme("qpsk", "1/2")
    tx = scheme.transmit(image, 800)
    noise_var = np.full(800, 1e-3)
    noise_var[:400] = np.inf  # half the symbols never arrived
    rx = scheme.receive(np.where(np.isinf(noise_var), 0, tx.symbols), noise_var, 48, 64)
    assert rx.lost and not rx.crc_ok


def test_envelope_picks_the_most_efficient_configuration_that_decodes(image):
    ladder = QualityLadder(image)
    configs = tuple(DigitalConfig(m, r) for m in ("qpsk", "16qam", "64qam") for r in ("1/2", "3/4"))
    k = 700
    high = envelope_best(image, k, 30.0, configs, rng=np.random.default_rng(3), ladder=ladder)
    assert high.config == DigitalConfig("64qam", "3/4")  # everything decodes at 30 dB: the largest budget wins
    assert high.score == max(high.scores.values()) and not high.rx.lost
    middle = envelope_best(image, k, 6.0, configs, rng=np.random.default_rng(4), ladder=ladder)
    # capacity at 6 dB is 2.3 bit/symbol: 64-QAM 1/2 (3) and above are not tried; QPSK or 16-QAM 1/2 wins
    assert set(middle.scores) == {"qpsk-1/2", "qpsk-3/4", "16qam-1/2"}
    assert middle.config is not None and middle.config.spectral_efficiency <= 2 and not middle.rx.lost
    none = envelope_best(image, k, -10.0, configs, rng=np.random.default_rng(5), ladder=ladder)
    assert none.config is None and none.rx is None and none.scores == {}


def test_capacity_bound_and_lost_image(image):
    bound = capacity_bound(image, 700, 10.0)
    assert bound is not None and bound.bitstream_bits <= capacity_bits(700, 10.0)
    assert lost_image(4, 5).shape == (3, 4, 5) and float(lost_image(4, 5).mean()) == LOST_IMAGE_VALUE
