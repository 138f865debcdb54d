"""Generator and discriminator losses: values by hand, gradients, zero-weight terms skipped."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from models.losses import DiscriminatorLoss, GeneratorLoss
from models.metrics import LPIPS, grid_index, hatch_index, ms_ssim, streak_index


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


@pytest.fixture(scope="module")
def lpips_net(weights_dir: Path) -> LPIPS:
    return LPIPS(features_path=weights_dir / "alexnet_features.pth")


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g)
    x_hat = (x + 0.1 * torch.randn(2, 3, 64, 64, generator=g)).clamp(0, 1)
    return x, x_hat


def test_mse_baseline_needs_no_lpips_and_skips_zero_weight_terms(images) -> None:
    x, x_hat = images
    loss = GeneratorLoss(beta_m=1.0, beta_p=0.0, beta_g=0.0, lpips=None)
    out = loss(x, x_hat)
    assert set(out) == {"loss", "mse"}
    mse_255 = ((x.double() - x_hat.double()) * 255).square().mean().item()
    assert out["mse"].item() == pytest.approx(mse_255, rel=1e-5)
    assert out["loss"].item() == pytest.approx(mse_255, rel=1e-5)
    assert loss.lpips is None


def test_generator_loss_by_hand(images, lpips_net: LPIPS) -> None:
    x, x_hat = images
    logits = torch.tensor([[0.0], [2.0], [-1.0]])
    loss = GeneratorLoss(beta_m=1e-5, beta_p=1.0, beta_g=1e-3, lpips=lpips_net)
    out = loss(x, x_hat, logits)
    assert set(out) == {"loss", "mse", "lpips", "adv"}
    mse_255 = ((x.double() - x_hat.double()) * 255).square().mean().item()
    lpips_value = lpips_net(x, x_hat).mean().item()
    adv = (softplus(0.0) + softplus(-2.0) + softplus(1.0)) / 3  # -log sigmoid(l)
    assert out["mse"].item() == pytest.approx(mse_255, rel=1e-5)
    assert out["lpips"].item() == pytest.approx(lpips_value, rel=1e-5)
    assert out["adv"].item() == pytest.approx(adv, rel=1e-6)
    assert out["loss"].item() == pytest.approx(1e-5 * mse_255 + lpips_value + 1e-3 * adv, rel=1e-5)


def test_generator_gradients_reach_the_reconstruction_and_the_discriminator(images, lpips_net: LPIPS) -> None:
    x, x_hat = images
    x_hat = x_hat.clone().requires_grad_(True)
    discriminator = torch.nn.Conv2d(3, 1, 8, stride=8)
    loss = GeneratorLoss(lpips=lpips_net)
    loss(x, x_hat, discriminator(x_hat))["loss"].backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    assert discriminator.weight.grad is not None and discriminator.weight.grad.abs().sum() > 0
    # each term contributes: the LPIPS-only gradient differs from the total
    alone = x_hat.detach().clone().requires_grad_(True)
    GeneratorLoss(beta_m=0.0, beta_p=1.0, beta_g=0.0, lpips=lpips_net)(x, alone)["loss"].backward()
    assert alone.grad.abs().sum() > 0 and not torch.allclose(alone.grad, x_hat.grad)


def test_generator_loss_rejects_bad_configuration(images) -> None:
    x, x_hat = images
    with pytest.raises(ValueError, match="beta_p=1.0 needs an LPIPS network"):
        GeneratorLoss(beta_p=1.0, lpips=None)
    with pytest.raises(ValueError, match="beta_m=-1"):
        GeneratorLoss(beta_m=-1, beta_p=0.0)
    with pytest.raises(ValueError, match="needs the discriminator's logits"):
        GeneratorLoss(beta_p=0.0, beta_g=1e-3)(x, x_hat)
    with pytest.raises(ValueError, match="differ in shape"):
        GeneratorLoss(beta_p=0.0, beta_g=0.0)(x, x_hat[:, :, :32])


def test_discriminator_loss_by_hand_and_as_bce() -> None:
    real = torch.tensor([2.0, -1.0], requires_grad=True)
    fake = torch.tensor([0.5, -3.0], requires_grad=True)
    out = DiscriminatorLoss()(real, fake)
    expected_real = (softplus(-2.0) + softplus(1.0)) / 2  # -log sigmoid(D(x))
    expected_fake = (softplus(0.5) + softplus(-3.0)) / 2  # -log(1 - sigmoid(D(x_hat)))
    assert out["real"].item() == pytest.approx(expected_real, rel=1e-6)
    assert out["fake"].item() == pytest.approx(expected_fake, rel=1e-6)
    assert out["loss"].item() == pytest.approx(expected_real + expected_fake, rel=1e-6)
    bce = F.binary_cross_entropy_with_logits(real, torch.ones(2)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros(2)
    )
    assert out["loss"].item() == pytest.approx(bce.item(), rel=1e-6)
    out["loss"].backward()
    # d/dl softplus(-l) = -sigmoid(-l); d/dl softplus(l) = sigmoid(l); each averaged over 2
    assert torch.allclose(real.grad, -torch.sigmoid(-real.detach()) / 2)
    assert torch.allclose(fake.grad, torch.sigmoid(fake.detach()) / 2)
    with pytest.raises(ValueError, match="differ in shape"):
        DiscriminatorLoss()(real, fake[:1])


def test_ms_ssim_term_is_the_metric_the_results_report() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 176, 176, generator=g)
    x_hat = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    loss = GeneratorLoss(beta_m=0.0, beta_p=0.0, beta_g=0.0, beta_s=0.5)
    out = loss(x, x_hat)
    expected = ms_ssim(x_hat.detach(), x).mean().item()
    assert out["ms_ssim"].item() == pytest.approx(expected, abs=1e-5)
    assert out["loss"].item() == pytest.approx(0.5 * (1 - expected), abs=1e-5)
    out["loss"].backward()
    assert x_hat.grad.abs().sum() > 0
    assert loss(x, x)["loss"].item() == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="beta_s=0.5 needs crops of at least 161 pixels.*160x176"):
        loss(x[..., :160, :], x_hat[..., :160, :])


def test_grid_term_charges_a_mesh_the_source_does_not_have_and_its_gradient_removes_it() -> None:
    g = torch.Generator().manual_seed(1)
    x = F.avg_pool2d(torch.rand(2, 3, 100, 100, generator=g), 5, stride=1)  # smooth, (2, 3, 96, 96)
    mesh = 0.03 * ((torch.arange(96)[:, None] // 2 + torch.arange(96)[None, :] // 2) % 2 * 2.0 - 1)  # 2x2 blocks
    loss = GeneratorLoss(beta_m=0.0, beta_p=0.0, beta_g=0.0, beta_s=0.0, beta_grid=1.0)
    assert loss(x, x)["grid"].item() == 0.0  # no more grid than the source: no charge
    x_hat = (x + mesh).clamp(0, 1).requires_grad_(True)
    out = loss(x, x_hat)
    expected = F.relu(grid_index(x_hat) - grid_index(x)).mean()
    assert set(out) == {"loss", "mse", "grid"} and out["grid"].item() == pytest.approx(expected.item())
    assert out["grid"].item() > 0.1
    out["loss"].backward()
    step = (x_hat - 0.05 * x_hat.grad / x_hat.grad.abs().max()).detach()
    assert loss(x, step)["grid"] < out["grid"]  # the gradient points away from the mesh


WAVE = torch.sin(2 * math.pi * torch.arange(64) / 3.0)  # (64,): 3 pixels a period


@pytest.mark.parametrize(("term", "index", "pattern"), [
    ("streak", streak_index, 0.05 * WAVE[None, :].expand(64, 64)),  # parallel vertical lines
    ("hatch", hatch_index, 0.05 * (WAVE[None, :] + WAVE[:, None])),  # vertical and horizontal lines: a cross-hatch
])
def test_texture_terms_charge_their_pattern_over_texture_and_their_gradients_remove_it(term, index, pattern) -> None:
    g = torch.Generator().manual_seed(2)
    x = F.avg_pool2d(torch.rand(2, 3, 68, 68, generator=g), 5, stride=1)  # texture of no direction, (2, 3, 64, 64)
    loss = GeneratorLoss(beta_m=0.0, beta_p=0.0, beta_g=0.0, beta_s=0.0, **{f"beta_{term}": 1.0})
    assert loss(x, x)[term].item() == 0.0
    x_hat = (x + pattern).clamp(0, 1).requires_grad_(True)
    out = loss(x, x_hat)
    assert set(out) == {"loss", "mse", term}
    assert out[term].item() == pytest.approx(index(x, x_hat).mean().item()) and out[term].item() > 0.05
    out["loss"].backward()
    step = (x_hat - 0.02 * x_hat.grad / x_hat.grad.abs().max()).detach()
    assert loss(x, step)[term] < out[term]  # the gradient points away from the pattern


def test_grid_term_refuses_crops_too_small() -> None:
    with pytest.raises(ValueError, match="grid_index needs .* larger than 32 pixels a side"):
        GeneratorLoss(beta_p=0.0, beta_g=0.0, beta_grid=0.5)(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
