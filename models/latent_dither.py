"""High-pass noise added to the generator head's latent estimate before the TAEF2 decoder.

Through the channel at CBR 1/48 the generator head's estimate z_hat of TAEF2's 32-channel latent behaves
like a conditional mean: on the validation images it keeps a fifth of the clean latent's energy above half
the latent's Nyquist band (`docs/streaks/latent_estimate.json`), and TAEF2's decoder, pretrained or
fine-tuned, draws such a smooth latent as parallel lines. Random fine detail in the latent (a sample rather
than the mean, as the perception-distortion trade-off suggests) was meant to turn them into texture: added
at inference it weakens them, at a cost in PSNR and LPIPS; trained with it, the decoder fine-tuned or
frozen, the streaks stayed as plain by eye (runs 8 and 9, `docs/selection/generative-cbr48-dither*/`).
No shipped model uses it.

:class:`LatentDither` adds white Gaussian noise with its 3x3 local mean removed (high-pass), std
``sigma`` per latent value. In training it is drawn afresh; in evaluation it is one fixed pattern,
tiled over the latent grid from the top-left corner, so the noise an image's latent gets depends only on
the position (the same alone or in a padded batch, the same on every call).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TILE = 64
"""Side of the fixed evaluation pattern [latent positions] (512 pixels at TAEF2's 1/8)."""

SEED = 20231
"""Seed of the fixed evaluation pattern."""


def highpass_noise(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """White Gaussian noise (..., h, w) minus its circular 3x3 mean, scaled to unit std per channel.

    Circular, so that a tile of it repeats without a seam.
    """
    noise = torch.randn(shape, generator=generator, device=device)
    flat = noise.reshape(-1, 1, *shape[-2:])
    local_mean = F.avg_pool2d(F.pad(flat, (1, 1, 1, 1), mode="circular"), 3, stride=1)
    highpass = (flat - local_mean).reshape(shape)
    return highpass / highpass.std(dim=(-2, -1), keepdim=True)


class LatentDither(nn.Module):
    """z (B, C, h, w) -> z + sigma * n, n high-pass unit-std noise (fresh in training, a fixed tile in eval).

    Args:
        channels: C, latent channels.
        sigma: noise std per latent value; 0 makes the module the identity.
    """

    def __init__(self, channels: int, sigma: float) -> None:
        super().__init__()
        self.sigma = float(sigma)
        tile = highpass_noise((channels, TILE, TILE), torch.Generator().manual_seed(SEED))
        self.register_buffer("tile", tile, persistent=False)

    def pattern(self, z: torch.Tensor) -> torch.Tensor:
        """The unit-std noise for z (B, C, h, w): fresh per call in training, else the tile repeated."""
        batch, channels, height, width = z.shape
        if self.training:
            return highpass_noise((batch, channels, height, width), device=z.device).to(z.dtype)
        reps = (-(-height // TILE), -(-width // TILE))
        return self.tile.repeat(1, *reps)[None, :, :height, :width].to(z.dtype)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.sigma == 0.0:
            return z
        return z + self.sigma * self.pattern(z)
