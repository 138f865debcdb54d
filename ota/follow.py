"""Follow mode: decode each image of an endless stream as soon as its frames are in.

``ota rx --follow`` and ``ota replay PATH --follow`` feed baseband chunks to a :class:`Follower`. It runs
them through a :class:`~phy.stream_receiver.StreamReceiver` and gathers the JSCC frames by sequence
number; an image is decoded when all of its frames are in, or, with some missing (erased), as soon as a
frame of another transmission arrives after it, or at the end of the stream. A sequence decoded in the
last :data:`REMEMBERED` images is not decoded again (a cyclic transmitter repeats its burst). Where the radio
dropped samples (an overflow, at the positions :attr:`ota.radios.Radio.receive_gaps` gives), the payload
symbols of a frame from the gap on are erased rather than taken from the shifted samples that follow it:
the image that frame belongs to is decoded with them erased, and the images around it are untouched.

Per image: one line on the terminal (sequence, frames received/expected, estimated SNR, PSNR against
``reference`` when given, latency from the arrival of the chunk that completed it to the image written),
and ``OUT/<n>/`` with ``reconstruction.png`` and ``result.json`` (written atomically; no plots, which
would slow the stream). ``OUT/summary.json`` is rewritten (atomically) after each image and at the end:
``images_decoded``, ``images_incomplete``, ``frames_decoded``, ``samples_processed``, ``overflows``,
``frames_hit_by_overflows``, ``symbols_erased_by_overflows``, ``rx_msps`` (achieved: samples over wall time)
and one entry per image, for the last :data:`SUMMARY_IMAGES` (a receiver left running for days keeps its
memory and its summary's size flat; every image's own ``result.json`` stays).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from models.json_file import write_json
from ota.link import Link
from ota.reception import Reception
from ota.reception import write as write_reception
from phy.header import PayloadKind
from phy.rx_frame import RxFrame
from phy.stream_receiver import LOW_LATENCY_BLOCK, StreamReceiver, hop_for_latency

REMEMBERED = 8
"""Recently decoded sequences whose repeated frames are ignored."""
GAPS_KEPT = 64
SUMMARY_IMAGES = 1000
"""Images listed in ``summary.json`` (the latest; the counts cover all)."""
"""Overflow gaps remembered: far more than the frames a stream window holds at once."""


class Follower:
    """Decodes the images of a stream of baseband chunks (see the module docstring).

    Args:
        link: the model and physical layer (its receiver's settings are used).
        out_dir: where the per-image folders and ``summary.json`` go.
        reference: the image that was sent, to score each reception (or None).
        config: what produced the stream (echoed into every result.json and the summary).
        versions: library versions for the result files.
        lpips_weights: AlexNet features file for LPIPS.
        print_line: where the one-line reports go.
    """

    def __init__(self, link: Link, out_dir: str | Path, *, reference: torch.Tensor | None = None,
                 config: dict | None = None, versions: dict | None = None, lpips_weights: str | None = None,
                 print_line=print) -> None:
        self.link = link
        self.out_dir = Path(out_dir)
        self.reference = reference
        self.config = config or {}
        self.versions = versions or {}
        self.lpips_weights = lpips_weights
        self.print_line = print_line
        hop = hop_for_latency(link.numerology.sample_rate)
        self.stream = StreamReceiver(link.receiver, hop=hop, block=LOW_LATENCY_BLOCK)
        self._pending: dict[int, list[RxFrame]] = {}
        self._decoded: deque[int] = deque(maxlen=REMEMBERED)
        self._started = time.perf_counter()
        self.images: deque[dict] = deque(maxlen=SUMMARY_IMAGES)
        self.images_decoded = 0
        self.images_incomplete = 0
        self.frames_decoded = 0
        self.overflows = 0
        self.frames_hit_by_overflows = 0
        self.symbols_erased_by_overflows = 0
        self._gaps: deque[int] = deque(maxlen=GAPS_KEPT)  # stream positions before which samples were dropped
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def push(self, samples: np.ndarray, overflows: int = 0, gaps: Sequence[int] = ()) -> list[dict]:
        """Receive a chunk; the results of the images it completed.

        Args:
            samples: complex (n,) baseband, the stream's next samples.
            overflows: the radio's overflow count so far.
            gaps: indices into ``samples`` before which the radio dropped samples (``Radio.receive_gaps``).
        """
        arrived = time.perf_counter()
        self.overflows = max(self.overflows, overflows)
        self._gaps.extend(self.stream.samples_processed + int(g) for g in gaps)
        return self._accept(self.stream.push(samples), arrived)

    def finish(self) -> list[dict]:
        """End of stream (or Ctrl-C): decode what is left, incomplete images included; write the summary."""
        arrived = time.perf_counter()
        results = self._accept(self.stream.finish(), arrived)
        for sequence in list(self._pending):
            results.append(self._decode(sequence, arrived))
        self.write_summary()
        return results

    def _accept(self, frames: list[RxFrame], arrived: float) -> list[dict]:
        results = []
        for frame in frames:
            header = frame.header
            if header.payload_kind != PayloadKind.JSCC or header.sequence in self._decoded:
                continue
            frame = self._erase_after_gap(frame)
            for sequence in [s for s in self._pending if s != header.sequence]:  # its transmission is over
                results.append(self._decode(sequence, arrived))
            self._pending.setdefault(header.sequence, []).append(frame)
            indices = {f.header.frame_index for f in self._pending[header.sequence]}
            if len(indices) >= header.frame_count:
                results.append(self._decode(header.sequence, arrived))
        return results

    def _erase_after_gap(self, frame: RxFrame) -> RxFrame:
        """``frame`` with its payload symbols erased from the first OFDM symbol that a gap of the radio's
        cuts or precedes (those samples came later than the receiver took them to); unchanged without one."""
        if not self._gaps:
            return frame
        ends = frame.start + self.stream.receiver.layout.payload_symbol_ends(frame.symbols.size)
        inside = [gap for gap in self._gaps if frame.start < gap < ends[-1]]
        if not inside:
            return frame
        kept = int(np.searchsorted(ends, min(inside), side="right")) * self.link.numerology.n_data
        erased = frame.erased.copy()
        erased[kept:] = True
        self.frames_hit_by_overflows += 1
        self.symbols_erased_by_overflows += int(np.count_nonzero(erased & ~frame.erased))
        return dataclasses.replace(frame, symbols=np.where(erased, 0, frame.symbols).astype(frame.symbols.dtype),
                                   noise_var=np.where(erased, np.inf, frame.noise_var).astype(frame.noise_var.dtype),
                                   erased=erased)

    def _decode(self, sequence: int, arrived: float) -> dict:
        """Rebuild, score and write one image; report it in one line and in the summary."""
        frames = self._pending.pop(sequence)
        self._decoded.append(sequence)
        started = time.perf_counter()
        rx = self.link.image_of(frames, sequence)
        index = self.images_decoded
        reception = Reception(rx=rx, samples=np.zeros(0, np.complex64), numerology=self.link.numerology,
                              cbr=self.link.cbr, wall_s=time.perf_counter() - started,
                              config={**self.config, "sequence": sequence}, reference=self.reference,
                              lpips_weights=self.lpips_weights)
        result = write_reception(reception, self.out_dir / f"{index:05d}", self.versions, plots=False)
        latency_ms = 1e3 * (time.perf_counter() - arrived)
        entry = {"index": index, "sequence": sequence, "frames_decoded": result["frames_decoded"],
                 "frames_expected": result["frames_expected"], "snr_db_est": result["snr_db_est"],
                 "psnr_db": result["psnr_db"], "latency_ms": latency_ms,
                 "complete": result["frames_decoded"] == result["frames_expected"]}
        self.images.append(entry)
        self.images_decoded += 1
        self.images_incomplete += not entry["complete"]
        self.frames_decoded += len({f.header.frame_index for f in frames})
        self.print_line(_line(entry))
        self.write_summary()
        return entry

    def summary(self) -> dict:
        wall_s = time.perf_counter() - self._started
        samples = self.stream.samples_processed
        return {
            "images_decoded": self.images_decoded,
            "images_incomplete": self.images_incomplete,
            "frames_decoded": self.frames_decoded,
            "samples_processed": samples,
            "overflows": self.overflows,
            "frames_hit_by_overflows": self.frames_hit_by_overflows,
            "symbols_erased_by_overflows": self.symbols_erased_by_overflows,
            "rx_msps": samples / wall_s / 1e6 if wall_s > 0 else None,
            "wall_s": wall_s,
            "config": self.config,
            "images": list(self.images),
        }

    def write_summary(self) -> Path:
        """``OUT/summary.json``, replaced atomically."""
        return write_json(self.out_dir / "summary.json", self.summary(), default=str)


def _line(entry: dict) -> str:
    snr = "n/a" if entry["snr_db_est"] is None else f"{entry['snr_db_est']:.1f} dB"
    psnr = "" if entry["psnr_db"] is None else f"  PSNR {entry['psnr_db']:.2f} dB"
    return (f"image {entry['index']} (sequence {entry['sequence']}): frames {entry['frames_decoded']}/"
            f"{entry['frames_expected']}  SNR est {snr}{psnr}  latency {entry['latency_ms']:.0f} ms")
