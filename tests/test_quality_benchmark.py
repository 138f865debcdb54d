"""``benchmarks/quality.py``: every shipped model over AWGN, its JSON, plots, tables and the README splice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.image_io import list_images, load_image, save_image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "quality.py"
README = "# Project\n\nintro\n\n<!-- quality-table:begin -->\nold table\n<!-- quality-table:end -->\n\nafter\n"


def run_quality(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def small_kodak(kodak_dir, tmp_path_factory) -> Path:
    """Two Kodak images cut to 176x208 (kodim05 and kodim23, both in the side-by-side figure)."""
    root = tmp_path_factory.mktemp("kodak_small")
    for path in list_images(kodak_dir):
        if path.stem in ("kodim05", "kodim23"):
            save_image(load_image(path)[:, 64:240, 64:272], root / f"{path.stem}.png")
    return root


def test_quality_writes_json_plots_tables_and_splices_the_readme(small_kodak, weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    out = tmp_path / "quality"
    done = run_quality("--data", str(small_kodak), "--out", str(out), "--models", "mse-cbr48,perceptual-cbr48",
                       "--snrs", "4,10", "--readme", str(readme))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "quality.json").read_text())
    assert set(report) == {"mse-cbr48", "perceptual-cbr48", "config", "versions"}
    assert report["config"]["images"] == ["kodim05", "kodim23"] and report["config"]["snrs_db"] == [4.0, 10.0]
    assert report["config"]["lpips_squeeze"].startswith("SqueezeNet 1.1 features: local file")
    for name in ("mse-cbr48", "perceptual-cbr48"):
        assert set(report[name]) == {"4", "10"}
        entry = report[name]["10"]
        assert set(entry) == {"psnr_db", "ms_ssim", "lpips", "lpips_squeeze", "psnr_db_snr_minus", "psnr_db_snr_plus",
                              "psnr_db_erased"}
        assert 10 < entry["psnr_db"] < 50 and 0 < entry["ms_ssim"] <= 1 and 0 <= entry["lpips"] < 1
        assert 0 < entry["lpips_squeeze"] < 1 and entry["lpips_squeeze"] != entry["lpips"]
        assert report[name]["4"]["lpips_squeeze"] > entry["lpips_squeeze"]  # more noise, further from the original
        assert report[name]["10"]["psnr_db"] > report[name]["4"]["psnr_db"]
        assert entry["psnr_db_erased"] < entry["psnr_db"]  # 10 % of the symbols lost costs something
    for figure in ("snr_psnr.png", "snr_ms_ssim.png", "snr_lpips.png", "side_by_side.webp"):
        assert (out / figure).stat().st_size > 10_000
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Project\n\nintro\n") and text.endswith("after\n")
    assert (out / "quality.md").read_text() in text and "| mse-cbr48 |" in text
    squeeze_cell = f"{report['mse-cbr48']['10']['lpips']:.3f} / {report['mse-cbr48']['10']['lpips_squeeze']:.3f} |"
    assert "LPIPS (AlexNet) / LPIPS (SqueezeNet)" in text and squeeze_cell in text


def test_runs_made_in_parallel_merge_into_one_report(small_kodak, weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    common = ("--data", str(small_kodak), "--snrs", "10")
    for name, model, snrs in (("a", "mse-cbr48", "10"), ("b", "perceptual-cbr48", "10"), ("c", "mse-cbr24", "4")):
        done = run_quality(*common, "--out", str(tmp_path / name), "--models", model, "--snrs", snrs)
        assert done.returncode == 0, done.stderr
    merged = run_quality(*common, "--out", str(tmp_path / "ab"), "--merge", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    assert merged.returncode == 0, merged.stderr
    report = json.loads((tmp_path / "ab" / "quality.json").read_text())
    for name, model in (("a", "mse-cbr48"), ("b", "perceptual-cbr48")):
        alone = json.loads((tmp_path / name / "quality.json").read_text())
        assert report[model] == alone[model] and report["config"]["models"][model] == alone["config"]["models"][model]
    assert "| perceptual-cbr48 |" in (tmp_path / "ab" / "quality.md").read_text()
    assert (tmp_path / "ab" / "side_by_side.webp").is_file()
    refused = run_quality(*common, "--out", str(tmp_path / "ac"), "--merge", f"{tmp_path / 'a'},{tmp_path / 'c'}")
    assert refused.returncode != 0 and "snrs_db" in refused.stderr and not (tmp_path / "ac").exists()


@pytest.fixture()
def one_image(tmp_path) -> Path:
    root = tmp_path / "images"
    save_image(torch.rand(3, 176, 176, generator=torch.Generator().manual_seed(0)), root / "noise.png")
    return root


def test_a_readme_without_markers_is_refused_before_any_work(one_image, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n")
    done = run_quality("--data", str(one_image), "--out", str(tmp_path / "q"), "--readme", str(readme))
    assert done.returncode != 0 and "quality-table:begin" in done.stderr
    assert not (tmp_path / "q").exists() and readme.read_text() == "# no markers here\n"


def test_an_unknown_model_is_named(one_image, tmp_path):
    done = run_quality("--data", str(one_image), "--out", str(tmp_path / "q"), "--models", "no-such-model")
    assert done.returncode != 0 and "no-such-model" in done.stderr
