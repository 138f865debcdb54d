"""Receiver on clean and AWGN input: exactness, streams of frames, truncation, SNR and noise estimates, BER."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.link_measurements import (  # noqa: E402
    gaussian_symbols,
    post_eq_snr_db,
    qpsk_ber_theory,
    qpsk_bits,
    qpsk_symbols,
    residual_to_reported,
    run_link,
    snr_at_ber,
)
from phy.channel import ChannelEmulator  # noqa: E402
from phy.frame_config import FrameConfig  # noqa: E402
from phy.header import HEADER_CODED_BITS, Header, PayloadKind, decode_header, encode_header  # noqa: E402
from phy.header_decoding import decode_headers  # noqa: E402
from phy.numerology import SUPPORTED_FFT_SIZES, Numerology  # noqa: E402
from phy.receiver import Receiver  # noqa: E402
from phy.receiver_config import ReceiverConfig  # noqa: E402
from phy.samples import SampleFormatError  # noqa: E402
from phy.synchronization import Detector  # noqa: E402
from phy.transmitter import Transmitter  # noqa: E402

NO_CLIP = FrameConfig(peak_limit=None)


def complex_noise(n: int, rng: np.random.Generator, power: float) -> np.ndarray:
    return (np.sqrt(power / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)


@pytest.mark.parametrize("fft_size", SUPPORTED_FFT_SIZES)
def test_no_impairment_returns_the_payload(fft_size: int) -> None:
    num = Numerology(fft_size=fft_size)
    rng = np.random.default_rng(fft_size)
    payload = gaussian_symbols(int(2.5 * FrameConfig().max_payload_symbols * num.n_data) // 4, rng)
    burst = Transmitter(num, NO_CLIP).transmit(payload, sequence=5)
    lead = 777
    stream = np.concatenate([np.zeros(lead, np.complex64), burst.samples, np.zeros(500, np.complex64)])
    frames = Receiver(num).receive(stream)
    assert [f.header for f in frames] == burst.headers
    assert [f.start for f in frames] == [lead + s for s in burst.frame_starts]
    got = np.concatenate([f.symbols for f in frames])
    assert np.max(np.abs(got - payload)) < 1e-5
    for f in frames:
        assert not f.truncated and not f.erased.any()
        assert f.symbols.dtype == np.complex64 and f.noise_var.dtype == np.float32
        assert np.all(np.isfinite(f.noise_var)) and np.all(f.noise_var < 1e-6)
        assert f.diagnostics.snr_db > 60
        assert abs(f.diagnostics.cfo_hz) < 1.0
        assert f.diagnostics.per_subcarrier_snr_db.shape == (len(num.occupied),)
        assert f.diagnostics.channel_estimate.shape == (len(num.occupied),)
        assert f.diagnostics.symbols_pre_eq.shape == (f.header.payload_len,)


def test_stream_of_frames_at_any_offset_with_noise_between() -> None:
    num = Numerology()
    rng = np.random.default_rng(11)
    tx = Transmitter(num, FrameConfig(max_payload_symbols=20, inter_frame_gap=0))
    sent, pieces, position = [], [], 0
    noise_power = 0.25**2 / 1000  # 30 dB below the frames' power
    for sequence in range(4):
        gap = int(rng.integers(0, 3000))
        burst = tx.transmit(gaussian_symbols(int(rng.integers(100, 2000)), rng), sequence=sequence)
        noisy = burst.samples + complex_noise(burst.samples.size, rng, noise_power)
        pieces += [complex_noise(gap, rng, noise_power), noisy]
        sent += [(position + gap + s, h) for s, h in zip(burst.frame_starts, burst.headers, strict=True)]
        position += gap + burst.samples.size
    pieces.append(complex_noise(1000, rng, noise_power))
    frames = Receiver(num).receive(np.concatenate(pieces))
    assert [(f.start, f.header) for f in frames] == sent


def test_detection_metric_is_the_same_whatever_its_chunk() -> None:
    """The detector computes its metric a chunk at a time; the chunks' seams must not show in it."""
    num = Numerology()
    rng = np.random.default_rng(12)
    burst = Transmitter(num, FrameConfig(max_payload_symbols=20)).transmit(gaussian_symbols(3000, rng))
    x = np.concatenate([complex_noise(5000, rng, 1e-4), burst.samples, complex_noise(7001, rng, 1e-4)])
    preamble = Receiver(num).preamble
    whole = Detector(preamble, chunk=1 << 20).metric(x)
    for chunk in (4096, 4096 + 16 * 3, 10000):
        for got, want in zip(Detector(preamble, chunk=chunk).metric(x), whole, strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_truncated_frame_erases_what_was_not_received() -> None:
    num = Numerology()
    rng = np.random.default_rng(3)
    payload = gaussian_symbols(40 * num.n_data, rng)
    burst = Transmitter(num, NO_CLIP).transmit(payload)
    layout = Transmitter(num).layout
    received_symbols = 25
    cut = layout.header_start + (layout.n_header_symbols + received_symbols) * num.symbol_len
    stream = np.concatenate([complex_noise(300, rng, 1e-8), burst.samples[:cut]])
    (frame,) = Receiver(num).receive(stream)
    assert frame.truncated
    n_ok = received_symbols * num.n_data
    assert not frame.erased[:n_ok].any() and frame.erased[n_ok:].all()
    assert np.max(np.abs(frame.symbols[:n_ok] - payload[:n_ok])) < 1e-3
    assert np.all(frame.symbols[n_ok:] == 0) and np.all(np.isinf(frame.noise_var[n_ok:]))
    # cut inside the header: the frame cannot be decoded and is not reported
    assert Receiver(num).receive(stream[: 300 + layout.header_start + 2 * num.symbol_len]) == []


def test_snr_estimate_and_noise_variance_over_awgn() -> None:
    num = Numerology()
    tx, rx = Transmitter(num), Receiver(num)
    emulator = ChannelEmulator("awgn", num, np.random.default_rng(21))
    rng = np.random.default_rng(22)
    for snr_db in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0):
        payload = gaussian_symbols(3 * tx.layout.max_payload_len, rng)
        run = run_link(tx, rx, emulator, payload, snr_db)
        assert len(run.frames) == 3, snr_db
        errors = [f.diagnostics.snr_db - snr_db for f in run.frames]
        assert max(abs(e) for e in errors) < 0.5, (snr_db, errors)
        assert residual_to_reported(run.frames, payload) == pytest.approx(1.0, abs=0.1), snr_db


