"""``ota train``: train a deep JSCC model in the paper's three stages (see :mod:`models.train`).

Examples::

    ota train --config perceptual-cbr48 --data ../shared/datasets/train --out runs/perceptual-cbr48
    ota train --resume runs/perceptual-cbr48/last.pt --out runs/perceptual-cbr48
    ota train --config mse-cbr48 --stage pretrain --steps 1000 --device cpu
    ota train --config generative-cbr48-cpu-ms --minutes 10 --in-memory --data DIR --out runs/g48   # time-boxed
    ota train --resume runs/g48/last.pt --minutes 10 --out runs/g48     # the next window of the same run
    torchrun --nproc_per_node 4 -m ota.cli train --config perceptual-cbr48 --data DIR   # several GPUs

``--config`` takes a TOML file or the name of a shipped example (models/configs/). ``--steps N`` trains
each selected stage to N steps in total, counting the steps a resumed checkpoint has already done
(``--stage all`` selects the stages the configuration can train: only pretrain when beta_g = 0).
``--minutes M`` trains for M minutes of wall time from the start of the process instead: the selected
stages share it in proportion to their configured steps, each stage's step count is fixed after a short
measured warm-up, the learning rate falls along a cosine over it, and a resumed run starts from the
checkpoint's learning rate (see models/time_budget.py); a checkpoint is written every
``--checkpoint-minutes`` (default 5) and at the end.
Writes OUT/config.toml, OUT/log.csv (every loss of every step), OUT/checkpoint_<step>.pt every
``run.checkpoint_interval`` steps, OUT/last.pt (at the end, at each checkpoint and on Ctrl-C) and
OUT/run.json (device, steps, images/s, wall time and losses of this run).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path

from models.distributed import destroy_process_group
from models.time_budget import TimeBudget
from models.train import Trainer
from models.train_config import PRECISIONS, STAGES, TrainConfig, find_config
from models.trainer_checkpoint import config_of_checkpoint
from ota.commands import COMMANDS
from ota.user_error import UserError

TRAIN_DIR_VARIABLE = "JSCC_TRAIN_DIR"
DEFAULT_CHECKPOINT_MINUTES = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help=COMMANDS["train"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", help="training configuration: a TOML file or a shipped example name "
                                    "(perceptual-cbr48, mse-cbr48, perceptual-cbr24, mse-cbr24)")
    p.add_argument("--data", help=f"folder of training images (default: data.dir, else ${TRAIN_DIR_VARIABLE})")
    p.add_argument("--out", help="output folder (default runs/<run.name>)")
    p.add_argument("--stage", choices=(*STAGES, "all"), default="all", help="stage(s) to train (default all)")
    p.add_argument("--steps", type=_positive, help="train the selected stage(s) to N steps each (overrides the config)")
    p.add_argument("--minutes", type=float, metavar="M",
                   help="train for M minutes of wall time from process start (instead of step counts)")
    p.add_argument("--checkpoint-minutes", type=float, metavar="M", default=None,
                   help="also checkpoint every M minutes (default 5 with --minutes, else off)")
    p.add_argument("--in-memory", action="store_true",
                   help="decode the training images once into memory on the device (sets data.in_memory)")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint (its echoed config unless --config)")
    p.add_argument("--lpips-weights", metavar="PATH",
                   help="AlexNet features file for the LPIPS loss (default $JSCC_WEIGHTS_DIR/alexnet_features.pth)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides run.device)")
    p.add_argument("--threads", type=_positive, help="torch CPU threads (overrides run.threads)")
    p.add_argument("--precision", choices=PRECISIONS, help="fp32, or bf16/fp16 autocast on CUDA (run.precision)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout (sets run.channels_last)")
    p.add_argument("--compile", action="store_true", help="torch.compile the encoder and generator (sets run.compile)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The configuration file (or the checkpoint's echo) with the command line's overrides applied."""
    if args.config is None and args.resume is None:
        raise UserError("give --config CONFIG.toml (or a shipped example such as perceptual-cbr48), or --resume CKPT")
    config = TrainConfig.from_toml(find_config(args.config)) if args.config else config_of_checkpoint(args.resume)
    run = config.run
    if args.device is not None:
        run = dataclasses.replace(run, device=args.device)
    if args.threads is not None:
        run = dataclasses.replace(run, threads=args.threads)
    if args.precision is not None:
        run = dataclasses.replace(run, precision=args.precision)
    run = dataclasses.replace(run, channels_last=run.channels_last or args.channels_last,
                              compile=run.compile or args.compile)
    config = config.replace(run=run)
    data_dir = args.data or config.data.dir or os.environ.get(TRAIN_DIR_VARIABLE)
    if data_dir is None:
        raise UserError(f"no training images: give --data DIR, set data.dir in the config or ${TRAIN_DIR_VARIABLE}")
    config = config.replace(data=dataclasses.replace(config.data, dir=str(data_dir),
                                                     in_memory=config.data.in_memory or args.in_memory))
    if args.steps is not None and args.minutes is not None:
        raise UserError("give --steps or --minutes, not both")
    for option, value in (("--minutes", args.minutes), ("--checkpoint-minutes", args.checkpoint_minutes)):
        if value is not None and not 0 < value < math.inf:
            raise UserError(f"{option} must be a positive number of minutes, got {value:g}")
    if args.steps is not None:
        config = config.with_steps(selected_stages(args, config), args.steps)
    return config


