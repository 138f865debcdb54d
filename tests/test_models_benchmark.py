"""``benchmarks/models.py``: training images/s per configuration, the data path, coding times, in its JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_config import tiny_toml

REPOSITORY = Path(__file__).resolve().parents[1]
TINY = tiny_toml(2, 1, 1)


def _benchmark():
    spec = importlib.util.spec_from_file_location("models_benchmark", REPOSITORY / "benchmarks" / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_benchmark_reports_img_s_for_training_and_the_data_path(weights_dir, tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(images / f"{index}.png")
    monkeypatch.setenv("JSCC_TRAIN_DIR", str(images))
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    results = _benchmark().main(["--out", str(tmp_path / "out"), "--configs", str(config), "mse-cbr24",
                                 "--devices", "cpu", "--steps", "1", "--repeats", "1", "--threads", "1"])
    assert json.loads((tmp_path / "out" / "models.json").read_text()) == json.loads(json.dumps(results))
    tiny = results["configurations"][str(config)]["devices"]["cpu"]
    assert set(tiny["train_img_s"]) == {"pretrain", "discriminator", "adversarial"}
    assert all(rate > 0 for rate in tiny["train_img_s"].values())
    assert {"encode_ms_256x256", "decode_ms_256x256", "encode_ms_768x512", "decode_ms_768x512"} <= set(tiny)
    assert tiny["symbols_768x512"] == 6 * tiny["symbols_256x256"]  # six times the pixels
    shipped = results["configurations"]["mse-cbr24"]  # a registered model: the configuration it was trained with
    assert set(shipped["devices"]["cpu"]["train_img_s"]) == {"pretrain"}
    data = results["data_path"]["cpu"]
    assert data["n_images"] == 3 and set(data["data_img_s"]) == {"memory", "dataloader"}
    assert data["memory_mb"] == pytest.approx(3 * 3 * 48 * 40 / 2**20)
