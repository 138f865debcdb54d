"""The β ablation (the paper's Fig. 7): how the LPIPS and adversarial weights trade distortion for perception.

    python benchmarks/beta_ablation.py --base runs/generative-cbr48-cpu/checkpoint_0002750.pt \\
        --data ../shared/datasets/train --eval-data ../shared/datasets/train/bsds500/val \\
        --steps 200 --runs runs/ablation --out docs/ablation

From one shared starting point (``--base``, a resumable checkpoint whose pretrain stage is done), every
setting fine-tunes its own copy for the same number of generator steps (``--steps``) at one constant
learning rate (``--lr``; a schedule would differ between stages): a setting with ``beta_g > 0`` finishes
the discriminator stage (the base's count; the generator is frozen there) and then runs ``--steps``
adversarial steps; ``beta_g = 0`` (no discriminator) runs ``--steps`` more pretrain steps, the same
generator loss without the adversarial term. Settings are ``name:beta_g:beta_p`` (default: β_g in
{0, 3e-4, 1e-3, 3e-3, 1e-2} with the base's β_p, and β_g = 1e-3 with β_p = 0); β_m is the base's.

Each fine-tuned model is then scored over AWGN at every ``--snr`` (default 1, 10, 13 dB) on ``--eval-data``
(:func:`models.evaluate.evaluate`, whole images, 8-bit output, the same noise for every setting). Training
and scores are kept under ``--runs`` (a rerun continues where it stopped); ``OUT/beta.json`` holds the
settings, the size of the experiment, each setting's means and per-image scores, and its paired difference
from the reference setting (β_g = 0 at the base's β_p: the mean over images of the difference, with its
95 % t-interval), ``OUT/beta.png`` the distortion-perception plane (PSNR against LPIPS, one point per
setting, one panel per SNR); with ``--readme`` the table (:func:`markdown_table`) also goes into that
README between ``<!-- beta-ablation-table:begin -->`` and ``<!-- beta-ablation-table:end -->``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from benchmarks.readme_markers import check_markers, splice  # noqa: E402
from models.checkpoint import load_checkpoint, read_checkpoint, weights_sha256  # noqa: E402
from models.confidence import mean_and_ci  # noqa: E402
from models.evaluate import evaluate, package_versions  # noqa: E402
from models.figure_file import write_figure  # noqa: E402
from models.image_io import list_images  # noqa: E402
from models.jscc import DeepJSCC  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import LPIPS  # noqa: E402
from models.train import Trainer  # noqa: E402
from models.train_config import TrainConfig  # noqa: E402
from models.trainer_checkpoint import config_of_checkpoint  # noqa: E402

DEFAULT_BETA_G = (0.0, 3e-4, 1e-3, 3e-3, 1e-2)
PAIRED_METRICS = ("psnr_db", "ms_ssim", "lpips")
README_BLOCK = "beta-ablation-table"


class AblationError(ValueError):
    """Bad arguments: a malformed setting, a base checkpoint that has not finished its pretrain stage."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One point of the ablation: its name and the adversarial and LPIPS weights."""

    name: str
    beta_g: float
    beta_p: float


def parse_settings(spec: str | None, base_beta_p: float) -> list[Setting]:
    """``"name:beta_g:beta_p,..."`` (None: the default grid around ``base_beta_p``) -> settings."""
    if spec is None:
        grid = [Setting(f"g{g:g}", g, base_beta_p) for g in DEFAULT_BETA_G]
        return grid + [Setting("g0.001-nolpips", 1e-3, 0.0)]
    settings = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        fields = item.split(":")
        try:
            name, beta_g, beta_p = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise AblationError(f"--settings: {item!r} is not name:beta_g:beta_p (e.g. g0.001:1e-3:0.2)") from None
        if not name or beta_g < 0 or beta_p < 0:
            raise AblationError(f"--settings: {item!r} needs a name and weights >= 0")
        settings.append(Setting(name, beta_g, beta_p))
    if len({s.name for s in settings}) != len(settings):
        raise AblationError("--settings: names must differ")
    return settings


def setting_config(base: TrainConfig, base_steps: dict[str, int], setting: Setting, steps: int,
                   lr: float) -> tuple[TrainConfig, tuple[str, ...]]:
    """The configuration of one setting and the stages it trains (see the module docstring)."""
    loss = dataclasses.replace(base.loss, beta_g=setting.beta_g, beta_p=setting.beta_p)
    optim = dataclasses.replace(base.optim, lr=lr, final_lr_fraction=1.0)
    done = base_steps["pretrain"]
    if setting.beta_g > 0:
        stages = dataclasses.replace(base.stages, pretrain=done, adversarial=base_steps["adversarial"] + steps)
        trains = ("discriminator", "adversarial")
    else:
        stages = dataclasses.replace(base.stages, pretrain=done + steps, discriminator=0, adversarial=0)
        trains = ("pretrain",)
    config = base.replace(loss=loss, optim=optim, stages=stages,
                          run=dataclasses.replace(base.run, name=f"ablation-{setting.name}"))
    return config, trains


