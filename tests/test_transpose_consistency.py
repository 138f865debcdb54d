"""Transpose consistency: ||D(z) - D(z^T)^T||^2 charges a decoder's orientation bias, and the trainer adds it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from models.jscc import ModelConfig
from models.train import Trainer
from models.train_config import ConfigError, TrainConfig
from models.transpose_consistency import TransposeConsistency

GENERATIVE = ModelConfig(architecture="generative", width=16, n_res_blocks=1)


def conv(kernel: torch.Tensor) -> nn.Conv2d:
    """A one-channel-in, three-channel-out convolution with ``kernel`` (k, k) on every output."""
    layer = nn.Conv2d(1, 3, kernel.shape[-1], padding=kernel.shape[-1] // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(kernel.expand(3, 1, *kernel.shape))
    return layer


def penalty(synthesis: nn.Module, z: torch.Tensor) -> float:
    consistency = TransposeConsistency(synthesis)
    return float(consistency(synthesis(z)).detach())


def test_only_a_decoder_with_an_orientation_bias_pays() -> None:
    z = torch.rand(2, 1, 12, 16)  # non-negative kernels of sum <= 1 keep the pictures in [0, 1]: no clipping
    symmetric = torch.tensor([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0]]) / 8
    horizontal = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 1.0], [0.0, 0.0, 0.0]]) / 4
    assert penalty(conv(symmetric), z) < 1e-12
    assert penalty(conv(horizontal), z) > 1e-3
    assert penalty(conv(horizontal), torch.zeros_like(z)) == 0.0  # zero latent: no lines, in either frame


def test_it_takes_the_last_forwards_latent_and_lets_gradients_reach_the_decoder() -> None:
    layer = conv(torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 1.0], [0.0, 0.0, 0.0]]) / 4)
    consistency = TransposeConsistency(layer)
    with pytest.raises(RuntimeError, match="has not run"):
        consistency(torch.zeros(1, 3, 4, 4))
    first, second = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    layer(first)
    x_hat = layer(second)
    transposed = nn.functional.conv2d(second.transpose(-1, -2), layer.weight, padding=1).transpose(-1, -2)
    expected = (x_hat - transposed).square().mean()
    value = consistency(x_hat)
    assert torch.allclose(value, expected)
    value.backward()
    assert layer.weight.grad is not None and float(layer.weight.grad.abs().sum()) > 0
    with pytest.raises(RuntimeError, match="has not run"):  # each forward is charged once
        consistency(x_hat)


def test_the_trainer_adds_the_term_to_a_generative_models_loss(tmp_path: Path) -> None:
    def trainer(beta: float) -> Trainer:
        config = TrainConfig.from_dict({
            "model": GENERATIVE.to_dict(), "optim": {"klt_init_crops": 0},
            "loss": {"beta_m": 1e-4, "beta_p": 0.0, "beta_g": 0.0, "beta_transpose": beta},
            "stages": {"pretrain": 1, "discriminator": 0, "adversarial": 0},
        })
        torch.manual_seed(0)
        return Trainer(config, out_dir=tmp_path / str(beta), progress=False, pretrained=False)

    x = torch.rand(2, 3, 64, 64)
    with_term, without = trainer(1e3).train_step("pretrain", x), trainer(0.0).train_step("pretrain", x)
    assert "transpose" not in without and with_term["transpose"] > 0
    assert with_term["g_loss"] == pytest.approx(without["g_loss"] + 1e3 * with_term["transpose"], rel=1e-4)


def test_config_rules() -> None:
    with pytest.raises(ConfigError, match="beta_transpose"):
        TrainConfig.from_dict({"loss": {"beta_transpose": -1.0}})
    with pytest.raises(ConfigError, match="generative"):
        TrainConfig.from_dict({"model": {"architecture": "cnn"}, "loss": {"beta_transpose": 1.0}})
    config = TrainConfig.from_dict({"model": GENERATIVE.to_dict(), "optim": {"klt_init_crops": 0},
                                    "loss": {"beta_transpose": 2.5}})
    assert TrainConfig.from_toml_text(config.to_toml()).loss.beta_transpose == 2.5
