"""``python -m models.ship``: a checkpoint becomes a registered model with its validation record and scores."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import torch

from models.checkpoint import ModelCard, load_checkpoint, save_checkpoint
from models.discriminator import Discriminator
from models.jscc import DeepJSCC, ModelConfig
from models.registry import available_models
from models.ship import ShipError, main, ship


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = DeepJSCC(ModelConfig(width=16, n_res_blocks=1))
    card = ModelCard.for_model("run", model, training={"steps": {"pretrain": 3}}, notes="from training")
    extra = {"discriminator": Discriminator(32, 8).state_dict(), "optimizer_g": {"state": {}}}
    return save_checkpoint(tmp_path / "run.pt", model, card, extra)


def selection(tmp_path: Path, selected: Path) -> Path:
    record = {"set": "val (2 images)", "rule": "lowest LPIPS", "snrs_db": [10.0], "selected": str(selected),
              "candidates": {str(selected): {"10": {"psnr_db": 20.0, "ms_ssim": 0.8, "lpips": 0.2}}},
              "references": {}, "versions": {}}
    path = tmp_path / "selection.json"
    path.write_text(json.dumps(record))
    return path


def test_ship_writes_fp16_with_the_selection_record_and_the_scores(checkpoint: Path, tmp_path: Path) -> None:
    quality = tmp_path / "quality.json"
    quality.write_text(json.dumps({"tiny": {"10": {"psnr_db": 21.0}}, "config": {}, "versions": {}}))
    out = ship(checkpoint, "tiny", tmp_path / "tiny.pt", selection=selection(tmp_path, checkpoint), quality=quality)
    raw = torch.load(out, weights_only=True)
    assert {v.dtype for v in raw["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert "discriminator" not in raw and "optimizer_g" not in raw
    _, card, _ = load_checkpoint(out)
    assert card.name == "tiny" and card.notes == "from training"
    assert card.training["selected_on"]["selected"] == str(checkpoint)
    assert card.training["selected_on"]["set"] == "val (2 images)"
    assert card.metrics["kodak_awgn"] == {"10": {"psnr_db": 21.0}} and "quality.py" in card.metrics["source"]
    again = ship(out, "tiny", out, notes="new notes")  # in place: keeps what it is not told to change
    _, card, _ = load_checkpoint(again)
    assert card.notes == "new notes" and card.training["selected_on"]["set"] == "val (2 images)"
    assert card.metrics["kodak_awgn"] == {"10": {"psnr_db": 21.0}}


def test_a_record_that_chose_another_file_or_a_report_without_the_model_is_refused(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(ShipError, match="selected"):
        ship(checkpoint, "tiny", tmp_path / "x.pt", selection=selection(tmp_path, tmp_path / "other.pt"))
    quality = tmp_path / "quality.json"
    quality.write_text(json.dumps({"other": {}, "config": {}}))
    assert main([str(checkpoint), "--name", "tiny", "--out", str(tmp_path / "x.pt"), "--quality", str(quality)]) == 2
    assert "no scores of tiny" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_every_shipped_model_was_chosen_on_the_validation_split_that_it_never_trained_on() -> None:
    assert available_models(), "no shipped model found"
    for name, path in available_models().items():
        _, card, _ = load_checkpoint(path)
        chosen_on = card.training["selected_on"]["set"] or ""
        assert "bsds500/val" in chosen_on and "kodak" not in chosen_on.lower(), (name, chosen_on)
        data = tomllib.loads(card.training["config_toml"])["data"]
        assert "bsds500/val" in data.get("exclude", []), (name, data)
