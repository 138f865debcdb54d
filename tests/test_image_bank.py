"""The in-memory data path (models.image_bank): the DataLoader's batches, bit for bit, without decoding per crop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_config import tiny_toml

from models.data import ImageFolderCrops, make_loader
from models.image_bank import ImageBank
from models.train import Trainer
from models.train_config import TrainConfig

MSE = tiny_toml(3, 0, 0, data={"batch_size": 3}, loss={"beta_p": 0.0, "beta_g": 0.0})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Five photographs, one smaller than the crop (upscaled) and a JPEG, and a validation split."""
    root = tmp_path_factory.mktemp("bank")
    rng = np.random.default_rng(1)
    sizes = [(48, 64), (40, 40), (64, 48), (20, 36), (33, 70)]
    for index, (height, width) in enumerate(sizes):
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        image.save(root / f"img{index}.{'jpg' if index == 2 else 'png'}")
    (root / "bsds500" / "val").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(root / "bsds500" / "val" / "held_out.png")
    return root


def test_bank_batches_equal_the_dataloader_batches(folder):
    dataset = ImageFolderCrops(folder, 32, exclude=("bsds500/val",))
    bank = ImageBank(dataset.files, 32, progress=False)
    assert len(bank) == 5 and bank.nbytes == sum(3 * h * w for h, w in [(48, 64), (40, 40), (64, 48), (20, 36),
                                                                         (33, 70)])
    assert all(image.dtype == torch.uint8 for image in bank.images)
    loader = iter(make_loader(dataset, 4, seed=7, rank=1, world_size=2, start=3))
    memory = bank.batches(4, seed=7, rank=1, world_size=2, start=3)
    for _ in range(6):  # 48 crops over 5 files: every file, the upscaled one included, several times
        expected, got = next(loader), next(memory)
        assert got.dtype == torch.float32 and got.shape == (4, 3, 32, 32)
        assert torch.equal(expected, got)


def test_training_from_memory_is_the_same_run(folder, tmp_path):
    config = TrainConfig.from_toml_text(MSE)
    runs = {}
    for in_memory in (False, True):
        config = config.replace(data=dataclasses.replace(config.data, in_memory=in_memory))
        trainer = Trainer(config, data_dir=folder, out_dir=tmp_path / str(in_memory), progress=False)
        trainer.run(("pretrain",))
        runs[in_memory] = trainer.model.state_dict()
        assert (trainer.data.bank is not None) == in_memory
    assert all(torch.equal(runs[False][key], runs[True][key]) for key in runs[False])


def test_an_empty_bank_is_refused():
    with pytest.raises(ValueError, match="no image files"):
        ImageBank([], 32)
