"""Evaluation over AWGN (models.evaluate), the 256-pixel patch protocol and the ``ota eval`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from models.checkpoint import ModelCard, save_checkpoint
from models.evaluate import EvaluationError, evaluate
from models.image_io import ImageError, load_image, save_image
from models.jscc import DeepJSCC, ModelConfig
from models.metrics import LPIPS, compute_metrics
from models.patches import PatchError, merge_patches, split_patches
from ota.cli import main
from ota.options import parse_snr_list
from ota.user_error import UserError

METRIC_KEYS = ("psnr_db", "ms_ssim", "lpips", "grid_index", "streak_index")


@pytest.fixture(scope="module")
def lpips_net(weights_dir: Path) -> LPIPS:
    return LPIPS(features_path=weights_dir / "alexnet_features.pth")


@pytest.fixture(scope="module")
def model() -> DeepJSCC:
    torch.manual_seed(0)
    return DeepJSCC(ModelConfig(width=16, n_res_blocks=1)).eval()


def smooth_image(height: int, width: int, seed: int) -> torch.Tensor:
    """A (3, H, W) test picture: smooth colour gradients plus a little texture."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.linspace(0, 1, height)[:, None]
    cols = torch.linspace(0, 1, width)[None, :]
    base = torch.stack([rows * cols, rows.expand(height, width), cols.expand(height, width)])
    return (0.8 * base + 0.2 * torch.rand(3, height, width, generator=g)).clamp(0, 1)


@pytest.fixture
def image_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "images"
    return [
        save_image(smooth_image(176, 192, 1), folder / "a.png"),
        save_image(smooth_image(192, 176, 2), folder / "b.png"),
    ]


def leftovers(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if ".partial-" in p.name]


def test_patches_split_and_merge() -> None:
    image = torch.arange(3 * 600 * 520, dtype=torch.float32).reshape(3, 600, 520)
    patches, grid = split_patches(image, 256)
    assert grid == (2, 2) and patches.shape == (4, 3, 256, 256)
    assert torch.equal(patches[1], image[:, 0:256, 256:512])
    assert torch.equal(patches[2], image[:, 256:512, 0:256])
    assert torch.equal(merge_patches(patches, grid), image[:, :512, :512])
    with pytest.raises(PatchError, match="holds no 256x256 patch"):
        split_patches(image[:, :200], 256)
    with pytest.raises(PatchError, match="positive integer"):
        split_patches(image, 0)


