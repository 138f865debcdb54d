"""The β ablation benchmark: its settings, the configuration of each, and the refusal of Kodak."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from models.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
# loaded by path: putting benchmarks/ on sys.path would let benchmarks/phy.py shadow the phy package
_spec = importlib.util.spec_from_file_location("beta_ablation", ROOT / "benchmarks" / "beta_ablation.py")
beta_ablation = sys.modules["beta_ablation"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(beta_ablation)
AblationError, Setting, parse_args = beta_ablation.AblationError, beta_ablation.Setting, beta_ablation.parse_args
parse_settings, setting_config = beta_ablation.parse_settings, beta_ablation.setting_config
paired_differences, markdown_table = beta_ablation.paired_differences, beta_ablation.markdown_table

BASE = TrainConfig.from_toml(ROOT / "models" / "configs" / "generative-cbr48-cpu.toml")
DONE = {"latent": 1200, "pretrain": 1500, "discriminator": 50, "adversarial": 0}


def test_default_grid_spans_beta_g_with_zero_and_one_setting_without_lpips() -> None:
    settings = parse_settings(None, base_beta_p=0.2)
    assert [s.beta_g for s in settings if s.beta_p == 0.2] == [0.0, 3e-4, 1e-3, 3e-3, 1e-2]
    assert [(s.beta_g, s.beta_p) for s in settings if s.beta_p == 0] == [(1e-3, 0.0)]
    assert parse_settings("a:0.01:0.5", 0.2) == [Setting("a", 0.01, 0.5)]


@pytest.mark.parametrize(("spec", "message"), [("a:x:0.2", "name:beta_g:beta_p"), ("a:1e-3", "name:beta_g:beta_p"),
                                               ("a:-1:0.2", ">= 0"), ("a:0:0.2,a:1e-3:0.2", "names must differ")])
def test_bad_settings_are_refused(spec: str, message: str) -> None:
    with pytest.raises(AblationError, match=message):
        parse_settings(spec, 0.2)


def test_every_setting_trains_the_same_generator_steps_at_one_constant_rate() -> None:
    adversarial, trains = setting_config(BASE, DONE, Setting("g", 1e-3, 0.2), 200, 3e-5)
    assert trains == ("discriminator", "adversarial")
    assert adversarial.stages.pretrain == 1500 and adversarial.stages.adversarial == 200
    baseline, trains = setting_config(BASE, DONE, Setting("g0", 0.0, 0.2), 200, 3e-5)
    assert trains == ("pretrain",)
    assert baseline.stages.pretrain == 1700 and baseline.stages.adversarial == 0 and not baseline.uses_discriminator
    for config in (adversarial, baseline):
        assert config.optim.lr == 3e-5 and config.optim.final_lr_fraction == 1.0
        assert config.loss.beta_m == BASE.loss.beta_m
    no_lpips, _ = setting_config(BASE, DONE, Setting("p0", 1e-3, 0.0), 200, 3e-5)
    assert not no_lpips.uses_lpips


def test_kodak_is_refused_as_the_scoring_set() -> None:
    with pytest.raises(AblationError, match="Kodak is the test set"):
        parse_args(["--base", "x.pt", "--data", "d", "--eval-data", "../shared/datasets/kodak"])


def test_paired_differences_cancel_the_spread_between_images() -> None:
    rng = np.random.default_rng(0)
    reference = rng.uniform(15, 30, 100)  # images differ by far more than the settings do
    shifted = reference + 0.1 + rng.normal(0, 0.02, 100)

    def scores(values: np.ndarray) -> dict:
        per_image = {key: list(values) for key in ("psnr_db", "ms_ssim", "lpips")}
        return {"10": {"mean": {key: float(values.mean()) for key in per_image}, "per_image": per_image}}

    difference = paired_differences(scores(shifted), scores(reference))["10"]["psnr_db"]
    assert difference["n"] == 100
    assert abs(difference["mean"] - 0.1) < 0.01
    assert difference["ci95"] < 0.01  # unpaired, the interval would be about 1.7 dB wide
    with pytest.raises(ValueError):  # scored on different images: refused, not silently truncated
        paired_differences(scores(shifted[:99]), scores(reference))


def test_the_table_shows_each_setting_against_the_reference_with_its_interval() -> None:
    def entry(name: str, beta_g: float, beta_p: float, psnr: float, lpips: float) -> dict:
        scores = {snr: {"mean": {"psnr_db": psnr + shift, "ms_ssim": 0.7, "lpips": lpips - shift / 100}}
                  for snr, shift in (("1", -1.0), ("10", 0.0), ("13", 0.5))}
        delta = {"psnr_db": {"mean": psnr - 20.0, "ci95": 0.05}, "lpips": {"mean": lpips - 0.2, "ci95": 0.003}}
        return {"name": name, "beta_g": beta_g, "beta_p": beta_p, "scores": scores,
                "minus_reference": {snr: delta for snr in scores}}

    record = {"snrs_db": [1.0, 10.0, 13.0], "reference": "g0", "eval_set": {"n_images": 100},
              "settings": [entry("g0", 0.0, 0.2, 20.0, 0.2), entry("p0", 1e-3, 0.0, 20.6, 0.6)]}
    lines = markdown_table(record).splitlines()
    assert lines[2] == "| setting | 10 dB PSNR | MS-SSIM | LPIPS | Δ PSNR (dB) | Δ LPIPS | 1 dB LPIPS | 13 dB LPIPS |"
    assert lines[4] == "| β_g = 0, β_p = 0.2 | 20.00 | 0.700 | 0.200 | reference | reference | 0.210 | 0.195 |"
    assert lines[5] == ("| β_g = 0.001, β_p = 0 | 20.60 | 0.700 | 0.600 | +0.60 ± 0.05 | +0.4000 ± 0.0030 | 0.610 "
                        "| 0.595 |")
