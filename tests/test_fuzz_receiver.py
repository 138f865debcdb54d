"""Fuzzing the receiver: more than 1000 arbitrary inputs, none of which may raise.

Every input is array-like and numeric (anything else gets one ``SampleFormatError``, tested in
``test_receiver.py``); the receiver must return a list of well-formed frames (usually none).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.link_measurements import gaussian_symbols  # noqa: E402
from phy.frame_config import FrameConfig  # noqa: E402
from phy.numerology import Numerology  # noqa: E402
from phy.receiver import Receiver  # noqa: E402
from phy.rx_frame import RxFrame  # noqa: E402
from phy.transmitter import Transmitter  # noqa: E402

NUM = Numerology()
RECEIVER = Receiver(NUM)
BURST = Transmitter(NUM, FrameConfig(max_payload_symbols=12, inter_frame_gap=50)).transmit(
    gaussian_symbols(3000, np.random.default_rng(0)), sequence=1
)


def check(frames: list[RxFrame]) -> None:
    """Frames returned for fuzz input must be well formed."""
    assert isinstance(frames, list)
    for f in frames:
        n = f.header.payload_len
        assert f.symbols.shape == (n,) and f.symbols.dtype == np.complex64
        assert f.noise_var.shape == (n,) and f.noise_var.dtype == np.float32
        assert f.erased.shape == (n,) and f.erased.dtype == bool
        assert np.all(np.isfinite(f.symbols))
        assert np.all(f.noise_var[~f.erased] >= 0) and np.all(np.isinf(f.noise_var[f.erased]))
        assert f.truncated == bool(f.erased.any())


def noise(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(0, 6000))
    scale = 10.0 ** rng.uniform(-30, 30)
    return (scale * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)


def constant(rng: np.random.Generator) -> np.ndarray:
    value = complex(*(rng.standard_normal(2) * 10.0 ** rng.uniform(-20, 20)))
    return np.full(int(rng.integers(0, 5000)), value, dtype=np.complex128 if rng.random() < 0.5 else np.complex64)


def special(rng: np.random.Generator) -> np.ndarray:
    x = (rng.standard_normal(int(rng.integers(1, 5000))) * (1 + 1j)).astype(np.complex128)
    choices = [np.nan, np.inf, -np.inf, 0.0, 1e308, -1e308, 3e38, 1e-320]
    idx = rng.integers(0, x.size, int(rng.integers(1, x.size + 1)))
    x.real[idx] = rng.choice(choices, idx.size)
    x.imag[idx] = rng.choice(choices, idx.size)
    return x


def ci16_bytes(rng: np.random.Generator) -> np.ndarray:
    raw = rng.bytes(8 * int(rng.integers(0, 5000)))
    if rng.random() < 0.5:
        iq = np.frombuffer(raw, dtype=np.int16).astype(np.float32).reshape(-1, 2)
        return iq[:, 0] + 1j * iq[:, 1]
    return np.frombuffer(raw, dtype=np.complex64)  # random bit patterns: NaN, inf, denormals, huge


def other_dtypes(rng: np.random.Generator) -> object:
    n = int(rng.integers(0, 3000))
    kind = int(rng.integers(0, 7))
    if kind == 0:
        return rng.integers(-128, 128, n).astype(np.int8)
    if kind == 1:
        return rng.random(n) < 0.5
    if kind == 2:
        return rng.standard_normal(n).astype(np.float16)
    if kind == 3:
        return rng.standard_normal((n // 2, 2)).astype(np.float32)  # 2-D: flattened
    if kind == 4:
        return [complex(v) for v in rng.standard_normal(min(n, 500))]
    if kind == 5:
        return rng.integers(-(2**62), 2**62, n, dtype=np.int64)
    return np.zeros((0, 3), np.complex64)


def cut_frames(rng: np.random.Generator) -> np.ndarray:
    lead = (rng.standard_normal(int(rng.integers(0, 800))) * 1e-3).astype(np.complex64)
    stream = np.concatenate([lead, BURST.samples])
    a = int(rng.integers(0, stream.size))
    b = int(rng.integers(a, stream.size + 1))
    piece = stream[a:b].copy()
    if rng.random() < 0.5:
        piece += (rng.standard_normal(piece.size) * 10.0 ** rng.uniform(-4, 0)).astype(np.float32)
    return piece


def mangled_frames(rng: np.random.Generator) -> np.ndarray:
    """A whole burst with a random corruption: a zeroed, reversed, conjugated or rescaled stretch."""
    x = BURST.samples.copy()
    a = int(rng.integers(0, x.size))
    b = int(rng.integers(a, min(x.size, a + 3000) + 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        x[a:b] = 0
    elif kind == 1:
        x[a:b] = x[a:b][::-1]
    elif kind == 2:
        x[a:b] = np.conj(x[a:b])
    else:
        x[a:b] *= np.float32(10.0 ** rng.uniform(-6, 6))
    return x


GENERATORS: dict[str, tuple[Callable[[np.random.Generator], object], int]] = {
    "noise": (noise, 200),
    "constant": (constant, 120),
    "special": (special, 150),
    "ci16_bytes": (ci16_bytes, 200),
    "other_dtypes": (other_dtypes, 150),
    "cut_frames": (cut_frames, 150),
    "mangled_frames": (mangled_frames, 60),
}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_fuzz_never_raises(name: str) -> None:
    generate, count = GENERATORS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for _ in range(count):
        check(RECEIVER.receive(generate(rng)))


def test_fuzz_total_is_over_1000_inputs() -> None:
    assert sum(count for _, count in GENERATORS.values()) >= 1000


def test_cut_frames_still_yield_the_complete_ones() -> None:
    """A stream cut in the middle of the second frame returns the first intact and the second truncated."""
    start, length = BURST.frame_starts[1], BURST.frame_lengths[1]
    frames = RECEIVER.receive(BURST.samples[: start + length - 3 * NUM.symbol_len])
    assert [f.header.frame_index for f in frames] == [0, 1]
    assert not frames[0].truncated and frames[1].truncated
    check(frames)
