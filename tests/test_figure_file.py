"""models.figure_file: a figure written compact and lossless."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from models.figure_file import write_figure  # noqa: E402


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
    path = write_figure(fig, tmp_path / "plot.png", 90)
    written = Image.open(path)
    assert written.mode == "RGB"
    assert written.tobytes() == Image.open(io.BytesIO(plain)).convert("RGB").tobytes()
    assert path.stat().st_size < len(plain)
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
    plt.close(fig)


def test_transparent_figure_keeps_its_alpha(tmp_path):
    fig = _figure(transparent=True)
    written = Image.open(write_figure(fig, tmp_path / "plot.png", 90))
    assert written.mode == "RGBA"
    assert written.tobytes() == Image.open(io.BytesIO(_plain_png(fig, 90))).tobytes()
    plt.close(fig)


def test_photographic_figure_as_lossless_webp_is_smaller_than_the_png_with_the_same_pixels(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.random.default_rng(0).random((64, 64, 3)), interpolation="nearest")
    ax.axis("off")
    png = write_figure(fig, tmp_path / "photo.png", 90)
    webp = write_figure(fig, tmp_path / "photo.webp", 90)
    written = Image.open(webp)
    assert written.format == "WEBP"
    assert written.convert("RGB").tobytes() == Image.open(png).convert("RGB").tobytes()
    assert webp.stat().st_size < png.stat().st_size
    plt.close(fig)


def test_an_unknown_suffix_is_refused_before_anything_is_written(tmp_path):
    fig = _figure(transparent=False)
    with pytest.raises(ValueError, match=r"plot\.jpg: a figure is written as \.png or \.webp, not \.jpg"):
        write_figure(fig, tmp_path / "plot.jpg", 90)
    assert list(tmp_path.iterdir()) == []
    plt.close(fig)
