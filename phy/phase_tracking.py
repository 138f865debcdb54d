"""Pilot-based tracking of the common phase error (CPE) and of the sampling-frequency offset (SFO).

After CFO correction and equalisation with the LTF's channel estimate, OFDM symbol ``l`` still has

* a common phase ``theta_l`` on every subcarrier: the residual CFO (a linear drift) plus oscillator
  phase noise (a random walk);
* a phase slope across subcarriers ``-2 pi k delta_l / N``: the FFT window drifts by ``delta_l = zeta t_l``
  samples under a sample-clock offset ``zeta``, ``t_l`` samples after the LTF.

Estimation, on ``Z[l, p] = Y[l, p] conj(H_p x[l, p])`` (pilots matched-filtered with the channel):

1. SFO: the phase of neighbouring pilots' products ``Z[l, p+1] conj(Z[l, p])`` gives each symbol's slope;
   a weighted least-squares line through the LTF (slope 0 at ``t = 0``) gives ``zeta``, shrunk towards
   0 by its standard error.
2. CPE: ``Q_l = sum_p Z[l, p] e^{-j k_p slope_l}``; the residual-CFO drift is removed (estimated from the
   phases of ``sum_l Q_{l+L} conj(Q_l)`` at lags L = 1, 4, 16, ..., each refining the last), and the
   result is smoothed with the Wiener smoother of a random walk
   observed in white noise: weights ``alpha^|i - l|`` with ``alpha + 1/alpha = 2 + q/r``, ``r`` the
   per-symbol measurement variance (from the noise variance) and ``q`` the random-walk step variance
   (the slope of the phase differences' variance against their lag; 0 gives a flat average over the
   segment).

Everything works on a batch of B frames (or segments) with the same number of symbols at once.
The variance of each CPE estimate (measurement noise through the weights, random-walk mismatch,
and the channel-estimate error at the pilots) is returned so that the receiver can report honest
per-symbol noise variances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhaseTrack:
    """Phase corrections of the symbols of a batch of B segments of n symbols.

    Attributes:
        cpe: float64 (B, n), common phase of each symbol [rad], in (-pi, pi].
        slope: float64 (B, n), phase slope across subcarriers [rad per subcarrier].
        sfo: float64 (B,), sample-clock offset, relative (1e-6 = 1 ppm).
        noise_part: float64 (B, n), CPE error variance per unit noise variance [rad^2].
        walk_part: float64 (B, n), CPE error variance from the phase random walk [rad^2].
        self_weight: float64 (B, n), weight of a symbol's own pilots in its CPE estimate.
        step_var: float64 (B,), estimated random-walk (phase-noise) variance per symbol [rad^2].
    """

    cpe: np.ndarray
    slope: np.ndarray
    sfo: np.ndarray
    noise_part: np.ndarray
    walk_part: np.ndarray
    self_weight: np.ndarray
    step_var: np.ndarray

    def cpe_var(self, noise_var: np.ndarray) -> np.ndarray:
        """Variance of each ``cpe`` estimate for noise variances (B,), float64 (B, n) [rad^2]."""
        return np.asarray(noise_var)[:, None] * self.noise_part + self.walk_part

    def correction(self, subcarriers: np.ndarray) -> np.ndarray:
        """``exp(-j (cpe + k slope))``, complex64 (B, n, len(subcarriers)), or (B, n, 1) when no slope."""
        minus_cpe = -self.cpe.astype(np.float32)[:, :, None]
        if np.any(self.slope):
            minus_k = -np.asarray(subcarriers, dtype=np.float32)[None, None, :]
            phase = np.multiply(self.slope.astype(np.float32)[:, :, None], minus_k)
            phase += minus_cpe
        else:
            phase = minus_cpe
        out = np.empty(phase.shape, dtype=np.complex64)
        parts = out.view(np.float32).reshape(*phase.shape, 2)
        np.cos(phase, out=parts[..., 0])
        np.sin(phase, out=parts[..., 1])
        return out


def _estimate_sfo(z: np.ndarray, pilots: np.ndarray, times: np.ndarray, fft_size: int) -> np.ndarray:
    """Least-squares SFO (B,) from the pilots' phase slopes, ``z`` (B, n, n_pilot) matched-filtered pilots.

    The estimate is shrunk towards 0 by its own standard error (positive-part James-Stein): at low SNR
    a noisy slope would otherwise rotate the band edges more than it corrects.
    """
    batch, n, n_pilot = z.shape
    if n_pilot < 2 or n < 2:
        return np.zeros(batch)
    r = np.sum(z[:, :, 1:] * np.conj(z[:, :, :-1]), axis=2)
    phi = np.angle(r) / float(np.mean(np.diff(pilots)))
    w = np.abs(r)
    den = np.sum(w * times**2, axis=1)
    total = np.sum(w, axis=1)
    good = (den > 0) & (total > 0)
    den, total = np.where(good, den, 1.0), np.where(good, total, 1.0)
    b = np.sum(w * times * phi, axis=1) / den
    resid = np.sum(w * (phi - b[:, None] * times) ** 2, axis=1) / total
    b_var = resid * np.sum(w**2 * times**2, axis=1) / den**2
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(b != 0, np.maximum(0.0, 1.0 - 4.0 * b_var / b**2), 0.0)
    return np.where(good, -fft_size / (2 * np.pi) * b * shrink, 0.0)


def _drift(q: np.ndarray) -> np.ndarray:
    """Linear phase drift (B,) of ``q`` (B, n) [rad per symbol] from lag-1, 4, 16, ... products."""
    drift = np.zeros(q.shape[0])
    lag = 1
    while lag < q.shape[1]:
        prod = np.sum(q[:, lag:] * np.conj(q[:, :-lag]), axis=1) * np.exp(-1j * drift * lag)
        drift += np.angle(prod) / lag
        lag *= 4
    return drift


def _step_variance(q: np.ndarray) -> np.ndarray:
    """Random-walk step variance (B,) of the phase of ``q`` (B, n), drift removed [rad^2 per symbol].

    The lag-L phase differences have variance ``2 r + L q_step`` (measurement noise twice, plus L steps);
    a weighted least-squares line over lags 1, 2, 4, ... (while the variance stays below 1 rad^2, so that
    wrapping does not bias it) gives the slope ``q_step``, clipped at 0.
    """
    batch, n = q.shape
    sums = np.zeros((5, batch))  # sum w, w L, w m, w L^2, w L m
    count = np.zeros(batch)
    alive = np.ones(batch, bool)
    lag = 1
    while lag <= max(n // 4, 1) and lag < n:
        m = np.mean(np.angle(q[:, lag:] * np.conj(q[:, :-lag])) ** 2, axis=1)
        if lag > 1:
            alive &= m <= 1.0
        w = np.where(alive, (n - lag) / np.maximum(m, 1e-30) ** 2, 0.0)
        sums += np.array([w, w * lag, w * m, w * lag**2, w * lag * m])
        count += alive
        lag *= 2
    s_w, s_l, s_m, s_ll, s_lm = sums
    det = s_w * s_ll - s_l**2
    ok = (count >= 2) & (det > 0)
    slope = np.where(ok, (s_w * s_lm - s_l * s_m) / np.where(ok, det, 1.0), 0.0)
    return np.maximum(slope, 0.0)


class _Smoother:
    """Row-normalised two-sided exponential weights ``W[l, i] = alpha^|i-l| / den_l`` over ``n`` symbols.

    One ``alpha`` per batch row; everything in O(n) per row (recursive filters and closed-form geometric
    sums), never as an (n, n) matrix; ``alpha = 1`` is the flat average.
    """

    def __init__(self, n: int, q_over_r: np.ndarray) -> None:
        self.n = n
        b = 1.0 + np.maximum(np.asarray(q_over_r, dtype=np.float64), 0.0) / 2.0
        alpha = b - np.sqrt(b * b - 1.0)
        self.alpha = np.where(1.0 - alpha < 1e-6, 1.0, alpha)[:, None]  # (B, 1)
        left = np.arange(n, dtype=np.float64)[None, :]  # symbols left of l
        self._left, self._right = left, n - 1 - left
        self.den = self._geometric(self.alpha, left + 1) + self._geometric(self.alpha, self._right + 1) - 1

    @staticmethod
    def _geometric(a: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``sum_{j < m} a^j`` elementwise (``a`` (B, 1), ``m`` (1, n))."""
        flat = a == 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(flat, m, (1.0 - a**m) / np.where(flat, 0.5, 1.0 - a))

    def apply(self, q: np.ndarray) -> np.ndarray:
        """``W @ q`` for complex ``q`` (B, n): the two one-sided sums, the middle counted once, over ``den``."""
        forward = self._one_sided(q)
        backward = self._one_sided(q[:, ::-1])[:, ::-1]
        out = (forward + backward - q) / self.den
        flat = self.alpha[:, 0] == 1.0
        out[flat] = np.mean(q[flat], axis=1, keepdims=True)
        return out

    def _one_sided(self, q: np.ndarray) -> np.ndarray:
        """``sum_{j <= l} alpha^(l - j) q[j]`` along each row of ``q`` (B, n), complex128 (B, n).

        The recursion ``s[l] = alpha s[l - 1] + q[l]`` by prefix doubling: after the step with span ``d``
        each ``s[l]`` holds the sum over the last ``2 d`` symbols, so log2(n) steps, each vectorised over
        the whole batch (a row-by-row filter costs a Python call per frame).
        """
        out = np.array(q, dtype=np.complex128)
        power, span = self.alpha.copy(), 1  # power = alpha^span, (B, 1)
        while span < self.n:
            out[:, span:] += power * out[:, :-span]  # the right side is evaluated first: the old values
            power, span = power * power, 2 * span
        return out

    def self_weight(self) -> np.ndarray:
        """``W[l, l]``, float64 (B, n)."""
        return 1.0 / self.den

    def sum_squares(self) -> np.ndarray:
        """``sum_i W[l, i]^2``, float64 (B, n)."""
        a2 = self.alpha**2
        return (self._geometric(a2, self._left + 1) + self._geometric(a2, self._right + 1) - 1) / self.den**2

    def walk(self) -> np.ndarray:
        """Variance of ``sum_i W[l, i] (x_i - x_l)`` for a unit-step random walk ``x``, float64 (B, n)."""
        return (self._one_side(self._right) + self._one_side(self._left)) / self.den**2

    def _one_side(self, count: np.ndarray) -> np.ndarray:
        """``sum_j (den_l T_j)^2`` over the ``count`` steps on one side, ``T_j`` the weight beyond step j."""
        a = self.alpha
        flat = a == 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(flat, 0.5, a)
            squares = b**2 * (1 - b ** (2 * count)) / (1 - b**2)
            plain = b * (1 - b**count) / (1 - b)
            geometric = (squares - 2 * b ** (count + 1) * plain + b ** (2 * count + 2) * count) / (1 - b) ** 2
        return np.where(flat, count * (count + 1) * (2 * count + 1) / 6, geometric)


