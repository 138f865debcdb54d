"""The three-stage trainer, its configuration, checkpoints/resume and ``ota train``, on a tiny model."""

from __future__ import annotations

import csv
import dataclasses
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_config import tiny_toml

from models.checkpoint import export_weights, read_checkpoint
from models.data import file_list_sha256
from models.ensemble_lpips import EnsembleLPIPS
from models.image_io import list_images
from models.registry import load_model
from models.train import Trainer, TrainError
from models.train_config import ConfigError, StagesConfig, TrainConfig, example_configs
from models.trainer_checkpoint import config_of_checkpoint
from ota.cli import main as ota_main

TINY = tiny_toml()
MSE = tiny_toml(2, 0, 0, loss={"beta_p": 0.0, "beta_g": 0.0})


def tiny(text=TINY, **stages):
    config = TrainConfig.from_toml_text(text)
    if stages:
        config = config.replace(stages=dataclasses.replace(config.stages, **stages))
    return config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for index, (height, width) in enumerate([(48, 64), (40, 40), (64, 48), (28, 36)]):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / f"img{index}.{'png' if index % 2 else 'jpg'}")
    return root


@pytest.fixture
def lpips_env(weights_dir, monkeypatch):
    monkeypatch.setenv("JSCC_WEIGHTS_DIR", str(weights_dir))
    return weights_dir


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    """Names of the state entries that differ from ``before``."""
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def batch(seed=0):
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


# ---- configuration -------------------------------------------------------------------------------


def test_config_round_trips_through_toml():
    config = tiny()
    assert TrainConfig.from_toml_text(config.to_toml()) == config
    assert config.optim.lr == 1e-4 and config.data.batch_size == 2 and config.channel.snr_choices == (1, 4, 7, 10, 13)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[data]\ncrops = 64\n", "crops"),
        ("[dataset]\ncrop = 64\n", "dataset"),
        ("[model]\nwidht = 8\n", "widht"),
        ("[data]\nbatch_size = 'twelve'\n", "data.batch_size"),
        ("[data]\ncrop = 50\n", "multiple of 16"),
        ("[optim]\nbetas = [0.9]\n", "optim.betas"),
        ("[run]\nprecision = 'fp8'\n", "run.precision"),
        ("[channel]\nframe_erasure_prob = 1.5\n", "frame_erasure_prob"),
        ("[loss]\nbeta_g = 0.0\n", "beta_g = 0"),
        ("[data]\ncrop = 160\n[loss]\nbeta_s = 0.2\n", "beta_s = 0.2 .*data.crop = 160"),
        ("[data]\ncrop = 32\n[loss]\nbeta_grid = 0.1\n", "beta_grid = 0.1 .*data.crop is 32"),
        ("[loss]\nbeta_grid = -0.1\n", "loss.beta_grid"),
        ("[data]\ncrop = 16\n[optim]\nklt_init_crops = 0\n[loss]\nbeta_streak = 0.1\n",
         "beta_streak = 0.1 .*crop is 16"),
        ("[loss]\nbeta_streak = nan\n", "loss.beta_streak"),
        ("[data]\ncrop = 16\n[optim]\nklt_init_crops = 0\n[loss]\nbeta_hatch = 0.1\n",
         "beta_hatch = 0.1 .*crop is 16"),
        ("[loss]\nbeta_hatch = -1\n", "loss.beta_hatch"),
        ("[loss]\nbeta_m = 1.0\nbeta_p = 0.0\nlpips_ensemble = true\n", "lpips_ensemble = true .*beta_p is 0"),
        ("[model]\nchannels = 33\n", "channels"),
        ("[run\n", "not valid TOML"),
    ],
)
def test_bad_configs_are_refused_with_the_culprit_named(text, named):
    with pytest.raises(ConfigError, match=named):
        TrainConfig.from_toml_text(text, source="bad.toml")


