"""GenerativeJSCC: TAEF2 loaded by its keys, heads around it on the symbol contract, the latent stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from models.channel import TrainingChannel
from models.checkpoint import export_weights, load_checkpoint
from models.data import ImageFolderCrops
from models.image_io import load_image
from models.jscc import DeepJSCC, ModelConfig, ModelConfigError
from models.latent_stage import LatentCacheError, latent_batch, latent_forward, load_or_build_cache
from models.metrics import psnr
from models.pretrained_weights import WeightsFileError
from models.symbols import n_symbols
from models.taef2 import load_taef2, taef2_decoder, taef2_encoder
from models.train import Trainer
from models.train_config import ConfigError, TrainConfig

SMALL = ModelConfig(architecture="generative", width=16, n_res_blocks=1)


def small_model(seed: int = 0, channels: int = 32) -> DeepJSCC:
    torch.manual_seed(seed)
    return DeepJSCC(ModelConfig(architecture="generative", channels=channels, width=16, n_res_blocks=1)).eval()


def test_taef2_round_trip_matches_its_readme(weights_dir: Path, kodak_dir: Path) -> None:
    """The architecture written from the README reproduces its round trip (30.2 dB mean over Kodak;
    kodim23 and kodim03 are easy images, kodim01 a hard one); wrong wiring gives far less."""
    encoder, decoder = load_taef2(taef2_encoder(), "encoder").eval(), load_taef2(taef2_decoder(), "decoder").eval()
    scores = {}
    for name in ("kodim01", "kodim23"):
        x = load_image(kodak_dir / f"{name}.png")[None]
        with torch.no_grad():
            scores[name] = float(psnr(decoder(encoder(x)).clamp(0, 1), x))
    assert 26.0 < scores["kodim01"] < 29.0
    assert scores["kodim23"] > 32.0


def test_taef2_refuses_a_file_of_the_wrong_network(tmp_path: Path, weights_dir: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save(taef2_decoder().state_dict(), wrong)
    with pytest.raises(WeightsFileError, match="not the TAEF2 encoder"):
        load_taef2(taef2_encoder(), "encoder", wrong)
    with pytest.raises(WeightsFileError, match="not found"):
        load_taef2(taef2_encoder(), "encoder", tmp_path / "missing.pth")


@pytest.mark.parametrize("channels", [32, 64])
def test_symbol_contract_at_exact_cbr(channels: int) -> None:
    model = small_model(channels=channels)
    x = torch.rand(2, 3, 72, 100)
    with torch.no_grad():
        s = model.encode(x, 10.0)
        k = n_symbols(72, 100, channels / 1536)
        assert s.shape == (2, k) and s.dtype == torch.complex64
        assert torch.allclose(s.abs().square().mean(dim=1), torch.ones(2), atol=1e-5)
        out = model.decode(s, size=(72, 100), snr_db=10.0)
    assert out.shape == (2, 3, 72, 100) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_both_heads_depend_on_the_snr_and_the_generator_on_erasures() -> None:
    model = small_model()
    for module in model.modules():  # move the SNR attentions off their neutral start
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.5)
    for block in model.generator.head.modules():
        if isinstance(block, torch.nn.Conv2d):
            torch.nn.init.normal_(block.weight, std=0.05)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(model.encode(x, 1.0), model.encode(x, 13.0), atol=1e-4)
        s = model.encode(x, 10.0)
        low = model.decode(s, size=(64, 64), snr_db=1.0)
        high = model.decode(s, size=(64, 64), snr_db=13.0)
        erased = torch.zeros(s.shape, dtype=torch.bool)
        erased[:, : s.shape[1] // 2] = True
        lost = model.decode(s, size=(64, 64), snr_db=10.0, erased=erased)
        garbage = model.decode(torch.where(erased, torch.full_like(s, 5 + 5j), s), size=(64, 64), snr_db=10.0,
                               erased=erased)
    assert (low - high).abs().max() > 1e-4
    assert (lost - model.decode(s, size=(64, 64), snr_db=10.0)).abs().max() > 1e-4
    assert torch.equal(lost, garbage)  # erased symbols are ignored, whatever they hold


def test_load_pretrained_fills_analysis_and_synthesis(weights_dir: Path) -> None:
    model = small_model()
    model.load_pretrained()
    reference = torch.load(weights_dir / "taef2" / "taef2_decoder.pth", weights_only=True)
    assert torch.equal(model.generator.synthesis.state_dict()["19.weight"], reference["19.weight"])
    with pytest.raises(ModelConfigError, match="pretrained"):
        DeepJSCC(ModelConfig(width=16, n_res_blocks=1)).load_pretrained()


def test_config_rules_for_the_generative_architecture() -> None:
    with pytest.raises(ModelConfigError, match="architecture"):
        ModelConfig(architecture="vae")
    with pytest.raises(ConfigError, match="klt_init_crops"):
        TrainConfig.from_dict({"model": {"architecture": "generative"}})
    with pytest.raises(ConfigError, match="latent stage"):
        TrainConfig.from_dict({"stages": {"latent": 5}})
    assert ModelConfig.from_dict(SMALL.to_dict()) == SMALL
    assert ModelConfig.from_dict({}).architecture == "cnn"  # checkpoints written before the field


def _photos(folder: Path, count: int, size: tuple[int, int] = (96, 80)) -> None:
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(count)
    for index in range(count):
        pixels = (torch.rand(size[1], size[0], 3, generator=generator) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"{index}.png")


TINY = """
[model]
architecture = "generative"
width = 16
n_res_blocks = 1
disc_width = 8
[data]
crop = 64
batch_size = 2
workers = 0
latent_crops = 4
latent_crop = 64
latent_batch_size = 2
[optim]
klt_init_crops = 0
frozen = ["encoder.analysis"]
[loss]
beta_m = 5e-5
beta_p = 0.0
beta_g = 0.0
[stages]
latent = 3
pretrain = 2
discriminator = 0
adversarial = 0
[run]
name = "tiny-generative"
threads = 1
checkpoint_interval = 100
"""


def test_training_keeps_the_frozen_encoder_and_ships_in_fp16(tmp_path: Path, weights_dir: Path) -> None:
    _photos(tmp_path / "data" / "train", 3)
    _photos(tmp_path / "data" / "bsds500" / "val", 2)
    config = TrainConfig.from_toml_text(TINY)
    trainer = Trainer(config, data_dir=tmp_path / "data", out_dir=tmp_path / "run", progress=False)
    assert len(trainer.dataset) == 3  # the validation split is never trained on
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.run()
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith("encoder.analysis") for k in changed)
    assert any(k.startswith("encoder.head") for k in changed)
    assert any(k.startswith("generator.synthesis") for k in changed)  # fine-tuned in the pretrain stage
    assert (tmp_path / "run" / "latents.pt").is_file()

    shipped = export_weights(tmp_path / "run" / "last.pt", tmp_path / "shipped.pt", inference=True)
    raw = torch.load(shipped, weights_only=True)
    assert {v.dtype for v in raw["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert "discriminator" not in raw and "optimizer_g" not in raw
    model, card, _ = load_checkpoint(shipped)
    assert next(model.parameters()).dtype == torch.float32
    assert "float16" in card.training["stored_as"]
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        half = model.eval().decode(model.encode(x, 10.0), size=(64, 64), snr_db=10.0)
        full = trainer.model.eval().decode(trainer.model.encode(x, 10.0), size=(64, 64), snr_db=10.0)
    assert (half - full).abs().max() < 0.02


def test_latent_cache_is_reused_and_refused_when_it_differs(tmp_path: Path, weights_dir: Path) -> None:
    _photos(tmp_path / "data", 3)
    crops = ImageFolderCrops(tmp_path / "data", 64)
    analysis = load_taef2(taef2_encoder(), "encoder")
    first = load_or_build_cache(tmp_path / "z.pt", crops, analysis, 4, 7, torch.device("cpu"))
    assert first.shape == (4, 32, 8, 8) and first.dtype == torch.float16
    torch.nn.init.zeros_(analysis[14].weight)  # a cached file is read back, not recomputed
    assert torch.equal(load_or_build_cache(tmp_path / "z.pt", crops, analysis, 4, 7, torch.device("cpu")), first)
    with pytest.raises(LatentCacheError, match="n_crops"):
        load_or_build_cache(tmp_path / "z.pt", crops, analysis, 5, 7, torch.device("cpu"))
    assert torch.equal(latent_batch(first, 3, 1, 10), latent_batch(first, 3, 1, 10))
    assert not torch.equal(latent_batch(first, 3, 1, 10), latent_batch(first, 3, 1, 11))


def test_latent_forward_trains_the_heads_towards_the_latent() -> None:
    model = small_model().train()
    z = torch.randn(4, 32, 8, 8, generator=torch.Generator().manual_seed(0))
    heads = [*model.encoder.head.parameters(), *model.generator.head.parameters()]
    optimizer = torch.optim.Adam(heads, lr=3e-3)
    channel = TrainingChannel()
    snr = torch.full((4,), 20.0)
    losses = []
    for step in range(60):
        out = latent_forward(model, z, snr, channel, torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        out["mse"].backward()
        optimizer.step()
        losses.append(float(out["mse"].detach()))
    assert out["z_hat"].shape == z.shape
    assert losses[-1] < 0.5 * losses[0]


def test_header_ids_of_the_registered_models_are_stable() -> None:
    """A capture names its model by header id: ids are unique, every model has one, and the four models
    of earlier releases keep the ids they had (their sorted order)."""
    from models.registry import MODEL_IDS, MODELS
    from ota.link import CUSTOM_MODEL_ID, model_id, model_name

    assert set(MODEL_IDS) == set(MODELS) and len(set(MODEL_IDS.values())) == len(MODEL_IDS)
    assert CUSTOM_MODEL_ID not in MODEL_IDS.values()
    earlier = ["mse-cbr24", "mse-cbr48", "perceptual-cbr24", "perceptual-cbr48"]
    assert [model_id(name) for name in earlier] == [1, 2, 3, 4]
    assert all(model_name(model_id(name)) == name for name in MODELS)
    assert model_id("runs/x/last.pt") == CUSTOM_MODEL_ID and model_name(200) is None


@pytest.mark.parametrize("architecture", ["cnn", "generative"])
def test_encoding_from_precomputed_analysis_gives_the_same_symbols(architecture: str) -> None:
    torch.manual_seed(0)
    model = DeepJSCC(ModelConfig(architecture=architecture, width=16, n_res_blocks=1)).eval()
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        features = model.analyse(x)
        for snr in (1.0, 13.0):
            assert torch.equal(model.encode(x, snr, features=features), model.encode(x, snr))
