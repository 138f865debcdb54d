"""Channel and noise estimation from the two copies of the long training field (LTF).

With ``Y1``, ``Y2`` the two LTF copies' occupied subcarriers and ``X`` the known +-1 values:

* least squares: ``H_ls = (Y1 + Y2) / 2 * X``, error variance ``sigma^2 / 2`` per subcarrier;
* noise: ``sigma^2 = mean |Y1 - Y2|^2 / 2`` (each copy carries independent noise of variance ``sigma^2``);
* optional smoothing across subcarriers (LMMSE with a delay-window prior). The FFT window starts
  ``backoff`` samples before the first path, so the channel's taps lie at delays from ``backoff`` on.
  For a few candidate windows ``[backoff - 1, backoff - 1 + w]`` (w = 2, 4, 8 samples and the cyclic
  prefix) the prior is a uniform power-delay profile over the window (fractional delays included,
  on a quarter-sample grid); its covariance's eigenvectors ``U`` and eigenvalues ``lambda`` give the
  estimator ``H = U diag(P lambda / (P lambda + sigma^2/2)) U^H H_ls`` and its exact error variance per
  subcarrier under the prior. The narrowest window is chosen whose residual ``|H_ls - H|^2`` exceeds
  that of every wider window by no more than noise explains (a nested F-test against the
  independent noise estimate from the copies' difference). A flat channel then has an estimate
  error of a few ``sigma^2 / (2 n_occupied)`` instead of ``sigma^2 / 2``, and a frequency-selective
  one is fitted by a wider window rather than biased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phy.numerology import Numerology

WINDOW_WIDTHS = (2, 4, 8)
"""Candidate delay-window widths [samples]; the cyclic prefix (+2) is always the widest candidate."""
OVERSAMPLE = 4
"""Delay grid points per sample in the windows' prior."""


@dataclass(frozen=True)
class ChannelEstimate:
    """Channel estimates at the occupied subcarriers, for a batch of B frames.

    Attributes:
        h: complex64 (B, n_occupied), channel (including the transmit gain) at ``numerology.occupied``.
        error: float32 (B, n_occupied), estimate error variance over the noise variance.
        h_ls: complex128 (B, n_occupied), the unsmoothed least-squares estimate it came from.
        n_obs: unit-power observations per subcarrier behind ``h_ls`` (its noise is ``sigma^2 / n_obs``).
        noise_sum: float64 (B,), sum of ``|Y1 - Y2|^2 / 2`` over the LTF, expectation ``noise_dof sigma^2``.
        noise_dof: ``n_occupied - 1/2``: the fine CFO estimate, which aligns the copies' phases, absorbs
            one real dimension of their difference (0 when not from an LTF).
        window: int (B,), delay-window width chosen by smoothing [samples] (0 without smoothing).
    """

    h: np.ndarray
    error: np.ndarray
    h_ls: np.ndarray
    n_obs: int
    noise_sum: np.ndarray
    noise_dof: float
    window: np.ndarray

    @property
    def noise_var(self) -> np.ndarray:
        """Noise variance per subcarrier from the two LTF copies alone, float64 (B,)."""
        return self.noise_sum / self.noise_dof if self.noise_dof else np.zeros_like(self.noise_sum)

    def take(self, rows: np.ndarray) -> ChannelEstimate:
        """The estimates of rows ``rows`` (indices or boolean mask)."""
        return ChannelEstimate(
            self.h[rows], self.error[rows], self.h_ls[rows], self.n_obs, self.noise_sum[rows], self.noise_dof,
            self.window[rows],
        )