def fine_tune(base_path: Path, setting: Setting, args: argparse.Namespace) -> Path:
    """Train one setting into ``RUNS/<name>/`` (continuing a previous try); returns its ``last.pt``."""
    base = config_of_checkpoint(base_path)
    base_steps = {k: int(v) for k, v in read_checkpoint(base_path)["trainer"]["steps"].items()}
    if base_steps["pretrain"] < base.stages.pretrain:
        raise AblationError(f"--base {base_path}: its pretrain stage is at {base_steps['pretrain']} of "
                            f"{base.stages.pretrain} steps; start the ablation from a finished one")
    config, trains = setting_config(base, base_steps, setting, args.steps, args.lr)
    config = config.replace(run=dataclasses.replace(config.run, threads=args.threads))
    out_dir = Path(args.runs) / setting.name
    trainer = Trainer(config, data_dir=args.data, out_dir=out_dir, progress=not args.no_progress)
    last = out_dir / "last.pt"
    trainer.load(last if last.is_file() else base_path)
    if trainer.remaining(trains):
        trainer.run(trains)
    return last


def score(model: DeepJSCC, images: list[Path], snrs: list[float], lpips: LPIPS, seed: int) -> dict[str, dict]:
    """One fine-tuned model's scores per SNR: ``{"10": {"mean": {"psnr_db": .., "ms_ssim": .., "lpips": ..},
    "per_image": {"psnr_db": [..], "ms_ssim": [..], "lpips": [..]}}}`` (per image in ``images`` order)."""
    with tempfile.TemporaryDirectory() as scratch:
        results = evaluate(model.eval(), images, snrs, Path(scratch) / "eval", lpips=lpips, seed=seed,
                           save_reconstructions=False)
    return {f"{entry['snr_db']:g}": {"mean": {key: entry["mean"][key] for key in PAIRED_METRICS},
                                     "per_image": {key: [image[key] for image in entry["images"]]
                                                   for key in PAIRED_METRICS}}
            for entry in results["results"]}


def paired_differences(scores: dict[str, dict], reference: dict[str, dict]) -> dict[str, dict]:
    """Per SNR and metric, the mean over images of ``scores - reference`` with its 95 % t-interval: both were
    scored on the same images with the same noise draws, so the image-to-image spread cancels."""
    return {snr: {key: mean_and_ci([a - b for a, b in zip(scores[snr]["per_image"][key],
                                                           reference[snr]["per_image"][key], strict=True)])
                  for key in PAIRED_METRICS}
            for snr in scores}


def markdown_table(record: dict) -> str:
    """The settings' scores as a Markdown table: PSNR, MS-SSIM and LPIPS at 10 dB (else the first SNR), the
    paired differences from the reference setting there, and LPIPS at the other SNRs."""
    keys = [f"{snr:g}" for snr in record["snrs_db"]]
    main = "10" if "10" in keys else keys[0]
    others = [key for key in keys if key != main]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |\n"

    columns = ["setting", f"{main} dB PSNR", "MS-SSIM", "LPIPS", "Δ PSNR (dB)", "Δ LPIPS",
               *(f"{key} dB LPIPS" for key in others)]
    lines = [row(columns), row(["---"] * len(columns))]
    for entry in record["settings"]:
        mean, delta = entry["scores"][main]["mean"], entry["minus_reference"][main]
        if entry["name"] == record["reference"]:
            change = ["reference", "reference"]
        else:
            change = [f"{delta['psnr_db']['mean']:+.2f} ± {delta['psnr_db']['ci95']:.2f}",
                      f"{delta['lpips']['mean']:+.4f} ± {delta['lpips']['ci95']:.4f}"]
        lines.append(row([f"β_g = {entry['beta_g']:g}, β_p = {entry['beta_p']:g}", f"{mean['psnr_db']:.2f}",
                          f"{mean['ms_ssim']:.3f}", f"{mean['lpips']:.3f}", *change,
                          *(f"{entry['scores'][key]['mean']['lpips']:.3f}" for key in others)]))
    n = record["eval_set"]["n_images"]
    return (f"{n} validation images, AWGN, whole images, 8-bit output; `python benchmarks/beta_ablation.py` "
            f"(`beta.json`). Δ: the difference from the reference setting at {main} dB, mean over the same "
            f"{n} images and noise draws ± its 95 % t-interval.\n\n" + "".join(lines))