def selected_stages(args: argparse.Namespace, config: TrainConfig) -> tuple[str, ...]:
    """``--stage``; ``all`` is every stage the configuration can train: ``latent`` only for a generative
    model, ``discriminator`` and ``adversarial`` only with beta_g > 0."""
    if args.stage != "all":
        return (args.stage,)
    generative = config.model.architecture == "generative"
    return tuple(stage for stage in STAGES if (stage != "latent" or generative)
                 and (stage in ("latent", "pretrain") or config.uses_discriminator))


def check_out_dir(out_dir: str, resume: str | None) -> None:
    """Refuse to start a run in a folder that holds another one: its log and checkpoints would be overwritten.

    A folder holds a run when it has ``log.csv`` or ``last.pt``; continuing it (``--resume`` of a checkpoint
    inside it) is allowed.
    """
    folder = Path(out_dir)
    held = [name for name in ("log.csv", "last.pt") if (folder / name).is_file()]
    if held and (resume is None or Path(resume).resolve().parent != folder.resolve()):
        start = "a new run" if resume is None else f"a run resumed from {resume}"
        raise UserError(f"{out_dir} already holds a training run ({', '.join(held)}); {start} would overwrite its log "
                        f"and checkpoints: give another --out, or continue that run with --resume {folder / 'last.pt'}")


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    out_dir = args.out or os.path.join("runs", config.run.name)
    check_out_dir(out_dir, args.resume)
    trainer = Trainer(config, out_dir=out_dir, lpips_weights=args.lpips_weights, progress=not args.no_progress,
                      pretrained=args.resume is None)
    try:
        if args.resume:
            trainer.load(args.resume)
        budget = TimeBudget(args.minutes * 60) if args.minutes is not None else None
        every = args.checkpoint_minutes or (DEFAULT_CHECKPOINT_MINUTES if budget is not None else None)
        losses = trainer.run(selected_stages(args, config), budget=budget,
                             checkpoint_every_s=every * 60 if every is not None else None)
    except KeyboardInterrupt:
        return 130  # the trainer has saved OUT/last.pt and said so
    finally:
        destroy_process_group()
    if trainer.is_main:
        steps = ", ".join(f"{stage} {trainer.steps[stage]}" for stage in STAGES)
        print(f"trained {config.run.name}: {steps} steps, {trainer.wall_s:.0f} s on {trainer.device}")
        for stage, means in losses.items():
            print(f"  {stage}: " + ", ".join(f"{key} {value:.4g}" for key, value in sorted(means.items())))
        print(f"checkpoint: {os.path.join(out_dir, 'last.pt')}; log: {os.path.join(out_dir, 'log.csv')}; "
              f"summary: {os.path.join(out_dir, 'run.json')}")
    return 0
