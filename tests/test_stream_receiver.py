"""The streaming receiver (phy.stream_receiver): chunks of any size give the frames of one buffer, once each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phy.capture import read_capture
from phy.frame_config import FrameConfig
from phy.numerology import Numerology
from phy.receiver import Receiver
from phy.receiver_config import ReceiverConfig
from phy.stream_receiver import StreamReceiver

CAPTURES = sorted((Path(__file__).parent.parent / "captures").glob("*.sigmf-meta"))
BLOCK = 1 << 16  # the receiver's chunk_samples: its DC blocks, and the stream's


def _setup(path: Path, repeats: int = 4) -> tuple[Receiver, np.ndarray]:
    """The capture's receiver and a stream of ``repeats`` copies of its samples (frames across chunks)."""
    capture = read_capture(path)
    frame = FrameConfig(**capture.metadata.get("frame", {}))
    config = ReceiverConfig(midamble_interval=frame.midamble_interval, chunk_samples=BLOCK)
    return Receiver(Numerology(**capture.metadata["numerology"]), config), np.tile(capture.samples, repeats)


def _stream(receiver: Receiver, samples: np.ndarray, chunk: int, hop: int) -> tuple[list, int]:
    """The frames of ``samples`` pushed ``chunk`` at a time, and the most samples held at once."""
    stream = StreamReceiver(receiver, hop=hop)
    frames, held = [], 0
    for start in range(0, samples.size, chunk):
        frames += stream.push(samples[start : start + chunk])
        held = max(held, stream.buffered)
    return frames + stream.finish(), held


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
@pytest.mark.parametrize(("chunk", "hop"), [(300, 4096), (4097, 4096), (1 << 16, 1 << 15), (10**6, 1 << 18)])
def test_chunked_reception_gives_the_frames_of_one_buffer(path, chunk, hop):
    receiver, samples = _setup(path)
    whole = receiver.receive(samples)
    frames, _ = _stream(receiver, samples, chunk, hop)
    assert [(f.start, f.truncated, f.header) for f in frames] == [(f.start, f.truncated, f.header) for f in whole]
    for got, want in zip(frames, whole, strict=True):
        assert got.diagnostics.timing == want.diagnostics.timing
        np.testing.assert_array_equal(got.erased, want.erased)
        np.testing.assert_allclose(got.symbols, want.symbols, atol=2e-5)
        np.testing.assert_allclose(got.noise_var, want.noise_var, rtol=1e-3)
        assert got.diagnostics.cfo_hz == pytest.approx(want.diagnostics.cfo_hz, abs=1e-3)
        assert got.diagnostics.snr_db == pytest.approx(want.diagnostics.snr_db, abs=1e-3)


def test_memory_stays_bounded_however_long_the_stream():
    receiver, samples = _setup(CAPTURES[0], repeats=20)
    frames, held = _stream(receiver, samples, chunk=5000, hop=1 << 14)
    longest = receiver.layout.frame_length(receiver.layout.max_payload_len)
    assert len(frames) == len(receiver.receive(samples))
    assert held <= (1 << 14) + longest + BLOCK + 5000
    assert held < samples.size / 4


def test_receiving_each_chunk_alone_would_lose_the_frames_that_straddle():
    """What the stream receiver's carried state is for: chunks received independently miss frames."""
    receiver, samples = _setup(CAPTURES[0])
    chunk = receiver.layout.frame_length(receiver.layout.max_payload_len) // 2
    alone = [f for start in range(0, samples.size, chunk) for f in receiver.receive(samples[start : start + chunk])
             if not f.truncated]
    assert len(alone) < len(receiver.receive(samples)) == len(_stream(receiver, samples, chunk, chunk)[0])


def test_receive_whole_skips_only_the_cut_frames_and_says_where_the_first_starts():
    """What the stream receiver runs between hops: the whole frames as :meth:`Receiver.receive` gives them, and
    the cut ones located, not processed (a stream receives them later, whole)."""
    receiver, samples = _setup(CAPTURES[0], repeats=2)
    everything = receiver.receive(samples)
    cut_at = (everything[2].start + everything[3].start) // 2  # inside the third frame
    all_in_part = receiver.receive(samples[:cut_at])
    whole, first_cut = receiver.receive_whole(samples[:cut_at])
    assert [f.truncated for f in all_in_part] == [False, False, True]
    assert [(f.start, f.header) for f in whole] == [(f.start, f.header) for f in all_in_part[:2]]
    np.testing.assert_array_equal(whole[1].symbols, all_in_part[1].symbols)
    assert first_cut == all_in_part[2].start
    assert receiver.receive_whole(samples)[1] is None


def test_a_hop_below_one_sample_is_refused():
    receiver, _ = _setup(CAPTURES[0], repeats=1)
    with pytest.raises(ValueError, match="positive"):
        StreamReceiver(receiver, hop=0)
