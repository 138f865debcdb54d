"""DISTS (Ding et al., 2020, "Image quality assessment: unifying structure and texture similarity").

The computation follows the authors' reference implementation (``DISTS_pytorch/DISTS_pt.py``, MIT):
the five stages of ImageNet VGG16 features with max pooling replaced by L2 pooling (Hann window), and
per channel the mean similarity (texture) and the correlation similarity (structure) of the two images'
feature maps, weighted by the learnt ``alpha`` and ``beta``. That package cannot be used as it is here: it
downloads VGG16 inside its constructor. Both weight files are loaded from paths instead:

- VGG16 features: ``vgg16_features.pth`` (torchvision ``vgg16().features`` tensors, or torchvision's whole
  ``vgg16-397923af.pth``), given or in ``$JSCC_WEIGHTS_DIR``, else torchvision's download;
- alpha/beta: ``dists/weights.pt`` (the file shipped with DISTS_pytorch), given or in ``$JSCC_WEIGHTS_DIR``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import VGG16_Weights, vgg

from models.pretrained_weights import (
    MissingWeightsError,
    WeightsFileError,
    load_state_file,
    load_torchvision_features,
    missing_weights_message,
    weights_dir_file,
)

VGG16_FEATURES_FILE = "vgg16_features.pth"
DISTS_WEIGHTS_FILE = "dists/weights.pt"
STAGE_CHANNELS = (3, 64, 128, 256, 512, 512)  # the image itself, then the five VGG stages
STAGE_BOUNDS = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))  # vgg16().features indices of each stage
POOL_CHANNELS = {4: 64, 9: 128, 16: 256, 23: 512}  # vgg16().features max-pooling index -> its channels
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class L2Pooling(nn.Module):
    """sqrt(Hann-window blur of x^2), stride 2: (B, C, H, W) -> (B, C, ~H/2, ~W/2)."""

    def __init__(self, channels: int, filter_size: int = 5, stride: int = 2) -> None:
        super().__init__()
        self.padding = (filter_size - 2) // 2
        self.stride = stride
        a = np.hanning(filter_size)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        self.register_buffer("filter", (g / g.sum())[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x.square(), self.filter, stride=self.stride, padding=self.padding, groups=x.shape[1])
        return (out + 1e-12).sqrt()


def load_dists_weights(path: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor, Path]:
    """DISTS alpha and beta, each (1, 1475, 1, 1), and the file they came from."""
    file = Path(path) if path is not None else weights_dir_file(DISTS_WEIGHTS_FILE)
    what = "DISTS alpha/beta weights"
    if file is None:
        raise MissingWeightsError(missing_weights_message(
            what, DISTS_WEIGHTS_FILE, "the weights_path argument", "no file given (it ships with DISTS_pytorch)"))
    state = load_state_file(file, what)
    shape = (1, sum(STAGE_CHANNELS), 1, 1)
    if set(state) != {"alpha", "beta"} or any(tuple(v.shape) != shape for v in state.values()):
        found = {k: tuple(v.shape) for k, v in state.items()}
        raise WeightsFileError(f"{file}: expected alpha and beta of shape {shape}, found {found}")
    return state["alpha"].float(), state["beta"].float(), file


def vgg16_features() -> nn.Sequential:
    """Untrained torchvision ``vgg16().features`` (the same 31 layers), without building the classifier."""
    return vgg.make_layers(vgg.cfgs["D"])


class DISTS(nn.Module):
    """DISTS distance, frozen, in eval mode. forward(x, y): (B, 3, H, W) in [0, 1] -> (B,) (0 = identical).

    Args:
        vgg_path: VGG16 features file (default ``$JSCC_WEIGHTS_DIR/vgg16_features.pth``, else torchvision's download).
        weights_path: alpha/beta file (default ``$JSCC_WEIGHTS_DIR/dists/weights.pt``).

    Raises:
        MissingWeightsError: a file is neither given nor found (and, for VGG16, not downloadable).

    Attributes:
        source: where both parts came from.
    """

    def __init__(self, vgg_path: str | Path | None = None, weights_path: str | Path | None = None) -> None:
        super().__init__()
        alpha, beta, weights_file = load_dists_weights(weights_path)
        features, vgg_source = load_torchvision_features(
            vgg16_features, VGG16_Weights.IMAGENET1K_V1, VGG16_FEATURES_FILE,
            "VGG16 features (DISTS backbone)", vgg_path, option="the vgg_path argument",
        )
        layers = [L2Pooling(POOL_CHANNELS[i]) if i in POOL_CHANNELS else features[i]
                  for i in range(STAGE_BOUNDS[-1][1])]
        self.stages = nn.ModuleList(nn.Sequential(*layers[a:b]) for a, b in STAGE_BOUNDS)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.register_buffer("alpha", alpha)
        self.register_buffer("beta", beta)
        self.source = f"VGG16 features: {vgg_source}; DISTS alpha/beta: {weights_file}"
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> DISTS:
        """Stays in eval mode."""
        return super().train(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image and the five stage outputs (channels :data:`STAGE_CHANNELS`)."""
        h = (x - self.mean) / self.std
        out = [x]
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape != y.shape:
            raise ValueError(f"expected two (B, 3, H, W) batches of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
        c1 = c2 = 1e-6
        w_sum = self.alpha.sum() + self.beta.sum()
        alphas = torch.split(self.alpha / w_sum, STAGE_CHANNELS, dim=1)
        betas = torch.split(self.beta / w_sum, STAGE_CHANNELS, dim=1)
        texture = structure = 0.0
        for fx, fy, a, b in zip(self.features(x), self.features(y), alphas, betas, strict=True):
            mx, my = fx.mean((2, 3), keepdim=True), fy.mean((2, 3), keepdim=True)
            vx, vy = (fx - mx).square().mean((2, 3), keepdim=True), (fy - my).square().mean((2, 3), keepdim=True)
            cov = (fx * fy).mean((2, 3), keepdim=True) - mx * my
            texture = texture + (a * (2 * mx * my + c1) / (mx.square() + my.square() + c1)).sum(1, keepdim=True)
            structure = structure + (b * (2 * cov + c2) / (vx + vy + c2)).sum(1, keepdim=True)
        return (1 - (texture + structure)).reshape(x.shape[0])
