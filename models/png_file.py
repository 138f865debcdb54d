"""Writing a figure as a compact PNG, so that the plots the repository tracks stay small (it must stay under 40 MB)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def write_png(fig: Figure, path: str | Path, dpi: int) -> Path:
    """Save ``fig`` at ``dpi`` dots per inch as an optimised PNG, RGB when every pixel is opaque (matplotlib's
    RGBA output of an opaque figure takes up to a third more bytes), through a hidden temporary file renamed
    into place. Lossless: the pixels are those ``fig.savefig`` draws."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(buffer)
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    temporary = path.with_name(f".{path.name}.tmp")
    image.save(temporary, format="png", optimize=True)
    os.replace(temporary, path)
    return path
