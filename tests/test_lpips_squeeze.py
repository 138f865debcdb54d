"""LPIPS with the SqueezeNet 1.1 trunk: its loader, its properties, and agreement with the ``lpips`` package."""

from __future__ import annotations

import urllib.error
from pathlib import Path
from unittest import mock

import lpips as lpips_package
import pytest
import torch
import torchvision
import torchvision.models._api as torchvision_weights_api

from models.image_io import load_image
from models.lpips_backbone import SQUEEZENET_FEATURES_FILE, load_squeezenet_features
from models.metrics import LPIPS
from models.pretrained_weights import MissingWeightsError, WeightsFileError

SQUEEZENET_URL = "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth"
CALIBRATION_NAMES = ("I03", "I04")


def offline(url: str, *args, **kwargs) -> dict:
    raise urllib.error.URLError("[Errno -2] Name or service not known")


@pytest.fixture(scope="module")
def squeeze_net(weights_dir: Path) -> LPIPS:
    return LPIPS(features_path=weights_dir / SQUEEZENET_FEATURES_FILE,
                 heads_path=weights_dir / "lpips_v0.1" / "squeeze.pth", net="squeeze")


def package_squeeze_lpips(weights_dir: Path) -> lpips_package.LPIPS:
    """The ``lpips`` package's own squeeze LPIPS: its slicing of torchvision's ``squeezenet1_1(weights=None)``
    with the features file loaded, and its own loading of the v0.1 squeeze heads."""
    classifier = torchvision.models.squeezenet1_1(weights=None)
    state = torch.load(weights_dir / SQUEEZENET_FEATURES_FILE, map_location="cpu", weights_only=True)
    classifier.features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()}, strict=True)
    with mock.patch.object(lpips_package.pretrained_networks.tv, "squeezenet1_1", lambda pretrained: classifier):
        return lpips_package.LPIPS(pretrained=True, net="squeeze", version="0.1", verbose=False,
                                   model_path=str(weights_dir / "lpips_v0.1" / "squeeze.pth")).eval()


def test_squeezenet_features_load_from_the_file(weights_dir: Path, monkeypatch) -> None:
    monkeypatch.delenv("JSCC_WEIGHTS_DIR", raising=False)
    path = weights_dir / SQUEEZENET_FEATURES_FILE
    features, source = load_squeezenet_features(path)
    assert source == f"local file {path}" and len(features) == 13 and not features.training
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert all(torch.equal(v, state[f"features.{k}"]) for k, v in features.state_dict().items())


def test_squeezenet_features_missing_from_the_weights_dir_are_named_not_downloaded(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", offline)
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(MissingWeightsError) as info:
        load_squeezenet_features()
    assert f"has no {SQUEEZENET_FEATURES_FILE}" in str(info.value) and SQUEEZENET_URL in str(info.value)


def test_identical_images_score_zero_and_noise_raises_the_score(squeeze_net: LPIPS) -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, 96, 96, generator=g)
    noise = torch.randn(2, 3, 96, 96, generator=g)
    distances = torch.stack([squeeze_net(x, (x + s * noise).clamp(0, 1)) for s in (0.0, 0.02, 0.1, 0.3)])
    assert torch.allclose(distances[0], torch.zeros(2), atol=1e-7)
    assert (distances[1:] > distances[:-1]).all(), distances


def test_squeeze_lpips_equals_the_packages_own_construction(squeeze_net: LPIPS, weights_dir: Path,
                                                             fixtures_dir: Path) -> None:
    root = fixtures_dir / "tid2013_calib"
    distorted = torch.stack([load_image(root / "dist" / f"{n}.png") for n in CALIBRATION_NAMES])
    reference = torch.stack([load_image(root / "ref" / f"{n}.png") for n in CALIBRATION_NAMES])
    with torch.no_grad():
        ours = squeeze_net(distorted, reference)
        theirs = package_squeeze_lpips(weights_dir)(distorted, reference, normalize=True).reshape(-1)
    assert (ours > 0.01).all(), ours
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-6), (ours, theirs)


def test_squeeze_lpips_downloads_nothing_and_names_its_sources(weights_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", offline)
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    net = LPIPS(net="squeeze")
    assert net.source == (
        f"SqueezeNet 1.1 features: local file {weights_dir / SQUEEZENET_FEATURES_FILE}; "
        f"LPIPS v0.1 heads: {weights_dir / 'lpips_v0.1' / 'squeeze.pth'}"
    )
    with pytest.raises(WeightsFileError, match="does not fit LPIPS v0.1 SqueezeNet 1.1 linear heads"):
        LPIPS(heads_path=weights_dir / "lpips_v0.1" / "alex.pth", net="squeeze")


def test_an_unknown_net_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown LPIPS net 'vgg'; expected one of 'alex', 'squeeze'"):
        LPIPS(net="vgg")  # a trunk the lpips package has, but not this class
