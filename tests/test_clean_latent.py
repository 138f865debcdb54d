"""``benchmarks/clean_latent.py``: decoders on TAEF2's clean latent, scored; a CNN model refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ itself would shadow the phy package with benchmarks/phy.py
from benchmarks.clean_latent import PRETRAINED, crop, main  # noqa: E402
from models.image_io import load_image  # noqa: E402


@pytest.fixture
def photos(kodak_crops) -> Path:
    """Two 200x180 crops of Kodak photographs (not multiples of 16: the script crops them to 192x176)."""
    return kodak_crops(("kodim23", "kodim05"), (200, 150, 400, 330))


def test_crop_keeps_the_top_left_multiple_of_16(photos: Path) -> None:
    image = load_image(photos / "kodim23.png")
    assert tuple(crop(image).shape) == (1, 3, 176, 192)
    assert (crop(image)[0] == image[:, :176, :192]).all()


def test_the_pretrained_round_trip_and_a_generative_decoder_are_scored(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "clean.json"
    assert main(["--data", str(photos), "--models", "generative-cbr48", "--per-image", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 2 and set(report["means"]) == {PRETRAINED, "generative-cbr48"}
    for rows in report["per_image"].values():
        assert [r["name"] for r in rows] == ["kodim05", "kodim23"]
        assert all({"psnr_db", "ms_ssim", "lpips", "grid_index", "streak_index"} <= set(r) for r in rows)
    # TAEF2's own round trip (about 30 dB on Kodak, its README): the pretrained weights were loaded, and
    # its decoder is not the fine-tuned one
    pretrained, tuned = report["means"][PRETRAINED], report["means"]["generative-cbr48"]
    assert pretrained["psnr_db"] > 25 and pretrained["lpips"] < 0.1
    assert tuned["psnr_db"] != pretrained["psnr_db"]


def test_a_cnn_model_is_refused_with_its_architecture_named(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "clean.json"
    assert main(["--data", str(photos), "--models", "perceptual-cbr48", "--out", str(out)]) == 2
    assert "'cnn' model; expected a generative one" in capsys.readouterr().err
    assert not out.exists()