def track_phase(
    y_pilot: np.ndarray,
    h_pilot: np.ndarray,
    error_pilot: np.ndarray,
    x_pilot: np.ndarray,
    pilots: np.ndarray,
    times: np.ndarray,
    fft_size: int,
    noise_var: np.ndarray,
    track_sfo: bool = True,
) -> PhaseTrack:
    """Estimate CPE and SFO of a batch of segments' OFDM symbols from their pilots.

    Args:
        y_pilot: complex (B, n, n_pilot), received pilot subcarriers (CFO-corrected).
        h_pilot: complex (B, n_pilot) or (B, n, n_pilot), channel estimate at the pilots.
        error_pilot: float, same shape as ``h_pilot``, channel-estimate error variance over the noise variance.
        x_pilot: float (n, n_pilot) or (B, n, n_pilot), transmitted pilot values.
        pilots: int (n_pilot,), pilot subcarrier indices (ascending).
        times: float (n,) or (B, n), FFT-window centre of each symbol minus the LTF's [samples].
        fft_size: N.
        noise_var: float (B,), noise variance per subcarrier.
        track_sfo: estimate the SFO (else the slope is 0).

    Returns:
        The :class:`PhaseTrack`.
    """
    batch, n, _ = y_pilot.shape
    h = h_pilot if h_pilot.ndim == 3 else h_pilot[:, None, :]
    err = error_pilot if error_pilot.ndim == 3 else error_pilot[:, None, :]
    times = np.broadcast_to(np.asarray(times, dtype=np.float64), (batch, n))
    z = y_pilot.astype(np.complex128) * np.conj(h * x_pilot)
    sfo = _estimate_sfo(z, pilots, times, fft_size) if track_sfo else np.zeros(batch)
    slope = -2 * np.pi * sfo[:, None] * times / fft_size
    q = np.sum(z * np.exp(-1j * slope[:, :, None] * pilots[None, None, :]), axis=2)
    g = np.abs(h) ** 2
    gain = np.mean(np.sum(g, axis=2), axis=1)  # (B,)
    good = gain > 0
    safe_gain = np.where(good, gain, 1.0)
    r = np.asarray(noise_var, dtype=np.float64) / (2 * safe_gain)
    drift = _drift(q) if n >= 2 else np.zeros(batch)
    ramp = drift[:, None] * np.arange(n)[None, :]
    detrended = q * np.exp(-1j * ramp)
    step_var = np.where(good, _step_variance(detrended), 0.0)
    smoother = _Smoother(n, np.where(r > 0, step_var / np.where(r > 0, r, 1.0), 0.0))
    cpe = np.angle(smoother.apply(detrended) * np.exp(1j * ramp))
    h_error = np.mean(np.sum(err * g, axis=2), axis=1) / safe_gain
    noise_part = (smoother.sum_squares() + h_error[:, None]) / (2 * safe_gain[:, None])
    noise_part[~good] = np.inf
    walk = step_var[:, None] * smoother.walk()
    return PhaseTrack(cpe, slope, sfo, noise_part, walk, smoother.self_weight(), step_var)
