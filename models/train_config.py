"""Configuration of a training run: one dataclass per TOML section, :class:`TrainConfig` joining them.

A run is described by a TOML file with the sections ``[model]`` (the fields of
:class:`models.jscc.ModelConfig`), ``[data]``, ``[optim]``, ``[loss]``, ``[stages]``, ``[channel]``
and ``[run]``; every section and key is optional and falls back to the defaults below (the paper's:
Adam, lr 1e-4, 256x256 crops, batch 12, SNR drawn from {1, 4, 7, 10, 13} dB). Unknown sections or keys,
values of the wrong type and values out of range are refused with a :class:`ConfigError` naming them.
:meth:`TrainConfig.to_toml` writes the effective configuration back as TOML; that text is echoed into
every checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.jscc import ModelConfig
from models.metrics import GRID_PERIOD, MS_SSIM_MIN_SIZE, STREAK_MIN_SIZE

STAGES = ("latent", "pretrain", "discriminator", "adversarial")
PRECISIONS = ("fp32", "bf16", "fp16")
CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
"""The example configurations shipped with the package (``perceptual-cbr48.toml``, ``mse-cbr48.toml``, ...)."""


class ConfigError(ValueError):
    """A training configuration with an unknown key, a wrong type or a value out of range."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: where the training photographs are and how they are cut into batches.

    ``dir`` may be left out and given at run time (``ota train --data DIR`` or ``JSCC_TRAIN_DIR``).
    ``exclude``: sub-folders of ``dir`` never trained on; by default the validation split
    ``bsds500/val`` (every checkpoint, schedule and loss weight is chosen on it, Kodak is only reported).
    ``batch_size`` is per process (per GPU under torchrun).
    ``in_memory``: decode every training image once into memory on the training device (uint8,
    :class:`models.image_bank.ImageBank`) and cut the batches there, instead of a DataLoader decoding a
    file per crop (same batches; ``workers`` is then unused).
    The ``latent`` stage of a generative model (:mod:`models.latent_stage`) draws ``latent_batch_size``
    latents per step from ``latent_crops`` crops of ``latent_crop`` pixels, encoded once into the file
    ``latent_cache`` (default ``latents.pt`` in the run's folder; several runs may share one file).
    """

    dir: str | None = None
    exclude: tuple[str, ...] = ("bsds500/val",)
    crop: int = 256
    batch_size: int = 12
    workers: int = 2
    in_memory: bool = False
    latent_cache: str | None = None
    latent_crops: int = 1024
    latent_crop: int = 256
    latent_batch_size: int = 16

    def __post_init__(self) -> None:
        _require(self.crop >= 16 and self.crop % 16 == 0, f"data.crop must be a multiple of 16 >= 16, got {self.crop}")
        _require(self.batch_size >= 1, f"data.batch_size must be >= 1, got {self.batch_size}")
        _require(self.workers >= 0, f"data.workers must be >= 0, got {self.workers}")
        _require(self.latent_crops >= 1 and self.latent_batch_size >= 1,
                 f"data.latent_crops and data.latent_batch_size must be >= 1, got {self.latent_crops}, "
                 f"{self.latent_batch_size}")
        _require(self.latent_crop >= 16 and self.latent_crop % 16 == 0,
                 f"data.latent_crop must be a multiple of 16 >= 16, got {self.latent_crop}")


@dataclass(frozen=True)
class OptimConfig:
    """``[optim]``: Adam for the encoder + generator (``lr``) and for the discriminator (``discriminator_lr``).

    ``final_lr_fraction``: within each stage, both learning rates fall along a cosine from their value
    to this fraction of it at the stage's last step (1.0: constant). The rate is a function of the step
    alone, so a resumed run continues the same schedule.
    ``klt_init_crops``: a fresh model starts as the block-KLT linear code fitted to this many training
    crops (:mod:`models.block_transform`); 0 keeps the random initialisation of its linear paths (and
    is required by the generative architecture, which has none).
    ``latent_lr``: the rate of the ``latent`` stage (only the JSCC heads train there; 1e-3 stalled the
    CBR 1/24 heads at the latent variance on this CPU recipe, 3e-4 did not).
    ``frozen``: parameter-name prefixes that are not trained (e.g. ``encoder.analysis``, the pretrained
    TAEF2 encoder of a generative model).
    """

    lr: float = 1e-4
    latent_lr: float = 3e-4
    frozen: tuple[str, ...] = ()
    discriminator_lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    final_lr_fraction: float = 1.0
    klt_init_crops: int = 256

    def __post_init__(self) -> None:
        _require(self.lr > 0 and self.discriminator_lr > 0 and self.latent_lr > 0,
                 f"optim learning rates must be > 0, got {self}")
        _require(0 < self.final_lr_fraction <= 1,
                 f"optim.final_lr_fraction must be in (0, 1], got {self.final_lr_fraction}")
        _require(self.klt_init_crops >= 0, f"optim.klt_init_crops must be >= 0, got {self.klt_init_crops}")
        _require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                 f"optim.betas must be two numbers in [0, 1), got {list(self.betas)}")


@dataclass(frozen=True)
class LossConfig:
    """``[loss]``: weights of the generator loss
    ``beta_m*MSE + beta_s*(1 - MS-SSIM) + beta_p*LPIPS + beta_g*adversarial + beta_grid*grid
    + beta_streak*streak + beta_hatch*hatch`` (:class:`models.losses.GeneratorLoss`), plus for generative models
    ``beta_transpose*||D(z) - D(z^T)^T||^2`` (:mod:`models.transpose_consistency`).

    ``beta_p = 0`` does not load the LPIPS network; ``beta_g = 0`` builds no discriminator (then the
    discriminator and adversarial stages must have 0 steps): the MSE baseline is ``beta_p = beta_g = 0``.
    ``lpips_ensemble``: the LPIPS term measured through one random transformation of both images per
    step (E-LPIPS, :class:`models.ensemble_lpips.EnsembleLPIPS`), so that patterns LPIPS misses at one
    phase, orientation, scale and colour do not pay; the results still report plain LPIPS.
    """

    beta_m: float = 1e-5
    beta_p: float = 1.0
    beta_g: float = 1e-3
    beta_s: float = 0.0
    beta_grid: float = 0.0
    beta_streak: float = 0.0
    beta_hatch: float = 0.0
    beta_transpose: float = 0.0
    lpips_ensemble: bool = False

    def __post_init__(self) -> None:
        for name in ("beta_m", "beta_p", "beta_g", "beta_s", "beta_grid", "beta_streak", "beta_hatch",
                     "beta_transpose"):
            value = getattr(self, name)
            _require(math.isfinite(value) and value >= 0, f"loss.{name} must be a finite number >= 0, got {value}")
        _require(self.beta_m + self.beta_p + self.beta_s > 0,
                 "loss.beta_m, loss.beta_p and loss.beta_s are all 0: nothing to reconstruct")
        _require(not self.lpips_ensemble or self.beta_p > 0,
                 "loss.lpips_ensemble = true measures the LPIPS term, but loss.beta_p is 0")


@dataclass(frozen=True)
class StagesConfig:
    """``[stages]``: training steps of each stage (run in this order).

    0. ``latent`` (generative models only, default 0): the JSCC heads alone on cached latents
       (:mod:`models.latent_stage`);
    1. ``pretrain``: encoder + generator with ``beta_m*MSE + beta_p*LPIPS``;
    2. ``discriminator``: encoder + generator frozen, discriminator alone;
    3. ``adversarial``: alternating generator (with ``beta_g``) and discriminator steps.
    """

    latent: int = 0
    pretrain: int = 300_000
    discriminator: int = 20_000
    adversarial: int = 200_000

    def __post_init__(self) -> None:
        for name in STAGES:
            _require(getattr(self, name) >= 0, f"stages.{name} must be >= 0 steps, got {getattr(self, name)}")

    def total(self) -> int:
        return self.latent + self.pretrain + self.discriminator + self.adversarial


@dataclass(frozen=True)
class ChannelConfig:
    """``[channel]``: the training channel: per-image SNR drawn uniformly from ``snr_choices`` [dB],
    AWGN, random erasures of single symbols or of whole frames (``n_frames`` per image), and with
    ``fading_prob`` per-symbol Rayleigh fading as a frequency-selective OFDM channel gives
    (:class:`models.channel.TrainingChannel`)."""

    snr_choices: tuple[float, ...] = (1.0, 4.0, 7.0, 10.0, 13.0)
    symbol_erasure_prob: float = 0.0
    frame_erasure_prob: float = 0.0
    n_frames: int = 10
    fading_prob: float = 0.0

    def __post_init__(self) -> None:
        _require(len(self.snr_choices) >= 1 and all(math.isfinite(s) for s in self.snr_choices),
                 f"channel.snr_choices must be a non-empty list of SNRs in dB, got {list(self.snr_choices)}")
        for name in ("symbol_erasure_prob", "frame_erasure_prob", "fading_prob"):
            value = getattr(self, name)
            _require(0 <= value < 1, f"channel.{name} must be in [0, 1), got {value}")
        _require(self.n_frames >= 1, f"channel.n_frames must be >= 1, got {self.n_frames}")


@dataclass(frozen=True)
class RunConfig:
    """``[run]``: name of the model being trained, seed, device, precision and bookkeeping intervals.

    ``device``: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
    ``precision``: ``fp32``, or mixed precision ``bf16`` / ``fp16`` (CUDA only; on CPU the run stays
    fp32 and says so). ``threads``: torch CPU threads (0 keeps torch's default).
    ``channels_last``: the networks and batches in NHWC memory layout (faster convolutions on tensor
    cores). ``compile``: the encoder and generator networks through ``torch.compile`` (compiled on the first steps;
    ``benchmarks/models.py --compile`` measures what it gains).
    ``checkpoint_interval`` and ``log_interval`` count steps over all stages.
    """

    name: str = "perceptual-cbr48"
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    threads: int = 0
    channels_last: bool = False
    compile: bool = False
    checkpoint_interval: int = 5000
    log_interval: int = 10

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "run.name must not be empty")
        device = self.device
        _require(device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()),
                 f"run.device must be auto, cpu, cuda or cuda:N, got {device!r}")
        _require(self.precision in PRECISIONS, f"run.precision must be one of {', '.join(PRECISIONS)}, "
                                               f"got {self.precision!r}")
        _require(self.threads >= 0, f"run.threads must be >= 0, got {self.threads}")
        _require(self.checkpoint_interval >= 1, f"run.checkpoint_interval must be >= 1, got {self.checkpoint_interval}")
        _require(self.log_interval >= 1, f"run.log_interval must be >= 1, got {self.log_interval}")


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "optim": OptimConfig,
    "loss": LossConfig,
    "stages": StagesConfig,
    "channel": ChannelConfig,
    "run": RunConfig,
}


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run. ``TrainConfig.from_toml(path)``; ``config.to_toml()`` for the echo."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    stages: StagesConfig = field(default_factory=StagesConfig)
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        blocks = self.optim.klt_init_crops * (self.data.crop // 16) ** 2
        _require(self.optim.klt_init_crops == 0 or blocks >= 768,
                 f"optim.klt_init_crops = {self.optim.klt_init_crops} crops of {self.data.crop}x{self.data.crop} "
                 f"hold {blocks} 16x16 blocks; the block KLT needs at least 768 (more crops, or 0 for no KLT start)")
        generative = self.model.architecture == "generative"
        _require(not generative or self.optim.klt_init_crops == 0,
                 "optim.klt_init_crops must be 0 for the generative architecture (it has no linear paths to start)")
        _require(generative or self.stages.latent == 0,
                 f"stages.latent = {self.stages.latent}: the latent stage trains the heads of a generative model; "
                 f"this [model] has architecture = {self.model.architecture!r}")
        _require(generative or self.loss.beta_transpose == 0,
                 f"loss.beta_transpose = {self.loss.beta_transpose} charges the TAEF2 decoder of a generative model; "
                 f"this [model] has architecture = {self.model.architecture!r}")
        _require(self.loss.beta_grid == 0 or self.data.crop > 2 * GRID_PERIOD,
                 f"loss.beta_grid = {self.loss.beta_grid} scores the grid index over {GRID_PERIOD}-pixel phases, which "
                 f"needs crops larger than {2 * GRID_PERIOD} pixels; data.crop is {self.data.crop}")
        for name in ("beta_streak", "beta_hatch"):
            weight = getattr(self.loss, name)
            _require(weight == 0 or self.data.crop >= STREAK_MIN_SIZE,
                     f"loss.{name} = {weight} scores local orientation in windows that need crops of "
                     f"at least {STREAK_MIN_SIZE} pixels; data.crop is {self.data.crop}")
        _require(self.loss.beta_s == 0 or self.data.crop >= MS_SSIM_MIN_SIZE,
                 f"loss.beta_s = {self.loss.beta_s} scores MS-SSIM at five scales, which needs crops of at least "
                 f"{MS_SSIM_MIN_SIZE} pixels; data.crop = {self.data.crop} (use 176 or more)")
        adversarial_steps = self.stages.discriminator + self.stages.adversarial
        _require(self.loss.beta_g > 0 or adversarial_steps == 0,
                 f"loss.beta_g = 0 builds no discriminator, but stages.discriminator = {self.stages.discriminator} "
                 f"and stages.adversarial = {self.stages.adversarial}; set both to 0 (baseline) or beta_g > 0")

    @property
    def uses_lpips(self) -> bool:
        return self.loss.beta_p > 0

    @property
    def uses_discriminator(self) -> bool:
        return self.loss.beta_g > 0

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from the parsed TOML tables; ``source`` names the file in error messages."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
        known = ("model", *SECTIONS)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)}; expected {', '.join(known)}")
        try:
            sections = {name: _section(kind, data.get(name, {}), name) for name, kind in SECTIONS.items()}
            model = _model_config(data.get("model", {}))
            return cls(model=model, **sections)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a TOML file (see the module docstring for its sections)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such training configuration file")
        return cls.from_toml_text(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "config") -> TrainConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc})") from None
        return cls.from_dict(data, source)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {"model": self.model.to_dict()}
        out.update({name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTIONS})
        return out

    def to_toml(self) -> str:
        """The configuration as TOML text; ``from_toml_text(config.to_toml()) == config``."""
        blocks = []
        for section, values in self.to_dict().items():
            lines = [f"[{section}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def replace(self, **sections: Any) -> TrainConfig:
        """A copy with whole sections replaced, e.g. ``config.replace(stages=StagesConfig(...))``."""
        return dataclasses.replace(self, **sections)

    def with_steps(self, stages: tuple[str, ...], steps: int) -> TrainConfig:
        """A copy whose selected stages run ``steps`` steps each (the ``--steps`` override)."""
        unknown = [s for s in stages if s not in STAGES]
        _require(not unknown, f"unknown stage(s) {', '.join(unknown)}; expected {', '.join(STAGES)}")
        return self.replace(stages=dataclasses.replace(self.stages, **dict.fromkeys(stages, steps)))


def example_configs() -> dict[str, Path]:
    """The shipped example configurations: name (file stem) -> path."""
    return {path.stem: path for path in sorted(CONFIGS_DIR.glob("*.toml"))}


def find_config(name_or_path: str | Path) -> Path:
    """A TOML path, or the name of a shipped example configuration (e.g. ``perceptual-cbr48``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    examples = example_configs()
    if str(name_or_path) in examples:
        return examples[str(name_or_path)]
    raise ConfigError(f"{name_or_path}: no such configuration file, nor a shipped example "
                      f"({', '.join(examples) or 'none'})")


def _model_config(values: dict[str, Any]) -> ModelConfig:
    """``[model]`` through ModelConfig.from_dict, after naming any unknown keys here."""
    if not isinstance(values, dict):
        raise ConfigError(f"[model] must be a table, got {type(values).__name__}")
    allowed = [f.name for f in dataclasses.fields(ModelConfig)]
    unknown = sorted(set(values) - set(allowed))
    _require(not unknown, f"unknown key(s) {', '.join(unknown)} in [model]; expected some of {', '.join(allowed)}")
    try:
        return ModelConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[model]: {exc}") from None


def _section(kind: type, values: Any, name: str) -> Any:
    """One section dataclass from its TOML table: unknown keys and wrong types are named."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table, got {type(values).__name__}")
    hints = typing.get_type_hints(kind)
    allowed = [f.name for f in dataclasses.fields(kind)]
    unknown = sorted(set(values) - set(allowed))
    _require(not unknown, f"unknown key(s) {', '.join(unknown)} in [{name}]; expected some of {', '.join(allowed)}")
    return kind(**{key: _coerce(value, hints[key], f"{name}.{key}") for key, value in values.items()})


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` from TOML against a field's type hint; lists become tuples, ints may be floats."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        for option in options:
            if option is not type(None):
                return _coerce(value, option, where)
    if origin is tuple:
        args = typing.get_args(hint)
        _require(isinstance(value, list), f"{where} must be a list, got {value!r}")
        element = args[0]
        if len(args) != 2 or args[1] is not Ellipsis:
            _require(len(value) == len(args), f"{where} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, element, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        _require(isinstance(value, bool), f"{where} must be true or false, got {value!r}")
    elif hint is int:
        _require(isinstance(value, int) and not isinstance(value, bool), f"{where} must be an integer, got {value!r}")
    elif hint is float:
        _require(isinstance(value, int | float) and not isinstance(value, bool), f"{where} must be a number, "
                                                                                  f"got {value!r}")
        return float(value)
    elif hint is str:
        _require(isinstance(value, str), f"{where} must be a string, got {value!r}")
    return value


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Tuples as lists, for TOML and JSON."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) as TOML")
