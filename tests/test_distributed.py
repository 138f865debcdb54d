"""``ota train`` under torchrun: two CPU processes on the gloo backend train one model in sync."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image
from tiny_config import tiny_toml

from models.checkpoint import read_checkpoint

CONFIG = tiny_toml(loss={"beta_p": 0.0, "beta_g": 1e-3}, run={"name": "ddp", "checkpoint_interval": 3})
# beta_p 0: no LPIPS weights needed; the discriminator and both optimizers still run under DDP


def test_two_ranks_train_in_sync(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(data / f"{index}.png")
    (tmp_path / "ddp.toml").write_text(CONFIG)
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "ota.cli", "train", "--config", str(tmp_path / "ddp.toml"), "--data", str(data),
        "--out", str(out), "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    digests = dict(re.findall(r"rank (\d)/2: 5 steps, parameter digest ([0-9a-f]{32})", result.stdout))
    assert set(digests) == {"0", "1"}, result.stdout  # both ranks ran all 5 steps
    assert digests["0"] == digests["1"]  # and ended with bit-identical model and discriminator

    raw = read_checkpoint(out / "last.pt")
    card = raw["card"]["training"]
    assert card["world_size"] == 2 and card["images_seen"] == 5 * 2 * 2
    assert raw["trainer"]["steps"] == {"latent": 0, "pretrain": 2, "discriminator": 1, "adversarial": 2}
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint_0000003.pt", "config.toml", "last.pt", "log.csv", "run.json"]
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 5  # rank 0 alone writes the log
