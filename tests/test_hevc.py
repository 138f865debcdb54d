"""HEVC-intra source coding: rate grows with quality, budget search, 4:4:4, bitstream packing round trip."""

from __future__ import annotations

import io

import numpy as np
import pillow_heif
import pytest
import torch

from models.image_io import to_uint8
from ota.baseline.hevc import (
    MAX_QUALITY,
    HevcError,
    QualityLadder,
    decode,
    encode,
    encode_within,
    pack_bitstream,
    unpack_bitstream,
)


def textured_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(3, H, W) in [0, 1]: colour gradients, a few sinusoids and mild noise (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [0.5 + 0.35 * np.sin(2 * np.pi * (f * x + g * y) + p)
                for f, g, p in rng.uniform([1, 1, 0], [6, 6, 6], size=(3, 3))]
    image = np.stack(channels) + 0.04 * rng.standard_normal((3, height, width))
    return torch.from_numpy(np.clip(image, 0, 1)).float()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return textured_image(64, 96)


def test_more_quality_costs_more_bits_and_gives_less_error(image):
    coded = [encode(image, q) for q in (5, 40, 75)]
    bits = [c.bitstream_bits for c in coded]
    assert bits[0] < bits[1] < bits[2]
    errors = [float((decode(c.data) - image).square().mean()) for c in coded]
    assert errors[0] > errors[1] > errors[2]
    assert 10 * np.log10(1 / errors[2]) > 30  # quality 75: above 30 dB PSNR on this image


def test_bitstream_is_counted_without_the_container(image):
    coded = encode(image, 50)
    assert coded.bitstream_bits == 8 * len(pack_bitstream(coded.data)) == 8 * len(coded.bitstream)
    assert coded.bitstream_bits < coded.file_bits
    # the HEIF container (ftyp, meta, iloc, iinf, iprp ...) is a few hundred bytes, none of them sent
    assert 100 < (coded.file_bits - coded.bitstream_bits) // 8 < 600
    assert (coded.height, coded.width, coded.quality) == (64, 96, 50)


def test_chroma_is_444_and_uint8_input_codes_identically(image):
    coded = encode(image, 30)
    assert pillow_heif.open_heif(io.BytesIO(coded.data)).info["chroma"] == 444
    assert encode(to_uint8(image), 30).data == coded.data
    assert decode(coded.data).shape == (3, 64, 96)


@pytest.mark.parametrize(("size", "chroma"), [((64, 96), "444"), ((37, 53), "444"), ((64, 96), "420")])
def test_pack_unpack_round_trip_rebuilds_the_file(size, chroma):
    image = textured_image(*size, seed=1)
    for quality in (0, 60):
        coded = encode(image, quality, chroma)
        assert pillow_heif.open_heif(io.BytesIO(coded.data)).info["chroma"] == int(chroma)
        packed = pack_bitstream(coded.data)
        rebuilt = unpack_bitstream(packed + bytes(13), *size, chroma)  # zero padding after it is ignored
        assert rebuilt == coded.data
        assert torch.equal(decode(rebuilt), decode(coded.data))


def test_budget_search_fits_and_is_maximal(image):
    ladder = QualityLadder(image)
    budget = (ladder.at(20).bitstream_bits + ladder.at(60).bitstream_bits) // 2
    found = ladder.within(budget)
    assert found is not None and found.bitstream_bits <= budget
    assert ladder.at(found.quality + 1).bitstream_bits > budget
    assert encode_within(image, budget).quality == found.quality
    assert ladder.within(ladder.at(0).bitstream_bits - 1) is None
    assert ladder.within(10**9).quality == MAX_QUALITY


def test_bad_input_is_refused(image):
    with pytest.raises(HevcError, match="quality"):
        encode(image, 101)
    with pytest.raises(HevcError, match="chroma"):
        encode(image, 50, "411")
    with pytest.raises(HevcError, match=r"\(3, H, W\)"):
        encode(image[0], 50)
    with pytest.raises(HevcError, match="decodable"):
        decode(b"not a heif file")
    with pytest.raises(HevcError, match="empty bitstream"):
        unpack_bitstream(bytes(40), 64, 96)
    packed = pack_bitstream(encode(image, 10).data)
    with pytest.raises(HevcError):
        unpack_bitstream(packed[:-5], 64, 96)  # the last NAL unit is cut short
