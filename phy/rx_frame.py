"""What the receiver returns for one frame: the header, equalised soft symbols, their noise, diagnostics.

:class:`RxFrame` is the physical layer's output contract (``docs/interfaces.md``): made by
:class:`phy.receiver.Receiver`, joined into a payload by :mod:`phy.reassembly`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phy.header import Header


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
