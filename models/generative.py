"""GenerativeJSCC: JSCC heads around the pretrained TAEF2 autoencoder (Erdemir et al., IEEE JSAC 2023, adapted).

The seed paper trains a JSCC encoder end to end with a pretrained generative decoder (StyleGAN); here the
pretrained prior is TAEF2 (:mod:`models.taef2`), which covers all natural images. Both halves keep the
interfaces of :class:`models.encoder.Encoder` and :class:`models.generator.Generator`, so
:class:`models.jscc.DeepJSCC` and everything downstream of its symbol contract take them unchanged.

- :class:`GenerativeEncoder` = TAEF2 encoder (analysis, image -> 32-channel latent z at 1/8) followed by
  :class:`EncoderHead` (z -> C real channels at 1/16: C/2 complex symbols per 16x16 block, CBR C/1536).
- :class:`GenerativeGenerator` = :class:`GeneratorHead` (received symbols, erasure mask and per-symbol SNR
  map at 1/16 -> an estimate of z at 1/8), optionally high-pass noise on that estimate
  (:mod:`models.latent_dither`), then the TAEF2 decoder (synthesis, z -> image), optionally followed by a
  filter that removes what repeats on the latent's 8-pixel grid (:mod:`models.lattice_filter`).

Both heads are SNR-adaptive (:class:`~models.snr_attention.SNRAttention` after each stage). The generator
head upsamples by nearest neighbour and a 3x3 convolution (as TAEF2's own decoder does), not by a
sub-pixel shuffle, whose four phases per position drew a 16-pixel grid through the pretrained decoder.
The heads can be trained alone on cached latents (:mod:`models.latent_stage`, loss ||z_hat - z||^2),
then the whole chain end to end in pixel space.
"""

from __future__ import annotations

import torch
from torch import nn

from models.encoder import init_conv_weights
from models.generator import ResidualBlock
from models.latent_dither import LatentDither
from models.lattice_filter import LatticeFilter
from models.snr_attention import SNRAttention, normalise_snr
from models.taef2 import TAEF2_CHANNELS, load_taef2, taef2_decoder, taef2_encoder


class _Stage(nn.Module):
    """Conv3x3 -> PReLU -> residual blocks -> SNR attention (when given a range): (B, c_in, h, w) -> (B, c_out, h', w').

    ``down`` makes the convolution stride 2 (h' = h/2); ``up`` puts a nearest x2 upsampling before it (h' = 2h).
    """

    def __init__(
        self, c_in: int, c_out: int, n_blocks: int, snr_range: tuple[float, float] | None,
        *, down: bool = False, up: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2)] if up else []
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2 if down else 1, padding=1), nn.PReLU(c_out)]
        layers += [ResidualBlock(c_out) for _ in range(n_blocks)]
        self.body = nn.Sequential(*layers)
        self.attention = SNRAttention(c_out, snr_range) if snr_range is not None else None

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        return features if self.attention is None else self.attention(features, snr_db)


def _init_head(head: nn.Module) -> None:
    """He initialisation of every convolution; residual blocks start as identities."""
    init_conv_weights(head)
    for block in head.modules():
        if isinstance(block, ResidualBlock):
            nn.init.zeros_(block.body[-1].weight)