def test_example_configs_are_valid_and_have_their_cbr():
    examples = example_configs()
    assert set(examples) >= {"perceptual-cbr48", "mse-cbr48", "perceptual-cbr24", "mse-cbr24"}
    for name, path in examples.items():
        config = TrainConfig.from_toml(path)
        # a recipe for a machine (-cpu or -gpu, or a variant of it: -cpu-<x>) makes the model of that name
        assert config.run.name == re.sub(r"-[cg]pu(-[a-z0-9]+)?$", "", name)
        assert round(1 / config.model.cbr) == int(re.search(r"cbr(\d+)", name).group(1))
        perceptual = name.startswith(("perceptual", "generative"))
        assert config.uses_lpips == config.uses_discriminator == perceptual
        assert (config.model.architecture == "generative") == name.startswith("generative")
        assert (config.stages.adversarial > 0) == perceptual
        if not re.search(r"-[cg]pu", name):  # the paper-size recipes; *-cpu* are reduced for a 2-core CPU
            assert config.data.crop == 256 and config.data.batch_size == 12 and config.optim.lr == 1e-4


# ---- one step of each stage changes the right parameters ----------------------------------------


def test_each_stage_updates_exactly_its_networks(lpips_env):
    trainer = Trainer(tiny(), progress=False)
    model, disc = trainer.model, trainer.discriminator

    encoder = {k for k in state(model) if k.startswith("encoder.")}
    outer = ("generator.head", "generator.tail", "generator.stages")
    outer_generator = {k for k in state(model) if k.startswith(outer)}

    def trained(names):  # the encoder and the generator (its residual branches may start at zero gradient)
        return encoder | outer_generator <= names and names <= set(before_m)

    before_m, before_d = state(model), state(disc)
    logs = trainer.train_step("pretrain", batch(1))
    assert trained(changed(before_m, model)), "pretrain must update the encoder and the generator"
    assert not changed(before_d, disc), "pretrain must not touch the discriminator"
    assert set(logs) == {"g_loss", "mse", "lpips", "snr_db", "psnr_db", "lr"}

    before_m, before_d = state(model), state(disc)
    logs = trainer.train_step("discriminator", batch(2))
    assert not changed(before_m, model), "frozen means frozen: encoder and generator bit-identical"
    assert {k for k in changed(before_d, disc) if k.endswith("original")} == {
        k for k in before_d if k.endswith("original")
    }
    assert set(logs) == {"d_loss", "d_real", "d_fake", "snr_db", "psnr_db", "lr"}

    before_m, before_d = state(model), state(disc)
    logs = trainer.train_step("adversarial", batch(3))
    assert trained(changed(before_m, model))
    assert any(k.endswith("original") for k in changed(before_d, disc))
    assert set(logs) == {"g_loss", "mse", "lpips", "adv", "d_loss", "d_real", "d_fake", "snr_db", "psnr_db", "lr"}
    assert 0 < logs["lpips"] < 1.5 and logs["adv"] > 0
    assert logs["g_loss"] == pytest.approx(1e-5 * logs["mse"] + logs["lpips"] + 1e-3 * logs["adv"], rel=1e-5)


def test_lpips_loss_uses_the_local_alexnet_file(lpips_env):
    trainer = Trainer(tiny(), progress=False)
    assert "alexnet_features.pth" in trainer.lpips_source
    x = batch(4)
    lpips = trainer.pretrain_loss.lpips
    assert float(lpips(x, x).max()) < 1e-6 and float(lpips(x, batch(5)).min()) > 0.05


def test_lpips_ensemble_measures_the_lpips_term_through_random_transformations(lpips_env):
    trainer = Trainer(tiny(tiny_toml(loss={"lpips_ensemble": True})), progress=False)
    assert isinstance(trainer.pretrain_loss.lpips, EnsembleLPIPS)
    assert trainer.adversarial_loss.lpips is trainer.pretrain_loss.lpips
    assert trainer.lpips_source.startswith("E-LPIPS") and "alexnet_features.pth" in trainer.lpips_source
    assert not isinstance(Trainer(tiny(), progress=False).pretrain_loss.lpips, EnsembleLPIPS)


