"""The paper's patch protocol: an image cut into non-overlapping square patches, the remainder dropped.

A 768x512 Kodak image gives 3x2 = 6 patches of 256x256; a 500x300 image gives 1 (the right 244 and
bottom 44 pixels are not scored). Patches are taken row by row from the top-left corner.
"""

from __future__ import annotations

import torch


class PatchError(ValueError):
    """An image smaller than one patch, or a patch size that is not a positive integer."""


def patch_grid(height: int, width: int, size: int) -> tuple[int, int]:
    """(rows, cols) of whole ``size`` x ``size`` patches in an image of ``height`` x ``width`` pixels."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise PatchError(f"patch size must be a positive integer number of pixels, got {size!r}")
    rows, cols = height // size, width // size
    if rows == 0 or cols == 0:
        raise PatchError(f"a {height}x{width} image holds no {size}x{size} patch; expected at least {size}x{size}")
    return rows, cols


def split_patches(image: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(C, H, W) -> ((rows*cols, C, size, size) patches in row-major order, (rows, cols))."""
    channels, height, width = image.shape
    rows, cols = patch_grid(height, width, size)
    cropped = image[:, : rows * size, : cols * size]
    patches = cropped.reshape(channels, rows, size, cols, size).permute(1, 3, 0, 2, 4)
    return patches.reshape(rows * cols, channels, size, size), (rows, cols)


def merge_patches(patches: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`split_patches`: (rows*cols, C, h, w) -> (C, rows*h, cols*w)."""
    rows, cols = grid
    count, channels, height, width = patches.shape
    if count != rows * cols:
        raise PatchError(f"{count} patches do not fill a {rows}x{cols} grid")
    grid_view = patches.reshape(rows, cols, channels, height, width).permute(2, 0, 3, 1, 4)
    return grid_view.reshape(channels, rows * height, cols * width)
