"""Scoring and writing one reception: ``DIR/result.json``, the reconstructed image and the plots.

Every receiving command (``simulate``, ``rx``, ``loopback``, ``replay``) ends here, so their result
files have the same keys: ``psnr_db``, ``ms_ssim``, ``lpips`` (null when not computable),
``snr_db_est``, ``cbr``, ``frames_expected``, ``frames_decoded``, ``wall_s``, the configuration and
the versions. Everything is first written to a temporary folder beside ``DIR`` and moved into place
at the end, so a failure writes nothing half-way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models.image_io import save_image, to_uint8
from models.metrics import compute_metrics
from ota import plots
from ota.link import RxImage
from ota.perceptual import lpips_module
from phy.numerology import Numerology


@dataclass
class Reception:
    """Everything one receiving command knows at its end."""

    rx: RxImage
    samples: np.ndarray  # complex64 received baseband (for the spectrum)
    numerology: Numerology
    cbr: float
    wall_s: float
    config: dict
    reference: torch.Tensor | None = None  # (3, H, W) in [0, 1]
    frames_expected: int | None = None
    lpips_weights: str | None = None
    framed: bool = True  # False for the symbol-level AWGN channel: no OFDM frames, no channel estimate
    extra: dict = field(default_factory=dict)


def _frame_summary(rx: RxImage) -> dict:
    frames = rx.frames
    if not frames:
        return {"frames": []}
    return {
        "frames": [
            {
                "index": f.header.frame_index,
                "start": int(f.start),
                "truncated": bool(f.truncated),
                "cfo_hz": float(f.diagnostics.cfo_hz),
                "snr_db": float(f.diagnostics.snr_db),
                "evm_db": float(f.diagnostics.evm_db),
            }
            for f in frames
        ],
    }


def _snr_estimate_db(rx: RxImage) -> float | None:
    """The receiver's channel SNR estimate: per-frame SNRs (average over occupied subcarriers), averaged."""
    if not rx.frames:
        return None
    return float(10 * np.log10(np.mean([10 ** (f.diagnostics.snr_db / 10) for f in rx.frames])))


def _post_eq_snr_db(rx: RxImage) -> float | None:
    """Effective SNR of the equalised symbols that arrived: 1 / their mean noise variance, in dB.

    Below the channel SNR on a frequency-selective channel: zero-forcing enhances the noise of faded
    subcarriers (the generator knows each symbol's noise variance and discounts those).
    """
    payload = rx.payload
    if payload is None or payload.erased.all():
        return None
    return float(-10 * np.log10(np.mean(payload.noise_var[~payload.erased])))


def score(reception: Reception) -> dict:
    """The result dictionary (JSON-ready) of one reception."""
    rx = reception.rx
    metrics = {"psnr_db": None, "ms_ssim": None, "lpips": None}
    notes = []
    if rx.image is not None and reception.reference is not None:
        ref = reception.reference
        if tuple(ref.shape) != tuple(rx.image.shape):
            raise ValueError(
                f"the reference image is {tuple(ref.shape[1:])} (H, W) but the received one is "
                f"{tuple(rx.image.shape[1:])}; pass the image that was sent as --reference"
            )
        lp, note = lpips_module(reception.lpips_weights)
        if note:
            notes.append(note)
        which = ("psnr", "ms_ssim", "lpips") if lp is not None else ("psnr", "ms_ssim")
        values = compute_metrics(ref[None], rx.image[None], lpips_module=lp, which=which)
        metrics.update({k: (None if v is None else float(v)) for k, v in values.items() if k in metrics})
    elif reception.reference is None:
        notes.append("no reference image: metrics are null (pass --reference IMAGE)")
    payload = rx.payload
    result = {
        **metrics,
        "snr_db_est": _post_eq_snr_db(rx) if not reception.framed else _snr_estimate_db(rx),
        "post_eq_snr_db": _post_eq_snr_db(rx),
        "cbr": reception.cbr,
        "frames_expected": None if not reception.framed else (
            reception.frames_expected if payload is None else int(payload.frames_expected)),
        "frames_decoded": None if not reception.framed else (0 if payload is None else int(payload.frames_decoded)),
        "symbols_erased_fraction": None if payload is None else float(payload.erased.mean()),
        "image_received": rx.image is not None,
        "wall_s": reception.wall_s,
        **reception.extra,
        "phy": _frame_summary(rx),
        "config": reception.config,
        "notes": notes,
    }
    return result


def _write_plots(reception: Reception, folder: Path) -> None:
    rx = reception.rx
    num = reception.numerology
    if rx.image is not None:
        original = None if reception.reference is None else to_uint8(reception.reference)
        plots.plot_comparison(original, to_uint8(rx.image), "sent and received", folder / "comparison.png")
    if len(reception.samples):
        plots.plot_spectrum(reception.samples, num.sample_rate, folder / "spectrum.png")
    if rx.frames:
        first = rx.frames[0].diagnostics
        plots.plot_constellation(
            np.concatenate([f.diagnostics.symbols_pre_eq.ravel() for f in rx.frames]),
            np.concatenate([f.symbols[~f.erased] for f in rx.frames]),
            folder / "constellation.png",
        )
        plots.plot_channel_estimate(num.occupied, first.channel_estimate, folder / "channel_estimate.png")
        plots.plot_subcarrier_snr(num.occupied, first.per_subcarrier_snr_db, folder / "subcarrier_snr.png")


def write(reception: Reception, out_dir: str | Path, versions: dict, plots: bool = True) -> dict:
    """Score the reception and write ``out_dir`` (result.json, reconstruction.png, and with ``plots`` the
    figures) atomically."""
    out_dir = Path(out_dir)
    result = {**score(reception), "versions": versions}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        if reception.rx.image is not None:
            save_image(reception.rx.image, staging / "reconstruction.png")
        if plots:
            _write_plots(reception, staging)
        (staging / "result.json").write_text(json.dumps(result, indent=2, default=_json_default))
        out_dir.mkdir(exist_ok=True)
        for item in staging.iterdir():
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