def test_mse_baseline_needs_no_lpips_and_no_discriminator(monkeypatch, data_dir, tmp_path):
    monkeypatch.delenv("JSCC_WEIGHTS_DIR", raising=False)
    trainer = Trainer(tiny(MSE), data_dir=data_dir, out_dir=tmp_path, progress=False)
    assert trainer.discriminator is None and trainer.pretrain_loss.lpips is None
    assert set(trainer.train_step("pretrain", batch())) == {"g_loss", "mse", "snr_db", "psnr_db", "lr"}
    with pytest.raises(TrainError, match="discriminator"):
        trainer.train_step("adversarial", batch())


# ---- reproducibility and resume -----------------------------------------------------------------


def test_seeded_runs_repeat_exactly_and_seeds_matter(data_dir, tmp_path):
    def run(seed, name):
        config = tiny(MSE, pretrain=3)
        config = config.replace(run=dataclasses.replace(config.run, seed=seed))
        trainer = Trainer(config, data_dir=data_dir, out_dir=tmp_path / name, progress=False)
        trainer.run()
        return state(trainer.model)

    first, second, other = run(0, "a"), run(0, "b"), run(1, "c")
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_resume_continues_bit_exactly_across_stages(lpips_env, data_dir, tmp_path):
    straight = Trainer(tiny(pretrain=2, discriminator=2, adversarial=2), data_dir=data_dir,
                       out_dir=tmp_path / "straight", progress=False)
    straight.run()

    first = Trainer(tiny(pretrain=2, discriminator=1, adversarial=0), data_dir=data_dir,
                    out_dir=tmp_path / "split", progress=False)
    first.run()
    checkpoint = tmp_path / "split" / "last.pt"
    resumed = Trainer(tiny(pretrain=2, discriminator=2, adversarial=2), data_dir=data_dir,
                      out_dir=tmp_path / "split", progress=False)
    resumed.load(checkpoint)
    assert resumed.steps == {"latent": 0, "pretrain": 2, "discriminator": 1, "adversarial": 0}
    resumed.run()

    for a, b in ((straight.model, resumed.model), (straight.discriminator, resumed.discriminator)):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    for a, b in ((straight.optimizer_g, resumed.optimizer_g), (straight.optimizer_d, resumed.optimizer_d)):
        for pa, pb in zip(a.state_dict()["state"].values(), b.state_dict()["state"].values(), strict=True):
            assert all(torch.equal(pa[k], pb[k]) for k in pa)
    with (tmp_path / "split" / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (tmp_path / "straight" / "log.csv").open() as f:
        reference = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["g_loss"] for r in rows] == [r["g_loss"] for r in reference]
    assert [r["stage"] for r in rows] == ["pretrain"] * 2 + ["discriminator"] * 2 + ["adversarial"] * 2


def test_checkpoint_holds_card_config_and_trainer_state(data_dir, tmp_path):
    config = tiny(MSE, pretrain=3).replace(run=dataclasses.replace(tiny(MSE).run, checkpoint_interval=2))
    trainer = Trainer(config, data_dir=data_dir, out_dir=tmp_path, progress=False)
    trainer.run()
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_0000002.pt", "last.pt"]
    raw = read_checkpoint(tmp_path / "last.pt")
    card = raw["card"]["training"]
    assert raw["config_toml"] == config.to_toml() == card["config_toml"]
    assert TrainConfig.from_toml(tmp_path / "config.toml") == config_of_checkpoint(tmp_path / "last.pt") == config
    assert card["file_list_sha256"] == file_list_sha256(list_images(data_dir), data_dir)
    assert card["n_images"] == 4 and card["steps"]["pretrain"] == 3 and card["images_seen"] == 6
    assert set(card["losses"]["pretrain"]) == {"g_loss", "mse", "snr_db", "psnr_db"}
    assert raw["trainer"]["steps"] == {"latent": 0, "pretrain": 3, "discriminator": 0, "adversarial": 0}
    model, loaded_card = load_model(tmp_path / "last.pt")
    assert loaded_card.name == "tiny" and not model.training

    shipped = export_weights(tmp_path / "last.pt", tmp_path / "shipped.pt", name="tiny-shipped", notes="test export")
    stripped = read_checkpoint(shipped)
    assert "optimizer_g" not in stripped and stripped["card"]["notes"] == "test export"
    assert stripped["card"]["name"] == "tiny-shipped"
    assert shipped.stat().st_size < (tmp_path / "last.pt").stat().st_size
    resumed = Trainer(config, data_dir=data_dir, out_dir=tmp_path / "again", progress=False)
    resumed.load(shipped)
    assert resumed.steps["pretrain"] == 3 and not resumed.optimizer_g.state


