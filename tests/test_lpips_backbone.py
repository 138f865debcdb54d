"""Loading the LPIPS AlexNet backbone: local file, $JSCC_WEIGHTS_DIR, torchvision's download (run offline)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision.models._api as torchvision_weights_api
from torchvision.models import AlexNet_Weights, alexnet

from models.lpips_backbone import ALEXNET_FEATURES_FILE, load_alexnet_features
from models.pretrained_weights import MissingWeightsError, WeightsFileError

ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
CONV_INDICES = (0, 3, 6, 8, 10)


@pytest.fixture
def features_file(weights_dir: Path) -> Path:
    return weights_dir / ALEXNET_FEATURES_FILE


@pytest.fixture
def file_state(features_file: Path) -> dict[str, torch.Tensor]:
    return torch.load(features_file, map_location="cpu", weights_only=True)


def assert_features_equal(features: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    for i in CONV_INDICES:
        assert torch.equal(features[i].weight, state[f"features.{i}.weight"])
        assert torch.equal(features[i].bias, state[f"features.{i}.bias"])


def test_local_file_is_loaded_and_named(features_file: Path, file_state: dict, monkeypatch) -> None:
    monkeypatch.delenv("JSCC_WEIGHTS_DIR", raising=False)
    features, source = load_alexnet_features(features_file)
    assert source == f"local file {features_file}"
    assert len(features) == 13 and not features.training
    assert_features_equal(features, file_state)


def test_weights_dir_variable_is_used_without_a_path(weights_dir: Path, file_state: dict, monkeypatch) -> None:
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    features, source = load_alexnet_features()
    assert source == f"local file {weights_dir / ALEXNET_FEATURES_FILE}"
    assert_features_equal(features, file_state)


def test_download_path_goes_through_torchvision_weights_api(file_state: dict, monkeypatch) -> None:
    """No path, no variable: torchvision's AlexNet download, served here from the local file."""
    monkeypatch.delenv("JSCC_WEIGHTS_DIR", raising=False)
    full = alexnet(weights=None).state_dict()  # a whole checkpoint: features and classifier
    full.update(file_state)
    calls = []

    def fake_download(url: str, *args, **kwargs) -> dict:
        calls.append((url, kwargs))
        return full

    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", fake_download)
    features, source = load_alexnet_features()
    assert AlexNet_Weights.IMAGENET1K_V1.url == ALEXNET_URL
    assert [url for url, _ in calls] == [ALEXNET_URL]
    assert calls[0][1].get("check_hash") is True
    assert source == f"torchvision download {ALEXNET_URL}"
    assert_features_equal(features, file_state)


def offline(url: str, *args, **kwargs) -> dict:
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_offline_download_failure_names_file_and_variable(monkeypatch) -> None:
    monkeypatch.delenv("JSCC_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", offline)
    with pytest.raises(MissingWeightsError) as info:
        load_alexnet_features()
    message = str(info.value)
    for needle in (ALEXNET_FEATURES_FILE, "JSCC_WEIGHTS_DIR", "--lpips-weights", ALEXNET_URL, "not set"):
        assert needle in message


def test_variable_pointing_at_a_folder_without_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", offline)
    with pytest.raises(MissingWeightsError, match=f"JSCC_WEIGHTS_DIR={tmp_path} has no {ALEXNET_FEATURES_FILE}"):
        load_alexnet_features()


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError, match="does not exist"):
        load_alexnet_features(tmp_path / "nothing.pth")


def test_corrupted_and_truncated_files(features_file: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a torch file" * 10)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(features_file.read_bytes()[:5000])
    for path in (garbage, truncated):
        with pytest.raises(WeightsFileError, match=f"{path}: not a readable PyTorch weights file"):
            load_alexnet_features(path)


def test_mismatched_files(weights_dir: Path, file_state: dict, tmp_path: Path) -> None:
    with pytest.raises(WeightsFileError, match="missing 0.bias.*unexpected lin0"):
        load_alexnet_features(weights_dir / "lpips_v0.1" / "alex.pth")
    wrong = dict(file_state)
    wrong["features.3.weight"] = torch.zeros(192, 64, 3, 3)
    path = tmp_path / "wrong_shape.pth"
    torch.save(wrong, path)
    with pytest.raises(WeightsFileError, match=r"3.weight: \(192, 64, 3, 3\) \(expected \(192, 64, 5, 5\)\)"):
        load_alexnet_features(path)
    not_a_dict = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), not_a_dict)
    with pytest.raises(WeightsFileError, match="not a dict of tensors"):
        load_alexnet_features(not_a_dict)
