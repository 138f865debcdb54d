"""Time-boxed training (``ota train --minutes``): the schedule, the deadline from process start, resume."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_config import tiny_toml

from models.time_budget import PROBE_STEPS, WARMUP_START, StagePlan, TimeBudget, process_age_s
from models.train import Trainer, TrainError
from models.train_config import TrainConfig
from ota.cli import main as ota_main

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIG = tiny_toml(80, 5, 15, optim={"final_lr_fraction": 0.1})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for index in range(4):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(root / f"img{index}.png")
    return root


def test_stage_plan_warms_up_then_ends_its_cosine_at_the_floor():
    plan = StagePlan(seconds=10.0, start=1.0, floor=0.1)
    assert plan.factor(0) == pytest.approx(WARMUP_START + (1 - WARMUP_START) / PROBE_STEPS)
    assert plan.factor(PROBE_STEPS - 1) == pytest.approx(1.0)
    for k in range(PROBE_STEPS):
        plan.record(k, 0.1, 0.1 * (k + 1))
    # 95 % of the 9.4 s left at 0.1 s a step: 89 more steps after the probe
    assert plan.steps == PROBE_STEPS + 89
    factors = [plan.factor(k) for k in range(plan.steps)]
    assert all(a >= b for a, b in zip(factors[PROBE_STEPS - 1:], factors[PROBE_STEPS:], strict=False))
    assert factors[-1] == pytest.approx(0.1)
    assert plan.done(plan.steps) and not plan.done(plan.steps - 1)


def test_a_resumed_stage_below_the_floor_keeps_its_rate():
    plan = StagePlan(seconds=5.0, start=0.05, floor=0.1)
    plan.fix(elapsed_s=1.0)
    assert plan.factor(PROBE_STEPS + 3) == plan.factor(plan.steps - 1) == 0.05


def test_the_budget_counts_from_the_start_of_the_process():
    age = process_age_s()
    assert 0 < age < time.monotonic()  # this process has run a while (imports, earlier tests)
    budget = TimeBudget(age + 100.0, reserve_s=0.0)
    assert budget.left_s() == pytest.approx(100.0, abs=1.0)
    with pytest.raises(ValueError, match="positive"):
        TimeBudget(0)
    with pytest.raises(ValueError, match="positive"):
        TimeBudget(math.inf)


def test_budgeted_stages_share_the_time_and_refuse_what_cannot_run(weights_dir, monkeypatch, data_dir, tmp_path):
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    config = TrainConfig.from_toml_text(CONFIG)
    trainer = Trainer(config, data_dir=data_dir, out_dir=tmp_path, progress=False)
    assert trainer.shares(("pretrain", "discriminator", "adversarial")) == [
        ("pretrain", 80), ("discriminator", 5), ("adversarial", 15)]
    with pytest.raises(TrainError, match="pretrain stage, which has not been trained"):
        trainer.shares(("adversarial",))
    summary = trainer.run(("pretrain",), budget=TimeBudget(process_age_s() + 4.0, reserve_s=0.5))
    assert trainer.steps["pretrain"] > PROBE_STEPS and "pretrain" in summary
    assert trainer.shares(("discriminator", "adversarial")) == [("discriminator", 5), ("adversarial", 15)]


def test_a_time_boxed_run_checkpoints_every_few_seconds_of_wall_time(weights_dir, monkeypatch, data_dir, tmp_path):
    """``--checkpoint-minutes``: checkpoints by wall time, whatever the step interval (here never reached)."""
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    config = TrainConfig.from_toml_text(tiny_toml(80, 5, 15, run={"checkpoint_interval": 100000}))
    trainer = Trainer(config, data_dir=data_dir, out_dir=tmp_path, progress=False)
    started = time.monotonic()
    trainer.run(("pretrain",), budget=TimeBudget(process_age_s() + 6.0, reserve_s=0.5), checkpoint_every_s=1.5)
    took = time.monotonic() - started
    periodic = sorted(tmp_path.glob("checkpoint_*.pt"))
    assert len(periodic) >= int(took / 1.5) - 1 >= 1  # one per 1.5 s of training (the last may fall at the end)
    assert (tmp_path / "last.pt").is_file()


def _ota_train(weights_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY), "JSCC_WEIGHTS_DIR": str(weights_dir)}
    return subprocess.run([sys.executable, "-m", "ota.cli", "train", *args, "--no-progress"], cwd=REPOSITORY,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_45_second_budget_ends_on_time_and_a_resume_continues_it(weights_dir, data_dir, tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    out = tmp_path / "run"
    started = time.monotonic()
    first = _ota_train(weights_dir, "--config", str(config), "--data", str(data_dir), "--out", str(out),
                       "--minutes", "0.75")
    took = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    assert took < 45 + 40
    report = json.loads((out / "run.json").read_text())
    assert report["budget_s"] == 45 and report["process_wall_s"] <= 45  # start-up counted in the budget
    assert set(report["stage_plans"]) == {"pretrain", "discriminator", "adversarial"}
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, report["total_steps"] + 1))
    pretrain = [r for r in rows if r["stage"] == "pretrain"]
    if len(pretrain) == report["stage_plans"]["pretrain"]["steps"]:
        assert float(pretrain[-1]["lr"]) == pytest.approx(1e-5, rel=0.05)  # its cosine ran to the floor
    else:  # a loaded machine slowed the steps past the plan: the run said so
        assert "share of the budget ran out" in first.stderr
    resumed = _ota_train(weights_dir, "--resume", str(out / "last.pt"), "--out", str(out), "--minutes", "0.25")
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads((out / "run.json").read_text())
    assert again["total_steps"] == report["total_steps"] + again["steps_this_run"]
    assert list(again["stage_plans"]) == ["adversarial"]  # the stage the checkpoint was in, at its rate:
    checkpoint_lr = float(rows[-1]["lr"])  # the floor, or short of it if a loaded machine cut the last stage
    assert again["stage_plans"]["adversarial"]["lr_start"] == pytest.approx(checkpoint_lr / 1e-4, rel=1e-3)
    with (out / "log.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, again["total_steps"] + 1))


@pytest.mark.parametrize(("extra", "named"), [
    (["--minutes", "0"], "--minutes must be a positive number"),
    (["--minutes", "-2"], "--minutes must be a positive number"),
    (["--minutes", "1", "--steps", "3"], "--steps or --minutes"),
    (["--minutes", "1", "--checkpoint-minutes", "0"], "--checkpoint-minutes must be a positive number"),
])
def test_bad_budgets_are_one_line_and_exit_status_2(data_dir, tmp_path, capsys, extra, named):
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    assert ota_main(["train", "--config", str(config), "--data", str(data_dir), "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1
    assert not (tmp_path / "last.pt").exists()
