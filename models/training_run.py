"""One call of training: the loop over the stages, with its clock, log, progress bar and checkpoints.

A :class:`TrainingRun` drives a :class:`models.train.Trainer` through the selected stages, either to their
step counts or, with a :class:`~models.time_budget.TimeBudget`, for as long as the budget lasts (the
stages' configured step counts then share the time out; :mod:`models.time_budget`). Per step it advances
the trainer's counters, writes the ``log.csv`` row and updates the bar; it saves ``checkpoint_<step>.pt``
and ``last.pt`` every ``run.checkpoint_interval`` steps and every ``checkpoint_every_s`` seconds, and at
the end ``last.pt`` and ``run.json`` (:meth:`TrainingRun.summary`: device, steps, images/s, wall time,
stage plans, losses). Only rank 0 writes files.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import torch

from models.distributed import describe_device, mean_over_ranks
from models.json_file import write_json
from models.progress import Progress
from models.time_budget import StagePlan, TimeBudget, process_age_s
from models.train_log import TrainLog

if TYPE_CHECKING:
    from models.train import Trainer


class TrainingRun:
    """Train ``stages`` of ``trainer`` once (see the module docstring); :meth:`execute` does it.

    Args:
        trainer: the trainer, with its output folder set.
        stages: the stages selected (canonical order is kept).
        budget: train for as long as this lasts instead of to the step counts.
        checkpoint_every_s: also checkpoint every this many seconds of wall time.
    """

    def __init__(self, trainer: Trainer, stages: Sequence[str], budget: TimeBudget | None = None,
                 checkpoint_every_s: float | None = None) -> None:
        self.trainer = trainer
        self.budget = budget
        self.every_s = checkpoint_every_s
        self.plan = trainer.remaining(stages) if budget is None else trainer.shares(stages)
        self.stages = tuple(stages)
        self.schedules: dict[str, StagePlan] = {}
        self.log: TrainLog | None = None
        self.started = time.perf_counter()
        self.wall_before = trainer.wall_s
        self.steps_before = trainer.total_steps
        self.saved = time.monotonic()

    def execute(self) -> dict[str, dict[str, float]]:
        """Train; save ``last.pt`` and write ``run.json`` at the end.

        Returns:
            per stage, the means of its last 100 logged steps (averaged over ranks).
        """
        trainer = self.trainer
        out_dir = trainer.out_dir
        if not self.plan and trainer.is_main:
            print(f"nothing to train: the stages {', '.join(self.stages)} have reached their steps "
                  f"({', '.join(f'{s} {trainer.steps[s]}' for s in self.stages)})", flush=True)
        if trainer.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "config.toml").write_text(trainer.config.to_toml(), encoding="utf-8")
            self.log = TrainLog(out_dir / "log.csv", resume_step=trainer.total_steps)
        total = sum(n for _, n in self.plan) if self.budget is None else 0
        bar = Progress(total=total, disable=not (trainer.progress and trainer.is_main), unit="step", dynamic_ncols=True,
                   mininterval=1.0)
        try:
            self._stages(bar)
        except KeyboardInterrupt:
            trainer.save(out_dir / "last.pt")
            if trainer.is_main:
                Progress.write(f"interrupted at step {trainer.total_steps}; saved {out_dir / 'last.pt'} "
                           f"(continue with --resume {out_dir / 'last.pt'})")
            raise
        finally:
            bar.close()
            if self.log is not None:
                self.log.close()
        if self.budget is not None:
            trainer.windows.append(self.window_record())
        trainer.save(out_dir / "last.pt")
        if trainer.is_main:
            write_json(out_dir / "run.json", self.summary())
        return {stage: means.means() for stage, means in trainer.means.items() if means.means()}

    def _stages(self, bar: Progress) -> None:
        """Each stage of the plan in turn, drawing batches from one iterator per source."""
        trainer = self.trainer
        batches: Iterator[torch.Tensor] = iter(())
        source = None  # what ``batches`` draws: "latents" or "images"
        for index, (stage, count) in enumerate(self.plan):
            trainer.stage = stage
            bar.set_description(stage)
            if source != ("latents" if stage == "latent" else "images"):
                source = "latents" if stage == "latent" else "images"
                batches = trainer.batches(stage)
            if self.budget is None:
                for _ in range(count):
                    self._step(stage, next(batches), None, bar)
                continue
            seconds = self.budget.share_s(count, sum(n for _, n in self.plan[index:]))
            self.schedules[stage] = trainer.stage_plan(stage, seconds)
            if not self._budgeted_stage(stage, batches, self.schedules[stage], bar):
                return

    def _step(self, stage: str, x: torch.Tensor, lr_factor: float | None, bar: Progress) -> None:
        """One step of ``stage`` with its bookkeeping: counters, log row, progress bar, checkpoints."""
        trainer = self.trainer
        logs = mean_over_ranks(trainer.train_step(stage, x, lr_factor), trainer.context, trainer.device)
        trainer.steps[stage] += 1
        trainer.wall_s = self.wall_before + time.perf_counter() - self.started
        trainer.means[stage].add({key: value for key, value in logs.items() if key != "lr"})
        if self.log is not None:
            self.log.write({"step": trainer.total_steps, "stage": stage, "stage_step": trainer.steps[stage],
                            "wall_s": trainer.wall_s, **logs})
        if trainer.steps[stage] % trainer.config.run.log_interval == 0:
            bar.set_postfix(_postfix(trainer.means[stage].means()), refresh=False)
            if self.log is not None:
                self.log.flush()
        bar.update()
        due = self.every_s is not None and time.monotonic() - self.saved >= self.every_s
        if trainer.total_steps % trainer.config.run.checkpoint_interval == 0 or due:
            trainer.save(trainer.out_dir / f"checkpoint_{trainer.total_steps:07d}.pt")
            trainer.save(trainer.out_dir / "last.pt")
            self.saved = time.monotonic()

    def _budgeted_stage(self, stage: str, batches: Iterator[torch.Tensor], plan: StagePlan, bar: Progress) -> bool:
        """Train ``stage`` until its plan is done (True) or the budget runs out first (False)."""
        began, k = time.perf_counter(), 0
        while not plan.done(k):
            tick = time.perf_counter()
            self._step(stage, next(batches), plan.factor(k), bar)
            now = time.perf_counter()
            fixed = plan.steps is not None
            plan.record(k, now - tick, now - began)
            k += 1
            if not fixed and plan.steps is None and now - began >= plan.seconds:
                plan.steps = k  # the stage's share ran out within the probe
            if not fixed and plan.steps is not None:
                bar.total += plan.steps
                bar.refresh()
            step_s = plan.median_step_s or now - tick
            if self.budget.left_s() < step_s:
                if not plan.done(k):
                    warnings.warn(f"the time budget ran out at step {k} of the {plan.steps or '?'} planned for the "
                                  f"{stage} stage (the steps slowed down); stopping the run there", stacklevel=2)
                return False
            if not plan.done(k) and now - began + step_s > plan.seconds:
                warnings.warn(f"the {stage} stage's share of the budget ran out at step {k} of the {plan.steps} "
                              f"planned (the steps slowed down); going on to the next stage", stacklevel=2)
                return True
        return True

    def _done(self) -> tuple[int, float]:
        """Steps done by this run, and its seconds so far."""
        return self.trainer.total_steps - self.steps_before, time.perf_counter() - self.started

    def window_record(self) -> dict:
        """What this time-boxed run did, for the card: where, how long, how many steps and images."""
        steps, train_s = self._done()
        return {"device": describe_device(self.trainer.device), "budget_min": round(self.budget.seconds / 60, 3),
                "steps": steps, "images": steps * self.trainer.config.data.batch_size, "train_s": round(train_s, 3),
                "stages": {stage: plan.steps for stage, plan in self.schedules.items()}}

    def summary(self) -> dict:
        """``run.json``: this run's device, steps, images/s and wall time, its stage plans, and the losses."""
        trainer = self.trainer
        config, context = trainer.config, trainer.context
        steps, train_s = self._done()
        images = steps * config.data.batch_size * context.world_size
        return {
            "name": config.run.name,
            "device": str(trainer.device),
            "device_name": describe_device(trainer.device, context.world_size),
            "precision": "fp32" if trainer.amp_dtype is None else str(trainer.amp_dtype).removeprefix("torch."),
            "channels_last": config.run.channels_last,
            "compile": config.run.compile,
            "data_path": "memory" if config.data.in_memory else f"DataLoader ({config.data.workers} workers)",
            "steps": dict(trainer.steps),
            "total_steps": trainer.total_steps,
            "steps_this_run": steps,
            "images_this_run": images,
            "train_s": round(train_s, 3),
            "train_img_s": images / train_s if train_s > 0 else None,
            "process_wall_s": round(process_age_s(), 3),
            "budget_s": self.budget.seconds if self.budget is not None else None,
            "stage_plans": {stage: {"seconds": round(plan.seconds, 3), "steps": plan.steps, "lr_start": plan.start,
                                    "median_step_s": plan.median_step_s}
                            for stage, plan in self.schedules.items()},
            "losses": {stage: means.means() for stage, means in trainer.means.items() if means.means()},
        }


def _postfix(means: dict[str, float]) -> dict[str, str]:
    keys = ("g_loss", "mse", "lpips", "adv", "d_loss", "psnr_db")
    return {key: f"{means[key]:.4g}" for key in keys if key in means}
