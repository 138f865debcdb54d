"""SigMF capture backend: records what is transmitted, replays a recording as what is received.

Recording: every transmitted burst is appended to the capture at ``config.record_path`` (rewritten
atomically after each burst by :func:`phy.capture.write_capture`, cf32_le), with one annotation per
burst (``sample_start``, ``sample_count``, ``label`` "burst <i>", ``cyclic``) and in the free metadata
the radio's config (``radio``) plus whatever the caller put in :attr:`CaptureRadio.metadata` (e.g.
what was sent, so that a replay can score itself). A cyclic burst is recorded once.

Replay: :meth:`receive` returns the next n samples of the capture at ``config.capture_path``, or, when
none is given, of the recording itself (read back from ``record_path`` whenever it has grown: record,
then replay). The capture's sample rate must equal ``config.sample_rate``. ``realtime=True`` paces
the replay at the sample rate; ``loop=True`` starts again at the end. Without ``loop`` a receive
near the end returns the samples that are left (fewer than n) and a receive at the very end raises
:class:`EndOfCapture`.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np

from ota.radios.config import RadioConfig
from ota.radios.errors import RadioError, RadioSettingError
from ota.radios.radio import Radio, wait_until
from phy.capture import CaptureError, read_capture, write_capture
from phy.numerology import Numerology


class EndOfCapture(RadioError):
    """The replayed capture has no samples left (and ``loop`` is off)."""


class CaptureRadio(Radio):
    """A radio made of SigMF files.

    Args:
        config: ``capture_path`` (replayed), ``record_path`` (written), ``sample_rate``, ``center_freq``.
        loop: replay the capture over and over.
        realtime: pace the replay at the sample rate (sleep so that n samples take n / sample_rate s).
        metadata: free JSON metadata written into the recording (also settable later via ``metadata``).
    """

    kind = "capture"
    address_field = "capture_path"
    address_name = "PATH.sigmf-meta"
    address_example = "path.sigmf-meta"

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--capture", default=None, metavar="PATH.sigmf-meta",
                            help="capture radio: the SigMF file to record transmissions to, or to replay as reception")

    @classmethod
    def apply_options(cls, config: RadioConfig, args: argparse.Namespace, *, record: bool) -> RadioConfig:
        """``--capture`` is the recording when the command transmits (``record``), else the replay."""
        if args.capture is not None:
            config = config.replace(**{"record_path" if record else "capture_path": args.capture})
        if config.capture_path is None and config.record_path is None:
            raise ValueError("--radio capture needs --capture PATH.sigmf-meta (the file to record to or replay)")
        return config

    @classmethod
    def open_for_link(cls, config: RadioConfig, *, numerology: Numerology, metadata: dict) -> CaptureRadio:
        """A recording carries ``metadata`` (what was sent, so that a replay can score itself)."""
        return cls(config, metadata=metadata)

    def __init__(
        self, config: RadioConfig, *, loop: bool = False, realtime: bool = False, metadata: dict | None = None
    ) -> None:
        source = config.capture_path or config.record_path
        super().__init__(config, f"SigMF capture {source}" if source else "SigMF capture radio")
        if config.capture_path is None and config.record_path is None:
            raise RadioSettingError(
                "the capture radio needs capture_path (a SigMF capture to replay) or record_path (where to record "
                "transmitted bursts, which are then replayed)"
            )
        self.loop = bool(loop)
        self.realtime = bool(realtime)
        self.metadata: dict = dict(metadata or {})
        self._bursts: list[np.ndarray] = []
        self._cyclic: list[bool] = []
        self._replay = np.zeros(0, np.complex64)
        self._position = 0
        self._clock: tuple[float, int] | None = None  # (monotonic time, samples delivered) when pacing began
        self._written_metadata: dict | None = None  # the metadata in the recording on disk
        self._apply(config)

    @property
    def recorded(self) -> int:
        """Samples recorded so far."""
        return sum(b.size for b in self._bursts)

    @property
    def remaining(self) -> int:
        """Samples of the replay not yet received (of the current pass when looping)."""
        return self._replay.size - self._position

    def _load(self, path: str, config: RadioConfig) -> np.ndarray:
        try:
            return read_capture(path, expected_sample_rate=config.sample_rate).samples
        except CaptureError as exc:
            raise RadioSettingError(f"{self.name} cannot be replayed: {exc}") from exc

    def _apply(self, config: RadioConfig) -> None:
        if config.capture_path is not None:
            self._replay = self._load(config.capture_path, config)
            self._position = 0
        elif self._bursts and config.sample_rate != self.config.sample_rate:
            raise RadioSettingError(
                f"{self.name} holds bursts recorded at {self.config.sample_rate:g} samples/s; record at "
                f"{config.sample_rate:g} samples/s into another record_path"
            )
        self._clock = None

    def _transmit(self, burst: np.ndarray, cyclic: bool) -> None:
        if self.config.record_path is None:
            raise RadioError(f"{self.name} replays {self.config.capture_path} and records nothing: set record_path "
                             "to record transmitted bursts")
        self._bursts.append(burst)
        self._cyclic.append(cyclic)
        self._write()

    def _write(self) -> None:
        """Rewrite the recording with every burst so far (atomically)."""
        metadata = {**self.metadata, "radio": self.config.to_dict()}
        starts = np.cumsum([0] + [b.size for b in self._bursts[:-1]])
        annotations = [
            {"sample_start": int(start), "sample_count": int(b.size), "label": f"burst {i}", "cyclic": cyclic}
            for i, (start, b, cyclic) in enumerate(zip(starts, self._bursts, self._cyclic, strict=True))
        ]
        try:
            write_capture(
                self.config.record_path, np.concatenate(self._bursts), self.config.sample_rate, self.config.tx_freq,
                annotations=annotations, metadata=metadata,
                description="bursts transmitted through the capture radio", overwrite=True,
            )
        except CaptureError as exc:
            raise RadioError(f"{self.name} could not record to {self.config.record_path}: {exc}") from exc
        self._written_metadata = copy.deepcopy(metadata)

    def _stop(self) -> None:
        """Nothing runs on after a burst: the recording already holds it."""

    def _refresh(self) -> None:
        """Without a capture_path, replay the recording as read back from disk once it has grown."""
        if self.config.capture_path is None and self.recorded > self._replay.size:
            self._replay = self._load(self.config.record_path, self.config)

    def _receive(self, n: int) -> np.ndarray:
        self._refresh()
        if self._replay.size == 0:
            raise EndOfCapture(f"{self.name} has recorded nothing yet: transmit a burst before receiving its replay")
        if self.loop:
            index = (self._position + np.arange(n)) % self._replay.size
            out = self._replay[index]
            self._position = int((self._position + n) % self._replay.size)
        else:
            if self._position >= self._replay.size:
                raise EndOfCapture(
                    f"{self.name}: all {self._replay.size} samples have been received; open it with loop=True "
                    "to replay it again"
                )
            out = self._replay[self._position : self._position + n]
            self._position += out.size
        if self.realtime:
            self._pace(out.size)
        return out

    def _pace(self, n: int) -> None:
        """Sleep until n more samples would have arrived at the sample rate."""
        if self._clock is None:
            self._clock = (time.monotonic(), 0)
        start, delivered = self._clock
        self._clock = (start, delivered + n)
        wait_until(start + (delivered + n) / self.config.sample_rate)

    def _settings(self) -> dict:
        return {"replay_samples": int(self._replay.size), "position": self._position, "recorded": self.recorded,
                "record_path": None if self.config.record_path is None else str(Path(self.config.record_path)),
                "loop": self.loop, "realtime": self.realtime}

    def _close(self) -> None:
        if self._bursts and self._written_metadata != {**self.metadata, "radio": self.config.to_dict()}:
            self._write()  # metadata set after the last burst
