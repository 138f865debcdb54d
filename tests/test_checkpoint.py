"""Checkpoints (round trip, refusal of bad files) and the model registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models import registry
from models.checkpoint import (
    FORMAT,
    CheckpointError,
    ModelCard,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    weights_sha256,
)
from models.discriminator import Discriminator
from models.jscc import DeepJSCC, ModelConfig
from models.registry import DEFAULT_MODEL, MODELS, ModelNotFoundError, available_models, load_model, resolve_model

CONFIG = ModelConfig(width=16, n_res_blocks=1)


def small_model(config: ModelConfig = CONFIG) -> DeepJSCC:
    torch.manual_seed(0)
    return DeepJSCC(config).eval()


def card_for(model: DeepJSCC) -> ModelCard:
    training = {"data": "unit test", "n_images": 3, "steps": {"mse": 10, "perceptual": 0}, "config_toml": "[x]\n"}
    return ModelCard.for_model("test-cbr48", model, training=training, metrics={"kodak": {"psnr": 20.5}}, notes="n")


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, DeepJSCC]:
    model = small_model()
    discriminator = Discriminator(CONFIG.channels, CONFIG.disc_width)
    extra = {"discriminator": discriminator.state_dict(), "step": 42}
    return save_checkpoint(tmp_path / "run" / "model.pt", model, card_for(model), extra=extra), model


def test_round_trip_gives_identical_outputs(saved: tuple[Path, DeepJSCC]) -> None:
    path, model = saved
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"], "no temporary file left behind"
    loaded, card, raw = load_checkpoint(path)
    assert card == card_for(model)
    assert loaded.config == CONFIG and raw["step"] == 42 and raw["format"] == FORMAT
    Discriminator(CONFIG.channels, CONFIG.disc_width).load_state_dict(raw["discriminator"])
    x = torch.rand(1, 3, 40, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        s = model.encode(x, 4.0)
        assert torch.equal(loaded.eval().encode(x, 4.0), s)
        assert torch.equal(loaded.decode(s, size=(40, 24), snr_db=4.0), model.decode(s, size=(40, 24), snr_db=4.0))


def test_missing_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)


def test_wrong_format_and_not_a_checkpoint(tmp_path: Path, saved: tuple[Path, DeepJSCC]) -> None:
    path, _ = saved
    raw = read_checkpoint(path)
    raw["format"] = "something-else-v9"
    torch.save(raw, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="something-else-v9"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="no 'format'"):
        load_checkpoint(tmp_path / "plain.pt")


def test_card_that_does_not_match_the_weights(tmp_path: Path, saved: tuple[Path, DeepJSCC]) -> None:
    path, _ = saved
    raw = read_checkpoint(path)
    raw["card"]["architecture"]["config"]["channels"] = 64
    raw["card"]["cbr"] = 1 / 24
    torch.save(raw, tmp_path / "lying.pt")
    with pytest.raises(CheckpointError, match="do not fit the architecture.*channels=64"):
        load_checkpoint(tmp_path / "lying.pt")
    raw["card"]["architecture"]["config"] = {"channels": 32, "depth": 3}
    torch.save(raw, tmp_path / "unknown_key.pt")
    with pytest.raises(CheckpointError, match="invalid architecture config"):
        load_checkpoint(tmp_path / "unknown_key.pt")


def test_save_refuses_inconsistent_card_and_reserved_keys(tmp_path: Path) -> None:
    model = small_model()
    other = card_for(small_model(ModelConfig(channels=64, width=16, n_res_blocks=1)))
    with pytest.raises(CheckpointError, match="does not describe"):
        save_checkpoint(tmp_path / "a.pt", model, other)
    with pytest.raises(CheckpointError, match="state_dict"):
        save_checkpoint(tmp_path / "a.pt", model, card_for(model), extra={"state_dict": {}})
    assert not list(tmp_path.iterdir()), "nothing written when refused"


def test_registry_names_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_MODEL in MODELS
    assert set(MODELS) == {"perceptual-cbr48", "mse-cbr48", "perceptual-cbr24", "mse-cbr24", "generative-cbr48",
                           "generative-cbr24"}
    with pytest.raises(ModelNotFoundError, match="registered names are.*perceptual-cbr48.*path"):
        resolve_model("no-such-model")
    with pytest.raises(ModelNotFoundError, match="no such checkpoint"):
        resolve_model(tmp_path / "absent.pt")
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelNotFoundError, match="not shipped yet"):
        resolve_model("mse-cbr24")
    assert available_models() == {}
    model = small_model()
    save_checkpoint(tmp_path / MODELS["mse-cbr48"], model, card_for(model))
    assert available_models() == {"mse-cbr48": tmp_path / MODELS["mse-cbr48"]}
    loaded, card = load_model("mse-cbr48")
    assert not loaded.training and card.name == "test-cbr48"
    loaded_from_path, _ = load_model(tmp_path / MODELS["mse-cbr48"])
    assert torch.equal(loaded_from_path.encoder.head.weight, model.encoder.head.weight)


def test_weights_digest_ignores_the_card_and_sees_every_weight(tmp_path: Path) -> None:
    model = small_model()
    first = save_checkpoint(tmp_path / "a.pt", model, card_for(model))
    recarded = ModelCard.for_model("test-cbr48", model, metrics={"kodak": {"psnr": 99.0}}, notes="other card")
    second = save_checkpoint(tmp_path / "b.pt", model, recarded)
    assert first.read_bytes() != second.read_bytes()
    assert weights_sha256(first) == weights_sha256(second)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-3
    assert weights_sha256(save_checkpoint(tmp_path / "c.pt", model, card_for(model))) != weights_sha256(first)
