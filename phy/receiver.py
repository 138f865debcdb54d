"""OFDM receiver for a continuous stream of baseband samples.

``Receiver.receive(samples)`` finds every frame in a buffer (any start point, noise before, between
and after, several frames) and returns, per frame whose header passes its CRC, the equalised payload
symbols with a per-symbol noise variance in payload units. Stages:

1. input: converted to finite complex64 (NaN/inf -> 0), rescaled by a power of two when its peak is
   outside [1e-6, 1e6], a large DC offset removed per chunk (:func:`as_samples`);
2. detection over the whole buffer in one vectorised pass, then timing and CFO of all candidates at
   once (:mod:`phy.synchronization`); candidates within a cyclic prefix of each other are merged;
3. per batch of up to ``BATCH_FRAMES`` candidates: channel estimate from the LTF with LMMSE smoothing
   and the noise from its two copies (:mod:`phy.channel_estimation`); header symbols: FFT,
   pilot-based CPE/SFO tracking (:mod:`phy.phase_tracking`), soft bits, and all the batch's headers
   decoded together (:mod:`phy.header_decoding`);
4. per group of decoded frames of equal length and reception: the channel estimate refined with the
   now known header symbols (nine more observations per subcarrier at FFT 64); payload FFT per
   segment, the channel of each symbol interpolated in time between consecutive training fields
   (preamble LTF, midambles); CPE/SFO tracking; ZF or MMSE equalisation (:mod:`phy.equalization`);
5. noise variance per frame pooled from the LTF copies' difference, the pilots' residuals and the
   header symbols' residuals, each corrected for what the estimators absorbed; from it the SNR,
   per-subcarrier SNR, EVM and the per-symbol noise variance of the equalised payload (channel- and
   phase-estimate errors included).

A frame cut by the end of the buffer is returned with ``truncated=True`` and the symbols that were
not received erased (``symbols`` 0, ``noise_var`` inf); a frame whose header is not received or fails
its CRC is dropped. Nothing raises for array input of any numeric dtype, shape or value; input that
cannot be read as numbers (``None``, strings, objects) raises :class:`SampleFormatError` (a
``ValueError``).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from phy.channel_estimation import ChannelEstimate, ChannelEstimator
from phy.equalization import EQUALIZERS, equalize
from phy.frame_config import FrameConfig
from phy.frame_layout import FrameLayout, Segment
from phy.header import HEADER_CODED_BITS, Header
from phy.header_decoding import decode_headers
from phy.numerology import Numerology
from phy.ofdm import demodulate, positions
from phy.phase_tracking import PhaseTrack, track_phase
from phy.pilots import pilot_values
from phy.synchronization import Detector, Sync, synchronize
from phy.transmitter import header_scrambling, header_symbols

SCALE_RANGE = (1e-6, 1e6)
"""Peak magnitudes outside this range are rescaled (by a power of two) before processing."""
DC_LEVEL = 1e-3
"""A chunk's mean is removed when its power exceeds this fraction of the chunk's power (-30 dB)."""


class SampleFormatError(ValueError):
    """The input cannot be read as an array of (complex) numbers."""


@dataclass(frozen=True)
class ReceiverConfig:
    """Receiver settings.

    Attributes:
        equalizer: ``"zf"`` (unbiased, default) or ``"mmse"``.
        channel_smoothing: smooth the LTF channel estimate across subcarriers (LMMSE over the
            narrowest delay window that the data support; see :mod:`phy.channel_estimation`).
        smoothing_significance: F-test threshold (standard deviations) for choosing a wider window.
        false_alarm: probability that white noise crosses the detection threshold at one evaluated
            position (one every 16 samples); sets the STF threshold.
        ltf_threshold: minimum normalised LTF cross-correlation (0..1) that confirms a detection.
        first_path_fraction: correlation power, relative to the peak, that marks the first path.
        timing_backoff: samples the FFT window starts before the first path, inside the cyclic prefix;
            ``None`` means ``max(1, cp_len // 8)``.
        track_sfo: estimate and correct the sampling-frequency offset from the pilots.
        midamble_interval: must equal the transmitter's ``FrameConfig.midamble_interval``.
        remove_dc: subtract each chunk's mean (a radio's DC offset) before detection.
        chunk_samples: samples per chunk for detection and DC removal (memory bound).
    """

    equalizer: str = "zf"
    channel_smoothing: bool = True
    smoothing_significance: float = 3.0
    false_alarm: float = 1e-5
    ltf_threshold: float = 0.1
    first_path_fraction: float = 0.25
    timing_backoff: int | None = None
    track_sfo: bool = True
    midamble_interval: int = 0
    remove_dc: bool = True
    chunk_samples: int = 1 << 20

    def __post_init__(self) -> None:
        if self.equalizer not in EQUALIZERS:
            raise ValueError(f"equalizer={self.equalizer!r} is unknown; expected one of {EQUALIZERS}")
        if not 0 < self.false_alarm < 1:
            raise ValueError(f"false_alarm={self.false_alarm} must be a probability in (0, 1)")
        for name in ("ltf_threshold", "first_path_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} must be in (0, 1]")
        if not self.smoothing_significance > 0:
            raise ValueError(f"smoothing_significance={self.smoothing_significance} must be positive")
        backoff = self.timing_backoff
        if backoff is not None and (int(backoff) != backoff or backoff < 0):
            raise ValueError(f"timing_backoff={self.timing_backoff} must be a non-negative integer or None")
        FrameConfig(midamble_interval=self.midamble_interval)
        if int(self.chunk_samples) != self.chunk_samples or self.chunk_samples < 4096:
            raise ValueError(f"chunk_samples={self.chunk_samples} must be an integer >= 4096")

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "receiver") -> ReceiverConfig:
        """Load from the ``[table]`` of a TOML file (keys are this dataclass's fields)."""
        with open(path, "rb") as f:
            data = tomllib.load(f)
        if table not in data:
            raise ValueError(f"{path}: no [{table}] table; expected the receiver configuration there")
        return cls(**data[table])

    def to_dict(self) -> dict:
        """Plain-JSON form (echoed into results)."""
        return asdict(self)


@dataclass
class FrameDiagnostics:
    """How one frame was received.

    Attributes:
        cfo_hz: estimated carrier frequency offset [Hz].
        timing: sample index of the first LTF copy's first sample (first path) in the buffer.
        snr_db: SNR estimate: mean received energy per occupied subcarrier over the frame's OFDM
            symbols (header and payload) less the noise, over the noise per subcarrier [dB] (the
            definition of ``phy.channel``; it includes the payload's own power).
        evm_db: error vector magnitude of the equalised header symbols against the decoded bits [dB].
        per_subcarrier_snr_db: float32 (n_occupied,) [dB] at ``numerology.occupied``, the same per subcarrier.
        channel_estimate: complex64 (n_occupied,), the preamble LTF's estimate at ``numerology.occupied``.
        symbols_pre_eq: complex64 (payload_len,), payload data subcarriers after CFO correction and
            before equalisation (0 where erased).
        noise_var_subcarrier: noise variance per subcarrier before equalisation (receiver units).
        post_eq_snr_db: payload power over the mean per-symbol noise variance [dB].
        signal_power: estimated mean power of the payload symbols (payload units).
        sfo_ppm: sampling-frequency offset estimated from the pilots [ppm] (first payload segment).
        cpe_rad: float32 (n_symbols,), common phase removed from each OFDM symbol (header first).
        phase_noise_var: estimated phase random-walk variance per OFDM symbol [rad^2] (first payload segment).
        stf_metric: detection metric (squared correlation coefficient).
        ltf_metric: normalised LTF correlation.
        channel_window: delay-window width chosen by channel smoothing [samples] (0 without).
    """

    cfo_hz: float
    timing: int
    snr_db: float
    evm_db: float
    per_subcarrier_snr_db: np.ndarray
    channel_estimate: np.ndarray
    symbols_pre_eq: np.ndarray
    noise_var_subcarrier: float = 0.0
    post_eq_snr_db: float = 0.0
    signal_power: float = 0.0
    sfo_ppm: float = 0.0
    cpe_rad: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    phase_noise_var: float = 0.0
    stf_metric: float = 0.0
    ltf_metric: float = 0.0
    channel_window: int = 0


@dataclass
class RxFrame:
    """One received frame.

    Attributes:
        header: the decoded header.
        symbols: complex64 (payload_len,), equalised payload at the transmitted scale.
        noise_var: float32 (payload_len,), noise variance of each symbol in payload units
            (``E|s_hat - s|^2``); inf where erased.
        erased: bool (payload_len,), True for symbols that were not received.
        start: sample index of the frame's first sample (the STF) in the buffer.
        truncated: True when the buffer ended before the frame did.
        diagnostics: :class:`FrameDiagnostics`.
    """

    header: Header
    symbols: np.ndarray
    noise_var: np.ndarray
    erased: np.ndarray
    start: int
    truncated: bool
    diagnostics: FrameDiagnostics


def as_samples(samples: object, chunk: int = 1 << 20, remove_dc: bool = True) -> np.ndarray:
    """Any numeric array -> finite complex64 (n,) ready for the receiver.

    NaN and infinities become 0; a peak magnitude outside ``SCALE_RANGE`` is rescaled by a power of
    two; with ``remove_dc`` each chunk's mean is subtracted where it holds more than ``DC_LEVEL`` of
    the chunk's power (a smaller DC offset does not disturb detection, and exact zeros, e.g. a
    noiseless gap, stay zeros). Multi-dimensional input is flattened.

    Raises:
        SampleFormatError: when ``samples`` cannot be read as numbers.
    """
    if samples is None:
        raise SampleFormatError("samples is None; expected an array of numbers (complex64 baseband)")
    try:
        arr = np.asarray(samples)
        if arr.dtype.kind not in "biufc":
            arr = arr.astype(np.complex128)
    except (TypeError, ValueError) as err:
        raise SampleFormatError(
            f"samples must be an array of numbers (complex64 baseband); got {type(samples).__name__} ({err})"
        ) from None
    arr = arr.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype.kind == "c":
            x = arr.astype(np.complex64, copy=False)
        else:
            x = np.zeros(arr.size, dtype=np.complex64)
            x.real = arr
        floats = x.view(np.float32)
        high, low = (float(floats.max()), float(floats.min())) if x.size else (0.0, 0.0)
        if not (np.isfinite(high) and np.isfinite(low)):
            x = np.where(np.isfinite(x.real) & np.isfinite(x.imag), x, 0).astype(np.complex64)
            floats = x.view(np.float32)
            high, low = float(floats.max()), float(floats.min())
    peak = max(high, -low)
    if peak > 0 and not SCALE_RANGE[0] <= peak <= SCALE_RANGE[1]:
        x = x * np.float32(2.0 ** -np.round(np.log2(peak)))
    if remove_dc:
        x = remove_dc_offset(x, arr, chunk)
    return x


def remove_dc_offset(x: np.ndarray, source: np.ndarray, chunk: int) -> np.ndarray:
    """Subtract each chunk's mean where it exceeds ``DC_LEVEL`` of the chunk's power (copy if ``x`` is ``source``).

    Whether a chunk needs it is judged on every 16th sample (plenty for a -30 dB decision); the mean
    that is subtracted is the whole chunk's.
    """
    copied = False
    for c0 in range(0, x.size, chunk):
        block = x[c0 : c0 + chunk]
        probe = block[::16]
        mean = complex(probe.mean(dtype=np.complex128))
        power = float(np.mean(probe.real.astype(np.float64) ** 2 + probe.imag.astype(np.float64) ** 2))
        if abs(mean) ** 2 > DC_LEVEL * power:
            if not copied and np.shares_memory(x, source):
                x, copied = x.copy(), True
            x[c0 : c0 + chunk] -= np.complex64(block.mean(dtype=np.complex128))
    return x


@dataclass
class _Headers:
    """Confirmed preambles with their channel estimates and demodulated header symbols (batch of B)."""

    sync: Sync
    estimate: ChannelEstimate  # from the preamble's LTF
    y: np.ndarray  # complex64 (B, n_header_symbols, n_occupied), CFO-corrected
    track: PhaseTrack
    correction: np.ndarray  # complex64 (B, n_header_symbols, n_occupied), the track's phase correction
    llr: np.ndarray  # float64 (B, HEADER_CODED_BITS)

    def take(self, rows: np.ndarray) -> _Headers:
        track = PhaseTrack(*(getattr(self.track, f.name)[rows] for f in fields(PhaseTrack)))
        return _Headers(
            self.sync.take(rows), self.estimate.take(rows), self.y[rows], track, self.correction[rows], self.llr[rows]
        )


@dataclass
class _Segment:
    """A segment's received payload symbols for a batch of frames, with channel and phase track.

    ``*_data`` and ``*_pilot`` hold the data and pilot subcarriers (``numerology.data`` / ``.pilot``).
    """

    y_data: np.ndarray  # complex64 (B, n, n_data), CFO-corrected
    y_pilot: np.ndarray  # complex64 (B, n, n_pilot)
    h_data: np.ndarray  # complex64 (B, 1 or n, n_data), channel per symbol
    h_pilot: np.ndarray  # complex64 (B, 1 or n, n_pilot)
    error_data: np.ndarray  # float32, like h_data: channel-estimate error over the noise variance
    error_pilot: np.ndarray  # float32, like h_pilot
    track: PhaseTrack
    corr_data: np.ndarray  # complex64 (B, n, n_data or 1), the track's phase correction
    corr_pilot: np.ndarray  # complex64 (B, n, n_pilot or 1)
    first_payload: int  # payload OFDM symbol index of the segment's first received symbol
    energy: np.ndarray  # float64 (B, n_occupied), sum over the symbols of |y|^2

    @property
    def count(self) -> int:
        return self.y_data.shape[1]


@dataclass
class _Residual:
    """Sums of squared residuals whose expectations are ``dof * sigma^2 + walk`` (each float64 (B,))."""

    total: np.ndarray
    dof: np.ndarray
    walk: np.ndarray


BATCH_FRAMES = 64
"""Frames processed together (bounds the temporary memory)."""


def _energy(y: np.ndarray) -> np.ndarray:
    """``sum_l |y[b, l, k]|^2``, float64 (B, K), of complex ``y`` (B, n, K)."""
    parts = np.ascontiguousarray(y, dtype=np.complex64).view(np.float32).reshape(y.shape[0], y.shape[1], -1)
    return np.einsum("bli,bli->bi", parts, parts).reshape(y.shape[0], -1, 2).sum(axis=2, dtype=np.float64)


class Receiver:
    """Finds and demodulates frames in a stream of samples (see the module docstring).

    Args:
        numerology: the OFDM numerology (must match the transmitter's).
        config: receiver settings (default :class:`ReceiverConfig`).
    """

    def __init__(self, numerology: Numerology | None = None, config: ReceiverConfig | None = None) -> None:
        self.numerology = num = numerology or Numerology()
        self.config = cfg = config or ReceiverConfig()
        self.layout = FrameLayout(num, FrameConfig(midamble_interval=cfg.midamble_interval))
        self.preamble = pre = self.layout.preamble
        self.backoff = max(1, num.cp_len // 8) if cfg.timing_backoff is None else int(cfg.timing_backoff)
        if self.backoff > num.cp_len:
            raise ValueError(f"timing_backoff={self.backoff} exceeds cp_len={num.cp_len}")
        self.detector = Detector(pre, cfg.false_alarm, cfg.chunk_samples)
        self.estimator = ChannelEstimator(
            num, pre.ltf_values, self.backoff, cfg.channel_smoothing, cfg.smoothing_significance
        )
        self._data = positions(num, num.data)
        self._pilot = positions(num, num.pilot)
        self._pilots = num.pilot.astype(np.float64)
        n_h = self.layout.n_header_symbols
        seg0 = self.layout.segments(1)[0]
        self._header_segment = Segment(seg0.ltf_start, seg0.first_symbol, n_h, 0, 0)
        self._header_pilots = pilot_values(num, np.arange(n_h))

    # ------------------------------------------------------------------ public

    def receive(self, samples: object) -> list[RxFrame]:
        """Every frame found in ``samples`` whose header passes its CRC, in order of position.

        Args:
            samples: baseband samples, complex (n,) (any numeric dtype; see :func:`as_samples`).

        Raises:
            SampleFormatError: only when ``samples`` cannot be read as numbers.
        """
        cfg = self.config
        x = as_samples(samples, cfg.chunk_samples, cfg.remove_dc)
        if x.size < self.preamble.length + self.layout.n_header_symbols * self.numerology.symbol_len:
            return []
        frames: list[RxFrame] = []
        with np.errstate(all="ignore"):
            sync = self._unique(synchronize(x, self.detector.detect(x), self.preamble, cfg.ltf_threshold,
                                            cfg.first_path_fraction))
            for start in range(0, len(sync), BATCH_FRAMES):
                headers = self._front_end(x, sync.take(slice(start, start + BATCH_FRAMES)))
                if headers is None:
                    continue
                decoded = decode_headers(headers.llr)
                ok = np.array([h is not None for h in decoded.headers], bool)
                if ok.any():
                    found = [h for h in decoded.headers if h is not None]
                    frames += self._payloads(x, headers.take(ok), found, decoded.coded[ok])
        return sorted(frames, key=lambda f: f.start)

    # ------------------------------------------------------------------ stages

    def _unique(self, sync: Sync) -> Sync:
        """One sync per preamble: candidates whose LTF timings are within a cyclic prefix are merged."""
        order = np.argsort(sync.ltf_start, kind="stable")
        keep, last = [], None
        for i in order:
            if last is None or sync.ltf_start[i] - last > self.numerology.cp_len:
                keep.append(i)
                last = sync.ltf_start[i]
        return sync.take(np.array(keep, dtype=np.int64))

    def _frame_start(self, ltf_start: np.ndarray) -> np.ndarray:
        return ltf_start - self.preamble.ltf_guard - self.preamble.stf_len

    def _ltf(self, x: np.ndarray, first_copy: np.ndarray, sync: Sync) -> ChannelEstimate:
        """Channel estimates from the LTFs whose first copies start at ``first_copy`` (B,) (all in ``x``)."""
        n = self.numerology.fft_size
        y = demodulate(x, self.numerology, first_copy - self.backoff, 2, n, sync.cfo, sync.ltf_start)
        return self.estimator.estimate(y[:, 0], y[:, 1])

    def _symbols(self, x: np.ndarray, frame_start: np.ndarray, seg: Segment, sync: Sync, skip: int,
                 count: int) -> np.ndarray:
        """FFT of ``count`` symbols of a segment from its symbol ``skip`` on, complex64 (B, count, n_occupied)."""
        num = self.numerology
        first = frame_start + seg.first_symbol + num.cp_len - self.backoff + skip * num.symbol_len
        return demodulate(x, num, first, count, num.symbol_len, sync.cfo, sync.ltf_start)

    def _times(self, seg: Segment, skip: int, count: int) -> np.ndarray:
        """FFT-window centre of a segment's symbols ``skip .. skip + count`` minus its LTF's [samples]."""
        num = self.numerology
        ltf_centre = seg.ltf_start + self.preamble.ltf_guard + num.fft_size
        centres = seg.first_symbol + num.cp_len + num.fft_size / 2 + num.symbol_len * (skip + np.arange(count))
        return centres - ltf_centre

    def _track(self, y_pilot: np.ndarray, h_pilot: np.ndarray, error_pilot: np.ndarray, x_pilot: np.ndarray,
               times: np.ndarray, noise_var: np.ndarray) -> PhaseTrack:
        return track_phase(
            y_pilot, h_pilot, error_pilot, x_pilot, self._pilots, times, self.numerology.fft_size, noise_var,
            self.config.track_sfo,
        )

    @staticmethod
    def _floor(noise_var: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Noise variances (B,) floored at 120 dB below the channel power (a noiseless input)."""
        power = np.mean(np.abs(h.reshape(h.shape[0], -1)) ** 2, axis=1)
        return np.maximum(np.maximum(noise_var, 1e-12 * power), 1e-30)

    def _front_end(self, x: np.ndarray, sync: Sync) -> _Headers | None:
        """Channel estimates, header symbols and their soft bits for confirmed preambles whose header fits."""
        num, n_h = self.numerology, self.layout.n_header_symbols
        frame_start = self._frame_start(sync.ltf_start)
        header_end = frame_start + self.layout.header_start + n_h * num.symbol_len - self.backoff
        fits = (sync.ltf_start - self.backoff >= 0) & (header_end <= x.size)
        if not fits.any():
            return None
        sync = sync.take(fits)
        frame_start = frame_start[fits]
        est = self._ltf(x, sync.ltf_start, sync)
        y = self._symbols(x, frame_start, self._header_segment, sync, 0, n_h)
        noise_var = self._floor(est.noise_var, est.h)
        times = self._times(self._header_segment, 0, n_h)
        p = self._pilot
        track = self._track(y[:, :, p], est.h[:, p], est.error[:, p], self._header_pilots, times, noise_var)
        correction = np.broadcast_to(track.correction(num.occupied), y.shape)
        d = self._data
        h = est.h[:, None, d]
        cpe_var = track.cpe_var(noise_var)[:, :, None]
        nu = noise_var[:, None, None] * (1 + est.error[:, None, d]) + np.abs(h) ** 2 * cpe_var
        soft = 4 * np.real(y[:, :, d] * correction[:, :, d] * np.conj(h)) / nu * header_scrambling(n_h, num.n_data)
        llr = soft.reshape(len(sync), -1)[:, :HEADER_CODED_BITS].astype(np.float64)
        return _Headers(sync, est, y, track, correction, llr)

    def _received_symbols(self, x: np.ndarray, frame_start: np.ndarray, payload_len: int) -> np.ndarray:
        """Payload OFDM symbols of each frame (B,) that lie inside the buffer (midambles included)."""
        num, lay = self.numerology, self.layout
        n_h = lay.n_header_symbols
        count = np.zeros(frame_start.size, np.int64)
        alive = np.ones(frame_start.size, bool)
        for i, seg in enumerate(lay.segments(payload_len)):
            skip = n_h if i == 0 else 0
            n_seg = seg.n_symbols - skip
            if i > 0:
                ltf_end = frame_start + seg.ltf_start + self.preamble.ltf_guard - self.backoff + 2 * num.fft_size
                alive &= ltf_end <= x.size
            first = frame_start + seg.first_symbol + num.cp_len - self.backoff + skip * num.symbol_len
            room = np.clip((x.size - first - num.fft_size) // num.symbol_len + 1, 0, n_seg)
            count += np.where(alive, room, 0)
            alive &= room == n_seg
        return count

    def _payloads(self, x: np.ndarray, heads: _Headers, headers: list[Header], coded: np.ndarray) -> list[RxFrame]:
        """Frames of decoded headers, processed in groups of equal payload length and reception."""
        frame_start = self._frame_start(heads.sync.ltf_start)
        lengths = np.array([h.payload_len for h in headers], dtype=np.int64)
        received = np.zeros(lengths.size, np.int64)
        for length in np.unique(lengths):
            rows = lengths == length
            received[rows] = self._received_symbols(x, frame_start[rows], int(length))
        groups: dict[tuple[int, int], list[int]] = {}
        for i, key in enumerate(zip(lengths.tolist(), received.tolist(), strict=True)):
            groups.setdefault(key, []).append(i)
        frames = []
        for (payload_len, n_rx), rows in groups.items():
            idx = np.array(rows, dtype=np.int64)
            frames += self._group(x, heads.take(idx), [headers[i] for i in rows], coded[idx], payload_len, n_rx)
        return frames

    @staticmethod
    def _residual(y: np.ndarray, correction: np.ndarray, h: np.ndarray, error: np.ndarray, known: np.ndarray,
                  track: PhaseTrack, in_track: bool) -> _Residual:
        """Squared residuals of known subcarriers after phase correction, and their expectation.

        All arrays hold the same subcarriers: ``y``, ``correction`` (B, n, K), ``h``, ``error`` (B, 1 or n, K),
        ``known`` (B or 1, n, K). ``E|r|^2 = sigma^2 (1 + error_k) + |h_k|^2 var(cpe_l)``, less the part of a
        pilot's own noise that its CPE estimate absorbed (``in_track``: these are the pilots the track used).
        """
        r = y * correction - h * known
        g = np.broadcast_to(np.sum(np.abs(h) ** 2, axis=2), track.cpe.shape)  # (B, n)
        err = np.broadcast_to(np.sum(1 + error, axis=2), track.cpe.shape)
        dof = np.sum(err, axis=1) + np.sum(g * track.noise_part, axis=1)
        if in_track:
            dof = dof - np.sum(track.self_weight, axis=1)
        return _Residual(_energy(r).sum(axis=1), dof, np.sum(g * track.walk_part, axis=1))

    def _segments(self, x: np.ndarray, heads: _Headers, refined: ChannelEstimate, payload_len: int,
                  n_rx: int) -> tuple[list[_Segment], list[ChannelEstimate]]:
        """Demodulate the ``n_rx`` received payload symbols of a group, per segment.

        Returns the segments and the midambles' channel estimates (for the noise). The channel of each
        symbol is interpolated in time between its segment's training and the next one (held after the
        last), so that a channel changing during the frame is followed.
        """
        num, lay, sync, n_h = self.numerology, self.layout, heads.sync, self.layout.n_header_symbols
        p, d = self._pilot, self._data
        frame_start = self._frame_start(sync.ltf_start)
        noise_var = self._floor(heads.estimate.noise_var, heads.estimate.h)
        layout = lay.segments(payload_len)
        estimates = [refined]
        done = 0
        for seg in layout[1:]:
            if done >= n_rx:
                break
            estimates.append(self._ltf(x, frame_start + seg.ltf_start + self.preamble.ltf_guard, sync))
            done += seg.n_symbols
        out = []
        for i, seg in enumerate(layout):
            skip = n_h if i == 0 else 0
            count = min(seg.n_symbols - skip, n_rx - seg.first_payload)
            if count <= 0:
                break
            y = self._symbols(x, frame_start, seg, sync, skip, count)
            times = self._times(seg, skip, count)
            est = estimates[i]
            h, error = est.h[:, None, :], est.error[:, None, :]
            if i + 1 < len(estimates):
                span = layout[i + 1].ltf_start - seg.ltf_start
                a = (times / span)[None, :, None]
                nxt = estimates[i + 1]
                h = ((1 - a) * h + a * nxt.h[:, None, :]).astype(np.complex64)
                error = ((1 - a) ** 2 * error + a**2 * nxt.error[:, None, :]).astype(np.float32)
            y_pilot, h_pilot, error_pilot = y[:, :, p], h[:, :, p], error[:, :, p]
            x_pilot = pilot_values(num, seg.first_index + skip + np.arange(count))
            track = self._track(y_pilot, h_pilot, error_pilot, x_pilot, times, noise_var)
            out.append(_Segment(
                np.take(y, d, axis=2), y_pilot, np.take(h, d, axis=2), h_pilot, np.take(error, d, axis=2),
                error_pilot, track, track.correction(num.data), track.correction(num.pilot), seg.first_payload,
                _energy(y),
            ))
        return out, estimates[1:]

    def _group(self, x: np.ndarray, heads: _Headers, headers: list[Header], coded: np.ndarray, payload_len: int,
               n_rx: int) -> list[RxFrame]:
        """Payload, noise variances and diagnostics of frames with the same length and reception."""
        num, cfg = self.numerology, self.config
        n_h, n_pay = self.layout.n_header_symbols, self.layout.n_payload_symbols(payload_len)
        p, d = self._pilot, self._data
        batch = len(headers)
        x_header = header_symbols(coded, n_h, num.n_data)  # (B, n_h, n_data)
        known = np.empty((batch, n_h, len(num.occupied)), np.float32)
        known[:, :, d] = x_header
        known[:, :, p] = self._header_pilots
        pre = heads.estimate
        observed = np.sum(heads.y * heads.correction * known, axis=1)
        h_ls = (pre.n_obs * pre.h_ls + observed) / (pre.n_obs + n_h)
        refined = self.estimator.smooth(h_ls, pre.n_obs + n_h, pre.noise_var, pre.noise_sum, pre.noise_dof)
        segments, midambles = self._segments(x, heads, refined, payload_len, n_rx)

        header_terms = [
            self._residual(heads.y[:, :, pos], heads.correction[:, :, pos], pre.h[:, None, pos],
                           pre.error[:, None, pos], values, heads.track, in_track)
            for pos, values, in_track in ((d, x_header, False), (p, self._header_pilots, True))
        ]
        terms = [_Residual(pre.noise_sum, np.full(batch, pre.noise_dof), np.zeros(batch)), *header_terms]
        terms += [_Residual(m.noise_sum, np.full(batch, m.noise_dof), np.zeros(batch)) for m in midambles]
        for seg in segments:
            x_p = pilot_values(num, n_h + seg.first_payload + np.arange(seg.count))
            terms.append(self._residual(seg.y_pilot, seg.corr_pilot, seg.h_pilot, seg.error_pilot, x_p, seg.track,
                                        True))
        dof = sum(t.dof for t in terms)
        noise_var = self._floor(sum(t.total - t.walk for t in terms) / np.where(dof > 0, dof, 1.0), refined.h)

        energy = sum(np.sum(s.energy[:, d], axis=1) for s in segments) - noise_var * n_rx * num.n_data
        gain = sum(np.sum(np.abs(s.h_data) ** 2, axis=(1, 2)) * (s.count // s.h_data.shape[1]) for s in segments)
        signal_power = np.where(gain > 0, np.maximum(energy / np.where(gain > 0, gain, 1), 1e-6), 1.0)

        parts = [
            (s.y_data, *equalize(s.y_data * s.corr_data, s.h_data, s.error_data, noise_var,
                                 s.track.cpe_var(noise_var), signal_power, cfg.equalizer))
            for s in segments
        ]
        missing = n_pay - n_rx
        if missing or not parts:
            empty = np.zeros((batch, missing, num.n_data), np.complex64)
            parts.append((empty, empty, np.full(empty.shape, np.inf, np.float32)))
        pre_eq, symbols, variance = (
            arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1) for arrays in zip(*parts, strict=True)
        )
        erased = np.ones((n_pay, num.n_data), bool)
        erased[:n_rx] = False
        erased = erased.reshape(-1)[:payload_len]
        diagnostics = self._diagnostics(heads, refined, segments, x_header, noise_var, signal_power, variance, erased)
        frame_start = self._frame_start(heads.sync.ltf_start)
        return [
            RxFrame(
                header=headers[b],
                symbols=symbols[b].reshape(-1)[:payload_len],
                noise_var=variance[b].reshape(-1)[:payload_len],
                erased=erased.copy(),
                start=int(frame_start[b]),
                truncated=n_rx < n_pay,
                diagnostics=replace(diagnostics[b], symbols_pre_eq=pre_eq[b].reshape(-1)[:payload_len]),
            )
            for b in range(batch)
        ]

    def _diagnostics(self, heads: _Headers, est: ChannelEstimate, segments: list[_Segment], x_header: np.ndarray,
                     noise_var: np.ndarray, signal_power: np.ndarray, variance: np.ndarray,
                     erased: np.ndarray) -> list[FrameDiagnostics]:
        num, d = self.numerology, self._data
        count = heads.y.shape[1] + sum(s.count for s in segments)
        energy = (_energy(heads.y) + sum(s.energy for s in segments)) / count  # (B, n_occ), per symbol
        power = energy - noise_var[:, None]
        floor = 1e-12 * np.maximum(np.mean(energy, axis=1), 1e-30)
        snr_db = 10 * np.log10(np.maximum(np.mean(power, axis=1), floor) / noise_var)
        per_sc = (10 * np.log10(np.maximum(power, floor[:, None]) / noise_var[:, None])).astype(np.float32)
        eq = heads.y[:, :, d] * heads.correction[:, :, d] / heads.estimate.h[:, None, d]
        evm_db = 10 * np.log10(np.mean(np.abs(eq - x_header) ** 2, axis=(1, 2)))
        flat = variance.reshape(variance.shape[0], -1)[:, : erased.size][:, ~erased]
        mean_var = np.mean(flat, axis=1) if flat.shape[1] else np.full(flat.shape[0], np.inf)
        post_db = 10 * np.log10(signal_power / mean_var)
        main = segments[0].track if segments else heads.track  # the first payload segment's, else the header's
        cpe = np.concatenate([heads.track.cpe] + [s.track.cpe for s in segments], axis=1).astype(np.float32)
        sync = heads.sync
        return [
            FrameDiagnostics(
                cfo_hz=float(sync.cfo[b] * num.sample_rate),
                timing=int(sync.ltf_start[b]),
                snr_db=float(snr_db[b]),
                evm_db=float(evm_db[b]),
                per_subcarrier_snr_db=per_sc[b],
                channel_estimate=est.h[b],
                symbols_pre_eq=np.zeros(0, np.complex64),
                noise_var_subcarrier=float(noise_var[b]),
                post_eq_snr_db=float(post_db[b]),
                signal_power=float(signal_power[b]),
                sfo_ppm=float(main.sfo[b] * 1e6),
                cpe_rad=cpe[b],
                phase_noise_var=float(main.step_var[b]),
                stf_metric=float(sync.stf_metric[b]),
                ltf_metric=float(sync.ltf_metric[b]),
                channel_window=int(est.window[b]),
            )
            for b in range(len(noise_var))
        ]
