"""Metrics: the field's reference values (TID2013 calibration pairs), properties, DISTS and FID weight handling."""

from __future__ import annotations

import csv
import json
import math
import urllib.error
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torchvision
import torchvision.models._api as torchvision_weights_api
from pytorch_fid import inception as fid_inception

from models.dists import DISTS, VGG16_FEATURES_FILE, vgg16_features
from models.fid import FID, FID_INCEPTION_FILE, frechet_distance
from models.image_io import load_image
from models.metrics import (
    LPIPS,
    MetricInputError,
    compute_metrics,
    gaussian_blur,
    grid_index,
    hatch_index,
    ms_ssim,
    psnr,
    streak_index,
)
from models.pretrained_weights import MissingWeightsError, WeightsFileError

NAMES = ("I03", "I04", "I06", "I08", "I19")


def offline(url: str, *args, **kwargs) -> dict:
    raise urllib.error.URLError("[Errno -2] Name or service not known")


@pytest.fixture(scope="module")
def lpips_net(weights_dir: Path) -> LPIPS:
    return LPIPS(features_path=weights_dir / "alexnet_features.pth")


@pytest.fixture(scope="module")
def calibration(fixtures_dir: Path) -> tuple[torch.Tensor, torch.Tensor, dict[str, dict[str, float]]]:
    """The five distorted/reference pairs (8-bit RGB -> [0, 1]) and reference values by metric and image."""
    root = fixtures_dir / "tid2013_calib"
    distorted = torch.stack([load_image(root / "dist" / f"{n}.png") for n in NAMES])
    reference = torch.stack([load_image(root / "ref" / f"{n}.png") for n in NAMES])
    with open(root / "reference_values.csv", newline="") as stream:
        table = {row["Method"]: {n: float(row[f"{n}.bmp"]) for n in NAMES} for row in csv.DictReader(stream)}
    return distorted, reference, table


