"""Writing a figure as a compact lossless image, so that the plots the repository tracks stay small (it must
stay under 40 MB): an optimised PNG for plots, a lossless WebP for figures made of photographs (about a fifth
smaller than the PNG there)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = {".png": ("png", {"optimize": True}), ".webp": ("webp", {"lossless": True, "method": 6})}


def write_figure(fig: Figure, path: str | Path, dpi: int) -> Path:
    """Save ``fig`` at ``dpi`` dots per inch in the lossless format its suffix names (``.png`` or ``.webp``),
    RGB when every pixel is opaque (matplotlib's RGBA output of an opaque figure takes up to a third more
    bytes), through a hidden temporary file renamed into place. Lossless: the pixels are those
    ``fig.savefig`` draws."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"{path}: a figure is written as {' or '.join(FORMATS)}, not {path.suffix or 'no suffix'}")
    image_format, options = FORMATS[path.suffix.lower()]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(buffer)
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    temporary = path.with_name(f".{path.name}.tmp")
    image.save(temporary, format=image_format, **options)
    os.replace(temporary, path)
    return path
