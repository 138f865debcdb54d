"""OFDM receiver for a continuous stream of baseband samples.

``Receiver.receive(samples)`` finds every frame in a buffer (any start point, noise before, between
and after, several frames) and returns, per frame whose header passes its CRC, the equalised payload
symbols with a per-symbol noise variance in payload units. Stages:

1. input: converted to finite complex64 (NaN/inf -> 0), rescaled by a power of two when its peak is
   outside [1e-6, 1e6], a large DC offset removed per chunk (:func:`phy.samples.as_samples`);
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
   header symbols' residuals, each corrected for what the estimators absorbed
   (:mod:`phy.noise_estimation`); from it the SNR, per-subcarrier SNR, EVM and the per-symbol noise
   variance of the equalised payload (channel- and phase-estimate errors included).

A frame cut by the end of the buffer is returned with ``truncated=True`` and the symbols that were
not received erased (``symbols`` 0, ``noise_var`` inf), or, by :meth:`Receiver.receive_whole` (for a
stream, which will see it whole later), only located; a frame whose header is not received or fails
its CRC is dropped. Nothing raises for array input of any numeric dtype, shape or value; input that
cannot be read as numbers (``None``, strings, objects) raises :class:`phy.samples.SampleFormatError` (a
``ValueError``).

Settings: :class:`phy.receiver_config.ReceiverConfig`; output: :class:`phy.rx_frame.RxFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from phy.channel_estimation import ChannelEstimate, ChannelEstimator
from phy.equalization import equalize
from phy.frame_config import FrameConfig
from phy.frame_layout import FrameLayout, Segment
from phy.header import HEADER_CODED_BITS, Header, header_scrambling, header_symbols
from phy.header_decoding import decode_headers
from phy.noise_estimation import Residual, energy, floor_noise_var, pooled_noise_var, residual, signal_power, snr_db
from phy.numerology import Numerology
from phy.ofdm import demodulate, positions
from phy.phase_tracking import PhaseTrack, track_phase
from phy.pilots import pilot_values
from phy.receiver_config import ReceiverConfig
from phy.rx_frame import FrameDiagnostics, RxFrame
from phy.samples import as_samples
from phy.synchronization import Detector, Sync, synchronize


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


BATCH_FRAMES = 64
"""Frames processed together (bounds the temporary memory)."""


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
            samples: baseband samples, complex (n,) (any numeric dtype; see :func:`phy.samples.as_samples`).

        Raises:
            phy.samples.SampleFormatError: only when ``samples`` cannot be read as numbers.
        """
        return self._receive(samples, whole_only=False)[0]

    def receive_whole(self, samples: object) -> tuple[list[RxFrame], int | None]:
        """The frames that lie whole in ``samples``, and where the first frame cut by their end starts.

        As :meth:`receive`, but a frame whose payload runs past the end is not processed (a stream
        receives it again, whole, from its start): only its start [sample index] is returned, the
        earliest of them, or None when no frame is cut.
        """
        return self._receive(samples, whole_only=True)

    def _receive(self, samples: object, whole_only: bool) -> tuple[list[RxFrame], int | None]:
        """The frames of :meth:`receive` (the cut ones only located when ``whole_only``) and the first cut start."""
        cfg = self.config
        x = as_samples(samples, cfg.chunk_samples, cfg.remove_dc)
        if x.size < self.preamble.length + self.layout.n_header_symbols * self.numerology.symbol_len:
            return [], None
        frames: list[RxFrame] = []
        cut: list[int] = []
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
                    whole, starts = self._payloads(x, headers.take(ok), found, decoded.coded[ok], whole_only)
                    frames += whole
                    cut += starts
        return sorted(frames, key=lambda f: f.start), min(cut, default=None)

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
        noise_var = floor_noise_var(est.noise_var, est.h)
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

    def _payloads(self, x: np.ndarray, heads: _Headers, headers: list[Header], coded: np.ndarray,
                  whole_only: bool) -> tuple[list[RxFrame], list[int]]:
        """Frames of decoded headers, processed in groups of equal payload length and reception; with
        ``whole_only`` those cut by the end of ``x`` are left out and only their starts returned."""
        frame_start = self._frame_start(heads.sync.ltf_start)
        lengths = np.array([h.payload_len for h in headers], dtype=np.int64)
        received = np.zeros(lengths.size, np.int64)
        for length in np.unique(lengths):
            rows = lengths == length
            received[rows] = self._received_symbols(x, frame_start[rows], int(length))
        cut = received < np.array([self.layout.n_payload_symbols(n) for n in lengths.tolist()], np.int64)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, key in enumerate(zip(lengths.tolist(), received.tolist(), strict=True)):
            if not (whole_only and cut[i]):
                groups.setdefault(key, []).append(i)
        frames = []
        for (payload_len, n_rx), rows in groups.items():
            idx = np.array(rows, dtype=np.int64)
            frames += self._group(x, heads.take(idx), [headers[i] for i in rows], coded[idx], payload_len, n_rx)
        return frames, frame_start[cut].tolist() if whole_only else []

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
        noise_var = floor_noise_var(heads.estimate.noise_var, heads.estimate.h)
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
                energy(y),
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
            residual(heads.y[:, :, pos], heads.correction[:, :, pos], pre.h[:, None, pos], pre.error[:, None, pos],
                     values, heads.track, in_track)
            for pos, values, in_track in ((d, x_header, False), (p, self._header_pilots, True))
        ]
        terms = [Residual.of_training(pre.noise_sum, pre.noise_dof), *header_terms]
        terms += [Residual.of_training(m.noise_sum, m.noise_dof) for m in midambles]
        for seg in segments:
            x_p = pilot_values(num, n_h + seg.first_payload + np.arange(seg.count))
            terms.append(residual(seg.y_pilot, seg.corr_pilot, seg.h_pilot, seg.error_pilot, x_p, seg.track, True))
        noise_var = pooled_noise_var(terms, refined.h)

        received = sum(np.sum(s.energy[:, d], axis=1) for s in segments)
        gain = sum(np.sum(np.abs(s.h_data) ** 2, axis=(1, 2)) * (s.count // s.h_data.shape[1]) for s in segments)
        payload_power = signal_power(received, noise_var, n_rx, num.n_data, gain)

        parts = [
            (s.y_data, *equalize(s.y_data * s.corr_data, s.h_data, s.error_data, noise_var,
                                 s.track.cpe_var(noise_var), payload_power, cfg.equalizer))
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
        diagnostics = self._diagnostics(heads, refined, segments, x_header, noise_var, payload_power, variance,
                                        erased)
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
                     noise_var: np.ndarray, payload_power: np.ndarray, variance: np.ndarray,
                     erased: np.ndarray) -> list[FrameDiagnostics]:
        num, d = self.numerology, self._data
        count = heads.y.shape[1] + sum(s.count for s in segments)
        snr, per_sc = snr_db((energy(heads.y) + sum(s.energy for s in segments)) / count, noise_var)
        eq = heads.y[:, :, d] * heads.correction[:, :, d] / heads.estimate.h[:, None, d]
        evm_db = 10 * np.log10(np.mean(np.abs(eq - x_header) ** 2, axis=(1, 2)))
        flat = variance.reshape(variance.shape[0], -1)[:, : np.count_nonzero(~erased)]  # the received ones lead
        mean_var = np.mean(flat, axis=1) if flat.shape[1] else np.full(flat.shape[0], np.inf)
        post_db = 10 * np.log10(payload_power / mean_var)
        main = segments[0].track if segments else heads.track  # the first payload segment's, else the header's
        cpe = np.concatenate([heads.track.cpe] + [s.track.cpe for s in segments], axis=1).astype(np.float32)
        sync = heads.sync
        return [
            FrameDiagnostics(
                cfo_hz=float(sync.cfo[b] * num.sample_rate),
                timing=int(sync.ltf_start[b]),
                snr_db=float(snr[b]),
                evm_db=float(evm_db[b]),
                per_subcarrier_snr_db=per_sc[b],
                channel_estimate=est.h[b],
                symbols_pre_eq=np.zeros(0, np.complex64),
                noise_var_subcarrier=float(noise_var[b]),
                post_eq_snr_db=float(post_db[b]),
                signal_power=float(payload_power[b]),
                sfo_ppm=float(main.sfo[b] * 1e6),
                cpe_rad=cpe[b],
                phase_noise_var=float(main.step_var[b]),
                stf_metric=float(sync.stf_metric[b]),
                ltf_metric=float(sync.ltf_metric[b]),
                channel_window=int(est.window[b]),
            )
            for b in range(len(noise_var))
        ]