def rounded(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits."""
    return float(f"{value:.{digits}g}")


def test_lpips_reproduces_reference_to_four_digits(calibration, lpips_net: LPIPS) -> None:
    distorted, reference, table = calibration
    values = lpips_net(distorted, reference)
    for name, value in zip(NAMES, values.tolist(), strict=True):
        assert abs(rounded(value, 4) - table["lpips"][name]) < 5e-5, (name, value, table["lpips"][name])


def test_psnr_reproduces_reference_to_a_hundredth_of_a_db(calibration) -> None:
    distorted, reference, table = calibration
    for name, value in zip(NAMES, psnr(distorted, reference).tolist(), strict=True):
        assert abs(value - table["psnr"][name]) <= 0.005 + 1e-9, (name, value, table["psnr"][name])


def test_ms_ssim_luma_reproduces_reference(calibration) -> None:
    distorted, reference, table = calibration
    for name, value in zip(NAMES, ms_ssim(distorted, reference, luma=True).tolist(), strict=True):
        assert abs(value - table["ms_ssim"][name]) < 0.005, (name, value, table["ms_ssim"][name])


MS_SSIM_RGB_TOLERANCE = 2e-5  # float32 pytorch-msssim against the float64 reference: 4e-6 apart at most


def test_ms_ssim_rgb_reproduces_an_independent_reference(calibration) -> None:
    """RGB MS-SSIM against ``msssim.m`` transcribed to NumPy (tests/fixtures/make_ms_ssim_rgb.py): the
    tolerance is far below the errors the fixture records (luma instead of RGB, four scales, sigma 1)."""
    distorted, reference, _ = calibration
    fixture = json.loads((Path(__file__).parent / "fixtures" / "ms_ssim_rgb.json").read_text())
    for name, value in zip(NAMES, ms_ssim(distorted, reference).tolist(), strict=True):
        assert abs(value - fixture["ms_ssim_rgb"][name]) < MS_SSIM_RGB_TOLERANCE, (name, value)
    for error, by_image in fixture["differences_to_catch"].items():
        assert max(by_image.values()) > 10 * MS_SSIM_RGB_TOLERANCE, error


def test_psnr_by_hand() -> None:
    x = torch.zeros(2, 3, 8, 8)
    y = torch.zeros(2, 3, 8, 8)
    y[0] = 0.1  # MSE 0.01 -> 20 dB
    y[1, 0] = 0.3  # MSE 0.09 / 3 = 0.03 on one channel of three
    expected = torch.tensor([20.0, -10 * math.log10(0.03)], dtype=torch.float64)
    assert torch.allclose(psnr(x, y), expected)
    assert torch.allclose(psnr(x * 255, y * 255, data_range=255.0), expected)
    assert psnr(x, x).isinf().all()


def test_ms_ssim_properties() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 176, 176, generator=g)
    noise = torch.randn(1, 3, 176, 176, generator=g)
    values = [ms_ssim(x, (x + s * noise).clamp(0, 1)).item() for s in (0.0, 0.05, 0.2)]
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert 1 > values[1] > values[2] > 0
    with pytest.raises(MetricInputError, match="at least 161x161"):
        ms_ssim(x[..., :160, :], x[..., :160, :])
    with pytest.raises(MetricInputError, match="differ in shape"):
        ms_ssim(x, x[..., :170])


def test_lpips_is_frozen_in_eval_mode_and_passes_gradients(lpips_net: LPIPS) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=g)
    y = (x + 0.1 * torch.randn(2, 3, 64, 64, generator=g)).clamp(0, 1).requires_grad_(True)
    assert not any(p.requires_grad for p in lpips_net.parameters())
    lpips_net.train()
    assert not lpips_net.training and not lpips_net.net.lin0.training
    distance = lpips_net(x, y)
    assert distance.shape == (2,) and (distance > 0).all()
    assert torch.allclose(lpips_net(x, x), torch.zeros(2), atol=1e-7)
    distance.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_lpips_downloads_nothing_and_names_its_sources(weights_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    net = LPIPS()
    assert net.source == (
        f"AlexNet features: local file {weights_dir / 'alexnet_features.pth'}; "
        f"LPIPS v0.1 heads: {weights_dir / 'lpips_v0.1' / 'alex.pth'}"
    )
    heads = torch.load(weights_dir / "lpips_v0.1" / "alex.pth", map_location="cpu", weights_only=True)
    assert torch.equal(net.net.lin2.model[1].weight, heads["lin2.model.1.weight"])
    with pytest.raises(WeightsFileError, match="does not fit LPIPS v0.1 AlexNet linear heads"):
        LPIPS(heads_path=weights_dir / "lpips_v0.1" / "squeeze.pth")


def test_compute_metrics_matches_the_single_metrics(lpips_net: LPIPS) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 176, 192, generator=g)
    y = (x + 0.05 * torch.randn(2, 3, 176, 192, generator=g)).clamp(0, 1)
    out = compute_metrics(x, y, lpips_net)
    assert set(out) == {"psnr_db", "ms_ssim", "lpips"}
    assert torch.equal(out["psnr_db"], psnr(x, y))
    assert torch.equal(out["ms_ssim"], ms_ssim(x, y))
    assert torch.allclose(out["lpips"], lpips_net(x, y).detach())
    assert set(compute_metrics(x, y, which=("psnr",))) == {"psnr_db"}
    assert torch.equal(compute_metrics(x, y, which=("grid",))["grid_index"], grid_index(y) - grid_index(x))
    with pytest.raises(ValueError, match="unknown metric.*fid"):
        compute_metrics(x, y, lpips_net, which=("psnr", "fid"))


@pytest.mark.slow
def test_dists_reproduces_reference_with_imagenet_vgg16(calibration, weights_dir: Path) -> None:
    """Runs where $JSCC_WEIGHTS_DIR also holds vgg16_features.pth (not on the project's machines)."""
    vgg_file = weights_dir / VGG16_FEATURES_FILE
    if not vgg_file.is_file():
        pytest.skip(f"{vgg_file} is not there (ImageNet VGG16 features are not available on this machine)")
    distorted, reference, table = calibration
    with torch.no_grad():
        values = DISTS(vgg_path=vgg_file)(distorted, reference)
    for name, value in zip(NAMES, values.tolist(), strict=True):
        assert abs(rounded(value, 4) - table["dists"][name]) < 5e-5, (name, value, table["dists"][name])


def never_download(url: str, *args, **kwargs) -> dict:
    raise AssertionError(f"a download of {url} was attempted while JSCC_WEIGHTS_DIR is set")


def test_dists_missing_weights_are_named(weights_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """A set JSCC_WEIGHTS_DIR without the file: an error naming file and source, and no download."""
    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", never_download)
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))  # has dists/weights.pt, not VGG16
    with pytest.raises(MissingWeightsError) as info:
        DISTS()
    assert f"has no {VGG16_FEATURES_FILE}" in str(info.value) and "vgg16-397923af.pth" in str(info.value)
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="DISTS alpha/beta weights not available.*dists/weights.pt"):
        DISTS()


