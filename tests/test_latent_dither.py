"""Latent dither: high-pass noise on the generator head's latent, fixed in evaluation, resumable config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from models.checkpoint import ModelCard, load_checkpoint, save_checkpoint
from models.jscc import DeepJSCC, ModelConfig, ModelConfigError
from models.latent_dither import TILE, LatentDither, highpass_noise
from models.train import Trainer, TrainError
from models.train_config import TrainConfig

DITHERED = ModelConfig(architecture="generative", width=16, n_res_blocks=1, latent_dither=0.5)


def test_noise_is_high_pass_with_unit_std() -> None:
    noise = highpass_noise((4, 128, 128), torch.Generator().manual_seed(0))
    assert torch.allclose(noise.std(dim=(-2, -1)), torch.ones(4), atol=1e-5)
    local_mean = F.avg_pool2d(noise[:, None], 8)  # white noise would keep 1/64 of its power in 8x8 means
    assert float(local_mean.square().mean()) < 0.25 / 64


def test_training_draws_fresh_noise_and_evaluation_one_tiled_pattern() -> None:
    dither = LatentDither(3, 0.5)
    z = torch.zeros(2, 3, TILE + 10, 2 * TILE + 3)
    dither.train()
    assert not torch.equal(dither(z), dither(z))
    dither.eval()
    out = dither(z)
    assert torch.equal(out, dither(z)) and torch.equal(out[0], out[1])
    assert torch.equal(out[..., TILE:, :10], out[..., :10, :10])  # the tile repeats from the top-left corner
    assert torch.allclose(out.std(), torch.tensor(0.5), atol=0.02)
    assert torch.equal(LatentDither(3, 0.0).eval()(z + 1), z + 1)


def test_a_dithered_model_decodes_reproducibly_and_otherwise_than_without() -> None:
    torch.manual_seed(0)
    model = DeepJSCC(DITHERED).eval()
    plain = DeepJSCC(replace(DITHERED, latent_dither=0.0)).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        s = model.encode(x, 10.0)
        first, again = (model.decode(s, size=(48, 64), snr_db=10.0) for _ in range(2))
        undithered = plain.decode(s, size=(48, 64), snr_db=10.0)
    assert torch.equal(first, again)
    assert (first - undithered).abs().max() > 1e-3


def test_config_rules_and_checkpoint_round_trip(tmp_path: Path) -> None:
    for bad in (-0.1, float("inf"), "0.3", True):
        with pytest.raises(ModelConfigError, match="latent_dither"):
            ModelConfig(architecture="generative", latent_dither=bad)
    with pytest.raises(ModelConfigError, match="generative"):
        ModelConfig(latent_dither=0.2)
    assert ModelConfig.from_dict({"architecture": "generative"}).latent_dither == 0.0  # files before the field
    model = DeepJSCC(DITHERED)
    path = save_checkpoint(tmp_path / "d.pt", model, ModelCard.for_model("dithered", model))
    loaded, _, _ = load_checkpoint(path)
    assert loaded.config == DITHERED and loaded.generator.dither.sigma == 0.5


def test_a_run_with_dither_resumes_an_undithered_checkpoint_and_nothing_else(tmp_path: Path) -> None:
    plain = DeepJSCC(replace(DITHERED, latent_dither=0.0))
    path = save_checkpoint(tmp_path / "plain.pt", plain, ModelCard.for_model("plain", plain))
    config = TrainConfig.from_dict({"model": DITHERED.to_dict(), "optim": {"klt_init_crops": 0}})
    trainer = Trainer(config, out_dir=tmp_path / "run", progress=False, pretrained=False)
    trainer.load(path)
    assert torch.equal(trainer.model.generator.head.out.weight, plain.generator.head.out.weight)
    assert trainer.model.generator.dither.sigma == 0.5
    wider = DeepJSCC(replace(DITHERED, width=18, latent_dither=0.0))
    other = save_checkpoint(tmp_path / "wider.pt", wider, ModelCard.for_model("wider", wider))
    with pytest.raises(TrainError, match="only in latent_dither"):
        trainer.load(other)
