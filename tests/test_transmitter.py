"""Transmitter: preamble, pilots, frame layout, splitting, scaling, clipping, PAPR and bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.fft

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.link_measurements import gaussian_symbols  # noqa: E402
from phy.frame_config import FrameConfig  # noqa: E402
from phy.frame_layout import FrameLayout  # noqa: E402
from phy.header import Header, PayloadKind, encode_header, header_symbols  # noqa: E402
from phy.numerology import SUPPORTED_FFT_SIZES, Numerology  # noqa: E402
from phy.ofdm import positions  # noqa: E402
from phy.papr import ccdf, papr_db, symbol_papr_db  # noqa: E402
from phy.pilots import pilot_base, pilot_polarity, pilot_values  # noqa: E402
from phy.preamble import STF_PERIOD, Preamble  # noqa: E402
from phy.transmitter import PayloadError, Transmitter  # noqa: E402

LTF_80211A = [1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1,
              1, -1, -1, 1, 1, -1, 1, -1, 1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, 1, 1]
POLARITY_80211A = [1, 1, 1, 1, -1, -1, -1, 1, -1, -1, -1, -1, 1, 1, -1, 1, -1, -1, 1, 1, -1, 1, 1, -1]


def occupied_values(num: Numerology, symbol: np.ndarray) -> np.ndarray:
    """Orthonormal FFT of one N-sample symbol at the occupied subcarriers."""
    return scipy.fft.fft(symbol, norm="ortho")[num.bins(num.occupied)]


@pytest.mark.parametrize("fft_size", SUPPORTED_FFT_SIZES)
def test_preamble_structure(fft_size: int) -> None:
    num = Numerology(fft_size=fft_size)
    pre = Preamble(num)
    n_occ = len(num.occupied)
    assert pre.stf.size == 5 * fft_size // 2
    np.testing.assert_allclose(pre.stf[STF_PERIOD:], pre.stf[:-STF_PERIOD], atol=1e-6)
    assert np.mean(np.abs(pre.stf) ** 2) == pytest.approx(n_occ / fft_size, rel=1e-4)
    # LTF: guard = tail of the symbol, two identical copies, +-1 on every occupied subcarrier, 0 elsewhere
    g = pre.ltf_guard
    assert g == 2 * num.cp_len
    np.testing.assert_array_equal(pre.ltf[:g], pre.ltf_symbol[-g:])
    np.testing.assert_array_equal(pre.ltf[g : g + fft_size], pre.ltf[g + fft_size :])
    values = occupied_values(num, pre.ltf_symbol)
    np.testing.assert_allclose(values, pre.ltf_values, atol=1e-5)
    full = scipy.fft.fft(pre.ltf_symbol, norm="ortho")
    assert np.sum(np.abs(full) ** 2) == pytest.approx(n_occ, rel=1e-5)


def test_80211a_sequences_at_fft_64() -> None:
    num = Numerology()
    np.testing.assert_array_equal(Preamble(num).ltf_values, LTF_80211A)
    np.testing.assert_array_equal(pilot_polarity(np.arange(24)), POLARITY_80211A)
    np.testing.assert_array_equal(pilot_base(num), [1, 1, 1, -1])
    # 802.11a's STF: 16-sample period whose sample 4 is real and sample 12 imaginary (time-domain table)
    stf = Preamble(num).stf
    assert abs(stf[4].imag) < 1e-6 and abs(stf[12].real) < 1e-6
    assert np.abs(stf[4]) == pytest.approx(np.abs(stf[12]), rel=1e-5)


@pytest.mark.parametrize("fft_size", [64, 256])
def test_frame_symbols_carry_payload_pilots_and_cyclic_prefix(fft_size: int) -> None:
    num = Numerology(fft_size=fft_size)
    tx = Transmitter(num, FrameConfig(midamble_interval=3))
    layout = tx.layout
    payload = gaussian_symbols(7 * num.n_data + 5, np.random.default_rng(0))
    header = Header(payload_kind=PayloadKind.JSCC, sequence=9, frame_index=0, frame_count=1,
                    payload_len=payload.size, total_len=payload.size, offset=0)
    frame = tx.frame(header, payload)
    assert frame.size == layout.frame_length(payload.size)
    data, pilot = positions(num, num.data), positions(num, num.pilot)
    n_h = layout.n_header_symbols
    received_data, symbol_index = [], []
    for seg in layout.segments(payload.size):
        ltf = frame[seg.ltf_start : seg.ltf_start + layout.preamble.ltf_len]
        np.testing.assert_allclose(ltf, layout.preamble.ltf, atol=1e-6)
        for i in range(seg.n_symbols):
            start = seg.first_symbol + i * num.symbol_len
            sym = frame[start : start + num.symbol_len]
            np.testing.assert_array_equal(sym[: num.cp_len], sym[-num.cp_len :])
            values = occupied_values(num, sym[num.cp_len :])
            index = seg.first_index + i
            np.testing.assert_allclose(values[pilot], pilot_values(num, np.array([index]))[0], atol=1e-5)
            received_data.append(values[data])
            symbol_index.append(index)
    assert symbol_index == list(range(n_h + 8))
    rx = np.array(received_data)
    np.testing.assert_allclose(rx[:n_h], header_symbols(encode_header(header), n_h, num.n_data), atol=1e-5)
    np.testing.assert_allclose(rx[n_h:].reshape(-1)[: payload.size], payload, atol=1e-5)
    padding = rx[n_h:].reshape(-1)[payload.size :]
    np.testing.assert_allclose(np.abs(padding), 1.0, atol=1e-5)


def test_payload_split_into_frames_with_headers_and_gaps() -> None:
    num = Numerology()
    cfg = FrameConfig(max_payload_symbols=10, inter_frame_gap=123, peak_limit=None)
    tx = Transmitter(num, cfg)
    payload = gaussian_symbols(2 * 480 + 100, np.random.default_rng(1))
    burst = tx.transmit(payload, payload_kind=PayloadKind.QAM, sequence=77, height=32, width=48, model_id=3, aux=16)
    assert [h.frame_index for h in burst.headers] == [0, 1, 2]
    assert {h.frame_count for h in burst.headers} == {3}
    assert [h.offset for h in burst.headers] == [0, 480, 960]
    assert [h.payload_len for h in burst.headers] == [480, 480, 100]
    assert all(h.total_len == payload.size and h.sequence == 77 for h in burst.headers)
    assert all(h.payload_kind == PayloadKind.QAM for h in burst.headers)
    assert all((h.height, h.width, h.model_id, h.aux) == (32, 48, 3, 16) for h in burst.headers)
    layout = FrameLayout(num, cfg)
    assert burst.frame_lengths == [layout.frame_length(h.payload_len) for h in burst.headers]
    assert burst.samples.size == sum(burst.frame_lengths) + 3 * 123
    for start, length in zip(burst.frame_starts, burst.frame_lengths, strict=True):
        frame = burst.samples[start : start + length]
        assert np.sqrt(np.mean(np.abs(frame) ** 2)) == pytest.approx(cfg.target_rms, rel=1e-4)
        assert not np.any(burst.samples[start + length : start + length + 123])
    assert burst.samples.dtype == np.complex64
    assert burst.clipped_fraction == 0.0
    assert burst.sample_rate == num.sample_rate


def test_peak_limit_clips_and_papr_is_reported() -> None:
    payload = gaussian_symbols(3000, np.random.default_rng(2))
    free = Transmitter(frame_config=FrameConfig(peak_limit=None, target_rms=0.25)).transmit(payload)
    clipped = Transmitter(frame_config=FrameConfig(peak_limit=0.5, target_rms=0.25)).transmit(payload)
    assert np.max(np.abs(free.samples)) > 0.5
    assert np.max(np.abs(clipped.samples)) <= 0.5 + 1e-6
    assert 0 < clipped.clipped_fraction < 0.05
    spans = zip(free.frame_starts, free.frame_lengths, strict=True)
    frames = np.concatenate([free.samples[s : s + n] for s, n in spans])
    assert free.papr_db == pytest.approx(papr_db(frames))
    assert clipped.papr_db <= 10 * np.log10(0.5**2 / np.mean(np.abs(frames) ** 2)) + 0.1
    assert 6 < free.papr_db < 14  # OFDM of Gaussian symbols


def test_papr_helpers() -> None:
    assert papr_db(np.ones(10, complex)) == pytest.approx(0.0)
    assert papr_db(np.array([1, 0, 0, 0], complex)) == pytest.approx(10 * np.log10(4))
    with pytest.raises(ValueError):
        papr_db(np.zeros(0, complex))
    values = symbol_papr_db(np.concatenate([np.ones(8), np.zeros(8), [2, 0, 0, 0, 0, 0, 0, 0]]), 8)
    np.testing.assert_allclose(values, [0.0, 10 * np.log10(8)])
    probabilities = ccdf(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.0, 2.5, 5.0]))
    np.testing.assert_allclose(probabilities, [1.0, 0.5, 0.5, 0.0])


@pytest.mark.parametrize(
    "payload",
    [np.zeros(0, np.complex64), np.ones((2, 3), np.complex64), np.array([1, np.nan], np.complex64),
     np.array(["a", "b"]), np.array([1, np.inf], np.complex128)],
    ids=["empty", "2-D", "nan", "strings", "inf"],
)
def test_bad_payload_is_refused(payload: np.ndarray) -> None:
    with pytest.raises(PayloadError):
        Transmitter().transmit(payload)


def test_too_many_frames_and_bad_header_fields_are_refused() -> None:
    tx = Transmitter(frame_config=FrameConfig(max_payload_symbols=1))
    with pytest.raises(PayloadError, match="4095"):
        tx.transmit(np.ones(4096 * 48, np.complex64))
    with pytest.raises(ValueError, match="sequence"):
        Transmitter().transmit(np.ones(10, np.complex64), sequence=1 << 16)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_payload_symbols": 0}, {"midamble_interval": -1}, {"target_rms": 0.0}, {"target_rms": float("nan")},
     {"peak_limit": 0.0}, {"inter_frame_gap": -5}, {"max_payload_symbols": 1.5}],
)
def test_frame_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FrameConfig(**kwargs)


def test_frame_config_toml_round_trip(tmp_path) -> None:
    path = tmp_path / "link.toml"
    path.write_text(
        "[frame]\nmax_payload_symbols = 64\nmidamble_interval = 16\ntarget_rms = 0.3\ninter_frame_gap = 10\n"
    )
    cfg = FrameConfig.from_toml(path)
    assert cfg == FrameConfig(max_payload_symbols=64, midamble_interval=16, target_rms=0.3, inter_frame_gap=10)
    assert FrameConfig(**cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="no \\[radio\\]"):
        FrameConfig.from_toml(path, table="radio")
