"""One-tap equalisation of OFDM subcarriers and the noise variance of what comes out.

With ``y = h s e^{j theta} + n`` on a subcarrier (``n`` of variance ``sigma^2``), an estimate ``h_hat``
whose error has variance ``c sigma^2`` and a common-phase estimate with error variance ``v_theta``,
the effective noise in the received domain is ``nu = sigma^2 (1 + P c) + P |h|^2 v_theta`` for
symbols of mean power ``P``. Then:

* ``"zf"``: ``s_hat = y / h_hat``, unbiased, error variance ``nu / |h|^2``; after equalisation the link
  looks like AWGN with a known variance per symbol (what the JSCC generator expects).
* ``"mmse"``: ``s_hat = conj(h_hat) y / (|h_hat|^2 + nu / P)``, shrunk towards 0, mean-square error
  ``P nu / (P |h|^2 + nu)``.
"""

from __future__ import annotations

import numpy as np

EQUALIZERS = ("zf", "mmse")


def equalize(
    y: np.ndarray,
    h: np.ndarray,
    error: np.ndarray,
    noise_var: np.ndarray,
    cpe_var: np.ndarray,
    signal_power: np.ndarray,
    method: str = "zf",
) -> tuple[np.ndarray, np.ndarray]:
    """Equalise phase-corrected subcarriers of a batch of B segments of n symbols.

    Args:
        y: complex (B, n, K), received values with the common phase already removed.
        h: complex (B, K) or (B, n, K), channel estimate.
        error: float, same shape as ``h``, channel-estimate error variance over the noise variance.
        noise_var: float (B,), noise variance per subcarrier ``sigma^2``.
        cpe_var: float (B, n), common-phase estimate error variance [rad^2].
        signal_power: float (B,), mean power ``P`` of the transmitted symbols.
        method: ``"zf"`` or ``"mmse"``.

    Returns:
        ``(s_hat complex64 (B, n, K), variance float32 (B, n, K))``; a subcarrier with a zero channel
        estimate gives ``s_hat = 0`` and an infinite variance.
    """
    if method not in EQUALIZERS:
        raise ValueError(f"equalizer {method!r} is unknown; expected one of {EQUALIZERS}")
    if h.ndim == 2:
        h, error = h[:, None, :], error[:, None, :]
    h = h.astype(np.complex64, copy=False)
    g2 = h.real**2 + h.imag**2
    p = np.asarray(signal_power, dtype=np.float32)[:, None, None]
    nv = np.asarray(noise_var, dtype=np.float32)[:, None, None]
    phase = p * np.asarray(cpe_var, dtype=np.float32)[:, :, None]  # P var(cpe), (B, n, 1)
    usable = g2 > 0
    g2_safe = np.where(usable, g2, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        additive = np.where(usable, nv * (1 + p * error) / g2_safe, np.inf)  # sigma^2 (1 + P c) / |h|^2
        if method == "zf":
            s_hat = y * np.where(usable, np.conj(h) / g2_safe, 0)
            var = additive + phase
        else:
            shrink = 1 / (1 + (additive + phase) / p)  # |h|^2 / (|h|^2 + nu / P)
            s_hat = y * np.where(usable, shrink * np.conj(h) / g2_safe, 0)
            var = shrink * (additive + phase)
    if not usable.all():
        var = np.where(usable, var, np.inf)
    return s_hat.astype(np.complex64, copy=False), var.astype(np.float32, copy=False)