def test_stages_run_in_order(data_dir, tmp_path):
    trainer = Trainer(tiny(tiny_toml(loss={"beta_p": 0.0})), data_dir=data_dir, out_dir=tmp_path, progress=False)
    with pytest.raises(TrainError, match="follows the pretrain stage"):
        trainer.run(["adversarial"])
    assert trainer.remaining() == [("pretrain", 2), ("discriminator", 1), ("adversarial", 2)]
    trainer.config = trainer.config.replace(stages=StagesConfig(pretrain=0, discriminator=1, adversarial=0))
    assert trainer.remaining(["discriminator"]) == [("discriminator", 1)]


# ---- ota train ----------------------------------------------------------------------------------


def test_ota_train_writes_its_files_and_resumes(data_dir, tmp_path, capsys):
    config = tmp_path / "mse.toml"
    config.write_text(MSE)
    out = tmp_path / "run"
    args = ["train", "--config", str(config), "--data", str(data_dir), "--out", str(out), "--no-progress"]
    assert ota_main([*args, "--steps", "1"]) == 0
    assert {p.name for p in out.iterdir()} == {"config.toml", "log.csv", "last.pt", "run.json"}
    assert "pretrain 1" in capsys.readouterr().out
    resume = ["train", "--resume", str(out / "last.pt"), "--out", str(out), "--no-progress"]
    assert ota_main(resume) == 0  # the echoed configuration (with --steps 1): nothing left to do
    assert "nothing to train" in capsys.readouterr().out
    assert ota_main([*resume, "--steps", "2"]) == 0
    assert read_checkpoint(out / "last.pt")["trainer"]["steps"]["pretrain"] == 2
    with (out / "log.csv").open() as f:
        assert [row["step"] for row in csv.DictReader(f)] == ["1", "2"]
    log = (out / "log.csv").read_bytes()
    elsewhere = tmp_path / "elsewhere.pt"
    shutil.copy(out / "last.pt", elsewhere)
    for start in ([*args, "--steps", "1"], ["train", "--resume", str(elsewhere), "--out", str(out), "--no-progress"]):
        assert ota_main(start) == 2  # another run into a folder that holds one: refused, nothing overwritten
        assert f"{out} already holds a training run (log.csv, last.pt)" in capsys.readouterr().err
        assert (out / "log.csv").read_bytes() == log


def test_ota_train_reports_bad_input_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\ncrops = 64\n")
    assert ota_main(["train", "--config", str(bad), "--data", str(tmp_path)]) == 2
    assert "crops" in capsys.readouterr().err
    assert ota_main(["train"]) == 2
    assert "--config" in capsys.readouterr().err
    assert ota_main(["train", "--config", "no-such-config", "--data", str(tmp_path)]) == 2
    assert "perceptual-cbr48" in capsys.readouterr().err


def test_mixed_precision_is_cuda_only():
    config = tiny(MSE)
    config = config.replace(run=dataclasses.replace(config.run, precision="bf16"))
    with pytest.warns(UserWarning, match="fp32"):
        trainer = Trainer(config, progress=False)
    assert trainer.amp_dtype is None and trainer.card().training["precision"] == "fp32"


@pytest.mark.slow
def test_channels_last_and_compile_train_the_same_model():
    config = tiny(MSE)
    losses = {}
    for flags in ("eager", "channels_last", "compile"):
        run = dataclasses.replace(config.run, **({flags: True} if flags != "eager" else {}))
        trainer = Trainer(config.replace(run=run), progress=False)
        assert (trainer.model.encoder._compiled_call_impl is not None) == (flags == "compile")
        losses[flags] = [trainer.train_step("pretrain", batch(seed))["g_loss"] for seed in range(2)]
    assert losses["channels_last"] == pytest.approx(losses["eager"], rel=1e-4)
    assert losses["compile"] == pytest.approx(losses["eager"], rel=1e-4)