@pytest.mark.parametrize("fft_size", [128, 512, 1024])
def test_snr_estimate_for_other_numerologies(fft_size: int) -> None:
    num = Numerology(fft_size=fft_size)
    tx, rx = Transmitter(num), Receiver(num)
    emulator = ChannelEmulator("awgn", num, np.random.default_rng(fft_size))
    payload = gaussian_symbols(30000, np.random.default_rng(1))
    for snr_db in (3.0, 20.0):
        run = run_link(tx, rx, emulator, payload, snr_db)
        assert sum(f.header.payload_len for f in run.frames) == payload.size
        assert all(abs(f.diagnostics.snr_db - snr_db) < 0.5 for f in run.frames)
        assert residual_to_reported(run.frames, payload) == pytest.approx(1.0, abs=0.1)


def test_qpsk_ber_within_half_a_db_of_theory() -> None:
    num = Numerology()
    tx, rx = Transmitter(num), Receiver(num)
    emulator = ChannelEmulator("awgn", num, np.random.default_rng(31))
    rng = np.random.default_rng(32)
    snrs = np.array([8.0, 9.0, 10.0, 11.0])
    bers = []
    for snr_db in snrs:
        bits = rng.integers(0, 2, 2 * 60000).astype(np.uint8)
        run = run_link(tx, rx, emulator, qpsk_symbols(bits), snr_db)
        assert sum(f.header.payload_len for f in run.frames) == bits.size // 2
        got = np.concatenate([qpsk_bits(f.symbols) for f in sorted(run.frames, key=lambda f: f.header.offset)])
        bers.append(np.mean(got != bits))
    gap = snr_at_ber(snrs, np.array(bers), 1e-3) - snr_at_ber(snrs, qpsk_ber_theory(snrs), 1e-3)
    assert abs(gap) < 0.5, (bers, gap)


