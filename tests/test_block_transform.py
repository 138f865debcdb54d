"""The block-KLT linear path: fitting, the linear code a fresh model starts as, and the trainer's use of it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from models.block_transform import BLOCK_DIM, BlockTransformError, fit_block_klt, image_blocks, init_linear_paths
from models.channel import TrainingChannel
from models.jscc import DeepJSCC, ModelConfig
from models.metrics import psnr
from models.train import Trainer
from models.train_config import ConfigError, TrainConfig


def smooth_images(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) smooth random images in [0, 1] (low-pass noise, correlated colours)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, size // 8, size // 8, generator=g).repeat(1, 3, 1, 1)
    coarse = coarse + 0.2 * torch.rand(n, 3, 1, 1, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


def test_blocks_are_flattened_channel_row_column():
    images = torch.arange(2 * 3 * 32 * 16, dtype=torch.float32).reshape(2, 3, 32, 16)
    blocks = image_blocks(images)
    assert blocks.shape == (4, BLOCK_DIM)
    torch.testing.assert_close(blocks[1].reshape(3, 16, 16).float(), images[0, :, 16:32, :])


def test_fit_gives_orthonormal_components_by_decreasing_variance():
    images = smooth_images(48)
    klt = fit_block_klt(images, 32)
    assert klt.basis.shape == (32, 3, 16, 16) and klt.mean.shape == (3, 16, 16)
    flat = klt.basis.reshape(32, -1).double()
    torch.testing.assert_close(flat @ flat.T, torch.eye(32, dtype=torch.float64), atol=1e-5, rtol=0)
    assert torch.all(klt.variances[:-1] >= klt.variances[1:])
    # the components carry nearly all of a smooth image's variance
    centred = image_blocks(images) - klt.mean.reshape(1, -1).double()
    kept = (centred @ flat.T).square().sum()
    assert kept / centred.square().sum() > 0.95


@pytest.mark.parametrize(
    ("images", "components", "message"),
    [
        (torch.rand(4, 3, 40, 32), 8, "multiples of 16"),
        (torch.rand(4, 1, 32, 32), 8, "(B, 3, H, W)"),
        (torch.rand(64, 3, 32, 32), 0, "n_components"),
        (torch.rand(2, 3, 32, 32), 8, "at least 768"),
    ],
)
def test_bad_fits_are_refused(images, components, message):
    with pytest.raises(BlockTransformError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit_block_klt(images, components)


@pytest.mark.parametrize("snr_adaptive", [True, False])
def test_a_fresh_model_becomes_the_linear_code(snr_adaptive):
    images = smooth_images(48)
    model = DeepJSCC(ModelConfig(channels=8, width=16, n_res_blocks=1, snr_adaptive=snr_adaptive)).eval()
    init_linear_paths(model, fit_block_klt(images, 8))
    assert not model.encoder.head.weight.any() and not model.generator.tail.weight.any()
    g = torch.Generator().manual_seed(0)
    snr = torch.full((48,), 20.0)
    with torch.no_grad():
        y = model.encoder(images, snr)
        torch.testing.assert_close(y, model.encoder.linear(images))
        x_hat = model(images, snr, TrainingChannel(), g)["x_hat"]
    flat_grey = torch.full_like(images, float(images.mean()))
    assert float(psnr(x_hat, images).mean()) > float(psnr(flat_grey, images).mean()) + 10


def test_snr_blind_and_adaptive_linear_codes_agree_at_the_wiener_snr():
    """The SNR-blind generator bakes the LMMSE shrink of the Wiener SNR into its gains; the adaptive one
    applies it per symbol, so at that SNR both are the same estimator."""
    images = smooth_images(48)
    klt = fit_block_klt(images, 8)
    x_hat = []
    for snr_adaptive in (True, False):
        model = DeepJSCC(ModelConfig(channels=8, width=16, n_res_blocks=1, snr_adaptive=snr_adaptive)).eval()
        init_linear_paths(model, klt, wiener_snr_db=7.0)
        noise = torch.Generator().manual_seed(0)
        with torch.no_grad():
            x_hat.append(model(images, torch.full((48,), 7.0), TrainingChannel(), noise)["x_hat"])
    torch.testing.assert_close(x_hat[0], x_hat[1], atol=1e-5, rtol=0)


def test_init_refuses_a_klt_of_the_wrong_size():
    model = DeepJSCC(ModelConfig(channels=8, width=16, n_res_blocks=1))
    with pytest.raises(BlockTransformError, match="fits"):
        init_linear_paths(model, fit_block_klt(smooth_images(48), 12))


TINY = """
[model]
channels = 8
width = 16
n_res_blocks = 1
[data]
crop = 32
batch_size = 2
workers = 0
[optim]
lr = 1e-3
final_lr_fraction = 0.1
klt_init_crops = 192
[loss]
beta_p = 0.0
beta_g = 0.0
[stages]
pretrain = 5
discriminator = 0
adversarial = 0
[run]
threads = 1
device = "cpu"
"""


@pytest.fixture(scope="module")
def smooth_dir(tmp_path_factory):
    from models.image_io import save_image

    root = tmp_path_factory.mktemp("smooth")
    for index, image in enumerate(smooth_images(6, size=48, seed=1)):
        save_image(image, root / f"img{index}.png")
    return root


def test_trainer_starts_from_the_klt_of_its_data(smooth_dir):
    trainer = Trainer(TrainConfig.from_toml_text(TINY), data_dir=smooth_dir, progress=False)
    assert not trainer.model.encoder.head.weight.any()
    random_start = Trainer(TrainConfig.from_toml_text(TINY.replace("klt_init_crops = 192", "klt_init_crops = 0")),
                           data_dir=smooth_dir, progress=False)
    assert random_start.model.encoder.head.weight.any()


def test_learning_rate_follows_the_cosine_to_its_final_fraction():
    config = TrainConfig.from_toml_text(TINY)
    trainer = Trainer(config, progress=False)
    seen = []
    for step in range(5):
        trainer.steps["pretrain"] = step
        trainer.train_step("pretrain", smooth_images(2, size=32))
        seen.append(trainer.optimizer_g.param_groups[0]["lr"])
    assert seen[0] == pytest.approx(1e-3) and seen[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(seen, seen[1:], strict=False))
    constant = Trainer(config.replace(optim=dataclasses.replace(config.optim, final_lr_fraction=1.0)), progress=False)
    constant.steps["pretrain"] = 4
    constant.train_step("pretrain", smooth_images(2, size=32))
    assert constant.optimizer_g.param_groups[0]["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("final_lr_fraction = 0.1", "final_lr_fraction = 0.0"),
        ("klt_init_crops = 192", "klt_init_crops = 2"),
    ],
)
def test_bad_schedule_or_klt_settings_are_refused(edit, named):
    with pytest.raises(ConfigError, match=named.split(" =")[0]):
        TrainConfig.from_toml_text(TINY.replace(edit, named))
