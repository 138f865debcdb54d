"""5G NR LDPC transport blocks: parameters, error-free at high SNR, CRC failures below threshold, waterfall."""

from __future__ import annotations

import numpy as np
import pytest

from ota.baseline.chain import block_error_rate, threshold_db
from ota.baseline.ldpc import LdpcCode, LdpcError, _tb_size
from ota.baseline.qam import Qam
from phy.channel import awgn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def awgn_llr(code: LdpcCode, qam: Qam, bits: np.ndarray, es_n0_db: float, rng: np.random.Generator) -> np.ndarray:
    """Encode (B, n_info) bits, map, add complex AWGN at Es/N0, demap: LLRs (B, n_coded)."""
    received, noise_var = awgn(qam.map(code.encode(bits).reshape(-1)), es_n0_db, rng)
    return qam.demap(received, noise_var).reshape(bits.shape[0], code.n_coded)


def test_code_parameters_follow_38212():
    large = LdpcCode(65536, 98304, bits_per_symbol=4)  # a Kodak image at CBR 1/48, 16-QAM, rate 2/3
    assert large.num_code_blocks == 8 and large.base_graph == "bg1" and large.lifting_size == 384
    assert large.tb_size >= 65536 and large.code_block_bits == (large.tb_size + 24) // 8 + 24
    small = LdpcCode(3072, 6144, bits_per_symbol=2)  # <= 3824 bits at rate <= 0.67: base graph 2
    assert small.num_code_blocks == 1 and small.base_graph == "bg2" and small.tb_size == 3104
    by_rate = LdpcCode(1000, code_rate=0.5, bits_per_symbol=6)
    assert by_rate.n_coded == 2004 and by_rate.n_coded % 6 == 0
    assert by_rate.describe()["n_info"] == 1000


def test_noiseless_round_trip_and_llr_sign():
    rng = np.random.default_rng(0)
    # 3862 is one of the sizes 38.214 rounds *down*; the code must still carry every bit
    assert _tb_size(3862, 2 * 3862, 2) < 3862
    for n_info, n_coded in [(24, 96), (3862, 7724)]:
        code = LdpcCode(n_info, n_coded, bits_per_symbol=2)
        bits = rng.integers(0, 2, (2, n_info), dtype=np.uint8)
        coded = code.encode(bits)
        assert coded.shape == (2, n_coded) and coded.dtype == np.uint8
        decoded, ok = code.decode(8.0 * (1.0 - 2.0 * coded))  # positive LLR = bit 0
        assert ok.all() and np.array_equal(decoded, bits)
        single, single_ok = code.decode(8.0 * (1.0 - 2.0 * coded[0]))
        assert single_ok is True and np.array_equal(single, bits[0])
        _, flipped_ok = code.decode(-8.0 * (1.0 - 2.0 * coded))  # the wrong sign convention fails its CRC
        assert not flipped_ok.any()


def test_error_free_at_high_snr_and_crc_failure_far_below_threshold():
    rng = np.random.default_rng(1)
    code, qam = LdpcCode(1000, 2000, bits_per_symbol=4), Qam("16qam")
    bits = rng.integers(0, 2, (4, 1000), dtype=np.uint8)
    decoded, ok = code.decode(awgn_llr(code, qam, bits, 9.0, rng))
    assert ok.all() and np.array_equal(decoded, bits)
    decoded, ok = code.decode(awgn_llr(code, qam, bits, 0.0, rng))
    assert not ok.any()
    assert all(not np.array_equal(d, b) for d, b in zip(decoded, bits, strict=True))


def test_rate_half_qpsk_waterfall_near_published_threshold():
    """Rate-1/2 QPSK, n = 6144 (3072 information bits), AWGN, 20 BP iterations.

    Reference: the anchor of the issue, BLER 1e-1 near Es/N0 = 1 dB for n ~ 6144, the usual place of
    published 5G NR LDPC waterfalls (e.g. T. Richardson, S. Kudekar, "Design of low-density parity check
    codes for 5G New Radio", IEEE Commun. Mag. 56(3), 2018): about 0.8 dB above the BI-AWGN limit of rate
    1/2 QPSK (Es/N0 = 0.19 dB, computed from the capacity of BPSK per dimension) at this length;
    this asserts the measured 10 % point lies within 1 dB of it (in [0, 2] dB). Coarse on purpose: 12
    blocks per point, the 10 % crossing interpolated linearly in dB between grid points.
    """
    rng = np.random.default_rng(2)
    code, qam = LdpcCode(3072, 6144, bits_per_symbol=2), Qam("qpsk")
    grid = [0.5, 1.0, 1.5, 2.0]
    bler = [block_error_rate(code, qam, es_n0, 12, rng, batch=12) for es_n0 in grid]
    assert bler[0] >= 0.9 and bler[-1] == 0.0
    assert all(a >= b for a, b in zip(bler, bler[1:], strict=False))
    threshold = threshold_db(grid, bler)
    assert threshold is not None and 0.0 <= threshold <= 2.0


def test_bad_parameters_and_input_are_refused():
    with pytest.raises(LdpcError, match=">= 24"):
        LdpcCode(10, 40)
    with pytest.raises(LdpcError, match="exactly one"):
        LdpcCode(100, 200, code_rate=0.5)
    with pytest.raises(LdpcError, match="maximum"):
        LdpcCode(100, 101)
    with pytest.raises(LdpcError, match="multiple of bits_per_symbol"):
        LdpcCode(100, 301, bits_per_symbol=2)
    code = LdpcCode(100, 200)
    with pytest.raises(LdpcError, match="n_info=100"):
        code.encode(np.zeros(99, dtype=np.uint8))
    with pytest.raises(LdpcError, match="NaN"):
        code.decode(np.full(200, np.nan))


def test_early_stopping_gives_the_full_decoders_bits_and_settles_clean_blocks_early():
    rng = np.random.default_rng(4)
    qam = Qam("16qam")
    early, full = LdpcCode(3000, 6000, bits_per_symbol=4), LdpcCode(3000, 6000, bits_per_symbol=4, early_stop=False)
    bits = rng.integers(0, 2, (6, 3000), dtype=np.uint8)
    for es_n0_db in (5.0, 6.5, 8.0, 14.0):  # below, around and above this code's threshold
        llr = awgn_llr(early, qam, bits, es_n0_db, rng)
        (got, got_ok), (want, want_ok) = early.decode(llr), full.decode(llr)
        assert np.array_equal(got, want) and np.array_equal(got_ok, want_ok)
    assert early.blocks_decoded == 24 and full.blocks_stopped_early == 0
    assert 6 <= early.blocks_stopped_early < 24  # at 14 dB every block settles in the early pass, at 5 dB none
    assert early.describe()["early_stop_iterations"] == 5 and full.describe()["early_stop_iterations"] is None
