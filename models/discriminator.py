"""The conditional discriminator f_d(x, s) of the perceptual JSCC objective.

It sees the image x and the channel input s it should belong to: s on the latent grid (C real
channels at ceil(H/16) x ceil(W/16), see :mod:`models.symbols`) is upsampled by nearest neighbour to
H x W and concatenated with x (mapped to [-1, 1]). A PatchGAN (pix2pix, Isola et al. 2017) judges
overlapping 70 x 70 patches: ``Conv4x4/2`` x 3 and ``Conv4x4/1`` x 2, spectral normalisation on every
convolution, LeakyReLU(0.2), no other normalisation; the output is a map of logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import interpolate
from torch.nn.utils.parametrizations import spectral_norm

from models.symbols import DOWNSAMPLING, latent_size

MIN_SIZE = 24
"""Smallest image side [pixels] that leaves the PatchGAN a non-empty output."""


class Discriminator(nn.Module):
    """f_d(x, latent) -> logits (B, 1, H/8 - 2, W/8 - 2).

    Args:
        latent_channels: C, real channels of the conditioning latent.
        width: channels of the first layer (doubled at each of the next three).
    """

    def __init__(self, latent_channels: int, width: int = 64) -> None:
        super().__init__()
        widths = (width, width * 2, width * 4, width * 8)
        layers: list[nn.Module] = []
        in_channels = 3 + latent_channels
        for index, channels in enumerate(widths):
            stride = 2 if index < 3 else 1
            layers += [spectral_norm(nn.Conv2d(in_channels, channels, 4, stride, 1)), nn.LeakyReLU(0.2, inplace=True)]
            in_channels = channels
        layers.append(spectral_norm(nn.Conv2d(in_channels, 1, 4, 1, 1)))
        self.layers = nn.Sequential(*layers)
        self.latent_channels = latent_channels

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) in [0, 1]; latent: (B, C, ceil(H/16), ceil(W/16)) -> logits (B, 1, H', W')."""
        batch, _, height, width = x.shape
        if min(height, width) < MIN_SIZE:
            raise ValueError(f"the discriminator needs images of at least {MIN_SIZE}x{MIN_SIZE}, got {height}x{width}")
        expected = (batch, self.latent_channels, *latent_size(height, width))
        if tuple(latent.shape) != expected:
            raise ValueError(
                f"latent for a {height}x{width} image must have shape {expected}, got {tuple(latent.shape)}"
            )
        condition = interpolate(latent.float(), scale_factor=DOWNSAMPLING, mode="nearest")[:, :, :height, :width]
        return self.layers(torch.cat([x * 2 - 1, condition], dim=1))
