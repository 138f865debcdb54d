"""E-LPIPS: LPIPS measured through a random transformation of both images (Kettunen, Härkönen and
Lehtinen, *E-LPIPS: Robust Perceptual Image Similarity via Random Transformation Ensembles*, arXiv
1906.03973, 2019).

LPIPS can be lowered by patterns that people see as artefacts: a network trained on it learns what
its fixed trunk (AlexNet: an 11x11 convolution at stride 4) does not see at a fixed phase, scale,
orientation and colour. E-LPIPS draws, at every evaluation, one transformation and applies it to the
reconstruction and the reference alike; in expectation over the draws a pattern must look right at
every phase, orientation, scale and colour to score well. The draws follow the paper's configuration:

- scale: a box downscaling by an integer ``s`` in ``1..max_scale`` drawn with probability
  proportional to ``1 / s^2`` (the paper's ``max_scale`` is the smaller side // 64), at a random phase;
- offset: a reflected shift of 0..7 pixels in each direction;
- flip (none, horizontal, vertical, both) and a transpose of the two axes (each equally likely);
- colour: a random permutation of the RGB channels and a factor in [0.2, 1] per channel (per image).

Left out: the paper's dropout inside the trunk (1 % of the features), which would need the trunk's
internals. One draw per call, shared by the batch except the colour, which is drawn per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.metrics import LPIPS, check_pair

MAX_OFFSET = 7  # pixels: the largest shift in each direction
SCALE_SIDE = 64  # pixels: the smallest side a downscaled image keeps (the paper's crop_size / num_scales)
COLOUR_FLOOR = 0.2  # the smallest factor a colour channel is multiplied by


@dataclass(frozen=True)
class ImageTransform:
    """One draw of E-LPIPS's transformation, applied alike to every image it is given.

    Attributes:
        scale: box-downscaling factor (1: none); ``scale_phase``: rows and columns (each < scale)
            reflected in before the boxes start.
        offset: rows and columns (0..MAX_OFFSET) of the reflected shift.
        flip: the axes reversed, a subset of ``(-2, -1)``; ``transpose``: swap height and width.
        permutation: (B, 3) channel order per image; ``colour``: (B, 3, 1, 1) factors in [0.2, 1].
    """

    scale: int
    scale_phase: tuple[int, int]
    offset: tuple[int, int]
    flip: tuple[int, ...]
    transpose: bool
    permutation: torch.Tensor
    colour: torch.Tensor

    @classmethod
    def sample(cls, batch: int, height: int, width: int, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> ImageTransform:
        """Draws one transformation for ``batch`` images of ``height`` x ``width`` pixels."""
        max_scale = max(1, min(height, width) // SCALE_SIDE)
        weights = torch.tensor([1.0 / s**2 for s in range(1, max_scale + 1)])
        scale = int(torch.multinomial(weights, 1, generator=generator)) + 1

        def integers(high: int, n: int) -> tuple[int, ...]:
            return tuple(int(v) for v in torch.randint(0, high, (n,), generator=generator))

        flip = ((), (-1,), (-2,), (-2, -1))[integers(4, 1)[0]]
        permutation = torch.argsort(torch.rand(batch, 3, generator=generator), dim=1)
        colour = COLOUR_FLOOR + (1 - COLOUR_FLOOR) * torch.rand(batch, 3, 1, 1, generator=generator)
        return cls(scale, integers(scale, 2), integers(MAX_OFFSET + 1, 2), flip, bool(integers(2, 1)[0]),
                   permutation.to(device), colour.to(device))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) -> the transformed batch, (B, 3, H', W') with H' = ceil((H + scale_phase[0]) / scale)
        + 7 (W' likewise), H' and W' swapped by a transpose."""
        if self.scale > 1:
            x = self._downscale(x)
        dy, dx = self.offset
        x = F.pad(x, (dx, MAX_OFFSET - dx, dy, MAX_OFFSET - dy), mode="reflect")
        if self.flip:
            x = x.flip(self.flip)
        if self.transpose:
            x = x.transpose(-2, -1)
        index = self.permutation[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return torch.gather(x, 1, index) * self.colour

    def _downscale(self, x: torch.Tensor) -> torch.Tensor:
        """Box average over ``scale`` x ``scale`` blocks, after reflecting in the phase and a border
        that rounds each side up to a multiple of the scale."""
        s, (py, px) = self.scale, self.scale_phase
        height, width = x.shape[-2:]
        x = F.pad(x, (px, -(width + px) % s, py, -(height + py) % s), mode="reflect")
        return F.avg_pool2d(x, s)


class EnsembleLPIPS(nn.Module):
    """E-LPIPS as a training loss: ``lpips(T(x), T(y))`` for a fresh random :class:`ImageTransform` T
    per call, so that over the steps of a training run the loss is LPIPS's ensemble expectation.

    Args:
        lpips: the LPIPS network measured through the transformation (frozen; see :class:`LPIPS`).
        generator: the random source of the draws (torch's global one when None).

    Attributes:
        source: what the LPIPS network was built from, and that it is measured through E-LPIPS's draws.
    """

    def __init__(self, lpips: LPIPS, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.lpips = lpips
        self.generator = generator
        self.source = f"E-LPIPS random transformations of {lpips.source}"

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y: (B, 3, H, W) in [0, 1]. Returns (B,): LPIPS of both under one random transformation."""
        check_pair(x, y)
        transform = ImageTransform.sample(x.shape[0], *x.shape[-2:], device=x.device, generator=self.generator)
        return self.lpips(transform(x), transform(y))