def test_evaluate_whole_images(model: DeepJSCC, image_files: list[Path], lpips_net: LPIPS, tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = evaluate(model, image_files, [1.0, 10.0], out, lpips=lpips_net, seed=3)
    assert json.loads((out / "results.json").read_text()) == results
    assert set(results) == {"config", "versions", "results", "timings"}
    assert results["config"]["snrs_db"] == [1.0, 10.0] and results["config"]["patches"] is None
    assert results["config"]["model"]["width"] == 16 and results["config"]["lpips"] == lpips_net.source
    assert {"python", "torch", "numpy", "pjscc-ota"} <= set(results["versions"])
    assert [entry["snr_db"] for entry in results["results"]] == [1.0, 10.0]
    for entry in results["results"]:
        assert set(entry["timings"]) == {"encode_s", "channel_s", "decode_s", "metrics_s"}
        assert [image["name"] for image in entry["images"]] == ["a", "b"]
        for key in METRIC_KEYS:
            values = [image[key] for image in entry["images"]]
            assert all(math.isfinite(v) for v in values)
            assert entry["mean"][key] == pytest.approx(sum(values) / 2)
        for image, source in zip(entry["images"], image_files, strict=True):
            saved = out / image["reconstruction"]
            assert saved == out / f"snr_{entry['snr_db']:g}" / f"{source.stem}.png"
            reference = compute_metrics(load_image(source)[None], load_image(saved)[None], lpips_net)
            assert image["psnr_db"] == pytest.approx(reference["psnr_db"].item(), abs=1e-9)
            assert image["ms_ssim"] == pytest.approx(reference["ms_ssim"].item(), abs=1e-6)
            assert image["lpips"] == pytest.approx(reference["lpips"].item(), abs=1e-6)
    assert not leftovers(tmp_path)


def test_evaluate_patch_protocol(model: DeepJSCC, lpips_net: LPIPS, tmp_path: Path) -> None:
    source = save_image(smooth_image(200, 400, 5), tmp_path / "wide.png")
    out = tmp_path / "patched"
    results = evaluate(model, [source], [4.0], out, patches=176, lpips=lpips_net)
    entry = results["results"][0]
    image = entry["images"][0]
    assert image["n_patches"] == 2 and entry["n_scored"] == 2 and results["config"]["mean_over"] == "patches"
    saved = load_image(out / "snr_4" / "wide.png")
    assert saved.shape == (3, 176, 352)  # the remainder (24 rows, 48 columns) is not sent
    original = load_image(source)
    for index, cols in enumerate((slice(0, 176), slice(176, 352))):
        reference = compute_metrics(original[None, :, :176, cols], saved[None, :, :, cols], lpips_net,
                                    which=("psnr", "ms_ssim", "lpips", "grid", "streak"))
        for key in METRIC_KEYS:
            assert image["patches"][key][index] == pytest.approx(reference[key].item(), abs=1e-6)
    for key in METRIC_KEYS:
        assert entry["mean"][key] == pytest.approx(sum(image["patches"][key]) / 2)


def test_evaluate_checks_inputs_before_writing(
    model: DeepJSCC, image_files: list[Path], lpips_net: LPIPS, tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(EvaluationError, match="not an empty folder"):
        evaluate(model, image_files, [1.0], busy, lpips=lpips_net)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    not_an_image = tmp_path / "images" / "c.png"
    not_an_image.write_text("text")
    small = save_image(smooth_image(120, 300, 0), tmp_path / "small" / "small.png")
    bad_calls = [
        (ImageError, "not a readable image", dict(images=[*image_files, not_an_image], snrs=[1.0])),
        (EvaluationError, "listed more than once", dict(images=image_files, snrs=[1.0, 1.0])),
        (EvaluationError, "below the 161x161", dict(images=[small], snrs=[1.0])),
        (PatchError, "holds no 256x256 patch", dict(images=image_files, snrs=[1.0], patches=256)),
        (EvaluationError, "no images", dict(images=[], snrs=[1.0])),
    ]
    for error, message, kwargs in bad_calls:
        with pytest.raises(error, match=message):
            evaluate(model, out_dir=tmp_path / "never", lpips=lpips_net, **kwargs)
        assert not (tmp_path / "never").exists() and not leftovers(tmp_path)


def test_evaluate_failure_midway_leaves_nothing(
    model: DeepJSCC, image_files: list[Path], lpips_net: LPIPS, tmp_path: Path, monkeypatch
) -> None:
    calls = []
    decode = model.decode

    def failing_decode(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated failure")
        return decode(*args, **kwargs)

    monkeypatch.setattr(model, "decode", failing_decode)
    with pytest.raises(RuntimeError, match="simulated failure"):
        evaluate(model, image_files, [1.0, 7.0], tmp_path / "out", lpips=lpips_net)
    assert len(calls) == 3 and not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_parse_snr_list() -> None:
    assert parse_snr_list("1,4,7,10,13") == [1.0, 4.0, 7.0, 10.0, 13.0]
    assert parse_snr_list(" -2.5 , 40") == [-2.5, 40.0]
    with pytest.raises(UserError, match="--snr: 'x' is not a number; expected comma-separated dB values like 1,4,7"):
        parse_snr_list("1,x")
    with pytest.raises(UserError, match="--snr: '' is not a number"):
        parse_snr_list("1,,4")
    with pytest.raises(UserError, match="--snr: 41 dB is out of range; expected values from -10 to 40 dB"):
        parse_snr_list("41")
    with pytest.raises(UserError, match="--snr: nan dB is out of range"):
        parse_snr_list("nan")
    with pytest.raises(UserError, match="listed twice"):
        parse_snr_list("4,4.0")


def test_ota_eval_command(
    model: DeepJSCC, image_files: list[Path], weights_dir: Path, tmp_path: Path, capsys
) -> None:
    checkpoint = save_checkpoint(tmp_path / "tiny.pt", model, ModelCard.for_model("tiny", model))
    out = tmp_path / "cli"
    argv = ["eval", "--model", str(checkpoint), "--data", str(image_files[0].parent), "--snr", "5", "--out", str(out),
            "--lpips-weights", str(weights_dir / "alexnet_features.pth"), "--limit", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"LPIPS: AlexNet features: local file {weights_dir / 'alexnet_features.pth'}" in printed
    assert f"wrote {out}/results.json" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["model"]["name"] == "tiny"
    assert [image["name"] for image in results["results"][0]["images"]] == ["a"]
    assert main([*argv[:6], "1,x", *argv[7:]]) == 2
    assert "--snr: 'x' is not a number" in capsys.readouterr().err
