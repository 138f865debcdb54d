"""models.png_file: a figure written compact and lossless."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from models.png_file import write_png  # noqa: E402


def _figure(transparent: bool) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.linspace(0, 1, 50), np.sin(np.linspace(0, 6, 50)))
    if transparent:
        fig.patch.set_alpha(0.0)
    return fig


def _plain_png(fig: plt.Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def test_opaque_figure_becomes_smaller_rgb_with_the_same_pixels(tmp_path):
    fig = _figure(transparent=False)
    plain = _plain_png(fig, 90)
    path = write_png(fig, tmp_path / "plot.png", 90)
    written = Image.open(path)
    assert written.mode == "RGB"
    assert written.tobytes() == Image.open(io.BytesIO(plain)).convert("RGB").tobytes()
    assert path.stat().st_size < len(plain)
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
    plt.close(fig)


def test_transparent_figure_keeps_its_alpha(tmp_path):
    fig = _figure(transparent=True)
    written = Image.open(write_png(fig, tmp_path / "plot.png", 90))
    assert written.mode == "RGBA"
    assert written.tobytes() == Image.open(io.BytesIO(_plain_png(fig, 90))).tobytes()
    plt.close(fig)
