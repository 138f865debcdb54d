"""What a :class:`~models.train.Trainer` writes into its checkpoints besides the weights, and how it reads them.

A checkpoint (:mod:`models.checkpoint`) holds the model, its card (:func:`trainer_card`: the configuration,
steps, wall time, device, losses, the training file list's hash) and, for a resumable run, the trainer's
state (:func:`trainer_state`: per-stage step counters, the stage, both optimizers and loss scalers, the
discriminator, the running loss windows, the time-boxed windows, the torch RNG state). :func:`restore`
reads them back into a trainer built from the same configuration.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from models.checkpoint import ModelCard, load_checkpoint, read_checkpoint
from models.distributed import describe_device
from models.train_config import STAGES, TrainConfig
from models.train_error import TrainError

if TYPE_CHECKING:
    from models.train import Trainer

TRAINER_FORMAT = 1
"""Version of the ``trainer`` entry of checkpoints written here."""


def trainer_card(trainer: Trainer) -> ModelCard:
    """The model card of the current state (training details; no evaluation metrics yet)."""
    training = {
        "config_toml": trainer.config.to_toml(),
        "steps": dict(trainer.steps),
        "total_steps": trainer.total_steps,
        "images_seen": trainer.total_steps * trainer.config.data.batch_size * trainer.context.world_size,
        "wall_s": round(trainer.wall_s, 3),
        "device": describe_device(trainer.device, trainer.context.world_size),
        "world_size": trainer.context.world_size,
        "precision": "fp32" if trainer.amp_dtype is None else str(trainer.amp_dtype).removeprefix("torch."),
        "losses": {stage: means.means() for stage, means in trainer.means.items() if means.means()},
        "lpips": trainer.lpips_source or "not used",
        "torch": str(torch.__version__),
    }
    if trainer.windows:
        training["time_boxed_runs"] = list(trainer.windows)
    if trainer.dataset is not None:
        training |= {
            "data": str(trainer.dataset.root),
            "n_images": len(trainer.dataset),
            "file_list_sha256": trainer.data.sha256,
        }
    return ModelCard.for_model(trainer.config.run.name, trainer.model, training=training)


def trainer_state(trainer: Trainer) -> dict:
    """Everything besides the model weights that a resumed run needs (checkpoint ``extra``)."""
    state = {
        "trainer": {
            "format": TRAINER_FORMAT,
            "steps": dict(trainer.steps),
            "stage": trainer.stage,
            "wall_s": trainer.wall_s,
            "world_size": trainer.context.world_size,
            "loss_window": {stage: means.state_dict() for stage, means in trainer.means.items()},
            "time_boxed_runs": list(trainer.windows),
        },
        "config_toml": trainer.config.to_toml(),
        "optimizer_g": trainer.optimizer_g.state_dict(),
        "scaler_g": trainer.scaler_g.state_dict(),
        "rng": {"torch": torch.get_rng_state()},
    }
    if trainer.discriminator is not None:
        state |= {
            "discriminator": trainer.discriminator.state_dict(),
            "optimizer_d": trainer.optimizer_d.state_dict(),
            "scaler_d": trainer.scaler_d.state_dict(),
        }
    return state


def restore(trainer: Trainer, path: str | Path) -> None:
    """Load ``path`` into ``trainer``: a checkpoint of :meth:`Trainer.save <models.train.Trainer.save>` resumes its
    run; a shipped one (weights only) starts fresh optimizers (and discriminator) with the step counters kept."""
    model, card, raw = load_checkpoint(path, map_location=trainer.device)
    if not model.config.same_weights(trainer.config.model):
        raise TrainError(
            f"{path}: its model ({model.config}) is not the one this configuration builds "
            f"({trainer.config.model}); resume with the checkpoint's own configuration (or one that differs "
            f"from it only in latent_dither or lattice_taps)"
        )
    trainer.model.load_state_dict(model.state_dict())
    saved = raw.get("trainer", {})
    if saved and saved.get("format") != TRAINER_FORMAT:
        raise TrainError(f"{path}: trainer state format {saved.get('format')!r} is not {TRAINER_FORMAT}")
    trainer.stage = saved.get("stage", STAGES[0])
    if "optimizer_g" in raw:
        trainer.optimizer_g.load_state_dict(raw["optimizer_g"])
        _load_scaler(trainer.scaler_g, raw.get("scaler_g"))
        trainer.resume_lr_factor = trainer.optimizer_g.param_groups[0]["lr"] / trainer.configured_lr(trainer.stage)
    if trainer.discriminator is not None and "discriminator" in raw:
        trainer.discriminator.load_state_dict(raw["discriminator"])
        if "optimizer_d" in raw:
            trainer.optimizer_d.load_state_dict(raw["optimizer_d"])
            _load_scaler(trainer.scaler_d, raw.get("scaler_d"))
    trainer.steps = {stage: int(saved.get("steps", {}).get(stage, 0)) for stage in STAGES}
    trainer.wall_s = float(saved.get("wall_s", 0.0))
    trainer.windows = list(saved.get("time_boxed_runs", []))
    for stage, window in saved.get("loss_window", {}).items():
        trainer.means[stage].load_state_dict(window)
    if "rng" in raw:
        torch.set_rng_state(raw["rng"]["torch"].cpu())
    data_hash = card.training.get("file_list_sha256")
    if trainer.dataset is not None and data_hash and data_hash != trainer.data.sha256:
        warnings.warn(f"{path} was trained on other images (file list {data_hash[:12]}...) than "
                      f"{trainer.dataset.root}; continuing on the new ones", stacklevel=2)


def config_of_checkpoint(path: str | Path) -> TrainConfig:
    """The configuration echoed into a checkpoint (to resume it without its TOML file)."""
    raw = read_checkpoint(path)
    if "config_toml" not in raw:
        raise TrainError(f"{path}: holds no training configuration; pass --config with it")
    return TrainConfig.from_toml_text(raw["config_toml"], source=f"{path} (echoed config)")


def _load_scaler(scaler: torch.amp.GradScaler, state: dict | None) -> None:
    """Restore a loss scaler; a run saved without fp16 (empty state) leaves it at its initial scale."""
    if state:
        scaler.load_state_dict(state)