def test_dists_with_given_files(weights_dir: Path, tmp_path: Path) -> None:
    """With an (untrained) VGG16 file: 0 for identical images, symmetric, in (0, 1) otherwise."""
    torch.manual_seed(3)
    vgg_file = tmp_path / VGG16_FEATURES_FILE
    torch.save({f"features.{k}": v for k, v in vgg16_features().state_dict().items()}, vgg_file)
    metric = DISTS(vgg_path=vgg_file, weights_path=weights_dir / "dists" / "weights.pt")
    assert metric.source.startswith(f"VGG16 features: local file {vgg_file}")
    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, 64, 64, generator=g)
    y = (x + 0.2 * torch.randn(2, 3, 64, 64, generator=g)).clamp(0, 1)
    assert torch.allclose(metric(x, x), torch.zeros(2), atol=1e-6)
    d = metric(x, y)
    assert torch.allclose(d, metric(y, x), atol=1e-6)
    assert ((d > 0) & (d < 1)).all()
    with pytest.raises(WeightsFileError, match="expected alpha and beta"):
        DISTS(vgg_path=vgg_file, weights_path=weights_dir / "lpips_v0.1" / "alex.pth")


@pytest.fixture(scope="module")
def random_fid_state() -> dict[str, torch.Tensor]:
    """An untrained FID Inception's state: pytorch-fid's own builder with its weight loading short-circuited."""
    built = {}

    def keep(self, state, *args, **kwargs):
        built["net"] = self

    with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda url, **kwargs: {}), \
            mock.patch.object(torchvision.models.Inception3, "load_state_dict", keep):
        fid_inception.fid_inception_v3()
    return built["net"].state_dict()


def test_fid_missing_weights_are_named(weights_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", never_download)
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    with pytest.raises(MissingWeightsError) as info:
        FID()
    assert f"has no {FID_INCEPTION_FILE}" in str(info.value) and fid_inception.FID_WEIGHTS_URL in str(info.value)
    with pytest.raises(WeightsFileError, match="does not fit the FID Inception network"):
        FID(weights_path=weights_dir / "alexnet_features.pth")


def test_fid_download_path_and_feature_sets(random_fid_state: dict, monkeypatch) -> None:
    urls = []

    def serve(url: str, *args, **kwargs) -> dict:
        urls.append(url)
        return random_fid_state

    monkeypatch.delenv("JSCC_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", serve)
    fid = FID()
    assert urls == [fid_inception.FID_WEIGHTS_URL]
    assert fid.source == f"torch.hub download {fid_inception.FID_WEIGHTS_URL}"
    fid.update(torch.rand(2, 3, 64, 64), real=True)
    fid.update(torch.rand(1, 3, 64, 64), real=False)
    assert (fid.count(True), fid.count(False)) == (2, 1)
    with pytest.raises(ValueError, match="at least 2 generated images"):
        fid.compute()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        fid.update(torch.rand(3, 64, 64), real=True)


def test_frechet_distance_by_hand() -> None:
    """Sets whose covariances are diagonal: FID = |mu_r - mu_g|^2 + sum (sqrt(var_r) - sqrt(var_g))^2."""

    def cross(scales: np.ndarray, centre: np.ndarray) -> np.ndarray:
        points = np.concatenate([np.diag(scales), -np.diag(scales)])  # +-a_i along each axis
        return points + centre

    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 0.5])
    shift = np.array([0.5, -1.0, 0.0])
    n = 6
    var_r, var_g = 2 * a**2 / (n - 1), 2 * b**2 / (n - 1)
    expected = shift @ shift + np.sum((np.sqrt(var_r) - np.sqrt(var_g)) ** 2)
    assert frechet_distance(cross(a, np.zeros(3)), cross(b, shift)) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(cross(a, shift), cross(a, shift)) == pytest.approx(0.0, abs=1e-9)


