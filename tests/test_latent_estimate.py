"""``benchmarks/latent_estimate.py``: the head's latent estimate against the clean latent, by band."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ itself would shadow the phy package with benchmarks/phy.py
from benchmarks.latent_estimate import high_band_energy, main  # noqa: E402


def test_high_band_energy_splits_the_energy_by_frequency() -> None:
    rows = torch.arange(32.0)[:, None].expand(32, 32)
    slow = torch.cos(2 * torch.pi * rows / 16)[None, None]  # 1/16 cycle per position: low band
    fast = torch.cos(2 * torch.pi * 3 * rows / 8)[None, None]  # 3/8 cycle: high band
    assert high_band_energy(slow) == pytest.approx(0.0, abs=1e-9)
    assert high_band_energy(fast) == pytest.approx(0.5, rel=1e-6)  # all of cos^2's mean square
    noise = torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    assert high_band_energy(noise) == pytest.approx(0.75 * float(noise.square().mean()), rel=0.03)


@pytest.fixture
def photos(kodak_crops) -> Path:
    """Two 192x176 crops of busy Kodak photographs (MS-SSIM needs 161 pixels a side)."""
    return kodak_crops(("kodim05", "kodim14"), (200, 150, 392, 326))


def test_the_benchmark_compares_the_shipped_estimate_with_the_clean_latent_by_band(photos: Path, tmp_path: Path,
                                                                                   capsys) -> None:
    """Run 4's estimate kept a fifth of the clean latent's high band; run 15's, trained with latent dither, keeps
    more than all of it: the test checks the report, not which side of the clean latent a model falls on."""
    out = tmp_path / "estimate.json"
    assert main(["--data", str(photos), "--models", "generative-cbr48", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    latent = report["models"]["generative-cbr48"]["latent"]
    assert report["images"] == 2 and report["snr_db"] == 10.0
    assert latent["estimate_high_band"] > 0 and 0 < latent["clean_high_band"] < latent["clean_energy"]
    assert latent["high_band_kept"] != pytest.approx(1.0, abs=0.01)  # an estimate, not the clean latent
    assert latent["high_band_kept"] == pytest.approx(latent["estimate_high_band"] / latent["clean_high_band"])
    drawn = report["models"]["generative-cbr48"]["pretrained_decoder_on_estimate"]
    assert 10 < drawn["psnr_db"] < 30 and 0 < drawn["lpips"] < 1
    assert "generative-cbr48: estimate keeps" in capsys.readouterr().out


def test_a_cnn_model_is_refused(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "estimate.json"
    assert main(["--data", str(photos), "--models", "mse-cbr48", "--out", str(out)]) == 2
    assert "'cnn' model; expected a generative one" in capsys.readouterr().err
    assert not out.exists()
