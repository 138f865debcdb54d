"""E-LPIPS: the random transformation by hand, its draws, and the loss it measures through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.ensemble_lpips import MAX_OFFSET, EnsembleLPIPS, ImageTransform
from models.metrics import LPIPS


@pytest.fixture(scope="module")
def lpips_net(weights_dir: Path) -> LPIPS:
    return LPIPS(features_path=weights_dir / "alexnet_features.pth")


def images(seed: int, batch: int = 2, side: int = 64) -> torch.Tensor:
    return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(seed))


def transform(**fields) -> ImageTransform:
    base = {"scale": 1, "scale_phase": (0, 0), "offset": (0, 0), "flip": (), "transpose": False,
            "permutation": torch.tensor([[0, 1, 2]]), "colour": torch.ones(1, 3, 1, 1)}
    return ImageTransform(**(base | fields))


def test_a_transform_is_the_shift_flip_transpose_and_colour_it_names():
    x = images(0, batch=1, side=12)
    t = transform(offset=(2, 5), flip=(-1,), transpose=True, permutation=torch.tensor([[2, 0, 1]]),
                  colour=torch.tensor([0.5, 1.0, 0.25]).reshape(1, 3, 1, 1))
    a = np.pad(x.numpy()[0], ((0, 0), (2, MAX_OFFSET - 2), (5, MAX_OFFSET - 5)), mode="reflect")
    a = a[:, :, ::-1].transpose(0, 2, 1)[[2, 0, 1]] * np.array([0.5, 1.0, 0.25])[:, None, None]
    np.testing.assert_allclose(t(x)[0].numpy(), a, rtol=1e-6)


def test_downscaling_averages_boxes_after_the_phase():
    x = torch.arange(2 * 3 * 20 * 22, dtype=torch.float32).reshape(2, 3, 20, 22)
    y = transform(scale=2, scale_phase=(1, 0), permutation=torch.tensor([[0, 1, 2]] * 2),
                  colour=torch.ones(2, 3, 1, 1))(x)
    assert y.shape == (2, 3, 11 + MAX_OFFSET, 11 + MAX_OFFSET)  # 20 rows + 1 reflected at the top + 1 at the bottom
    # (after the shift of 0 the top-left box is rows -1 (reflected: row 1) and 0, columns 0 and 1)
    assert float(y[0, 0, 0, 0]) == pytest.approx(float(x[0, 0, [1, 1, 0, 0], [0, 1, 0, 1]].mean()))


def test_scales_are_drawn_with_probability_one_over_s_squared_up_to_a_64_pixel_side():
    g = torch.Generator().manual_seed(0)
    scales = [ImageTransform.sample(1, 192, 256, generator=g).scale for _ in range(4000)]
    frequencies = np.bincount(scales, minlength=4)[1:] / len(scales)
    expected = np.array([1, 1 / 4, 1 / 9]) / (1 + 1 / 4 + 1 / 9)
    np.testing.assert_allclose(frequencies, expected, atol=0.025)
    assert {ImageTransform.sample(1, 100, 500, generator=g).scale for _ in range(50)} == {1}


def test_draws_cover_every_shift_flip_transpose_and_colour_order():
    g = torch.Generator().manual_seed(1)
    draws = [ImageTransform.sample(4, 64, 64, generator=g) for _ in range(400)]
    for axis in (0, 1):
        assert {d.offset[axis] for d in draws} == set(range(MAX_OFFSET + 1))
    assert {d.flip for d in draws} == {(), (-1,), (-2,), (-2, -1)}
    assert {d.transpose for d in draws} == {False, True}
    orders = {tuple(p.tolist()) for d in draws for p in d.permutation}
    assert len(orders) == 6
    colours = torch.cat([d.colour for d in draws])
    assert 0.2 <= float(colours.min()) < 0.22 and 0.98 < float(colours.max()) <= 1.0


def test_both_images_go_through_the_same_draw(lpips_net):
    e = EnsembleLPIPS(lpips_net, generator=torch.Generator().manual_seed(2))
    x = images(3)
    for _ in range(10):
        assert float(e(x, x.clone()).max()) < 1e-6


def test_each_call_draws_afresh_and_the_mean_is_of_lpips_order(lpips_net):
    e = EnsembleLPIPS(lpips_net, generator=torch.Generator().manual_seed(4))
    x = images(5)
    y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(6))).clamp(0, 1)
    values = torch.stack([e(x, y) for _ in range(12)])
    assert values.std(dim=0).min() > 1e-3  # the draws differ
    plain = lpips_net(x, y)
    assert torch.all(values.mean(dim=0) > 0.3 * plain) and torch.all(values.mean(dim=0) < 3 * plain)
    assert "E-LPIPS" in e.source and lpips_net.source in e.source


def test_gradients_reach_the_reconstruction(lpips_net):
    e = EnsembleLPIPS(lpips_net, generator=torch.Generator().manual_seed(7))
    x, y = images(8), images(9).requires_grad_(True)
    e(y, x).sum().backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0


def test_mismatched_images_are_refused(lpips_net):
    with pytest.raises(ValueError, match="shape"):
        EnsembleLPIPS(lpips_net)(images(0, side=64), images(0, side=32))
