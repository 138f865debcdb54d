"""Shared pytest configuration: the hardware marker and the paths to ../shared assets.

Assets (datasets, backbone weights, metric fixtures) are read from paths given by environment
variables. Where one is not set or does not exist, the tests that need it skip with a message
naming the variable; with ``JSCC_REQUIRE_ASSETS=1`` (set by CI) a missing asset is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

ASSET_VARIABLES = {
    "weights": ("JSCC_WEIGHTS_DIR", "../shared/weights (alexnet_features.pth, lpips_v0.1/, dists/)"),
    "kodak": ("JSCC_KODAK_DIR", "../shared/datasets/kodak (kodim01..24.png)"),
    "train": ("JSCC_TRAIN_DIR", "../shared/datasets/train (training photographs)"),
    "fixtures": ("JSCC_FIXTURES_DIR", "../shared/fixtures (tid2013_calib/)"),
    "packs": ("JSCC_PACKS_DIR", "../shared/packs (train_pack_small.tar)"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--radio-uri",
        action="append",
        default=[],
        help="run the hardware tests against this radio (e.g. pluto:usb:1.2.5, pluto:ip:ADDRESS or soapy:driver=uhd)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--radio-uri"):
        return
    skip = pytest.mark.skip(reason="hardware test: name a radio with --radio-uri to run it")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def radio_uris(request: pytest.FixtureRequest) -> list[str]:
    return request.config.getoption("--radio-uri")


def asset_path(kind: str) -> Path:
    """The directory of one kind of asset, or skip (fail under JSCC_REQUIRE_ASSETS=1)."""
    variable, what = ASSET_VARIABLES[kind]
    value = os.environ.get(variable)
    if value and Path(value).is_dir():
        return Path(value)
    message = (
        f"{variable} is not set or not a directory ({value!r}); point it at {what} to run this test"
    )
    if os.environ.get("JSCC_REQUIRE_ASSETS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    return asset_path("weights")


@pytest.fixture(scope="session")
def kodak_dir() -> Path:
    return asset_path("kodak")


@pytest.fixture(scope="session")
def train_dir() -> Path:
    return asset_path("train")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return asset_path("fixtures")


@pytest.fixture(scope="session")
def packs_dir() -> Path:
    return asset_path("packs")


@pytest.fixture
def kodak_crops(kodak_dir: Path, weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``make(names, box) -> folder``: crops (left, upper, right, lower) of Kodak photographs as PNGs in a
    fresh folder, with $JSCC_WEIGHTS_DIR set for the models that read them."""
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))

    def make(names: tuple[str, ...], box: tuple[int, int, int, int]) -> Path:
        folder = tmp_path / "photos"
        folder.mkdir()
        for name in names:
            Image.open(kodak_dir / f"{name}.png").crop(box).save(folder / f"{name}.png")
        return folder

    return make


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): Sionna's
    small tensor ops, the LDPC decoder's, are far faster single-threaded on the shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
