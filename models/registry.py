"""Trained models shipped with the package, by name: ``MODELS`` maps a name to a file in models/weights/.

``load_model`` takes a registered name or a path to any ``.pt`` checkpoint (see :mod:`models.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from models.checkpoint import ModelCard, load_checkpoint
from models.jscc import DeepJSCC

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
"""Where the registered checkpoints live (package data)."""

MODELS: dict[str, str] = {
    "perceptual-cbr48": "perceptual-cbr48.pt",
    "mse-cbr48": "mse-cbr48.pt",
    "perceptual-cbr24": "perceptual-cbr24.pt",
    "mse-cbr24": "mse-cbr24.pt",
    "generative-cbr48": "generative-cbr48.pt",
    "generative-cbr24": "generative-cbr24.pt",
}
"""Registered model names -> checkpoint file names in WEIGHTS_DIR (perceptual: the first seed paper's CNN with
MSE+LPIPS+GAN; mse: the same CNN on MSE; generative: JSCC heads around pretrained TAEF2; CBR 1/48, 1/24)."""

MODEL_IDS: dict[str, int] = {
    "mse-cbr24": 1,
    "mse-cbr48": 2,
    "perceptual-cbr24": 3,
    "perceptual-cbr48": 4,
    "generative-cbr48": 5,
    "generative-cbr24": 6,
}
"""The id of each registered model in the frame header (0 is a custom checkpoint); never reused, so that a
capture recorded with an older release still names its model."""

DEFAULT_MODEL = "generative-cbr48"
"""The default everywhere: it beat ``perceptual-cbr48`` on validation LPIPS at 10 dB (bsds500/val, 0.213 against
0.337; docs/selection/generative-cbr48/selection.json)."""


class ModelNotFoundError(ValueError):
    """An unknown model name, a registered model whose file is not shipped, or a missing checkpoint path."""


def resolve_model(name_or_path: str | Path) -> Path:
    """A registered name or a path to a ``.pt`` checkpoint -> the checkpoint's path (which exists)."""
    text = str(name_or_path)
    if text in MODELS:
        path = WEIGHTS_DIR / MODELS[text]
        if not path.is_file():
            raise ModelNotFoundError(
                f"model {text!r} is registered but its weights are not shipped yet (expected {path}); "
                f"train it, or give the path to a .pt checkpoint"
            )
        return path
    path = Path(name_or_path)
    if path.suffix == ".pt" or path.exists() or path.parent != Path("."):
        if not path.is_file():
            raise ModelNotFoundError(f"{path}: no such checkpoint file")
        return path
    raise ModelNotFoundError(
        f"unknown model {text!r}: registered names are {sorted(MODELS)}; a path to a .pt checkpoint also works"
    )


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[DeepJSCC, ModelCard]:
    """Load a registered or a file checkpoint -> (DeepJSCC in eval mode on ``device``, its ModelCard)."""
    model, card, _ = load_checkpoint(resolve_model(name_or_path), map_location=device)
    return model.eval(), card


def available_models() -> dict[str, Path]:
    """The registered models whose weights are shipped: name -> checkpoint path."""
    return {name: WEIGHTS_DIR / file for name, file in MODELS.items() if (WEIGHTS_DIR / file).is_file()}
