"""Checkpoints: the weights of a :class:`~models.jscc.DeepJSCC` with the model card that describes them.

A checkpoint is ``torch.save`` of a dict ``{"format": FORMAT, "state_dict": ..., "card": card.to_dict(),
**extra}`` (``extra``: trainer state such as the discriminator, optimisers and step, all plain tensors,
dicts, lists, numbers and strings), written atomically, and read with ``torch.load(weights_only=True)``.
A file that is missing, is not such a checkpoint, or whose card does not match its tensors is refused
with one :class:`CheckpointError` saying what was wrong.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from models.jscc import DeepJSCC, ModelConfig, ModelConfigError

FORMAT = "pjscc-checkpoint-v1"
ARCHITECTURE_CLASS = "DeepJSCC"
_RESERVED_KEYS = ("format", "state_dict", "card")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, of another format, or inconsistent with its card."""


@dataclass
class ModelCard:
    """What a checkpoint holds and how it was made.

    Attributes:
        name: model name (e.g. ``perceptual-cbr48``).
        architecture: ``{"class": "DeepJSCC", "config": ModelConfig.to_dict()}``.
        cbr: channel bandwidth ratio [complex symbols per real source dimension].
        training: data, n_images, file_list_sha256, device, wall_s, steps per stage, loss weights,
            config TOML text, ... (free-form, plain types).
        metrics: evaluation results, e.g. Kodak PSNR/LPIPS per SNR (free-form, plain types).
        notes: free text.
    """

    name: str
    architecture: dict
    cbr: float
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    notes: str = ""

    @classmethod
    def for_model(
        cls, name: str, model: DeepJSCC, training: dict | None = None, metrics: dict | None = None, notes: str = ""
    ) -> ModelCard:
        """A card whose architecture and CBR are read from ``model``."""
        architecture = {"class": ARCHITECTURE_CLASS, "config": model.config.to_dict()}
        return cls(name, architecture, model.cbr, dict(training or {}), dict(metrics or {}), notes)

    @property
    def config(self) -> ModelConfig:
        """The :class:`ModelConfig` the card describes (CheckpointError if it is not a valid one)."""
        if not isinstance(self.architecture, dict) or self.architecture.get("class") != ARCHITECTURE_CLASS:
            raise CheckpointError(
                f"model card architecture must be {{'class': '{ARCHITECTURE_CLASS}', 'config': {{...}}}}, "
                f"got {self.architecture!r}"
            )
        try:
            return ModelConfig.from_dict(self.architecture.get("config", {}))
        except (ModelConfigError, TypeError) as exc:
            raise CheckpointError(f"model card has an invalid architecture config: {exc}") from exc

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        """Inverse of :meth:`to_dict` (CheckpointError on missing or unknown keys)."""
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict):
            raise CheckpointError(f"model card must be a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - set(names))
        missing = sorted({"name", "architecture", "cbr"} - set(data))
        if unknown or missing:
            raise CheckpointError(f"model card has unknown keys {unknown} / lacks keys {missing}; expected {names}")
        return cls(**data)


def save_checkpoint(
    path: str | Path, model: DeepJSCC, card: ModelCard, extra: dict | None = None, *, dtype: torch.dtype | None = None
) -> Path:
    """Write ``model``'s weights and ``card`` (plus trainer state ``extra``) to ``path`` atomically.

    ``dtype`` (e.g. ``torch.float16`` for shipped inference weights) stores the floating-point tensors in
    that type; :func:`load_checkpoint` always rebuilds a float32 model.

    The card must describe the model (same config and CBR); ``extra`` may not use the keys
    ``format``, ``state_dict`` or ``card``.
    """
    path = Path(path)
    if card.config != model.config:
        raise CheckpointError(f"model card config {card.config} does not describe the model's {model.config}")
    if abs(card.cbr - model.cbr) > 1e-9:
        raise CheckpointError(f"model card CBR {card.cbr} differs from the model's {model.cbr}")
    extra = dict(extra or {})
    clashes = sorted(set(extra) & set(_RESERVED_KEYS))
    if clashes:
        raise CheckpointError(f"extra checkpoint entries may not be named {clashes}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    payload = {"format": FORMAT, "state_dict": state, "card": card.to_dict(), **extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary readable file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The raw checkpoint dict, with its format checked (CheckpointError otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(raw, dict) or "format" not in raw:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (no 'format' entry)")
    if raw["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {raw['format']!r} is not the supported {FORMAT!r}")
    if not isinstance(raw.get("state_dict"), dict) or "card" not in raw:
        raise CheckpointError(f"{path}: checkpoint lacks its 'state_dict' or 'card'")
    return raw


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[DeepJSCC, ModelCard, dict]:
    """Rebuild the model a checkpoint describes and load its weights.

    Returns:
        ``(model, card, raw)``: the DeepJSCC (in train mode, on ``map_location``), its card, and the raw
        checkpoint dict (for ``extra`` trainer state).
    """
    raw = read_checkpoint(path, map_location)
    try:
        card = ModelCard.from_dict(raw["card"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    try:
        config = card.config
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    if abs(float(card.cbr) - config.cbr) > 1e-9:
        raise CheckpointError(f"{path}: model card says CBR {card.cbr} but its config gives {config.cbr}")
    model = DeepJSCC(config)
    try:
        model.load_state_dict(raw["state_dict"])
    except RuntimeError as exc:
        detail = str(exc).splitlines()
        summary = "; ".join(line.strip() for line in detail[1:4]) or detail[0]
        raise CheckpointError(
            f"{path}: the weights do not fit the architecture on the model card ({config}): {summary}"
        ) from exc
    return model.to(map_location), card, raw


def state_dict_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: the names, dtypes, shapes and bytes of its tensors, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def weights_sha256(path: str | Path) -> str:
    """SHA-256 of a checkpoint's model weights (:func:`state_dict_sha256`), which stays the same when only
    the card is rewritten (e.g. Kodak scores attached after shipping)."""
    return state_dict_sha256(read_checkpoint(path)["state_dict"])


def export_weights(
    src: str | Path,
    dst: str | Path,
    *,
    name: str | None = None,
    notes: str | None = None,
    metrics: dict | None = None,
    inference: bool = False,
    half: bool = False,
    training: dict | None = None,
) -> Path:
    """Copy a training checkpoint without optimizer and scaler states (for shipping).

    Keeps the weights, the card (``name``, ``notes`` and ``metrics`` replaced when given), the
    discriminator, the step counters and the configuration, so the file can still be evaluated, shipped,
    or fine-tuned from. With ``inference`` the weights are stored in float16 and the discriminator is
    left out (half the size; what the registry ships), and the card's training record says so. With
    ``half`` only the weights are stored in float16 (the discriminator kept: a compact copy of a run to
    fine-tune from, such as a GPU machine hands back).
    ``training`` entries are added to the card's training record (e.g. ``selected_on``).
    """
    model, card, raw = load_checkpoint(src)
    if name is not None:
        card.name = name
    if notes is not None:
        card.notes = notes
    if metrics is not None:
        card.metrics = metrics
    keep = ("trainer", "config_toml") if inference else ("trainer", "config_toml", "discriminator")
    card.training.update(training or {})
    if inference:
        card.training["stored_as"] = "float16 inference weights, without the discriminator"
    elif half:
        card.training["stored_as"] = "float16 weights, without optimizer states"
    return save_checkpoint(dst, model, card, {key: raw[key] for key in keep if key in raw},
                           dtype=torch.float16 if inference or half else None)
