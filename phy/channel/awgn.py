"""Symbol-level AWGN: complex Gaussian noise added to unit-energy channel symbols (no waveform, no receiver).

The deep JSCC models are trained over this channel (:mod:`models.channel` is its torch form); ``ota simulate
--channel awgn``, the sweep's ``awgn`` channel and the digital chain's envelope and block-error rates send
symbols through it. SNR is Es/N0 per symbol: ``E|s|^2 = 1`` and complex noise variance ``10^(-SNR/10)``.
"""

from __future__ import annotations

import math

import numpy as np


def awgn(symbols: np.ndarray, snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unit-energy symbols through complex AWGN at Es/N0 = ``snr_db``.

    Args:
        symbols: complex (k,).
        snr_db: Es/N0 in dB.
        rng: the noise's generator: one ``standard_normal((k, 2))`` draw, the real and imaginary part of each
            symbol in turn (the draw order of the stored sweep results in ``docs/``).

    Returns:
        received symbols complex64 (k,) and the noise variance float32 (k,) (``E|n|^2 = 10^(-SNR/10)``).
    """
    noise_var = 10 ** (-snr_db / 10)
    noise = rng.standard_normal((symbols.size, 2)) @ np.array([1, 1j]) * math.sqrt(noise_var / 2)
    return (symbols + noise).astype(np.complex64), np.full(symbols.size, noise_var, dtype=np.float32)
