"""Reassembly of a transmission from its frames: lost frames erased, duplicates combined, sequences apart."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.link_measurements import gaussian_symbols  # noqa: E402
from phy.channel import ChannelEmulator  # noqa: E402
from phy.frame_config import FrameConfig  # noqa: E402
from phy.numerology import Numerology  # noqa: E402
from phy.reassembly import ReassemblyError, reassemble  # noqa: E402
from phy.receiver import Receiver  # noqa: E402
from phy.transmitter import Transmitter  # noqa: E402

NUM = Numerology()
TX = Transmitter(NUM, FrameConfig(max_payload_symbols=10, inter_frame_gap=200))
RX = Receiver(NUM)


def received(payload: np.ndarray, snr_db: float, seed: int, sequence: int = 4) -> tuple:
    burst = TX.transmit(payload, sequence=sequence, height=16, width=24)
    output = ChannelEmulator("awgn", NUM, np.random.default_rng(seed))(burst.samples, snr_db)
    return burst, RX.receive(output.samples)


def test_all_frames_in_any_order() -> None:
    payload = gaussian_symbols(1234, np.random.default_rng(1))
    burst, frames = received(payload, 30.0, 2)
    assert len(frames) == len(burst.headers) == 3
    out = reassemble(frames[::-1])
    assert out.frames_expected == 3 and out.frames_decoded == 3
    assert out.header.frame_index == 0 and (out.header.height, out.header.width) == (16, 24)
    assert not out.erased.any()
    assert out.symbols.dtype == np.complex64 and out.noise_var.dtype == np.float32
    assert np.mean(np.abs(out.symbols - payload) ** 2) == pytest.approx(np.mean(out.noise_var), rel=0.2)


def test_lost_frame_is_erased() -> None:
    payload = gaussian_symbols(1234, np.random.default_rng(3))
    burst, frames = received(payload, 30.0, 4)
    kept = [f for f in frames if f.header.frame_index != 1]
    out = reassemble(kept)
    lost = slice(burst.headers[1].offset, burst.headers[1].offset + burst.headers[1].payload_len)
    assert out.frames_expected == 3 and out.frames_decoded == 2
    assert out.erased[lost].all() and out.erased.sum() == burst.headers[1].payload_len
    assert np.all(out.symbols[lost] == 0) and np.all(np.isinf(out.noise_var[lost]))
    assert np.all(np.isfinite(out.noise_var[~out.erased]))


def test_repeated_frames_are_combined_by_inverse_variance() -> None:
    payload = gaussian_symbols(480, np.random.default_rng(5))
    _, first = received(payload, 10.0, 6)
    _, second = received(payload, 10.0, 7)
    single = reassemble(first)
    both = reassemble(first + second)
    assert both.frames_decoded == 1
    np.testing.assert_allclose(
        1 / both.noise_var, 1 / first[0].noise_var + 1 / second[0].noise_var, rtol=1e-5
    )
    err_single = np.mean(np.abs(single.symbols - payload) ** 2)
    err_both = np.mean(np.abs(both.symbols - payload) ** 2)
    assert err_both < 0.65 * err_single  # about half the noise
    assert err_both == pytest.approx(np.mean(both.noise_var), rel=0.2)


def test_sequences_are_kept_apart() -> None:
    payload_a = gaussian_symbols(500, np.random.default_rng(8))
    payload_b = gaussian_symbols(700, np.random.default_rng(9))
    _, frames_a = received(payload_a, 30.0, 10, sequence=1)
    _, frames_b = received(payload_b, 30.0, 11, sequence=2)
    mixed = frames_b[:1] + frames_a + frames_b[1:]
    out_a = reassemble(mixed, sequence=1)
    out_b = reassemble(mixed)  # the first frame's sequence: 2
    assert out_a.symbols.size == 500 and out_b.symbols.size == 700
    assert np.max(np.abs(out_a.symbols - payload_a)) < 0.2
    assert np.max(np.abs(out_b.symbols - payload_b)) < 0.2


def test_nothing_received() -> None:
    out = reassemble([], total_len=100)
    assert out.erased.all() and out.frames_decoded == 0 and out.frames_expected == 0 and out.header is None
    assert np.all(np.isinf(out.noise_var))
    with pytest.raises(ReassemblyError, match="total_len"):
        reassemble([])
    _, frames = received(gaussian_symbols(100, np.random.default_rng(12)), 30.0, 13, sequence=3)
    with pytest.raises(ReassemblyError, match="sequence 9"):
        reassemble(frames, sequence=9)


def test_explicit_total_len_truncates_or_extends() -> None:
    payload = gaussian_symbols(900, np.random.default_rng(14))
    _, frames = received(payload, 30.0, 15)
    shorter = reassemble(frames, total_len=600)
    longer = reassemble(frames, total_len=1000)
    assert shorter.symbols.size == 600 and not shorter.erased.any()
    assert longer.symbols.size == 1000 and longer.erased[900:].all() and not longer.erased[:900].any()
