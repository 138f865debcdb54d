"""Measurements of the physical layer's quality, shared by the tests and ``benchmarks/phy.py``.

Each function runs the transmitter, a channel emulator and the receiver, or scores what came back,
and returns plain numbers, so that the tests assert on exactly what the benchmark reports. It lives
with the benchmarks, not in ``phy``: nothing that ships uses it, and the tests import it as
``benchmarks.link_measurements`` with the repository root on ``sys.path`` (as they import
``benchmarks.claims_table``).

Post-equalisation SNR is measured *channel-normalised*: the error of each symbol is weighted by its
subcarrier's true channel power ``|H_k|^2 / mean |H|^2`` before averaging. Zero-forcing on a
frequency-selective channel enhances the noise at spectral nulls, which is a property of the channel
(any receiver with perfect channel knowledge suffers it), not an implementation loss; weighting
removes it, and on a flat channel the measure is the plain ``E|s|^2 / E|s_hat - s|^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from phy.channel import ChannelEmulator, ChannelOutput
from phy.header import PayloadKind
from phy.numerology import Numerology
from phy.ofdm import positions
from phy.receiver import Receiver
from phy.rx_frame import RxFrame
from phy.transmitter import Transmitter, TxBurst


@dataclass
class LinkRun:
    """One payload through transmitter, channel and receiver."""

    burst: TxBurst
    output: ChannelOutput
    frames: list[RxFrame]


def gaussian_symbols(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` complex Gaussian symbols of unit mean power (like JSCC symbols), complex64 (n,)."""
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)


def qpsk_symbols(bits: np.ndarray) -> np.ndarray:
    """Gray-mapped unit-power QPSK of bit pairs, complex64 (len(bits) // 2,); bit 0 -> +, 1 -> -."""
    b = np.asarray(bits, dtype=np.float32).reshape(-1, 2)
    return (((1 - 2 * b[:, 0]) + 1j * (1 - 2 * b[:, 1])) / np.sqrt(2)).astype(np.complex64)


def qpsk_bits(symbols: np.ndarray) -> np.ndarray:
    """Hard decisions of :func:`qpsk_symbols`, uint8 (2 len(symbols),)."""
    s = np.asarray(symbols)
    return np.stack([s.real < 0, s.imag < 0], axis=1).reshape(-1).astype(np.uint8)


def qpsk_ber_theory(snr_db: np.ndarray) -> np.ndarray:
    """QPSK bit error rate on AWGN, ``Q(sqrt(SNR))`` with SNR = Es/N0 per subcarrier."""
    snr = 10 ** (np.asarray(snr_db, dtype=np.float64) / 10)
    return 0.5 * erfc(np.sqrt(snr / 2))


def snr_at_ber(snr_db: np.ndarray, ber: np.ndarray, target: float) -> float:
    """SNR [dB] where a BER curve crosses ``target`` (linear in dB against log10 BER; NaN if it does not)."""
    x = np.asarray(snr_db, dtype=np.float64)
    y = np.log10(np.maximum(np.asarray(ber, dtype=np.float64), 1e-12))
    t = np.log10(target)
    for i in range(len(x) - 1):
        if (y[i] - t) * (y[i + 1] - t) <= 0 and y[i] != y[i + 1]:
            return float(x[i] + (t - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))
    return float("nan")


def run_link(
    transmitter: Transmitter,
    receiver: Receiver,
    emulator: ChannelEmulator,
    payload: np.ndarray,
    snr_db: float,
    sequence: int = 0,
) -> LinkRun:
    """Transmit ``payload`` (one burst), pass it through ``emulator`` at ``snr_db`` and receive it."""
    burst = transmitter.transmit(payload, payload_kind=PayloadKind.RAW, sequence=sequence)
    output = emulator(burst.samples, snr_db)
    return LinkRun(burst, output, receiver.receive(output.samples))


def frame_errors(frames: list[RxFrame], payload: np.ndarray) -> list[np.ndarray]:
    """``|s_hat - s|^2`` of each frame's received symbols against the sent payload, float64 (received,)."""
    out = []
    for f in frames:
        sent = payload[f.header.offset : f.header.offset + f.header.payload_len]
        ok = ~f.erased
        out.append(np.abs(f.symbols[ok].astype(np.complex128) - sent[ok]) ** 2)
    return out


def subcarrier_weights(frame: RxFrame, numerology: Numerology, freq_response: np.ndarray | None) -> np.ndarray:
    """``|H_k|^2 / mean |H|^2`` of each received payload symbol's subcarrier, float64 (received,)."""
    n = int(np.sum(~frame.erased))
    if freq_response is None:
        return np.ones(n)
    g = np.abs(np.asarray(freq_response)) ** 2
    g = g / g.mean()
    per_symbol = g[positions(numerology, numerology.data)]
    return np.resize(per_symbol, frame.header.payload_len)[~frame.erased]


def post_eq_snr_db(
    frames: list[RxFrame], payload: np.ndarray, numerology: Numerology, freq_response: np.ndarray | None = None
) -> float:
    """Channel-normalised post-equalisation SNR over all frames' received symbols [dB] (see module doc)."""
    errors = frame_errors(frames, payload)
    weights = [subcarrier_weights(f, numerology, freq_response) for f in frames]
    if not errors or sum(e.size for e in errors) == 0:
        return float("nan")
    err = np.concatenate(errors)
    w = np.concatenate(weights)
    power = float(np.mean(np.abs(payload.astype(np.complex128)) ** 2))
    return float(10 * np.log10(power * w.mean() / np.mean(w * err)))


def residual_to_reported(frames: list[RxFrame], payload: np.ndarray) -> float:
    """Mean squared error of the received symbols over their mean reported noise variance."""
    err = np.concatenate(frame_errors(frames, payload))
    reported = np.concatenate([f.noise_var[~f.erased].astype(np.float64) for f in frames])
    return float(err.mean() / reported.mean())


def count_false_frames(
    receiver: Receiver, n_samples: int, rng: np.random.Generator, chunk: int = 1 << 21
) -> tuple[int, int]:
    """Frames the receiver reports in ``n_samples`` of unit-power complex Gaussian noise.

    Returns:
        ``(frames, candidates)``: frames reported, and detector candidates (before LTF confirmation).
    """
    frames = candidates = 0
    for start in range(0, n_samples, chunk):
        n = min(chunk, n_samples - start)
        x = np.empty(n, np.complex64)
        x.real = rng.standard_normal(n, dtype=np.float32)
        x.imag = rng.standard_normal(n, dtype=np.float32)
        x *= np.float32(np.sqrt(0.5))
        candidates += len(receiver.detector.detect(x))
        frames += len(receiver.receive(x))
    return frames, candidates


def detection_rate(
    transmitter: Transmitter,
    receiver: Receiver,
    emulator: ChannelEmulator,
    snr_db: float,
    n_frames: int,
    rng: np.random.Generator,
    payload_len: int = 480,
) -> float:
    """Fraction of single-frame bursts (each a fresh channel draw) received with the right header."""
    found = 0
    for i in range(n_frames):
        run = run_link(transmitter, receiver, emulator, gaussian_symbols(payload_len, rng), snr_db, sequence=i)
        found += any(f.header == run.burst.headers[0] for f in run.frames)
    return found / n_frames
