"""``benchmarks/orientation_bias.py``: stripes that follow the latent, against stripes of the decoder's own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ itself would shadow the phy package with benchmarks/phy.py
from benchmarks.orientation_bias import HORIZONTAL, VERTICAL, main, map_channels, stripe_shares  # noqa: E402


def test_the_channel_map_is_affine_per_latent_vector() -> None:
    z = torch.randn(2, 32, 5, 7)
    identity = torch.cat([torch.eye(32), torch.zeros(1, 32)])
    assert torch.allclose(map_channels(z, identity), z)
    swap = torch.cat([torch.eye(32).flip(0), torch.ones(1, 32)])
    assert torch.allclose(map_channels(z, swap), z.flip(1) + 1)


def test_stripe_shares_tell_horizontal_from_vertical_stripes() -> None:
    rows = torch.arange(96.0)[:, None].expand(96, 96)
    stripes = (0.5 + 0.4 * torch.cos(2 * torch.pi * rows / 3)).expand(1, 3, 96, 96)
    horizontal, vertical = stripe_shares(stripes)
    assert horizontal > 0.5 > 0.01 > vertical
    assert stripe_shares(stripes.transpose(-1, -2)) == pytest.approx((vertical, horizontal), abs=1e-6)
    assert HORIZONTAL != VERTICAL


@pytest.fixture
def photos(kodak_crops) -> Path:
    """Two 192x192 crops of busy Kodak photographs."""
    return kodak_crops(("kodim05", "kodim14"), (200, 150, 392, 342))


def test_the_channels_carry_orientation_that_the_map_turns(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bias.json"
    assert main(["--data", str(photos), "--models", "generative-cbr48", "--fit-data", str(photos),
                 "--fit-images", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    fit = report["channel_map_fit"]
    assert 0 < fit["mapped_transpose_unexplained"] < fit["plain_transpose_unexplained"]
    clean = report["decoders"]["taef2-pretrained"]
    # a grid transposition leaves each vector's orientation as it was, so D(z^T)^T swaps the stripes; M turns it
    assert abs(clean["decoded_mapped_horizontal"] - clean["decoded_horizontal"]) < abs(
        clean["decoded_transposed_horizontal"] - clean["decoded_horizontal"])
    shipped = report["decoders"]["generative-cbr48"]
    assert shipped["transpose_gap"] > 0 and 0 < shipped["decoded_streak_index"]
    assert "generative-cbr48: horizontal stripes" in capsys.readouterr().out


def test_a_cnn_model_is_refused(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bias.json"
    assert main(["--data", str(photos), "--models", "mse-cbr48", "--fit-data", str(photos), "--fit-images", "1",
                 "--out", str(out)]) == 2
    assert "'cnn' model; expected a generative one" in capsys.readouterr().err
    assert not out.exists()
