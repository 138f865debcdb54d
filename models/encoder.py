"""The encoder f_e: image -> real latent of C channels at 1/16 resolution, conditioned on the SNR.

Four stages, each ``Conv5x5 stride 2 -> PReLU -> Conv3x3 -> PReLU`` followed (when SNR-adaptive) by an
:class:`~models.snr_attention.SNRAttention` module, then a linear ``Conv3x3`` to the C latent channels.
Stage widths at 1/2, 1/4, 1/8, 1/16 resolution: ``width/2, width, width, width``. A linear path, one
``Conv16x16 stride 16`` from the image to the latent, is added to the CNN's output; training starts it
as the block KLT of the training images (:mod:`models.block_transform`).

Activation: PReLU, as in the first deep JSCC (Bourtsoulatze et al. 2019), rather than GDN: the SNR
attention modules already give the input-dependent per-channel gain control that GDN's divisive
normalisation would add, the power normalisation after the encoder fixes the latent's scale, pointwise
activations are the stable choice under the adversarial loss (HiFiC-style generators use them), and
they are the cheapest on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from models.snr_attention import SNRAttention

PRELU_INIT = 0.25
"""Initial negative slope of every PReLU (PyTorch's default)."""


def init_conv_weights(module: nn.Module) -> None:
    """He initialisation for PReLU networks (fan-in, slope 0.25) of every convolution, zero biases.

    Keeps the activation variance roughly constant through the depth, so that at initialisation the
    output responds to every input (PyTorch's default initialisation shrinks it at each layer).
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, a=PRELU_INIT, nonlinearity="leaky_relu")
            nn.init.zeros_(layer.bias)


def encoder_widths(width: int) -> tuple[int, int, int, int]:
    """Feature channels of the four downsampling stages (resolution 1/2, 1/4, 1/8, 1/16)."""
    return (width // 2, width, width, width)


class Encoder(nn.Module):
    """f_e(x, snr) -> y.

    Args:
        latent_channels: C, real latent channels (C/2 complex symbols per latent position).
        width: feature channels of the inner stages.
        snr_adaptive: whether SNR attention modules follow each stage (else the SNR is ignored).
        snr_range: SNR range [dB] normalised onto [-1, 1] for the attention modules.
    """

    def __init__(
        self, latent_channels: int, width: int, snr_adaptive: bool = True, snr_range: tuple[float, float] = (0.0, 20.0)
    ) -> None:
        super().__init__()
        stages = []
        in_channels = 3
        for channels in encoder_widths(width):
            stages.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, channels, 5, stride=2, padding=2),
                    nn.PReLU(channels),
                    nn.Conv2d(channels, channels, 3, padding=1),
                    nn.PReLU(channels),
                )
            )
            in_channels = channels
        self.stages = nn.ModuleList(stages)
        self.attention = (
            nn.ModuleList(SNRAttention(c, snr_range) for c in encoder_widths(width)) if snr_adaptive else None
        )
        self.head = nn.Conv2d(in_channels, latent_channels, 3, padding=1)
        self.linear = nn.Conv2d(3, latent_channels, 16, stride=16)
        init_conv_weights(self)

    def analyse(self, x: torch.Tensor) -> torch.Tensor:
        """The SNR-independent part: none here (every stage is SNR-conditioned), x itself."""
        return x

    def condition(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """The SNR-conditioned part on :meth:`analyse`'s output: the whole encoder."""
        return self(x, snr_db)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, 16h, 16w) in [0, 1]; snr_db: (B,) [dB] -> y: (B, C, h, w) real."""
        features = x * 2 - 1
        for index, stage in enumerate(self.stages):
            features = stage(features)
            if self.attention is not None:
                features = self.attention[index](features, snr_db)
        return self.head(features) + self.linear(x)
