"""The ``latent`` stage of a generative model: its JSCC heads trained on cached TAEF2 latents.

The analysis transform is frozen in this stage, so the latents z of the training crops are computed once
(:func:`load_or_build_cache`: ``n`` random crops of ``crop`` pixels, one pass of the TAEF2 encoder, kept as
float16 in a file beside the run) and each step trains the encoder head, the channel and the generator head
on ``||head_g(channel(head_e(z))) - z||^2``: no image is decoded, no pixel is synthesised, so a step costs a
few per cent of an end-to-end one. The pixel-space stages then start from heads that already carry the
channel.

Reproducibility: batch ``t`` is a function of ``(seed, t)`` (:func:`latent_batch`), like the image batches.
"""

from __future__ import annotations

from pathlib import Path

import torch

from models.channel import TrainingChannel
from models.data import ImageFolderCrops, mix_seed
from models.jscc import DeepJSCC
from models.progress import Progress
from models.taef2 import TAEF2_DOWNSAMPLING


class LatentCacheError(ValueError):
    """A latent cache file that was built from other images or with other settings than asked."""


def build_cache(
    dataset: ImageFolderCrops, analysis: torch.nn.Module, n_crops: int, seed: int, device: torch.device,
    batch_size: int = 8,
) -> torch.Tensor:
    """Encode ``n_crops`` random crops (file ``i % len(dataset)``, crop seed from ``(seed, 5, i)``).

    Returns:
        float16 (n_crops, 32, crop/8, crop/8) on the CPU.
    """
    keys = [(i % len(dataset), mix_seed(seed, 5, i)) for i in range(n_crops)]
    parts = []
    analysis = analysis.eval()
    with torch.no_grad(), Progress(total=n_crops, desc="latent cache", unit="crop", dynamic_ncols=True) as bar:
        for first in range(0, n_crops, batch_size):
            crops = torch.stack([dataset[key] for key in keys[first : first + batch_size]]).to(device)
            parts.append(analysis(crops).to("cpu", torch.float16))
            bar.update(len(crops))
    return torch.cat(parts)


def load_or_build_cache(
    path: str | Path, dataset: ImageFolderCrops, analysis: torch.nn.Module, n_crops: int, seed: int,
    device: torch.device,
) -> torch.Tensor:
    """The cached latents at ``path``, built and saved there first if the file does not exist.

    A file made from another file list, crop size, count or seed is refused (delete it to rebuild).
    """
    path = Path(path)
    identity = {"file_list_sha256": dataset.sha256(), "crop": dataset.crop, "n_crops": n_crops, "seed": seed}
    if path.is_file():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        differs = {k: (stored.get(k), v) for k, v in identity.items() if stored.get(k) != v}
        if differs:
            raise LatentCacheError(
                f"{path}: latent cache built with other settings (stored, wanted): {differs}; delete it to rebuild"
            )
        return stored["latents"]
    latents = build_cache(dataset, analysis, n_crops, seed, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial")
    torch.save({**identity, "latents": latents}, temporary)
    temporary.replace(path)
    return latents


def latent_batch(cache: torch.Tensor, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Batch ``step`` of the latent stage: (batch_size, 32, h, w) float32, drawn from ``(seed, step)``."""
    generator = torch.Generator().manual_seed(mix_seed(seed, 6, step))
    index = torch.randint(0, len(cache), (batch_size,), generator=generator)
    return cache[index].float()


def latent_forward(
    model: DeepJSCC, z: torch.Tensor, snr_db: torch.Tensor, channel: TrainingChannel,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """The heads and the channel on a TAEF2 latent.

    Args:
        model: a generative DeepJSCC.
        z: (B, 32, 2h, 2w) latents of (16h x 16w)-pixel images.
        snr_db: (B,) channel SNR [dB].
        channel: the training channel.
        generator: its random draws.

    Returns:
        ``z_hat`` (B, 32, 2h, 2w), the generator head's estimate of z, and ``mse``, the mean of (z_hat - z)^2.
    """
    size = (z.shape[-2] * TAEF2_DOWNSAMPLING, z.shape[-1] * TAEF2_DOWNSAMPLING)
    y = model.encoder.head(z, snr_db)
    s = model.symbols(y, size)
    s_hat, noise_var, erased = channel(s, snr_db, generator)
    y_hat, erased_map, noise_var_map, effective = model.receive(s_hat, size, noise_var, None, erased)
    z_hat = model.generator.head(y_hat, erased_map, noise_var_map, effective)
    return {"z_hat": z_hat, "mse": torch.mean((z_hat - z).square())}
