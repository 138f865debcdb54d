"""Reading and writing images as tensors: (3, H, W) float32 in [0, 1], RGB.

Every reader of images in the project goes through :func:`load_image`, so a file that is not an
image, or that cannot be decoded, gets one clear error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


class ImageError(ValueError):
    """An image file that is missing, unreadable or not an image."""


def load_image(path: str | Path) -> torch.Tensor:
    """Read an image file (EXIF orientation applied, converted to RGB).

    Returns:
        float32 tensor of shape (3, H, W) with values in [0, 1].
    """
    return load_image_uint8(path).float().div_(255.0)


def load_image_uint8(path: str | Path) -> torch.Tensor:
    """Read an image file as :func:`load_image` does, without converting it.

    Returns:
        uint8 tensor of shape (3, H, W) (a quarter of the float image's memory).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageError(f"{path}: not a readable image ({exc}); expected a PNG, JPEG or other RGB photo") from exc
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def quantise(image: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] (any shape) -> clipped and rounded to 8 bits, still float: what a saved PNG holds."""
    return image.clamp(0, 1).mul(255).round().div(255)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float tensor in [0, 1] -> (H, W, 3) uint8 array (rounded, clipped)."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected an image tensor of shape (3, H, W), got {tuple(image.shape)}")
    return image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Write a (3, H, W) tensor in [0, 1] as an image file (format from the suffix, PNG lossless)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)
    return path


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursively, by suffix), sorted; error if there are none."""
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"{root}: not a directory of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) found under it")
    return files
