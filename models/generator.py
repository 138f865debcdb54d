"""The generator f_g: received latent (+ erasure mask and noise map) -> image in [0, 1].

Inputs at latent resolution h x w (see :mod:`models.symbols`):
- the received values, C channels (real parts then imaginary parts), 0 where erased or not sent;
- the erasure mask, C/2 channels, 1 where the symbol never arrived (erased or not sent), so an erased
  symbol is never mistaken for a zero that was sent;
- when SNR-adaptive, the per-symbol SNR map, C/2 channels: ``-10 log10(noise_var)`` [dB], clamped and
  normalised like the scalar condition (:func:`models.snr_attention.normalise_snr`), 0 where erased.
The scalar SNR condition of the attention modules is the effective SNR of the symbols that arrived,
``-10 log10(mean noise_var)`` over the non-erased symbols (computed by :class:`models.jscc.DeepJSCC`).

Layers: ``Conv3x3 -> PReLU`` to ``width`` channels, attention, ``n_res_blocks`` residual blocks,
attention, then four upsampling stages (sub-pixel convolution: ``Conv3x3 -> PixelShuffle(2)``, free of
the checkerboard artefacts of transposed convolutions, ``-> PReLU -> Conv3x3 -> PReLU``, attention) with
widths ``width, width, width/2, width/2`` at 1/8, 1/4, 1/2, 1 resolution and a ``Conv3x3`` to RGB, added
to a linear path (``ConvTranspose16x16 stride 16`` from the received values, erased ones zeroed, and
when SNR-adaptive shrunk by their LMMSE factor ``1 / (1 + noise_var)`` so a noisy subcarrier's symbols
count less; training starts
it as the LMMSE inverse of the block KLT, :mod:`models.block_transform`). The sum is clipped to
[0, 1] with a straight-through gradient (the gradient of the unclipped sum), so a pixel pushed past the
range is still pulled back by the loss, which a sigmoid or a plain clamp would not do as directly.
"""

from __future__ import annotations

import torch
from torch import nn

from models.encoder import init_conv_weights
from models.snr_attention import SNRAttention, normalise_snr


def generator_widths(width: int) -> tuple[int, int, int, int]:
    """Feature channels after the four upsampling stages (resolution 1/8, 1/4, 1/2, 1)."""
    return (width, width, width // 2, width // 2)


class ResidualBlock(nn.Module):
    """x + Conv3x3(PReLU(Conv3x3(x))), channels unchanged."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels), nn.Conv2d(channels, channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def upsampling_stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """2x sub-pixel upsampling: (B, in, h, w) -> (B, out, 2h, 2w)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels * 4, 3, padding=1),
        nn.PixelShuffle(2),
        nn.PReLU(out_channels),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.PReLU(out_channels),
    )


class Generator(nn.Module):
    """f_g(y_hat, erased, noise_var, snr) -> x_hat.

    Args:
        latent_channels: C, real latent channels.
        width: feature channels at latent resolution.
        n_res_blocks: residual blocks at latent resolution.
        snr_adaptive: whether the SNR map is an input and SNR attention modules are used.
        snr_range: SNR range [dB] normalised onto [-1, 1].
    """

    def __init__(
        self,
        latent_channels: int,
        width: int,
        n_res_blocks: int,
        snr_adaptive: bool = True,
        snr_range: tuple[float, float] = (0.0, 20.0),
    ) -> None:
        super().__init__()
        self.snr_adaptive = snr_adaptive
        self.snr_range = (float(snr_range[0]), float(snr_range[1]))
        in_channels = latent_channels + latent_channels // 2 * (2 if snr_adaptive else 1)
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.PReLU(width))
        self.res_blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(n_res_blocks)))
        stages = []
        channels = width
        for out_channels in generator_widths(width):
            stages.append(upsampling_stage(channels, out_channels))
            channels = out_channels
        self.stages = nn.ModuleList(stages)
        attention_widths = (width, width, *generator_widths(width))
        self.attention = nn.ModuleList(SNRAttention(c, snr_range) for c in attention_widths) if snr_adaptive else None
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)
        self.linear = nn.ConvTranspose2d(latent_channels, 3, 16, stride=16)
        init_conv_weights(self)
        for block in self.res_blocks:
            nn.init.zeros_(block.body[-1].weight)  # residual blocks start as identities

    def _attend(self, index: int, features: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return features if self.attention is None else self.attention[index](features, snr_db)

    def _linear_input(self, received: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w): shrunk by the per-symbol LMMSE factor of a unit-power symbol when SNR-adaptive;
        an SNR-blind generator never sees the noise variance, so it takes the values as received."""
        return received / (1 + noise_var.repeat(1, 2, 1, 1)) if self.snr_adaptive else received

    def forward(
        self, y_hat: torch.Tensor, erased: torch.Tensor, noise_var: torch.Tensor, snr_db: torch.Tensor
    ) -> torch.Tensor:
        """Decode a latent.

        Args:
            y_hat: (B, C, h, w) received values, 0 where erased.
            erased: bool (B, C/2, h, w), True where the symbol never arrived.
            noise_var: (B, C/2, h, w) noise variance per symbol [unit-power domain] (ignored where erased).
            snr_db: (B,) effective SNR of the received symbols [dB].

        Returns:
            (B, 3, 16h, 16w) image in [0, 1].
        """
        mask = erased.to(y_hat.dtype)
        keep = 1 - mask.repeat(1, 2, 1, 1)
        received = y_hat * keep
        inputs = [received, mask]
        if self.snr_adaptive:
            snr_map = normalise_snr(-10 * torch.log10(noise_var.clamp_min(1e-12)), self.snr_range)
            inputs.append(snr_map * (1 - mask))
        features = self._attend(0, self.head(torch.cat(inputs, dim=1)), snr_db)
        features = self._attend(1, self.res_blocks(features), snr_db)
        for index, stage in enumerate(self.stages):
            features = self._attend(index + 2, stage(features), snr_db)
        image = self.tail(features) + self.linear(self._linear_input(received, noise_var))
        return image + (image.clamp(0, 1) - image).detach()
