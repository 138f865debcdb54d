"""Evaluation of a deep JSCC model over AWGN: PSNR, MS-SSIM, LPIPS, grid, streak and hatch index per SNR.

Every image is sent at every SNR through :class:`models.channel.TrainingChannel` without erasures
(one ``torch.Generator`` seeded with ``seed`` per SNR, so every SNR sees the same noise draws, scaled).
With ``patches=256`` (the paper's protocol) each image is cut into non-overlapping 256x256 patches
(:mod:`models.patches`), each patch is transmitted and scored on its own, and the means are over all
patches. Reconstructions are quantised to 8 bits before scoring, so the numbers are those of the PNGs
written. Inputs are checked before anything is written; the results go to a hidden staging folder
beside ``out_dir`` that becomes ``out_dir`` only when everything has succeeded::

    out_dir/results.json            config, versions, per-image and mean metrics per SNR, timings
    out_dir/snr_<snr>/<name>.png    reconstructions (whole images, or the patches put back together)
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from models.channel import TrainingChannel
from models.image_io import load_image, quantise, save_image
from models.jscc import DeepJSCC
from models.metrics import LPIPS, METRICS, MS_SSIM_MIN_SIZE, compute_metrics
from models.patches import merge_patches, patch_grid, split_patches
from models.progress import Progress

PATCH_BATCH = 16  # patches sent through the model at once
METRIC_KEYS = tuple(METRICS.values())  # psnr_db, ms_ssim, lpips, grid_index, streak_index, hatch_index


class EvaluationError(ValueError):
    """Bad input to :func:`evaluate`: no images, bad SNRs, an unusable output folder, images too small."""


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages that produce the numbers."""

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pjscc-ota": installed("pjscc-ota"),
        "torchvision": installed("torchvision"),
        "lpips": installed("lpips"),
        "pytorch-msssim": installed("pytorch-msssim"),
    }


def snr_folder(snr_db: float) -> str:
    """Name of the reconstructions' folder of one SNR: ``snr_10``, ``snr_-2.5``."""
    return f"snr_{snr_db:g}"


def _check_inputs(
    images: Sequence[Path], snrs: Sequence[float], out_dir: Path, patches: int | None
) -> list[torch.Tensor]:
    """Validate everything up front; returns the loaded images (3, H, W)."""
    if not images:
        raise EvaluationError("no images to evaluate")
    if not snrs:
        raise EvaluationError("no SNRs to evaluate at")
    bad = [s for s in snrs if not math.isfinite(s)]
    if bad:
        raise EvaluationError(f"SNRs must be finite numbers [dB], got {bad}")
    folders = [snr_folder(s) for s in snrs]
    if len(set(folders)) != len(folders):
        raise EvaluationError(f"SNRs listed more than once: {list(snrs)}")
    stems = [p.stem for p in images]
    twins = sorted({s for s in stems if stems.count(s) > 1})
    if twins:
        raise EvaluationError(f"image names must be unique (reconstructions are saved by name): {', '.join(twins)}")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise EvaluationError(f"{out_dir} already exists and is not an empty folder; choose a new output folder")
    if patches is not None and (isinstance(patches, bool) or not isinstance(patches, int) or patches < 1):
        raise EvaluationError(f"patches must be a positive patch size in pixels (e.g. 256) or None, got {patches!r}")
    loaded = []
    for path in images:
        image = load_image(path)
        height, width = image.shape[-2:]
        if patches is not None:
            patch_grid(height, width, patches)  # raises PatchError when the image holds no patch
            height = width = patches
        if min(height, width) < MS_SSIM_MIN_SIZE:
            raise EvaluationError(
                f"{path}: scored units of {height}x{width} pixels are below the {MS_SSIM_MIN_SIZE}x{MS_SSIM_MIN_SIZE} "
                "MS-SSIM needs; use larger images or larger patches"
            )
        loaded.append(image)
    return loaded


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Clock:
    """Accumulates wall time per named phase [s]."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.totals: dict[str, float] = {}
        self._phase = ""
        self._start = 0.0

    def start(self, phase: str) -> None:
        _sync(self.device)
        self._phase, self._start = phase, time.perf_counter()

    def stop(self) -> None:
        _sync(self.device)
        self.totals[self._phase] = self.totals.get(self._phase, 0.0) + time.perf_counter() - self._start


@torch.inference_mode()
def transmit_awgn(
    model: DeepJSCC,
    units: torch.Tensor,
    snr_db: float,
    generator: torch.Generator,
    clock: _Clock | None = None,
    *,
    assumed_snr_db: float | None = None,
    symbol_erasure_prob: float = 0.0,
    features: torch.Tensor | None = None,
) -> torch.Tensor:
    """Send (N, 3, H, W) images through ``model`` and AWGN at ``snr_db``; returns 8-bit-quantised (N, 3, H, W).

    ``assumed_snr_db`` (default: the true one) is the SNR the model is told: the encoder's condition and
    the noise variance handed to the generator, as with a mis-estimated SNR. ``symbol_erasure_prob``
    erases that fraction of the symbols at random (what a lost OFDM frame becomes after de-interleaving).
    ``features``: ``model.analyse(units)``, when several transmissions of the same images share it.
    """
    clock = clock if clock is not None else _Clock(units.device)
    snr = torch.full((units.shape[0],), float(snr_db), device=units.device)
    assumed = snr if assumed_snr_db is None else torch.full_like(snr, float(assumed_snr_db))
    clock.start("encode_s")
    s = model.encode(units, assumed, features=features)
    clock.stop()
    clock.start("channel_s")
    s_hat, noise_var, erased = TrainingChannel(symbol_erasure_prob=symbol_erasure_prob)(s, snr, generator)
    if assumed_snr_db is not None:
        noise_var = torch.full_like(noise_var, 10 ** (-float(assumed_snr_db) / 10))
    clock.stop()
    clock.start("decode_s")
    x_hat = model.decode(s_hat, size=tuple(units.shape[-2:]), noise_var=noise_var, erased=erased)
    clock.stop()
    return quantise(x_hat)


def _score_image(
    model: DeepJSCC,
    image: torch.Tensor,
    snr_db: float,
    patches: int | None,
    lpips: LPIPS,
    generator: torch.Generator,
    clock: _Clock,
) -> tuple[torch.Tensor, dict[str, list[float]]]:
    """One image at one SNR -> (reconstruction (3, H', W'), per-unit metric lists)."""
    if patches is None:
        units, grid = image[None], (1, 1)
    else:
        units, grid = split_patches(image, patches)
    recon, scores = [], {key: [] for key in METRIC_KEYS}
    for start in range(0, units.shape[0], PATCH_BATCH):
        batch = units[start : start + PATCH_BATCH]
        x_hat = transmit_awgn(model, batch, snr_db, generator, clock)
        clock.start("metrics_s")
        for key, values in compute_metrics(batch, x_hat, lpips, which=tuple(METRICS)).items():
            scores[key].extend(values.double().tolist())
        clock.stop()
        recon.append(x_hat)
    return merge_patches(torch.cat(recon), grid), scores


def _evaluate_snr(
    model: DeepJSCC,
    paths: Sequence[Path],
    sources: Sequence[torch.Tensor],
    snr: float,
    patches: int | None,
    lpips: LPIPS,
    seed: int,
    staging: Path | None,
    progress: Progress,
    device: torch.device,
) -> dict:
    """All images at one SNR -> that SNR's entry of ``results.json`` (reconstructions saved under ``staging``)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    clock = _Clock(device)
    entries, all_scores = [], {key: [] for key in METRIC_KEYS}
    for path, image in zip(paths, sources, strict=True):
        progress.set_postfix(snr=f"{snr:g} dB", image=path.name)
        recon, scores = _score_image(model, image.to(device), snr, patches, lpips, generator, clock)
        entry = {"name": path.stem, "file": str(path), "n_patches": len(scores["psnr_db"])}
        entry.update({key: float(np.mean(values)) for key, values in scores.items()})
        if patches is not None:
            entry["patches"] = scores
        if staging is not None:
            entry["reconstruction"] = f"{snr_folder(snr)}/{path.stem}.png"
            save_image(recon, staging / entry["reconstruction"])
        entries.append(entry)
        for key, values in scores.items():
            all_scores[key].extend(values)
        progress.update()
    return {
        "snr_db": snr,
        "mean": {key: float(np.mean(values)) for key, values in all_scores.items()},
        "n_scored": len(all_scores["psnr_db"]),
        "images": entries,
        "timings": clock.totals,
    }