def grid_pattern(height: int, width: int, cell: int) -> torch.Tensor:
    """(1, 3, height, width): +-1 on a checkerboard of cell x cell pixel blocks (edges every ``cell`` pixels)."""
    rows = (torch.arange(height) // cell) % 2
    cols = (torch.arange(width) // cell) % 2
    return ((rows[:, None] + cols[None, :]) % 2 * 2.0 - 1).expand(1, 3, height, width)


def test_grid_index_is_low_on_photographs_and_high_with_a_mesh_or_blocks(kodak_dir: Path) -> None:
    photos = torch.stack([load_image(kodak_dir / f"kodim{k:02d}.png") for k in (5, 14, 23)])  # 512x768 each
    clean = grid_index(photos)
    assert clean.shape == (3,) and (clean < 0.05).all()
    for cell in (2, 8, 16):  # faint 2x2 blocks (nearest-neighbour upsampling), 8-pixel latent blocks, 16-pixel grid
        marked = (photos + 0.03 * grid_pattern(512, 768, cell)).clamp(0, 1)
        assert (grid_index(marked) > 2 * clean + 0.05).all(), cell
    assert (grid_index(photos[..., 5:, 3:]) < 0.05).all()  # at another phase: a photograph has no preferred one


def test_grid_index_refuses_images_too_small_for_its_phases() -> None:
    with pytest.raises(MetricInputError, match="larger than 32 pixels"):
        grid_index(torch.rand(1, 3, 32, 64))


def streaks(height: int, width: int, period: float, angle_deg: float) -> torch.Tensor:
    """(1, 3, height, width): a sine of ``period`` pixels running at ``angle_deg``, values in [-1, 1]."""
    theta = math.radians(angle_deg)
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    phase = 2 * math.pi * (cols * math.cos(theta) + rows * math.sin(theta)) / period
    return torch.sin(phase).expand(1, 3, height, width)


def test_streak_index_charges_parallel_streaks_not_blur_noise_or_the_source_itself(kodak_dir: Path) -> None:
    photos = torch.stack([load_image(kodak_dir / f"kodim{k:02d}.png") for k in (5, 14, 23)])  # 512x768 each
    assert torch.equal(streak_index(photos, photos), torch.zeros(3))
    blurred = gaussian_blur(photos, 2.0)
    noisy = (photos + 0.03 * torch.randn(photos.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert (streak_index(photos, blurred) < 0.002).all() and (streak_index(photos, noisy) < 0.01).all()
    for amplitude, floor in ((0.03, 0.02), (0.06, 0.1)):  # streaks 3 pixels apart at 30 degrees, faint and less so
        streaked = (photos + amplitude * streaks(512, 768, 3.0, 30.0)).clamp(0, 1)
        assert (streak_index(photos, streaked) > floor).all(), amplitude
    assert torch.equal(compute_metrics(photos, streaked, which=("streak",))["streak_index"],
                       streak_index(photos, streaked))


def test_hatch_index_charges_streaks_and_a_cross_hatch_not_blur_noise_or_the_source_itself(kodak_dir: Path) -> None:
    photos = torch.stack([load_image(kodak_dir / f"kodim{k:02d}.png") for k in (5, 14, 23)])  # 512x768 each
    assert torch.equal(hatch_index(photos, photos), torch.zeros(3))
    noisy = (photos + 0.03 * torch.randn(photos.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert (hatch_index(photos, gaussian_blur(photos, 2.0)) < 0.001).all()
    assert (hatch_index(photos, noisy) < 0.001).all()
    streaked = (photos + 0.03 * streaks(512, 768, 3.0, 30.0)).clamp(0, 1)  # faint streaks 3 pixels apart
    assert (hatch_index(photos, streaked) > 0.005).all()
    hatched = (photos + 0.06 * (streaks(512, 768, 3.0, 30.0) + streaks(512, 768, 3.0, 120.0))).clamp(0, 1)
    assert (hatch_index(photos, hatched) > 0.02).all()
    assert (streak_index(photos, hatched) < hatch_index(photos, hatched) / 4).all()  # what the streak index misses
    assert torch.equal(compute_metrics(photos, hatched, which=("hatch",))["hatch_index"], hatch_index(photos, hatched))


def test_streak_index_refuses_images_too_small_for_its_window() -> None:
    with pytest.raises(MetricInputError, match="at least 32 pixels a side"):
        streak_index(torch.rand(1, 3, 31, 64), torch.rand(1, 3, 31, 64))
