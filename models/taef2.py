"""TAEF2, the pretrained tiny image autoencoder used as the generative model's analysis and synthesis transforms.

TAEF2 (madebyollin/taesd, MIT licence, ``LICENSES/taef2-MIT.txt``) is distilled from the FLUX.2 VAE: an
encoder to a 32-channel latent at 1/8 resolution and a decoder trained with adversarial losses to draw
sharp, natural images from it. The networks are written here from the description of its state dicts
(``../shared/weights/taef2/README.md``); the files load by their keys, which are the ``nn.Sequential``
indices below.

- :class:`Block` (c = 64): ``conv3x3 ReLU conv3x3 ReLU conv3x3`` (keys ``conv.0/2/4``) plus the identity,
  then ReLU. A "mid" block first adds ``pool(x)`` to its input, ``pool = conv1x1(64, 256) GroupNorm(4, 256)
  ReLU conv1x1(256, 64)`` (keys ``pool.0/1/3``).
- :func:`taef2_encoder`: (B, 3, 8h, 8w) in [0, 1] -> (B, 32, h, w), roughly in [-3, 3].
- :func:`taef2_decoder`: (B, 32, h, w) -> (B, 3, 8h, 8w), about [0, 1]; its first entry soft-clips the
  latent to ``3 tanh(x / 3)``.

Measured on the 24 Kodak images (float latents, no channel): round trip PSNR 30.19 dB, LPIPS (alex)
0.041 (the weights' README; ``tests/test_taef2.py`` checks the PSNR on two of them).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.pretrained_weights import WeightsFileError, weights_dir_file

TAEF2_DOWNSAMPLING = 8
"""Spatial factor between an image and its TAEF2 latent."""

TAEF2_CHANNELS = 32
"""Real channels of the TAEF2 latent."""

TAEF2_FILES = {"encoder": "taef2/taef2_encoder.pth", "decoder": "taef2/taef2_decoder.pth"}
"""The weights files, relative to ``$JSCC_WEIGHTS_DIR``."""

_WIDTH = 64


def _conv(c_in: int, c_out: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias)


class Block(nn.Module):
    """ReLU(x' + conv(x')) with x' = x (plain) or x + pool(x) (mid); (B, 64, h, w) -> same."""

    def __init__(self, mid: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv(_WIDTH, _WIDTH), nn.ReLU(), _conv(_WIDTH, _WIDTH), nn.ReLU(), _conv(_WIDTH, _WIDTH)
        )
        self.pool = (
            nn.Sequential(
                nn.Conv2d(_WIDTH, 4 * _WIDTH, 1, bias=False),
                nn.GroupNorm(4, 4 * _WIDTH),
                nn.ReLU(),
                nn.Conv2d(4 * _WIDTH, _WIDTH, 1, bias=False),
            )
            if mid
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return torch.relu(x + self.conv(x))


class SoftClip(nn.Module):
    """3 tanh(x / 3): the decoder's first entry (no weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3 * torch.tanh(x / 3)


def taef2_encoder() -> nn.Sequential:
    """The 15-entry encoder (random weights; :func:`load_taef2` fills them)."""
    layers: list[nn.Module] = [_conv(3, _WIDTH), Block()]
    for mid in (False, False, True):
        layers += [_conv(_WIDTH, _WIDTH, stride=2, bias=False), Block(mid), Block(mid), Block(mid)]
    layers.append(_conv(_WIDTH, TAEF2_CHANNELS))
    return nn.Sequential(*layers)


def taef2_decoder() -> nn.Sequential:
    """The 20-entry decoder (random weights; :func:`load_taef2` fills them)."""
    layers: list[nn.Module] = [SoftClip(), _conv(TAEF2_CHANNELS, _WIDTH), nn.ReLU()]
    layers += [Block(mid=True) for _ in range(3)]
    for n_blocks in (3, 3, 1):
        layers += [nn.Upsample(scale_factor=2), _conv(_WIDTH, _WIDTH, bias=False)]
        layers += [Block() for _ in range(n_blocks)]
    layers.append(_conv(_WIDTH, 3))
    return nn.Sequential(*layers)


def taef2_weights_file(part: str, path: str | Path | None = None) -> Path:
    """The weights file of ``part`` ('encoder' or 'decoder'): ``path`` if given, else from $JSCC_WEIGHTS_DIR."""
    if part not in TAEF2_FILES:
        raise ValueError(f"TAEF2 part must be one of {sorted(TAEF2_FILES)}, got {part!r}")
    found = Path(path) if path is not None else weights_dir_file(TAEF2_FILES[part])
    if found is None or not found.is_file():
        raise WeightsFileError(
            f"TAEF2 {part} weights not found ({found or '$JSCC_WEIGHTS_DIR/' + TAEF2_FILES[part]}); set "
            f"JSCC_WEIGHTS_DIR to the folder holding {TAEF2_FILES[part]} (../shared/weights here)"
        )
    return found


def load_taef2(module: nn.Sequential, part: str, path: str | Path | None = None) -> nn.Sequential:
    """Load the pretrained ``part`` ('encoder' or 'decoder') into ``module`` strictly, by key; returns it."""
    file = taef2_weights_file(part, path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        module.load_state_dict(state, strict=True)
    except (RuntimeError, OSError, ValueError) as exc:
        raise WeightsFileError(f"{file}: not the TAEF2 {part} state dict ({type(exc).__name__}: {exc})") from exc
    return module
