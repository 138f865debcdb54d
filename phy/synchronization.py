"""Packet detection, timing and carrier-frequency-offset (CFO) estimation on the 802.11a-style preamble.

Detection (whole buffer, vectorised). The STF repeats every ``P = 16`` samples. At positions ``j P``
(a stride of one period) the receiver evaluates the squared correlation coefficient between the
signal and itself one period later over a window of ``W`` samples::

    rho2[j] = |sum x[n] conj(x[n + P])|^2 / (sum |x[n]|^2 * sum |x[n + P]|^2),   n in [j P, j P + W)

from per-block sums (``P`` samples each) and cumulative sums over blocks: a few passes over the
samples whatever ``W``. In complex white Gaussian noise ``rho2`` follows Beta(1, W - 1), so
``P(rho2 > t) = (1 - t)^(W - 1)`` and the threshold ``t = 1 - pfa^(1 / (W - 1))`` sets the false-alarm
probability ``pfa`` per evaluated position. Positions above the threshold form runs; runs closer than
one STF are merged and each group yields one candidate: among its positions within 10 % of the
group's highest ``rho2``, the one with the largest correlation magnitude (a window partly over
exact zeros, e.g. a noiseless gap, also has ``rho2 = 1``, but less correlation than one wholly inside
the STF). ``W = stf_len - 2 P`` so that at least one position has its window (and the lagged one)
wholly inside the STF.

Per candidate (:func:`synchronize`, vectorised over all candidates):

1. coarse CFO from the phase of the detection correlation (range +-1/(2P) cycles/sample);
2. fine timing: cross-correlation (FFT-based) with the known LTF symbol over a search window around the
   expected LTF position, both copies combined non-coherently and normalised by the energies (confirmation
   when above ``ltf_threshold``); the timing is the earliest lag within a cyclic prefix before the
   peak whose correlation power reaches ``first_path_fraction`` of the peak (the first path, not the
   strongest one);
3. CFO refinement on the now exactly located STF at lags 64, 256, 1024 (while they fit), each
   estimate unwrapped around the previous one, then on the LTF's two copies at lag N (range
   +-1/(2N) cycles/sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from phy.preamble import Preamble

CFO_REFINEMENT_LAGS = (64, 256, 1024)


@dataclass(frozen=True)
class Detections:
    """Detection-metric peaks, one per candidate.

    Attributes:
        position: int64 (B,), sample index where each peak's correlation window starts (about the STF start).
        metric: float64 (B,), ``rho2`` at the peak.
        cfo: float64 (B,), coarse CFO from the peak's correlation [cycles/sample].
    """

    position: np.ndarray
    metric: np.ndarray
    cfo: np.ndarray

    def __len__(self) -> int:
        return int(self.position.size)


@dataclass(frozen=True)
class Sync:
    """Timing and CFO of confirmed preambles.

    Attributes:
        ltf_start: int64 (B,), sample index of each first LTF copy's first sample (first path).
        cfo: float64 (B,), CFO [cycles/sample].
        stf_metric: float64 (B,), detection ``rho2``.
        ltf_metric: float64 (B,), normalised LTF correlation at the peak (0..1).
    """

    ltf_start: np.ndarray
    cfo: np.ndarray
    stf_metric: np.ndarray
    ltf_metric: np.ndarray

    def __len__(self) -> int:
        return int(self.ltf_start.size)

    def take(self, rows: np.ndarray) -> Sync:
        """The rows ``rows`` (indices or boolean mask)."""
        return Sync(self.ltf_start[rows], self.cfo[rows], self.stf_metric[rows], self.ltf_metric[rows])


def detection_threshold(n_terms: int, false_alarm: float) -> float:
    """Threshold on ``rho2`` for a false-alarm probability per position, with ``n_terms`` products."""
    return float(1.0 - np.exp(np.log(false_alarm) / max(n_terms - 1, 1)))


def gather(x: np.ndarray, starts: np.ndarray, length: int, cfo: np.ndarray | None = None) -> np.ndarray:
    """Rows ``x[starts[b] : starts[b] + length]`` (indices clipped into ``x``), complex64 (B, length).

    With ``cfo`` (cycles/sample, (B,)) each row is multiplied by ``exp(-j 2 pi cfo[b] i)``, ``i`` the
    position in the row (the phase origin of a row does not matter to the estimators that use it).
    """
    idx = np.clip(np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)[None, :], 0, x.size - 1)
    rows = x[idx]
    if cfo is not None:
        rows *= np.exp(-2j * np.pi * np.asarray(cfo)[:, None] * np.arange(length)[None, :]).astype(np.complex64)
    return rows


def lag_cfo(rows: np.ndarray, lag: int) -> np.ndarray:
    """CFO [cycles/sample] of each row from ``sum x[n] conj(x[n + lag])`` over all its pairs, float64 (B,)."""
    s = np.sum(rows[:, :-lag] * np.conj(rows[:, lag:]), axis=1, dtype=np.complex128)
    return -np.angle(s) / (2 * np.pi * lag)


class Detector:
    """Vectorised STF detector over a whole buffer (see the module docstring).

    Args:
        preamble: the preamble (its STF period and length set ``P`` and ``W``).
        false_alarm: false-alarm probability per evaluated position in white noise.
        chunk: samples per chunk of the metric (bounds the temporary memory).
    """

    def __init__(self, preamble: Preamble, false_alarm: float = 1e-5, chunk: int = 1 << 20) -> None:
        self.period = preamble.stf_period
        self.window_blocks = preamble.stf_repetitions - 2
        self.threshold = detection_threshold(self.window_blocks * self.period, false_alarm)
        self.merge_blocks = preamble.stf_repetitions
        self.chunk_blocks = max(chunk // self.period, self.window_blocks + 2)

    def block_sums(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-block lag-P correlation (n_blocks - 1,) complex128 and energy (n_blocks,) float64."""
        p = self.period
        xb = x[: x.size // p * p].reshape(-1, p)
        corr = ((xb[:-1] * np.conj(xb[1:])) @ np.ones(p, dtype=np.complex64)).astype(np.complex128)
        xf = xb.view(np.float32)
        return corr, np.einsum("ij,ij->i", xf, xf).astype(np.float64)

    def metric(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rho2 float64 (n_pos,), window correlation complex128 (n_pos,))`` at positions ``j P``.

        Computed ``chunk`` samples at a time (each chunk's block sums with the ``W`` blocks after it), so
        that the temporaries stay small whatever the buffer's length.
        """
        p, w = self.period, self.window_blocks
        n_pos = x.size // p - w
        if n_pos <= 0:
            return np.zeros(0), np.zeros(0, complex)
        rho2, window = np.empty(n_pos), np.empty(n_pos, complex)
        for j0 in range(0, n_pos, self.chunk_blocks):
            j1 = min(j0 + self.chunk_blocks, n_pos)
            corr, energy = self.block_sums(x[j0 * p : (j1 + w) * p])
            c_corr = np.concatenate([[0], np.cumsum(corr)])
            c_energy = np.concatenate([[0], np.cumsum(energy)])
            count = j1 - j0
            window[j0:j1] = c_corr[w : w + count] - c_corr[:count]
            e_a = c_energy[w : w + count] - c_energy[:count]
            den = e_a * (c_energy[w + 1 : w + 1 + count] - c_energy[1 : 1 + count])
            part = window[j0:j1]
            rho2[j0:j1] = np.where(den > 0, (part.real**2 + part.imag**2) / np.where(den > 0, den, 1), 0.0)
        return rho2, window

    def detect(self, x: np.ndarray) -> Detections:
        """Candidates in ``x`` (complex64, finite), in order of position."""
        rho2, window = self.metric(x)
        above = np.flatnonzero(rho2 > self.threshold)
        if above.size == 0:
            return Detections(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        breaks = np.flatnonzero(np.diff(above) > self.merge_blocks)
        starts = above[np.concatenate([[0], breaks + 1])]
        ends = above[np.concatenate([breaks, [above.size - 1]])] + 1
        peaks = []
        for s, e in zip(starts, ends, strict=True):
            group = rho2[s:e]
            near = np.flatnonzero(group >= 0.9 * group.max())
            peaks.append(s + near[np.argmax(np.abs(window[s + near]))])
        j = np.array(peaks, dtype=np.int64)
        return Detections(j * self.period, rho2[j], -np.angle(window[j]) / (2 * np.pi * self.period))


def synchronize(
    x: np.ndarray,
    detections: Detections,
    preamble: Preamble,
    ltf_threshold: float = 0.1,
    first_path_fraction: float = 0.25,
) -> Sync:
    """Fine timing and CFO of every candidate (see the module docstring); the confirmed ones only.

    Args:
        x: complex64 (n,), the buffer.
        detections: the candidates.
        preamble: the preamble.
        ltf_threshold: minimum normalised LTF correlation (0..1).
        first_path_fraction: fraction of the peak correlation power that marks the first path.
    """
    n = preamble.numerology.fft_size
    cp = preamble.numerology.cp_len
    stf_len, guard = preamble.stf_len, preamble.ltf_guard
    search = max(4 * preamble.stf_period, stf_len // 8)
    expected = detections.position + stf_len + guard
    lo = np.maximum(expected - search, stf_len + guard)
    hi = np.minimum(expected + search, x.size - 2 * n)
    ok = hi >= lo
    lo, hi = lo[ok], hi[ok]
    cfo = detections.cfo[ok]
    stf_metric = detections.metric[ok]
    lags = 2 * search + 1
    length = lags - 1 + 2 * n
    y = gather(x, lo, length, cfo)
    ref = preamble.ltf_symbol
    n_fft = 1 << int(np.ceil(np.log2(length + n)))
    spectrum = scipy.fft.fft(y, n_fft, axis=1) * np.conj(scipy.fft.fft(ref, n_fft))[None, :]
    power = np.abs(scipy.fft.ifft(spectrum, axis=1)[:, : length - n + 1]) ** 2
    raw = power[:, :lags] + power[:, n : n + lags]
    c_energy = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(np.abs(y) ** 2, axis=1, dtype=np.float64)], axis=1)
    win = c_energy[:, n:] - c_energy[:, :-n]
    den = float(np.real(np.vdot(ref, ref))) * (win[:, :lags] + win[:, n : n + lags])
    metric = np.where(den > 0, raw / np.where(den > 0, den, 1), 0.0)
    metric[np.arange(lags)[None, :] > (hi - lo)[:, None]] = 0.0
    rows = np.arange(y.shape[0])
    peak = np.argmax(metric, axis=1) if lags else np.zeros(0, np.int64)
    best = metric[rows, peak]
    candidates = peak[:, None] - cp + np.arange(cp + 1)[None, :]
    strong = raw[rows[:, None], np.maximum(candidates, 0)] >= first_path_fraction * raw[rows, peak][:, None]
    first = candidates[rows, np.argmax(strong & (candidates >= 0), axis=1)]
    ltf_start = lo + first
    stf_start = ltf_start - guard - stf_len
    for lag in CFO_REFINEMENT_LAGS:
        if stf_len - cp - lag < lag // 2:
            break
        cfo = cfo + lag_cfo(gather(x, stf_start + cp, stf_len - cp, cfo), lag)
    cfo = cfo + lag_cfo(gather(x, ltf_start - cp, cp + 2 * n, cfo), n)
    confirmed = best >= ltf_threshold
    return Sync(ltf_start, cfo, stf_metric, best).take(confirmed)
