"""The staged trainer of the perceptual deep JSCC.

Stages (run in order, each until its step count in ``[stages]`` is reached):

0. ``latent`` (generative models, :mod:`models.latent_stage`): the JSCC heads alone on cached latents;
1. ``pretrain``: encoder f_e and generator f_g with ``beta_m*MSE + beta_p*LPIPS`` (no discriminator);
2. ``discriminator``: f_e and f_g frozen (eval mode, no gradients, their optimizer idle); the
   discriminator f_d learns to tell (x, s) from (x_hat, s);
3. ``adversarial``: per step one generator step with ``beta_m*MSE + beta_p*LPIPS + beta_g*adv`` (f_d in
   eval mode with its parameters frozen), then one discriminator step on the same x_hat (detached).

f_d is conditioned on the channel input ``s`` on the latent grid (``latent`` of the model's output),
detached, as HiFiC does with its latent. The MSE baseline is the same code with ``beta_p = beta_g = 0``
and only the pretrain stage: no LPIPS network and no discriminator are built.

Reproducibility: the model is initialised from ``torch.manual_seed(mix_seed(seed, 0))`` (the same on
every rank); step ``t`` (counted over all stages) draws its batch from :mod:`models.data` (a function of
``(seed, t, rank)``) and its SNRs, noise and erasures from a ``torch.Generator`` seeded from
``(seed, t, rank)``. A checkpoint (model, discriminator, both optimizers, loss scalers, per-stage step
counters, the torch RNG state and the configuration TOML) therefore resumes a run exactly: on CPU,
N steps straight equal N/2 steps, save, load, N/2 steps, bit for bit.

Files in the output folder (written by rank 0 only, :mod:`models.training_run`): ``config.toml`` (the
effective configuration), ``log.csv`` (every loss at every step, :mod:`models.train_log`),
``checkpoint_<step>.pt`` every ``run.checkpoint_interval`` steps and ``last.pt`` (also at the end, on
Ctrl-C and at every checkpoint), ``run.json`` (this run's device, steps, images/s, losses). With a
:class:`~models.time_budget.TimeBudget` the run is time-boxed (``ota train --minutes``).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from models.block_transform import fit_block_klt, init_linear_paths
from models.channel import TrainingChannel, sample_snr
from models.checkpoint import ModelCard, save_checkpoint
from models.data import mix_seed
from models.discriminator import Discriminator
from models.distributed import (
    DistributedContext,
    check_ranks_in_sync,
    init_process_group,
    resolve_device,
    wrap,
)
from models.ensemble_lpips import EnsembleLPIPS
from models.jscc import DeepJSCC
from models.latent_stage import latent_forward
from models.losses import DiscriminatorLoss, GeneratorLoss
from models.metrics import LPIPS, psnr
from models.time_budget import StagePlan, TimeBudget
from models.train_config import STAGES, TrainConfig
from models.train_error import TrainError
from models.train_log import RunningMeans
from models.trainer_checkpoint import restore, trainer_card, trainer_state
from models.training_data import TrainingData
from models.training_run import TrainingRun
from models.transpose_consistency import TransposeConsistency


class Trainer:
    """Trains a :class:`~models.jscc.DeepJSCC` (and its discriminator) as configured.

    Args:
        config: the run's configuration.
        data_dir: folder of training images (default ``config.data.dir``); needed by :meth:`run`, not
            by :meth:`train_step`.
        out_dir: where logs and checkpoints go (needed by :meth:`run`).
        lpips_weights: AlexNet features file for LPIPS (default: ``$JSCC_WEIGHTS_DIR``).
        context: rank and world size (default: from the torchrun environment).
        progress: show a tqdm bar (rank 0 only).
        pretrained: start a generative model's transforms from TAEF2 (``$JSCC_WEIGHTS_DIR``); False when a
            checkpoint will be loaded over them (:meth:`load`), which then needs no TAEF2 files.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        data_dir: str | Path | None = None,
        out_dir: str | Path | None = None,
        lpips_weights: str | Path | None = None,
        context: DistributedContext | None = None,
        progress: bool = True,
        pretrained: bool = True,
    ) -> None:
        self.config = config
        self.context = context or DistributedContext.from_environment()
        self.device = resolve_device(config.run.device, self.context)
        init_process_group(self.context, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        if config.run.threads:
            torch.set_num_threads(config.run.threads)
        self.amp_dtype = self._amp_dtype()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress

        self.data = TrainingData(config.data, data_dir if data_dir is not None else config.data.dir,
                                 config.run.seed, self.device, self.context, progress and self.is_main)
        self.dataset = self.data.dataset

        torch.manual_seed(mix_seed(config.run.seed, 0))
        self.model = DeepJSCC(config.model).to(self.device)
        self.discriminator = (
            Discriminator(config.model.channels, config.model.disc_width).to(self.device)
            if config.uses_discriminator
            else None
        )
        if config.model.architecture == "generative" and pretrained:
            self.model.load_pretrained()
        if self.dataset is not None and config.optim.klt_init_crops:
            self._init_from_klt(config.optim.klt_init_crops)
        self.trainable = self._freeze(config.optim.frozen)
        for network in (self.model, self.discriminator) if config.run.channels_last else ():
            if network is not None:
                network.to(memory_format=torch.channels_last)
        if config.run.compile:  # the networks, not the channel and symbol mapping between them
            self.model.encoder.compile()
            self.model.generator.compile()
        self.model_ddp = wrap(self.model, self.context, self.device)
        self.discriminator_ddp = wrap(self.discriminator, self.context, self.device) if self.discriminator else None

        lpips = LPIPS(lpips_weights).to(self.device) if config.uses_lpips else None
        if lpips is not None and config.loss.lpips_ensemble:
            lpips = EnsembleLPIPS(lpips)
        loss = config.loss
        self.pretrain_loss = GeneratorLoss(loss.beta_m, loss.beta_p, 0.0, lpips, loss.beta_s, loss.beta_grid,
                                           loss.beta_streak, loss.beta_hatch).to(self.device)
        self.adversarial_loss = (
            GeneratorLoss(loss.beta_m, loss.beta_p, loss.beta_g, lpips, loss.beta_s, loss.beta_grid,
                          loss.beta_streak, loss.beta_hatch).to(self.device)
            if self.discriminator
            else None
        )
        self.discriminator_loss = DiscriminatorLoss()
        self.transpose_consistency = (
            TransposeConsistency(self.model.generator.synthesis) if loss.beta_transpose > 0 else None
        )
        if self.transpose_consistency is not None and self.context.world_size > 1:
            raise TrainError("loss.beta_transpose decodes a second time outside the distributed forward pass; "
                             "train it on one process")
        self.lpips_source = lpips.source if lpips is not None else None
        channel = config.channel
        self.channel = TrainingChannel(channel.symbol_erasure_prob, channel.frame_erasure_prob, channel.n_frames,
                                       channel.fading_prob)
        self.generator = torch.Generator(self.device)

        optim = config.optim
        self.optimizer_g = torch.optim.Adam(self.trainable, lr=optim.lr, betas=optim.betas)
        self.optimizer_d = (
            torch.optim.Adam(self.discriminator.parameters(), lr=optim.discriminator_lr, betas=optim.betas)
            if self.discriminator
            else None
        )
        fp16 = self.amp_dtype == torch.float16
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=fp16)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=fp16)

        self.steps = dict.fromkeys(STAGES, 0)
        self.stage = STAGES[0]
        self.wall_s = 0.0
        self.means = {stage: RunningMeans() for stage in STAGES}
        self.windows: list[dict] = []  # one record per time-boxed run (ota train --minutes), over resumes
        self.resume_lr_factor: float | None = None  # the loaded optimizer's rate / the configured one

    # ---- setup helpers -------------------------------------------------------------------------

    def _init_from_klt(self, n_crops: int) -> None:
        """Start the model as the block-KLT linear code of ``n_crops`` training crops (same on every rank)."""
        n_files = len(self.dataset)
        keys = [(i % n_files, mix_seed(self.config.run.seed, 4, i)) for i in range(n_crops)]
        crops = torch.stack([self.dataset[key] for key in keys])
        klt = fit_block_klt(crops, self.config.model.channels)
        snrs = self.config.channel.snr_choices
        init_linear_paths(self.model, klt, wiener_snr_db=(min(snrs) + max(snrs)) / 2)

    def _freeze(self, prefixes: Sequence[str]) -> list[nn.Parameter]:
        """Stop training the parameters whose names start with one of ``prefixes``; the others, in order."""
        names = dict(self.model.named_parameters())
        unmatched = [p for p in prefixes if not any(name.startswith(p) for name in names)]
        if unmatched:
            raise TrainError(f"optim.frozen names {unmatched}, which match no parameter of the model")
        trainable = []
        for name, parameter in names.items():
            frozen = any(name.startswith(prefix) for prefix in prefixes)
            parameter.requires_grad_(not frozen)
            if not frozen:
                trainable.append(parameter)
        return trainable

    def _set_learning_rates(self, stage: str, factor: float | None = None) -> float:
        """Set the configured rates times ``factor``; by default a cosine from 1 to ``final_lr_fraction``
        over ``stage``'s configured steps (a function of the step). Returns the encoder + generator rate."""
        optim, total = self.config.optim, getattr(self.config.stages, stage)
        if factor is None:
            progress = min(self.steps[stage] / max(total - 1, 1), 1.0)
            factor = optim.final_lr_fraction + (1 - optim.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
        lr_g = self.configured_lr(stage)
        for optimizer, lr in ((self.optimizer_g, lr_g), (self.optimizer_d, optim.discriminator_lr)):
            for group in optimizer.param_groups if optimizer is not None else ():
                group["lr"] = lr * factor
        return lr_g * factor

    def configured_lr(self, stage: str) -> float:
        """The learning rate ``[optim]`` gives the encoder + generator in ``stage`` (before any schedule)."""
        return self.config.optim.latent_lr if stage == "latent" else self.config.optim.lr

    def _amp_dtype(self) -> torch.dtype | None:
        precision = self.config.run.precision
        if precision == "fp32":
            return None
        if self.device.type != "cuda":
            warnings.warn(f"run.precision = {precision} is for CUDA; training on {self.device} in fp32", stacklevel=3)
            return None
        return torch.bfloat16 if precision == "bf16" else torch.float16

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    @property
    def is_main(self) -> bool:
        return self.context.is_main

    @property
    def total_steps(self) -> int:
        """Steps done over all stages (= batches drawn)."""
        return sum(self.steps.values())

    # ---- one step ------------------------------------------------------------------------------

    def train_step(self, stage: str, x: torch.Tensor, lr_factor: float | None = None) -> dict[str, float]:
        """One optimisation step of ``stage`` on a batch ``x`` (B, 3, H, W) in [0, 1] (for the ``latent``
        stage: TAEF2 latents (B, 32, H/8, W/8)), at the configured learning rates times ``lr_factor``
        (default: the step's place on the stage's cosine).

        The SNRs, noise and erasures are drawn from the generator seeded for step
        :attr:`total_steps`; the step counters are not advanced here (:meth:`run` does that).

        Returns:
            this rank's scalars: ``snr_db``, ``psnr_db``, and the losses of the stage
            (``g_loss``, ``mse``, ``lpips``, ``adv``, ``transpose`` when weighted; ``d_loss``, ``d_real``, ``d_fake``)
            and ``lr``.
        """
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        if stage in ("discriminator", "adversarial") and self.discriminator is None:
            raise TrainError(f"the {stage} stage needs a discriminator, but loss.beta_g = 0 builds none")
        x = x.to(self.device, non_blocking=True)
        if self.config.run.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        lr = self._set_learning_rates(stage, lr_factor)
        self.generator.manual_seed(mix_seed(self.config.run.seed, 3, self.total_steps, self.context.rank))
        snr_db = sample_snr(x.shape[0], self.config.channel.snr_choices, self.generator, self.device)
        if stage == "latent":
            return self._latent_step(x, snr_db) | {"lr": lr}
        if stage == "pretrain":
            out, logs = self._generator_step(x, snr_db, self.pretrain_loss, adversarial=False)
        elif stage == "discriminator":
            self.model.eval()
            with torch.no_grad(), self._autocast():
                out = self.model(x, snr_db, self.channel, self.generator)
            logs = {}
        else:
            out, logs = self._generator_step(x, snr_db, self.adversarial_loss, adversarial=True)
        if stage != "pretrain":
            logs |= self._discriminator_step(x, out["x_hat"].detach(), out["latent"].detach())
        logs["snr_db"] = float(snr_db.mean())
        logs["psnr_db"] = float(psnr(out["x_hat"].detach().float().clamp(0, 1), x).mean())
        logs["lr"] = lr
        return logs

    def _latent_step(self, z: torch.Tensor, snr_db: torch.Tensor) -> dict[str, float]:
        """Update the JSCC heads on ``||z_hat - z||^2`` (:func:`models.latent_stage.latent_forward`)."""
        self.model.train()
        with self._autocast():
            out = latent_forward(self.model, z, snr_db, self.channel, self.generator)
        self._optimise(out["mse"], self.optimizer_g, self.scaler_g)
        return {"latent_mse": float(out["mse"].detach()), "snr_db": float(snr_db.mean())}

    def _generator_step(
        self, x: torch.Tensor, snr_db: torch.Tensor, loss_fn: GeneratorLoss, adversarial: bool
    ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Update f_e and f_g; with ``adversarial`` the frozen f_d scores x_hat (no f_d update here)."""
        self.model.train()
        with self._autocast():
            out = self.model_ddp(x, snr_db, self.channel, self.generator)
            d_fake = None
            if adversarial:
                self.discriminator.eval().requires_grad_(False)
                d_fake = self.discriminator(out["x_hat"], out["latent"].detach())
            losses = loss_fn(x, out["x_hat"], d_fake)
            if self.transpose_consistency is not None:
                losses["transpose"] = self.transpose_consistency(out["x_hat"])
                losses["loss"] = losses["loss"] + self.config.loss.beta_transpose * losses["transpose"]
        if adversarial:
            self.discriminator.train().requires_grad_(True)
        self._optimise(losses["loss"], self.optimizer_g, self.scaler_g)
        logs = {"g_loss": losses["loss"], **{k: v for k, v in losses.items() if k != "loss"}}
        return out, {k: float(v.detach()) for k, v in logs.items()}

    def _discriminator_step(self, x: torch.Tensor, x_hat: torch.Tensor, latent: torch.Tensor) -> dict[str, float]:
        """Update f_d on real (x, latent) and generated (x_hat, latent) pairs, in one batch."""
        self.discriminator.train()
        with self._autocast():
            logits = self.discriminator_ddp(torch.cat([x, x_hat]), torch.cat([latent, latent]))
            real, fake = logits.float().chunk(2)
            losses = self.discriminator_loss(real, fake)
        self._optimise(losses["loss"], self.optimizer_d, self.scaler_d)
        return {f"d_{key}" if key != "loss" else "d_loss": float(value.detach()) for key, value in losses.items()}

    @staticmethod
    def _optimise(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    # ---- the run -------------------------------------------------------------------------------

    def remaining(self, stages: Sequence[str] = STAGES) -> list[tuple[str, int]]:
        """``(stage, steps still to do)`` of the selected stages, in the canonical order."""
        _check_stages(stages)
        plan = [(s, getattr(self.config.stages, s) - self.steps[s]) for s in STAGES if s in stages]
        plan = [(s, n) for s, n in plan if n > 0]
        if plan:
            first = STAGES.index(plan[0][0])
            for earlier in STAGES[:first]:
                target = getattr(self.config.stages, earlier)
                if self.steps[earlier] < target:
                    raise TrainError(f"the {plan[0][0]} stage follows the {earlier} stage, which has done "
                                     f"{self.steps[earlier]} of its {target} steps; train it first (or resume a "
                                     f"checkpoint that has)")
        return plan

    def shares(self, stages: Sequence[str] = STAGES) -> list[tuple[str, int]]:
        """``(stage, share)`` of the selected stages a time budget trains: from the stage a resumed run is in
        on, each weighted by its configured step count (stages configured with 0 steps are left out)."""
        _check_stages(stages)
        current = STAGES.index(self.stage) if self.total_steps else 0
        plan = [(s, getattr(self.config.stages, s)) for s in STAGES[current:] if s in stages]
        plan = [(s, n) for s, n in plan if n > 0]
        if not plan:
            raise TrainError(f"nothing to train within the budget: the stages {', '.join(stages)} have 0 configured "
                             f"steps or come before the {self.stage} stage the checkpoint is in")
        first = STAGES.index(plan[0][0])
        for earlier in STAGES[:first]:
            if getattr(self.config.stages, earlier) > 0 and self.steps[earlier] == 0:
                raise TrainError(f"the {plan[0][0]} stage follows the {earlier} stage, which has not been trained; "
                                 f"train it first (or resume a checkpoint that has)")
        if self.context.distributed:
            raise TrainError("a time budget (--minutes) runs in one process; under torchrun give step counts")
        return plan

    def batches(self, stage: str = "pretrain") -> Iterator[torch.Tensor]:
        """This rank's batches of ``stage`` from step :attr:`total_steps` on (endless): image crops
        (:class:`~models.training_data.TrainingData`), or for the ``latent`` stage cached latents."""
        if self.dataset is None:
            raise TrainError("no training images: give a data folder (data.dir in the config, or --data DIR)")
        if stage == "latent":
            return self.data.latent_batches(self.total_steps, self.model.encoder.analysis,
                                            self.out_dir / "latents.pt")
        return self.data.images(self.total_steps)

    def run(self, stages: Sequence[str] = STAGES, budget: TimeBudget | None = None,
            checkpoint_every_s: float | None = None) -> dict[str, dict[str, float]]:
        """Train the selected stages to their step counts, or with a ``budget`` for as long as it lasts, in
        one :class:`~models.training_run.TrainingRun` (``last.pt`` and ``run.json`` at the end; a numbered
        checkpoint every ``run.checkpoint_interval`` steps and every ``checkpoint_every_s`` seconds).

        Returns:
            per stage, the means of its last 100 logged steps (averaged over ranks).
        """
        if self.out_dir is None:
            raise TrainError("Trainer.run needs an output folder (out_dir)")
        losses = TrainingRun(self, stages, budget, checkpoint_every_s).execute()
        networks = (self.model, self.discriminator) if self.discriminator else (self.model,)
        check_ranks_in_sync(networks, self.context, self.total_steps)
        return losses

    def stage_plan(self, stage: str, seconds: float) -> StagePlan:
        """The time-boxed schedule of ``stage`` within ``seconds``: from the checkpoint's learning rate if a
        resumed run is in this stage, else from the configured one."""
        start = 1.0
        if self.resume_lr_factor is not None and stage == self.stage and self.steps[stage] > 0:
            start, self.resume_lr_factor = self.resume_lr_factor, None
        return StagePlan(seconds, start=start, floor=self.config.optim.final_lr_fraction)

    # ---- checkpoints ---------------------------------------------------------------------------

    def card(self) -> ModelCard:
        """The model card of the current state (training details; no evaluation metrics yet)."""
        return trainer_card(self)

    def save(self, path: str | Path) -> Path:
        """Write a resumable checkpoint (rank 0 only; other ranks return the path)."""
        path = Path(path)
        if self.is_main:
            save_checkpoint(path, self.model, self.card(), trainer_state(self))
        return path

    def load(self, path: str | Path) -> None:
        """Resume from a checkpoint written by :meth:`save` (or a shipped one: then the optimizers,
        and the discriminator where absent, start fresh, and the step counters continue)."""
        restore(self, path)


def _check_stages(stages: Sequence[str]) -> None:
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; expected some of {', '.join(STAGES)}")


