"""Frame header: CRC-32, field layout, coding, and that nothing corrupted is ever accepted."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from phy.convolutional import conv_encode
from phy.crc import CRC_BITS, append_crc, check_crc, crc32
from phy.header import (
    FIELD_BITS,
    HEADER_CODED_BITS,
    HEADER_INFO_BITS,
    HEADER_INTERLEAVER,
    Header,
    PayloadKind,
    decode_header,
    decode_headers,
    encode_header,
    header_from_bits,
    header_to_bits,
    header_to_dict,
)


def random_header(rng: np.random.Generator) -> Header:
    """A valid header with every field drawn over its whole range."""
    frame_count = int(rng.integers(1, 1 << 12))
    total_len = int(rng.integers(1, 1 << 24))
    payload_len = int(rng.integers(1, min(total_len, (1 << 20) - 1) + 1))
    return Header(
        payload_kind=PayloadKind(int(rng.integers(0, 3))),
        sequence=int(rng.integers(0, 1 << 16)),
        frame_index=int(rng.integers(0, frame_count)),
        frame_count=frame_count,
        payload_len=payload_len,
        total_len=total_len,
        offset=int(rng.integers(0, total_len - payload_len + 1)),
        height=int(rng.integers(0, 1 << 16)),
        width=int(rng.integers(0, 1 << 16)),
        model_id=int(rng.integers(0, 1 << 8)),
        aux=int(rng.integers(0, 1 << 16)),
    )


def hard_llr(coded: np.ndarray) -> np.ndarray:
    return 1.0 - 2.0 * coded.astype(np.float64)


EXAMPLE = Header(
    payload_kind=PayloadKind.JSCC, sequence=513, frame_index=2, frame_count=5, payload_len=1200,
    total_len=6000, offset=2400, height=512, width=768, model_id=48, aux=0,
)  # fmt: skip


def bit_serial_crc(bits: list[int]) -> int:
    """CRC-32/BZIP2 one bit at a time, straight from the definition."""
    reg = 0xFFFFFFFF
    for b in bits:
        top = (reg >> 31) ^ b
        reg = (reg << 1) & 0xFFFFFFFF
        if top:
            reg ^= 0x04C11DB7
    return reg ^ 0xFFFFFFFF


def test_crc_check_value_and_any_bit_length() -> None:
    ascii_bits = np.unpackbits(np.frombuffer(b"123456789", dtype=np.uint8))
    assert crc32(ascii_bits) == 0xFC891918  # CRC-32/BZIP2 catalogue check value
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 9, 31, 172, 205):
        bits = rng.integers(0, 2, n).astype(np.uint8)
        assert crc32(bits) == bit_serial_crc(bits.tolist())
        protected = append_crc(bits)
        assert protected.shape == (n + CRC_BITS,) and check_crc(protected)
    with pytest.raises(ValueError, match="only 0 and 1"):
        crc32(np.array([0, 3]))
    with pytest.raises(ValueError, match="at least 32"):
        check_crc(np.zeros(10, dtype=np.uint8))


def test_every_one_and_two_bit_error_before_coding_is_rejected_by_the_crc() -> None:
    protected = append_crc(header_to_bits(EXAMPLE))
    assert protected.size == HEADER_INFO_BITS + CRC_BITS == 204
    for i in range(protected.size):
        corrupted = protected.copy()
        corrupted[i] ^= 1
        assert not check_crc(corrupted), f"single-bit error at {i} passed the CRC"
    rejected = 0
    for i, j in combinations(range(protected.size), 2):
        corrupted = protected.copy()
        corrupted[[i, j]] ^= 1
        rejected += not check_crc(corrupted)
    assert rejected == protected.size * (protected.size - 1) // 2


def test_layout_constants() -> None:
    assert sum(FIELD_BITS.values()) == HEADER_INFO_BITS == 172
    assert HEADER_CODED_BITS == 2 * (HEADER_INFO_BITS + CRC_BITS + 6) == 420
    assert list(FIELD_BITS) == [f for f in Header.__dataclass_fields__]
    bits = header_to_bits(EXAMPLE)
    assert bits.shape == (HEADER_INFO_BITS,) and bits.dtype == np.uint8
    assert bits[:4].tolist() == [0, 0, 0, 1]  # version 1, MSB first
    assert bits[4:8].tolist() == [0, 0, 0, 1]  # payload kind JSCC
    assert header_from_bits(bits) == EXAMPLE


def test_interleaver_spreads_neighbours() -> None:
    perm = HEADER_INTERLEAVER.permutation
    assert sorted(perm.tolist()) == list(range(HEADER_CODED_BITS))
    position = np.argsort(perm)  # where each coded bit is transmitted
    assert np.abs(np.diff(position)).min() >= HEADER_INTERLEAVER.n_rows == 20
    assert np.abs(np.diff(perm)).min() >= HEADER_INTERLEAVER.n_cols == 21
    x = np.arange(HEADER_CODED_BITS) * 1.5
    np.testing.assert_array_equal(HEADER_INTERLEAVER.deinterleave(HEADER_INTERLEAVER.interleave(x)), x)


def test_round_trip_of_random_headers() -> None:
    rng = np.random.default_rng(1)
    headers = [random_header(rng) for _ in range(200)]
    coded = np.stack([encode_header(h) for h in headers])
    assert coded.shape == (200, HEADER_CODED_BITS) and coded.dtype == np.uint8
    assert decode_headers(hard_llr(coded)) == headers
    assert decode_header(hard_llr(coded[0])) == headers[0]
    assert decode_header(hard_llr(coded[0]).astype(np.float32)) == headers[0]


def test_decodes_in_noise_at_moderate_snr() -> None:
    """BPSK at Es/N0 = 2 dB (raw BER ~4 %): every one of 300 headers decodes."""
    rng = np.random.default_rng(2)
    headers = [random_header(rng) for _ in range(300)]
    x = hard_llr(np.stack([encode_header(h) for h in headers]))
    sigma2 = 0.5 / 10 ** (2.0 / 10)
    y = x + rng.normal(0.0, np.sqrt(sigma2), x.shape)
    assert 0.02 < np.mean((y < 0) != (x < 0)) < 0.06
    assert decode_headers(2 * y / sigma2) == headers


def test_survives_a_burst_of_48_erased_bits_anywhere() -> None:
    """A faded run of 48 transmitted bits (one BPSK OFDM symbol of 48 subcarriers) is recovered."""
    clean = hard_llr(encode_header(EXAMPLE))
    starts = range(HEADER_CODED_BITS - 48 + 1)
    llr = np.tile(clean, (len(starts), 1))
    for row, s in zip(llr, starts, strict=True):
        row[s : s + 48] = 0.0
    assert all(h == EXAMPLE for h in decode_headers(llr))


def test_every_single_coded_bit_error_is_corrected() -> None:
    clean = hard_llr(encode_header(EXAMPLE))
    llr = np.tile(clean, (HEADER_CODED_BITS, 1))
    llr[np.arange(HEADER_CODED_BITS), np.arange(HEADER_CODED_BITS)] *= -1
    decoded = decode_headers(llr)
    assert all(h == EXAMPLE for h in decoded)


def test_heavy_corruption_is_rejected_never_accepted_wrong() -> None:
    """8 to 60 flipped coded bits: the result is the sent header or None, never another header."""
    rng = np.random.default_rng(3)
    clean = hard_llr(encode_header(EXAMPLE))
    llr = np.tile(clean, (600, 1))
    for row in llr:
        row[rng.choice(HEADER_CODED_BITS, int(rng.integers(8, 61)), replace=False)] *= -1
    decoded = decode_headers(llr)
    assert all(h is None or h == EXAMPLE for h in decoded)
    assert sum(h is None for h in decoded) > 100  # heavy corruption is really being rejected


def test_random_llr_garbage_is_never_accepted() -> None:
    rng = np.random.default_rng(4)
    n = 1000
    draws = [
        rng.normal(0.0, 1.0, (n, HEADER_CODED_BITS)),
        rng.normal(0.0, 30.0, (n, HEADER_CODED_BITS)),
        rng.uniform(-1.0, 1.0, (n, HEADER_CODED_BITS)),
        1.0 - 2.0 * rng.integers(0, 2, (n, HEADER_CODED_BITS)),
        np.where(rng.random((n, HEADER_CODED_BITS)) < 0.2, np.nan, rng.normal(0.0, 1e6, (n, HEADER_CODED_BITS))),
    ]
    special = np.stack([np.full(HEADER_CODED_BITS, v) for v in (0.0, np.nan, np.inf, -np.inf, 1e308, -1e308)])
    llr = np.concatenate([*draws, special])
    assert all(h is None for h in decode_headers(llr))
    assert decode_header(np.full(HEADER_CODED_BITS, np.nan)) is None


def test_crc_valid_but_invalid_fields_are_rejected() -> None:
    fields = header_to_bits(EXAMPLE)
    fields[16:24] = 1  # sequence field bits only: still valid
    fields[36:48] = 0  # frame_count = 0 -> invalid
    coded = HEADER_INTERLEAVER.interleave(conv_encode(append_crc(fields)))
    assert decode_header(hard_llr(coded)) is None


def test_decode_rejects_wrong_shape_with_clear_error() -> None:
    with pytest.raises(ValueError, match=r"expected \(420,\)"):
        decode_header(np.zeros(419))
    with pytest.raises(ValueError, match=r"expected \(batch, 420\)"):
        decode_headers(np.zeros(420))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sequence": 1 << 16}, r"Header.sequence=65536 is out of range; expected 0..65535 \(16 bits\)"),
        ({"sequence": -1}, r"Header.sequence=-1 is out of range"),
        ({"frame_count": 0}, r"Header.frame_count=0 is out of range; expected 1..4095"),
        ({"payload_len": 0}, r"Header.payload_len=0 is out of range; expected 1..1048575"),
        ({"total_len": 1 << 24}, r"Header.total_len=16777216 is out of range; expected 1..16777215"),
        ({"height": 70000}, r"Header.height=70000 is out of range; expected 0..65535"),
        ({"model_id": 256}, r"Header.model_id=256 is out of range; expected 0..255"),
        ({"aux": 1.5}, r"Header.aux=1.5 must be an integer"),
        ({"version": 2}, r"Header.version=2 is not supported; expected one of \(1,\)"),
        ({"payload_kind": 7}, r"Header.payload_kind=7 is unknown; expected one of RAW=0, JSCC=1, QAM=2"),
        ({"frame_index": 5}, r"Header.frame_index=5 must be below frame_count=5"),
        ({"offset": 5000}, r"Header.offset=5000 \+ payload_len=1200 exceeds total_len=6000"),
    ],
)
def test_invalid_fields_give_clear_errors(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Header(**{**EXAMPLE.to_dict(), "payload_kind": EXAMPLE.payload_kind, **change})


def test_dict_json_round_trip() -> None:
    d = header_to_dict(EXAMPLE)
    assert d == EXAMPLE.to_dict() and d["payload_kind"] == "JSCC"
    assert Header.from_dict(json.loads(json.dumps(d))) == EXAMPLE
    assert Header.from_dict({**d, "payload_kind": 1}) == EXAMPLE
    with pytest.raises(ValueError, match="payload_kind='BPSK' is unknown"):
        Header.from_dict({**d, "payload_kind": "BPSK"})
    numpy_ints = Header(**{k: np.int64(v) for k, v in {**d, "payload_kind": 2}.items()})
    assert type(numpy_ints.sequence) is int and numpy_ints.payload_kind is PayloadKind.QAM