def plot(record: dict, path: Path) -> Path:
    """PSNR against LPIPS, one point per setting, one panel per SNR (lower right is better)."""
    snrs = record["snrs_db"]
    fig, axes = plt.subplots(1, len(snrs), figsize=(4.2 * len(snrs), 3.8), squeeze=False)
    for ax, snr in zip(axes[0], snrs, strict=True):
        key = f"{snr:g}"
        for entry in record["settings"]:
            mean = entry["scores"][key]["mean"]
            ax.scatter(mean["lpips"], mean["psnr_db"], marker="s" if entry["beta_p"] == 0 else "o", s=40,
                       label=f"β_g={entry['beta_g']:g}, β_p={entry['beta_p']:g}")
        ax.set(title=f"AWGN {snr:g} dB", xlabel="LPIPS (alex), lower is better", ylabel="PSNR [dB]")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(f"β ablation: {record['steps']} fine-tuning steps per setting from one checkpoint, "
                 f"{record['eval_set']['n_images']} validation images", fontsize=9)
    fig.tight_layout()
    write_figure(fig, path, 130)
    plt.close(fig)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="shared starting checkpoint (resumable, pretrain stage finished)")
    p.add_argument("--data", required=True, help="training images (bsds500/val is left out, as in training)")
    p.add_argument("--eval-data", required=True, help="images to score on (the validation split)")
    p.add_argument("--settings", help="comma-separated name:beta_g:beta_p (default: the grid in the docstring)")
    p.add_argument("--steps", type=int, default=200, help="generator steps per setting (default 200)")
    p.add_argument("--lr", type=float, default=3e-5, help="constant learning rate of the fine-tuning (default 3e-5)")
    p.add_argument("--snr", default="1,10,13", help="comma-separated SNRs [dB] to score at (default 1,10,13)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scoring noise (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--runs", default="runs/ablation", help="working folder (default runs/ablation)")
    p.add_argument("--out", default="docs/ablation", help="output folder of beta.json and beta.png")
    p.add_argument("--readme", help=f"also write the table into this README between <!-- {README_BLOCK}:begin --> "
                                    "and its end marker")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    args.snr = [float(s) for s in args.snr.split(",")]
    if args.steps < 1 or args.lr <= 0:
        raise AblationError(f"--steps must be >= 1 and --lr > 0, got {args.steps} and {args.lr}")
    if "kodak" in str(Path(args.eval_data).resolve()).lower():
        raise AblationError(f"--eval-data {args.eval_data}: Kodak is the test set; the ablation informs choices, "
                            "so it is scored on the validation split")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.readme:
        check_markers(Path(args.readme), README_BLOCK)  # before the long work
    torch.set_num_threads(args.threads)
    base_path = Path(args.base)
    base = config_of_checkpoint(base_path)
    settings = parse_settings(args.settings, base.loss.beta_p)
    images = list_images(args.eval_data)
    lpips = LPIPS()
    entries = []
    for setting in settings:
        checkpoint = fine_tune(base_path, setting, args)
        cache = checkpoint.with_name("scores.json")
        digest = weights_sha256(checkpoint)
        cached = json.loads(cache.read_text()) if cache.is_file() else {}
        if (cached.get("weights_sha256"), cached.get("snrs_db"), cached.get("seed")) != (digest, args.snr, args.seed):
            model = load_checkpoint(checkpoint)[0]
            cached = {"weights_sha256": digest, "snrs_db": args.snr, "seed": args.seed,
                      "scores": score(model, images, args.snr, lpips, args.seed)}
            write_json(cache, cached)
        entries.append({**dataclasses.asdict(setting), "weights_sha256": digest, "scores": cached["scores"]})
        ten = (cached["scores"].get("10") or next(iter(cached["scores"].values())))["mean"]
        print(f"{setting.name}: PSNR {ten['psnr_db']:.2f} dB, MS-SSIM {ten['ms_ssim']:.4f}, LPIPS {ten['lpips']:.4f}",
              flush=True)
    reference = next((e for e in entries if e["beta_g"] == 0 and e["beta_p"] == base.loss.beta_p), entries[0])
    for entry in entries:
        entry["minus_reference"] = paired_differences(entry["scores"], reference["scores"])
    record = {
        "what": "distortion-perception trade-off of the generator loss weights (the paper's Fig. 7), CPU-sized",
        "base": {"path": str(base_path), "sha256": hashlib.sha256(base_path.read_bytes()).hexdigest(),
                 "weights_sha256": weights_sha256(base_path), "trained_without": list(base.data.exclude),
                 "beta_m": base.loss.beta_m, "model": dataclasses.asdict(base.model)},
        "steps": args.steps,
        "lr": args.lr,
        "batch": {"crop": base.data.crop, "batch_size": base.data.batch_size},
        "eval_set": {"path": str(Path(args.eval_data).resolve()), "n_images": len(images),
                     "channel": "AWGN, whole images, 8-bit output", "seed": args.seed},
        "snrs_db": args.snr,
        "reference": reference["name"],
        "settings": entries,
        "lpips": lpips.source,
        "versions": package_versions(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "beta.json", record, indent=None)  # one line: it holds every image's scores
    table = markdown_table(record)
    if args.readme:
        splice(Path(args.readme), README_BLOCK, table)
    print(table)
    print(f"wrote {out / 'beta.json'} and {plot(record, out / 'beta.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