class EncoderHead(nn.Module):
    """z (B, 32, 2h, 2w) at 1/8 -> y (B, C, h, w) at 1/16, conditioned on the SNR.

    Args:
        latent_channels: C, real channels sent (C/2 complex symbols per position).
        width: feature channels.
        n_blocks: residual blocks in each of the two stages (at 1/8 and at 1/16).
        snr_adaptive: SNR attention after each stage (else the SNR is ignored).
        snr_range: SNR range [dB] mapped onto [-1, 1].
    """

    def __init__(
        self, latent_channels: int, width: int, n_blocks: int, snr_adaptive: bool, snr_range: tuple[float, float]
    ) -> None:
        super().__init__()
        condition = snr_range if snr_adaptive else None
        self.stages = nn.ModuleList([
            _Stage(TAEF2_CHANNELS, width, n_blocks, condition),
            _Stage(width, width, n_blocks, condition, down=True),
        ])
        self.out = nn.Conv2d(width, latent_channels, 3, padding=1)
        _init_head(self)

    def forward(self, z: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            z = stage(z, snr_db)
        return self.out(z)


class GeneratorHead(nn.Module):
    """Received latent at 1/16 -> z_hat (B, 32, 2h, 2w) at 1/8, the TAEF2 decoder's input.

    Inputs as :class:`models.generator.Generator`'s: received values (C channels, 0 where erased), the
    erasure mask (C/2), and when SNR-adaptive the normalised per-symbol SNR map (C/2, 0 where erased).

    Args:
        latent_channels: C, real channels received.
        width: feature channels.
        n_blocks: residual blocks in each of the two stages (at 1/16 and at 1/8).
        snr_adaptive: SNR map input and SNR attention after each stage.
        snr_range: SNR range [dB] mapped onto [-1, 1].
    """

    def __init__(
        self, latent_channels: int, width: int, n_blocks: int, snr_adaptive: bool, snr_range: tuple[float, float]
    ) -> None:
        super().__init__()
        self.snr_adaptive = snr_adaptive
        self.snr_range = (float(snr_range[0]), float(snr_range[1]))
        condition = self.snr_range if snr_adaptive else None
        in_channels = latent_channels + latent_channels // 2 * (2 if snr_adaptive else 1)
        self.stages = nn.ModuleList([
            _Stage(in_channels, width, n_blocks, condition),
            _Stage(width, width, n_blocks, condition, up=True),
        ])
        self.out = nn.Conv2d(width, TAEF2_CHANNELS, 3, padding=1)
        _init_head(self)
        nn.init.zeros_(self.out.weight)  # starts at z_hat = 0, the mean latent, rather than at a large random guess

    def forward(
        self, y_hat: torch.Tensor, erased: torch.Tensor, noise_var: torch.Tensor, snr_db: torch.Tensor
    ) -> torch.Tensor:
        """y_hat (B, C, h, w), erased bool (B, C/2, h, w), noise_var (B, C/2, h, w), snr_db (B,) -> (B, 32, 2h, 2w)."""
        mask = erased.to(y_hat.dtype)
        inputs = [y_hat * (1 - mask.repeat(1, 2, 1, 1)), mask]
        if self.snr_adaptive:
            snr_map = normalise_snr(-10 * torch.log10(noise_var.clamp_min(1e-12)), self.snr_range)
            inputs.append(snr_map * (1 - mask))
        features = torch.cat(inputs, dim=1)
        for stage in self.stages:
            features = stage(features, snr_db)
        return self.out(features)


class GenerativeEncoder(nn.Module):
    """f_e(x, snr) = head(analysis(x), snr): (B, 3, 16h, 16w) in [0, 1] -> (B, C, h, w) real."""

    def __init__(
        self, latent_channels: int, width: int, n_blocks: int, snr_adaptive: bool = True,
        snr_range: tuple[float, float] = (0.0, 20.0),
    ) -> None:
        super().__init__()
        self.analysis = taef2_encoder()
        self.head = EncoderHead(latent_channels, width, n_blocks, snr_adaptive, snr_range)

    def analyse(self, x: torch.Tensor) -> torch.Tensor:
        """The SNR-independent part: TAEF2's latent (B, 32, 2h, 2w)."""
        return self.analysis(x)

    def condition(self, z: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """The SNR-conditioned part: the JSCC head on the latent."""
        return self.head(z, snr_db)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return self.condition(self.analyse(x), snr_db)


class GenerativeGenerator(nn.Module):
    """f_g = lattice(synthesis(dither(head(...)))): received latent at 1/16 -> (B, 3, 16h, 16w) image in [0, 1].

    ``latent_dither`` is the std of the high-pass noise added to the head's latent estimate
    (:class:`~models.latent_dither.LatentDither`; 0: none); ``lattice_taps`` > 0 passes the picture through a
    :class:`~models.lattice_filter.LatticeFilter` of that many taps (0: none). The output is clipped to [0, 1]
    with a straight-through gradient, as :class:`models.generator.Generator`'s.
    """

    def __init__(
        self, latent_channels: int, width: int, n_blocks: int, snr_adaptive: bool = True,
        snr_range: tuple[float, float] = (0.0, 20.0), latent_dither: float = 0.0, lattice_taps: int = 0,
    ) -> None:
        super().__init__()
        self.head = GeneratorHead(latent_channels, width, n_blocks, snr_adaptive, snr_range)
        self.dither = LatentDither(TAEF2_CHANNELS, latent_dither)
        self.synthesis = taef2_decoder()
        self.lattice = LatticeFilter(lattice_taps) if lattice_taps else nn.Identity()

    def forward(
        self, y_hat: torch.Tensor, erased: torch.Tensor, noise_var: torch.Tensor, snr_db: torch.Tensor
    ) -> torch.Tensor:
        image = self.lattice(self.synthesis(self.dither(self.head(y_hat, erased, noise_var, snr_db))))
        return image + (image.clamp(0, 1) - image).detach()


def load_pretrained_transforms(encoder: GenerativeEncoder, generator: GenerativeGenerator) -> None:
    """Fill the analysis and synthesis transforms with the TAEF2 weights from $JSCC_WEIGHTS_DIR."""
    load_taef2(encoder.analysis, "encoder")
    load_taef2(generator.synthesis, "decoder")
