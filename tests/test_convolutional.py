"""The (133, 171) K=7 convolutional code and its soft Viterbi decoder."""

from __future__ import annotations

import numpy as np
import pytest

from phy.convolutional import LLR_LIMIT, conv_encode, n_coded_bits, sanitize_llr, viterbi_decode


def reference_encode(bits: np.ndarray) -> np.ndarray:
    """Bit-serial shift-register encoder written from the 802.11a description."""
    register = [0] * 6  # register[0] = previous input, register[5] = six steps back
    out = []
    for b in [*bits.tolist(), 0, 0, 0, 0, 0, 0]:
        d = [b, *register]  # d[k] = input k steps back
        out.append(d[0] ^ d[2] ^ d[3] ^ d[5] ^ d[6])  # 133 octal = 1011011
        out.append(d[0] ^ d[1] ^ d[2] ^ d[3] ^ d[6])  # 171 octal = 1111001
        register = [b, *register[:-1]]
    return np.array(out, dtype=np.uint8)


def bpsk_llr(coded: np.ndarray) -> np.ndarray:
    """Noiseless BPSK LLRs (0 -> +1, 1 -> -1)."""
    return 1.0 - 2.0 * coded.astype(np.float64)


def test_impulse_response_is_the_generators() -> None:
    coded = conv_encode(np.array([1], dtype=np.uint8))
    assert coded.shape == (14,)
    np.testing.assert_array_equal(coded[0::2], [1, 0, 1, 1, 0, 1, 1])  # 133 octal, MSB first
    np.testing.assert_array_equal(coded[1::2], [1, 1, 1, 1, 0, 0, 1])  # 171 octal


@pytest.mark.parametrize("n", [0, 1, 7, 100, 333])
def test_encoder_matches_shift_register_and_decodes_noiseless(n: int) -> None:
    bits = np.random.default_rng(n).integers(0, 2, n).astype(np.uint8)
    coded = conv_encode(bits)
    assert coded.shape == (n_coded_bits(n),) == (2 * (n + 6),)
    assert coded.dtype == np.uint8
    np.testing.assert_array_equal(coded, reference_encode(bits))
    np.testing.assert_array_equal(viterbi_decode(bpsk_llr(coded), n), bits)


def test_batch_decoding_equals_one_at_a_time() -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, (9, 50)).astype(np.uint8)
    llr = np.stack([bpsk_llr(conv_encode(b)) for b in bits]) + rng.normal(0, 0.8, (9, n_coded_bits(50)))
    batch = viterbi_decode(llr, 50)
    assert batch.shape == (9, 50)
    for row, single in zip(batch, llr, strict=True):
        np.testing.assert_array_equal(row, viterbi_decode(single, 50))


def test_any_four_hard_errors_are_corrected() -> None:
    """Free distance 10: up to four flipped hard decisions always decode to the sent bits."""
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, 120).astype(np.uint8)
    clean = bpsk_llr(conv_encode(bits))
    llr = np.tile(clean, (300, 1))
    for row in llr:
        row[rng.choice(clean.size, 4, replace=False)] *= -1
    np.testing.assert_array_equal(viterbi_decode(llr, 120), np.tile(bits, (300, 1)))


def test_erasing_every_fourth_bit_still_decodes() -> None:
    """Zero LLRs are erasures; removing every 4th bit is 802.11a's rate-2/3 puncturing."""
    bits = np.random.default_rng(3).integers(0, 2, 200).astype(np.uint8)
    llr = bpsk_llr(conv_encode(bits))
    llr[3::4] = 0.0
    np.testing.assert_array_equal(viterbi_decode(llr, 200), bits)


def test_ber_at_4db_ebn0_is_below_1e4() -> None:
    """Soft-decision K=7 r=1/2 over BPSK AWGN: BER ~3e-5 at Eb/N0 = 4 dB (hard decisions give ~5e-3)."""
    rng = np.random.default_rng(4)
    n_blocks, n_info, ebn0_db = 500, 1000, 4.0
    bits = rng.integers(0, 2, (n_blocks, n_info)).astype(np.uint8)
    x = np.stack([bpsk_llr(conv_encode(b)) for b in bits])
    sigma2 = 1.0 / (2 * 0.5 * 10 ** (ebn0_db / 10))  # Es = R * Eb = 1, sigma2 = N0 / 2
    y = x + rng.normal(0.0, np.sqrt(sigma2), x.shape)
    uncoded_ber = np.mean((y < 0) != (x < 0))
    ber = np.mean(viterbi_decode(2 * y / sigma2, n_info) != bits)
    assert 0.05 < uncoded_ber < 0.062  # raw BPSK at Es/N0 = 1 dB: Q(sqrt(2 * 10**0.1)) = 0.056
    assert ber < 1e-4


def test_any_float_input_decodes_without_error() -> None:
    llr = np.array([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0] * 4)
    out = viterbi_decode(llr, 6)
    assert out.shape == (6,)
    assert set(np.unique(out)) <= {0, 1}
    clean = sanitize_llr(llr)
    assert np.isfinite(clean).all() and np.abs(clean).max() == LLR_LIMIT


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"expected \(24,\)"):
        viterbi_decode(np.zeros(23), 6)
    with pytest.raises(ValueError, match="n_info=-1"):
        viterbi_decode(np.zeros(10), -1)
    with pytest.raises(ValueError, match="only 0 and 1"):
        conv_encode(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="1-D"):
        conv_encode(np.zeros((2, 3), dtype=np.uint8))
