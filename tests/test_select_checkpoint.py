"""``benchmarks/select_checkpoint.py``: candidates scored on a validation folder, the rule, Kodak refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.checkpoint import ModelCard, save_checkpoint
from models.image_io import save_image
from models.jscc import DeepJSCC, ModelConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "select_checkpoint.py"
sys.path.insert(0, str(ROOT))  # benchmarks/ itself would shadow the phy package with benchmarks/phy.py
from benchmarks.select_checkpoint import SelectionError, parse_args, select  # noqa: E402


def test_the_rule_takes_the_lowest_lpips_above_the_psnr_floor() -> None:
    candidates = {
        "a": {"10": {"psnr_db": 22.0, "ms_ssim": 0.8, "lpips": 0.25, "grid_index": 0.01, "streak_index": 0.03}},
        "b": {"10": {"psnr_db": 20.0, "ms_ssim": 0.7, "lpips": 0.18, "grid_index": 0.20, "streak_index": 0.04}},
        "c": {"10": {"psnr_db": 21.6, "ms_ssim": 0.78, "lpips": 0.21, "grid_index": 0.05, "streak_index": 0.09}},
    }
    assert select(candidates, 10, 0.0) == "b"
    assert select(candidates, 10, 21.5) == "c"
    assert select(candidates, 10, 30.0) is None
    assert select(candidates, 10, 0.0, min_ms_ssim=0.75) == "c"
    assert select(candidates, 10, 21.5, min_ms_ssim=0.79) == "a"
    assert select(candidates, 10, 22.5, min_ms_ssim=0.5) is None
    assert select(candidates, 10, 21.5, max_lpips=0.22) == "c"
    assert select(candidates, 10, 21.5, min_ms_ssim=0.79, max_lpips=0.22) is None
    assert select(candidates, 10, 0.0, max_grid=0.1) == "c"
    assert select(candidates, 10, 0.0, max_grid=0.02) == "a"
    assert select(candidates, 10, 0.0, max_lpips=0.22, max_grid=0.02) is None
    assert select(candidates, 10, 21.5, max_streak=0.05) == "a"
    assert select(candidates, 10, 0.0, max_streak=0.035) == "a"
    assert select(candidates, 10, 21.5, max_lpips=0.22, max_streak=0.05) is None
    assert select(candidates, 10, 0.0, objective="psnr") == "a"
    assert select(candidates, 10, 0.0, max_lpips=0.22, objective="psnr") == "c"
    assert select(candidates, 10, 0.0, max_lpips=0.2, objective="psnr") == "b"


def test_kodak_and_an_unscored_selection_snr_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match="test set"):
        parse_args(["--data", str(tmp_path / "kodak"), "--candidates", "x.pt", "--out", str(tmp_path)])
    with pytest.raises(SelectionError, match="not among"):
        parse_args(["--data", str(tmp_path), "--candidates", "x.pt", "--snr", "1,10", "--select-snr", "7",
                    "--out", str(tmp_path)])


def test_the_script_scores_every_candidate_and_records_its_choice(tmp_path: Path, weights_dir: Path) -> None:
    """Two checkpoints that differ in their generator (one draws flat grey) scored at two SNRs."""
    generator = torch.Generator().manual_seed(0)
    for index in range(2):
        save_image(torch.rand(3, 176, 176, generator=generator) * 0.2 + 0.4, tmp_path / "val" / f"{index}.png")
    paths = []
    for name, scale in (("flat", 0.0), ("random", 1.0)):
        torch.manual_seed(1)
        model = DeepJSCC(ModelConfig(width=16, n_res_blocks=1))
        with torch.no_grad():
            for parameter in model.generator.parameters():
                parameter.mul_(scale)
            model.generator.tail.bias.fill_(0.5)
        path = tmp_path / f"{name}.pt"
        save_checkpoint(path, model, ModelCard.for_model(name, model))
        paths.append(str(path))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(tmp_path / "val"), "--candidates", ",".join(paths),
         "--snr", "10,1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out" / "selection.json").read_text())
    assert set(record["candidates"]) == set(paths) and record["snrs_db"] == [10.0, 1.0]
    lpips = {name: scores["10"]["lpips"] for name, scores in record["candidates"].items()}
    assert record["selected"] == min(lpips, key=lpips.get)
    flat = record["candidates"][paths[0]]["10"]["grid_index"]  # a flat grey image has no edges at all
    assert flat < 0 and all("grid_index" in scores["1"] for scores in record["candidates"].values())
    assert record["candidates"][paths[0]]["10"]["streak_index"] < 1e-6  # nor any texture to streak
    assert "bsds500" not in record["set"] and "2 images" in record["set"]