def evaluate(
    model: DeepJSCC,
    images: Sequence[str | Path],
    snrs: Sequence[float],
    out_dir: str | Path,
    *,
    patches: int | None = None,
    device: str | torch.device = "cpu",
    lpips: LPIPS | None = None,
    seed: int = 0,
    save_reconstructions: bool = True,
    model_card: dict | None = None,
) -> dict:
    """Score ``model`` on ``images`` over AWGN at each SNR; write ``out_dir`` (see the module doc).

    Args:
        model: a DeepJSCC (moved to ``device``, put in eval mode).
        images: image files (their names, without suffix, must be unique).
        snrs: channel SNRs [dB].
        out_dir: output folder; must not exist yet or be empty.
        patches: patch size in pixels for the patch protocol (256 in the paper), None for whole images.
        device: torch device for the model, the channel and the metrics.
        lpips: the LPIPS network (default: :class:`models.metrics.LPIPS` with the default weights).
        seed: seed of the channel noise (the same at every SNR).
        save_reconstructions: also write the reconstructed PNGs.
        model_card: the model's card (as a dict), echoed into ``results.json``.

    Returns:
        the content of ``results.json``.
    """
    t_start = time.perf_counter()
    paths = [Path(p) for p in images]
    snrs = [float(s) for s in snrs]
    out_dir = Path(out_dir)
    sources = _check_inputs(paths, snrs, out_dir, patches)
    device = torch.device(device)
    lpips = (lpips if lpips is not None else LPIPS()).to(device)
    model = model.to(device).eval()

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        with Progress(total=len(snrs) * len(paths), desc="evaluate", unit="image") as progress:
            per_snr = [
                _evaluate_snr(model, paths, sources, snr, patches, lpips, seed,
                              staging if save_reconstructions else None, progress, device)
                for snr in snrs
            ]
        results = {
            "config": {
                "images": [str(p) for p in paths],
                "snrs_db": snrs,
                "patches": patches,
                "channel": "awgn (TrainingChannel, no erasures)",
                "seed": seed,
                "device": str(device),
                "quantised_8bit": True,
                "mean_over": "patches" if patches is not None else "images",
                "lpips": lpips.source,
                "model": model_card if model_card is not None else {"cbr": model.cbr, **model.config.to_dict()},
            },
            "versions": package_versions(),
            "results": per_snr,
            "timings": {"total_s": time.perf_counter() - t_start},
        }
        (staging / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return results