def test_mmse_equaliser_reports_its_mean_square_error() -> None:
    num = Numerology()
    tx, rx = Transmitter(num), Receiver(num, ReceiverConfig(equalizer="mmse"))
    emulator = ChannelEmulator("tdl-c", num, np.random.default_rng(41))
    payload = gaussian_symbols(2 * tx.layout.max_payload_len, np.random.default_rng(42))
    run = run_link(tx, rx, emulator, payload, 5.0)
    assert len(run.frames) == 2
    assert residual_to_reported(run.frames, payload) == pytest.approx(1.0, abs=0.15)
    got = np.concatenate([f.symbols for f in run.frames])
    gain = np.vdot(payload, got) / np.vdot(payload, payload)
    assert 0.5 < gain.real < 0.95  # MMSE shrinks towards 0


def test_midambles_follow_a_channel_that_changes_within_the_frame() -> None:
    num = Numerology()
    snrs = {}
    for interval in (0, 32):
        tx = Transmitter(num, FrameConfig(midamble_interval=interval))
        rx = Receiver(num, ReceiverConfig(midamble_interval=interval))
        emulator = ChannelEmulator("tdl-c-doppler", num, np.random.default_rng(51))  # same channel draw
        payload = gaussian_symbols(tx.layout.max_payload_len, np.random.default_rng(52))
        run = run_link(tx, rx, emulator, payload, 25.0)
        assert len(run.frames) == 1 and not run.frames[0].truncated
        snrs[interval] = post_eq_snr_db(run.frames, payload, num, run.output.truth["freq_response"])
    assert snrs[32] > 15.0 and snrs[32] > snrs[0] + 10.0, snrs


@pytest.mark.parametrize(
    "kwargs",
    [{"equalizer": "dfe"}, {"false_alarm": 0.0}, {"ltf_threshold": 1.5}, {"timing_backoff": -1},
     {"midamble_interval": -2}, {"chunk_samples": 10}, {"smoothing_significance": 0}],
)
def test_receiver_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ReceiverConfig(**kwargs)


def test_receiver_config_toml_round_trip(tmp_path) -> None:
    path = tmp_path / "rx.toml"
    path.write_text('[receiver]\nequalizer = "mmse"\nfalse_alarm = 1e-6\ntiming_backoff = 3\n')
    cfg = ReceiverConfig.from_toml(path)
    assert cfg == ReceiverConfig(equalizer="mmse", false_alarm=1e-6, timing_backoff=3)
    assert ReceiverConfig(**cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "bad", ["abc", [object()], {"a": 1}, np.array(["x", "y"]), None], ids=["str", "objects", "dict", "strs", "none"]
)
def test_non_numeric_input_raises_one_clear_error(bad: object) -> None:
    with pytest.raises(SampleFormatError, match="array of numbers"):
        Receiver().receive(bad)


def test_batch_header_decoding_matches_the_single_decoder() -> None:
    """The receiver's batch decoder (ML shortcut + batched Viterbi) gives decode_header's answer, bit for bit."""
    rng = np.random.default_rng(5)
    headers = [Header(payload_kind=PayloadKind.JSCC, sequence=int(rng.integers(1 << 16)), frame_index=i % 3,
                      frame_count=3, payload_len=100 + i, total_len=5000, offset=i, height=64, width=96)
               for i in range(60)]
    signs = np.stack([1.0 - 2.0 * encode_header(h) for h in headers])
    for snr_db in (8.0, 2.0, 0.0, -3.0):
        sigma = 10 ** (-snr_db / 20)
        llr = 2 * (signs + sigma * rng.standard_normal(signs.shape)) / sigma**2
        decoded = decode_headers(llr)
        assert decoded.headers == [decode_header(row) for row in llr]
        ok = [i for i, h in enumerate(decoded.headers) if h is not None]
        assert all(decoded.headers[i] == headers[i] for i in ok)
        for i in ok:
            np.testing.assert_array_equal(decoded.coded[i], encode_header(headers[i]))
    assert decode_headers(np.zeros((0, HEADER_CODED_BITS))).headers == []
