"""Plots of one reception: the images, constellations, spectrum, channel estimate, per-subcarrier SNR.

Every function takes plain arrays and writes one PNG (matplotlib, Agg backend), so the same plots
come out of a simulation, a radio reception and a capture replay.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import welch  # noqa: E402

from models.figure_file import write_figure  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    write_figure(fig, path, 110)
    plt.close(fig)
    return path


def plot_comparison(original: np.ndarray | None, reconstruction: np.ndarray, title: str, path: Path) -> Path:
    """Original (H, W, 3) uint8 beside the reconstruction; ``original`` None shows the reconstruction only."""
    panels = [("original", original), ("reconstruction", reconstruction)] if original is not None else [
        ("reconstruction", reconstruction)
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, (name, img) in zip(axes[0], panels, strict=True):
        ax.imshow(img)
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    return _save(fig, path)


def plot_constellation(pre_eq: np.ndarray, post_eq: np.ndarray, path: Path, max_points: int = 20000) -> Path:
    """Scatter of received data symbols before and after equalisation (complex arrays, any length)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    for ax, (name, z) in zip(axes, (("before equalisation", pre_eq), ("after equalisation", post_eq)), strict=True):
        z = np.asarray(z).ravel()[:max_points]
        ax.scatter(z.real, z.imag, s=1, alpha=0.3)
        ax.set_title(name)
        ax.set_xlabel("in-phase")
        ax.set_ylabel("quadrature")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_spectrum(samples: np.ndarray, sample_rate: float, path: Path) -> Path:
    """Welch power spectral density of the received baseband (dB, arbitrary reference)."""
    x = np.asarray(samples, dtype=np.complex64)
    nperseg = int(min(1024, max(16, len(x))))
    freqs, psd = welch(x, fs=sample_rate, nperseg=nperseg, return_onesided=False, detrend=False)
    order = np.argsort(freqs)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(freqs[order] / 1e3, 10 * np.log10(psd[order] + 1e-20))
    ax.set_xlabel("frequency offset [kHz]")
    ax.set_ylabel("PSD [dB/Hz]")
    ax.set_title("received spectrum")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_channel_estimate(subcarriers: np.ndarray, estimate: np.ndarray, path: Path) -> Path:
    """Magnitude (dB) and phase of the channel estimate per occupied subcarrier."""
    h = np.asarray(estimate)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    top.plot(subcarriers, 20 * np.log10(np.abs(h) + 1e-12), ".-")
    top.set_ylabel("|H| [dB]")
    top.set_title("channel estimate")
    bottom.plot(subcarriers, np.unwrap(np.angle(h)), ".-")
    bottom.set_ylabel("phase [rad]")
    bottom.set_xlabel("subcarrier index")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_subcarrier_snr(subcarriers: np.ndarray, snr_db: np.ndarray, path: Path) -> Path:
    """Per-subcarrier SNR estimate in dB."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(subcarriers, snr_db, width=0.8)
    ax.set_xlabel("subcarrier index")
    ax.set_ylabel("SNR [dB]")
    ax.set_title(f"per-subcarrier SNR (mean {np.mean(snr_db):.1f} dB)")
    ax.grid(True, alpha=0.3, axis="y")
    return _save(fig, path)
