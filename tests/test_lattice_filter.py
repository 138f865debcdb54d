"""The lattice filter (what repeats on the latent's 8-pixel grid), its measure, the model option, the benchmark."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from models.checkpoint import ModelCard, save_checkpoint
from models.image_io import load_image
from models.jscc import DeepJSCC, ModelConfig, ModelConfigError
from models.lattice_filter import LatticeFilter, lattice_energy_share
from models.metrics import psnr
from models.registry import load_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ itself would shadow the phy package with benchmarks/phy.py
from benchmarks.latent_grid_lattice import main  # noqa: E402

FILTERED = ModelConfig(architecture="generative", width=16, n_res_blocks=1, lattice_taps=3)


def dots(height: int, width: int, period: int = 8) -> torch.Tensor:
    """(1, 3, height, width): a lattice of bright dots every ``period`` pixels, 3 pixels wide, values in {0, 1}."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    on = ((rows % period) < 3) & ((cols % period) < 3)
    return on.float().expand(1, 3, height, width)


@pytest.fixture(scope="module")
def photo(kodak_dir: Path) -> torch.Tensor:
    return load_image(kodak_dir / "kodim14.png")[None, :, 100:292, 200:456]  # (1, 3, 192, 256), busy


def test_the_filter_takes_a_dot_lattice_out_of_a_photograph_and_little_else(photo: torch.Tensor) -> None:
    lattice = LatticeFilter()
    marked = photo + 0.1 * dots(*photo.shape[-2:])
    assert float(psnr(photo, marked.clamp(0, 1))) < 30
    assert float(psnr(photo, lattice(marked).clamp(0, 1))) > 33  # the dots go
    assert float(psnr(photo, lattice(photo).clamp(0, 1))) > 36  # a photograph loses little
    assert torch.allclose(lattice(torch.full((1, 3, 40, 50), 0.3)), torch.full((1, 3, 40, 50), 0.3))
    assert torch.allclose(lattice(photo.transpose(-1, -2)), lattice(photo).transpose(-1, -2), atol=1e-6)
    assert lattice(torch.rand(2, 5, 7, 3)).shape == (2, 5, 7, 3)  # smaller than its reach: edges replicated


def test_the_lattice_share_tells_a_photograph_from_one_that_repeats_on_the_grid(photo: torch.Tensor) -> None:
    marked = (photo + 0.1 * dots(*photo.shape[-2:])).clamp(0, 1)
    clean, dotted = float(lattice_energy_share(photo)), float(lattice_energy_share(marked))
    assert clean < 0.01 < 0.1 < dotted
    assert float(lattice_energy_share(LatticeFilter()(marked))) < 0.002
    shifted = (photo + 0.1 * dots(*photo.shape[-2:]).roll((3, 5), dims=(-2, -1))).clamp(0, 1)
    assert float(lattice_energy_share(shifted)) > 0.1  # any phase on the grid
    with pytest.raises(ValueError, match="at least 32 pixels a side"):
        lattice_energy_share(torch.rand(1, 3, 31, 64))


def test_bad_filters_and_configs_are_refused() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="taps must be an integer >= 1"):
            LatticeFilter(bad)
    with pytest.raises(ModelConfigError, match="lattice_taps must be >= 0"):
        replace(FILTERED, lattice_taps=-1)
    with pytest.raises(ModelConfigError, match="needs architecture = 'generative'"):
        ModelConfig(lattice_taps=3)
    assert ModelConfig.from_dict({"architecture": "generative"}).lattice_taps == 0  # files before the field


def test_a_filtered_model_decodes_its_plain_twin_filtered() -> None:
    torch.manual_seed(0)
    model = DeepJSCC(FILTERED).eval()
    plain = DeepJSCC(replace(FILTERED, lattice_taps=0)).eval()
    assert model.config.same_weights(plain.config)
    plain.load_state_dict(model.state_dict())
    drawn = []  # the plain twin's decoder picture, before the clip to [0, 1]
    plain.generator.synthesis.register_forward_hook(lambda module, inputs, output: drawn.append(output))
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        s = model.encode(x, 10.0)
        filtered = model.decode(s, size=(48, 64), snr_db=10.0)
        unfiltered = plain.decode(s, size=(48, 64), snr_db=10.0)
    assert (filtered - unfiltered).abs().max() > 1e-3
    assert torch.allclose(filtered, LatticeFilter(3)(drawn[0]).clamp(0, 1), atol=1e-5)


def test_the_benchmark_reports_the_lattice_and_what_its_removal_does(kodak_crops, tmp_path: Path, capsys) -> None:
    """The shipped model filters in itself; its decoder, without the filter (a twin file), still draws the lattice."""
    photos = kodak_crops(("kodim05",), (200, 150, 392, 342))
    model, _ = load_model("generative-cbr48")
    assert model.config.lattice_taps > 0
    plain = DeepJSCC(replace(model.config, lattice_taps=0))
    plain.load_state_dict(model.state_dict())
    twin = save_checkpoint(tmp_path / "unfiltered.pt", plain, ModelCard.for_model("unfiltered", plain))
    out = tmp_path / "lattice.json"
    assert main(["--data", str(photos), "--models", f"generative-cbr48,{twin}", "--out", str(out)]) == 0
    report = json.loads(out.read_text())["models"]
    shipped, unfiltered = report["generative-cbr48"], report[str(twin)]
    assert unfiltered["source_lattice_share"] < 0.01 < unfiltered["decoded"]["lattice_share"]
    assert unfiltered["filtered"]["lattice_share"] < 0.01
    assert shipped["decoded"]["lattice_share"] < 0.01
    assert set(shipped["filtered"]) == {"lattice_share", "psnr_db", "ms_ssim", "lpips_alex", "lpips_squeeze"}
    assert "generative-cbr48: lattice share" in capsys.readouterr().out
    assert main(["--data", str(tmp_path / "nowhere"), "--models", "generative-cbr48", "--out", str(out)]) == 2