def _window_basis(numerology: Numerology, start: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors (n_occupied, r) and eigenvalues (r,) of a uniform delay prior over [start, start + width]."""
    delays = start + np.arange(int(round(width * OVERSAMPLE)) + 1) / OVERSAMPLE
    k = numerology.occupied.astype(np.float64)
    g = np.exp(-2j * np.pi * np.outer(k, delays) / numerology.fft_size) / np.sqrt(delays.size)
    u, s, _ = np.linalg.svd(g, full_matrices=False)
    lam = s**2
    keep = lam > 1e-13 * lam[0]
    return u[:, keep], lam[keep]


class ChannelEstimator:
    """LS channel estimation from an LTF, with optional LMMSE smoothing across subcarriers.

    Args:
        numerology: the OFDM numerology.
        ltf_values: float (n_occupied,), the LTF's +-1 values.
        backoff: samples the FFT window starts before the first path.
        smoothing: smooth across subcarriers (else plain LS).
        significance: F-test threshold in standard deviations for preferring a wider window.
    """

    def __init__(
        self,
        numerology: Numerology,
        ltf_values: np.ndarray,
        backoff: int,
        smoothing: bool = True,
        significance: float = 3.0,
    ) -> None:
        self.numerology = numerology
        self.ltf_values = np.asarray(ltf_values, dtype=np.float32)
        self.smoothing = smoothing
        self.significance = float(significance)
        widths = sorted({w for w in WINDOW_WIDTHS if w < numerology.cp_len} | {numerology.cp_len + 2})
        self.widths = tuple(widths)
        self._bases = [_window_basis(numerology, backoff - 1.0, w) for w in widths]

    def estimate(self, y1: np.ndarray, y2: np.ndarray) -> ChannelEstimate:
        """Estimate from the two LTF copies, each complex (B, n_occupied)."""
        n_occ = y1.shape[-1]
        h_ls = 0.5 * (y1.astype(np.complex128) + y2) * self.ltf_values
        diff = y1 - y2
        noise_sum = 0.5 * np.sum(np.abs(diff.astype(np.complex128)) ** 2, axis=-1)
        dof = n_occ - 0.5
        return self.smooth(h_ls, 2, noise_sum / dof, noise_sum, dof)

    def smooth(
        self,
        h_ls: np.ndarray,
        n_obs: int,
        noise_var: np.ndarray,
        noise_sum: np.ndarray | None = None,
        noise_dof: float = 0.0,
    ) -> ChannelEstimate:
        """Smooth LS estimates made of ``n_obs`` unit-power observations per subcarrier.

        Args:
            h_ls: complex (B, n_occupied), least-squares channel estimates.
            n_obs: observations averaged in ``h_ls`` (its noise variance is ``noise_var / n_obs``).
            noise_var: float (B,), noise variance per subcarrier of one observation.
            noise_sum, noise_dof: carried into the result (see :class:`ChannelEstimate`).
        """
        h_ls = np.asarray(h_ls, dtype=np.complex128)
        batch, n_occ = h_ls.shape
        noise_sum = np.zeros(batch) if noise_sum is None else np.asarray(noise_sum, dtype=np.float64)
        if not self.smoothing:
            error = np.full((batch, n_occ), 1.0 / n_obs, np.float32)
            return ChannelEstimate(
                h_ls.astype(np.complex64), error, h_ls, n_obs, noise_sum, noise_dof, np.zeros(batch, int)
            )
        half = (np.asarray(noise_var, dtype=np.float64) / n_obs)[:, None]  # noise variance of h_ls per subcarrier
        power = np.maximum(np.mean(np.abs(h_ls) ** 2, axis=1, keepdims=True) - half, 1e-30)
        fits, errors, residuals, dofs = [], [], [], []
        for u, lam in self._bases:
            weight = power * lam / (power * lam + half)  # (B, r)
            h = (weight * (h_ls @ u.conj())) @ u.T
            fits.append(h)
            errors.append((weight @ (np.abs(u) ** 2).T) / n_obs)
            residuals.append(np.sum(np.abs(h_ls - h) ** 2, axis=1))
            dofs.append(weight.sum(axis=1))
        residual, dof = np.array(residuals), np.array(dofs)  # (W, B)
        half = half[:, 0]
        adequate = np.ones_like(residual, dtype=bool)
        for i in range(len(fits)):
            for j in range(i + 1, len(fits)):
                extra = np.maximum(dof[j] - dof[i], 1.0)
                adequate[i] &= residual[i] - residual[j] <= half * (extra + self.significance * np.sqrt(extra))
        choice = np.argmax(adequate, axis=0)
        rows = np.arange(batch)
        h = np.array(fits)[choice, rows]
        error = np.array(errors)[choice, rows]
        return ChannelEstimate(
            h.astype(np.complex64), error.astype(np.float32), h_ls, n_obs, noise_sum, noise_dof,
            np.array(self.widths)[choice],
        )
