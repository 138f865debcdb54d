"""Reception of an endless stream: baseband in chunks of any size, frames out as soon as they are whole.

A :class:`StreamReceiver` does what :meth:`phy.receiver.Receiver.receive` does to one buffer, to a stream
given in chunks of any size (a few hundred samples to millions):

1. the DC offset is removed per block of ``block`` samples (default the receiver's ``chunk_samples``, as
   one buffer is treated) counted from the start of the stream (:func:`~phy.samples.remove_dc_offset`);
   samples move on once their block is complete, so a frame comes out at most one block after its last
   sample (2^16 samples: 3.3 ms at 20 MS/s, 33 ms at 2 MS/s), or at :meth:`StreamReceiver.finish`;
2. the receiver runs on a window of the stream whenever ``hop`` new samples have arrived in it; frames
   that lie whole in the window are returned once, with ``start`` and ``diagnostics.timing`` counted from
   the first sample of the stream (a frame cut by the window's end is only located,
   :meth:`~phy.receiver.Receiver.receive_whole`: its payload is processed once, when it is whole);
3. the window then drops what lies before the earliest frame still cut by its end, or before the last
   ``lead`` samples (a preamble and header that may have begun there).

So a frame that straddles chunks is found once, from the same samples as in one buffer (the same frame,
soft symbols and diagnostics, to float rounding, when ``block`` is the receiver's ``chunk_samples``),
and memory stays bounded by ``hop`` plus the longest
frame plus one DC block whatever the stream's length. Unlike one buffer, input with a peak outside
:data:`~phy.samples.SCALE_RANGE` is rescaled chunk by chunk. Frames found twice (in the overlap of two
windows) are told apart by their start: within a cyclic prefix of a frame already returned they are
dropped.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from phy.receiver import Receiver
from phy.rx_frame import RxFrame
from phy.samples import as_samples, remove_dc_offset

DEFAULT_HOP = 1 << 18
"""Samples gathered between two runs of the receiver (~13 ms at 20 MS/s)."""
MIN_HOP = 1 << 16
"""Fewest samples between two runs of :func:`hop_for_latency`: each run has a fixed cost, and the frames of
one run are processed together (vectorised), so a short hop costs throughput."""
LOW_LATENCY_BLOCK = 1 << 16
"""Samples per DC-offset estimate for follow mode: a frame waits up to one block (33 ms at 2 MS/s) to be
received (the default, the receiver's ``chunk_samples``, treats a stream exactly as one buffer)."""
DEFAULT_LATENCY_S = 0.05
"""Seconds of baseband between two runs in :func:`hop_for_latency` (follow mode's): at 20 MS/s runs of a
million samples, which keep the receiver near its whole-buffer speed."""


def hop_for_latency(sample_rate: float, latency_s: float = DEFAULT_LATENCY_S) -> int:
    """Samples between two runs of the receiver so that a frame waits at most ``latency_s`` [s] after its end
    to be found (at least :data:`MIN_HOP`)."""
    return max(MIN_HOP, round(latency_s * sample_rate))


class StreamReceiver:
    """Frames from baseband given chunk by chunk (see the module docstring).

    Args:
        receiver: the frame receiver (its numerology and settings).
        hop: run the receiver once this many new samples have arrived.
        block: samples per DC-offset estimate (default the receiver's ``chunk_samples``).
    """

    def __init__(self, receiver: Receiver, hop: int = DEFAULT_HOP, block: int | None = None) -> None:
        if hop < 1 or (block is not None and block < 1):
            raise ValueError(f"hop and block must be positive numbers of samples, got {hop} and {block}")
        config = receiver.config
        self.receiver = Receiver(receiver.numerology, dataclasses.replace(config, remove_dc=False))
        self.remove_dc, self.block = config.remove_dc, block or config.chunk_samples
        self.hop = hop
        num, layout = receiver.numerology, receiver.layout
        self.lead = receiver.preamble.length + (layout.n_header_symbols + 2) * num.symbol_len
        """Samples kept at the end of a window: a preamble and header that may have begun there."""
        self._pending: list[np.ndarray] = []  # samples of the DC block not yet complete
        self._pending_size = 0
        self._window = np.zeros(0, np.complex64)
        self._parts: list[np.ndarray] = []  # samples added since the last run, joined to the window at the next
        self._offset = 0  # stream index of the window's first sample
        self._fresh = 0  # samples in _parts
        self._returned: list[int] = []  # stream starts of the frames returned, still in the window
        self.samples_processed = 0

    @property
    def buffered(self) -> int:
        """Samples held now (bounded by ``hop`` plus the longest frame, ``lead`` and one DC block)."""
        return self._window.size + self._fresh + self._pending_size

    def push(self, chunk: object) -> list[RxFrame]:
        """Add baseband samples (any numeric (n,) array); the frames completed by them, in stream order."""
        x = as_samples(chunk, remove_dc=False)
        self.samples_processed += x.size
        self._pending.append(x)
        self._pending_size += x.size
        frames: list[RxFrame] = []
        while self._pending_size >= self.block:
            frames += self._add(self._take(self.block))
        return frames

    def finish(self) -> list[RxFrame]:
        """End of stream: the frames left, those cut by the end included (``truncated``); then empty."""
        frames = self._add(self._take(self._pending_size), run=False)
        frames += self._run(final=True) if self._window.size + self._fresh else []
        self._window = np.zeros(0, np.complex64)
        return frames

    def _take(self, n: int) -> np.ndarray:
        """The first ``n`` pending samples (one DC block, or the rest), DC removed."""
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0] if self._pending else (
            np.zeros(0, np.complex64))
        block, rest = joined[:n], joined[n:]
        self._pending, self._pending_size = ([rest] if rest.size else []), rest.size
        return remove_dc_offset(block.copy(), block, self.block) if self.remove_dc else block

    def _add(self, x: np.ndarray, run: bool = True) -> list[RxFrame]:
        """Add ``x`` to the stream, running the receiver every ``hop`` new samples (joined once per run: the
        window is not copied per DC block)."""
        frames: list[RxFrame] = []
        for start in range(0, x.size, self.hop):
            part = x[start : start + self.hop]
            self._parts.append(part)
            self._fresh += part.size
            if run and self._fresh >= self.hop:
                frames += self._run(final=False)
        return frames

    def _run(self, final: bool) -> list[RxFrame]:
        """Receive the window; return the new whole frames (all new frames when ``final``); trim it."""
        self._window = np.concatenate([self._window, *self._parts])
        self._parts, self._fresh = [], 0
        cp_len = self.receiver.numerology.cp_len
        keep_from = self._window.size if final else max(0, self._window.size - self.lead)
        if final:
            frames = self.receiver.receive(self._window)
        else:
            frames, cut_start = self.receiver.receive_whole(self._window)
            keep_from = keep_from if cut_start is None else min(keep_from, cut_start)
        out = []
        for frame in frames:
            start = self._offset + frame.start
            if any(abs(start - seen) <= cp_len for seen in self._returned):
                continue
            self._returned.append(start)
            out.append(_shifted(frame, self._offset))
        self._offset += keep_from
        self._window = self._window[keep_from:].copy()
        self._returned = [s for s in self._returned if s >= self._offset - cp_len]
        return out


def _shifted(frame: RxFrame, offset: int) -> RxFrame:
    """``frame`` with its sample positions counted from the start of the stream."""
    diagnostics = dataclasses.replace(frame.diagnostics, timing=frame.diagnostics.timing + offset)
    return dataclasses.replace(frame, start=frame.start + offset, diagnostics=diagnostics)
