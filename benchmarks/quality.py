"""Quality of every shipped model on a folder of images (Kodak) over AWGN, with the robustness checks.

    python benchmarks/quality.py --data ../shared/datasets/kodak --out results/quality
    python benchmarks/quality.py --data DIR --out OUT --readme README.md     # also refresh the README table
    python benchmarks/quality.py --data DIR --out OUT --merge A,B --readme README.md  # join runs made in parallel

For each shipped model (:func:`models.registry.available_models`, or ``--models``) and each SNR
(default 1, 4, 7, 10, 13 dB) every whole image is sent through the model and AWGN
(:func:`models.evaluate.transmit_awgn`, 8-bit output) and scored with PSNR, MS-SSIM, LPIPS (AlexNet trunk)
and LPIPS with the SqueezeNet 1.1 trunk (``lpips_squeeze``, same reconstruction), then sent again:

* with the SNR the model is told off by ``-mismatch`` and ``+mismatch`` dB (default 1 dB; encoder
  condition and the generator's noise variance both use the wrong value): PSNR;
* with ``erasure`` (default 10 %) of the symbols erased at random, what one lost OFDM frame in ten
  becomes after the link's de-interleaving: PSNR.

The noise draws are the same for every model, SNR and variant (one generator seeded per image).
Writes into OUT:

* ``quality.json``: ``{model_name: {snr_db: {psnr_db, ms_ssim, lpips, lpips_squeeze, psnr_db_snr_minus,
  psnr_db_snr_plus, psnr_db_erased}}}`` (means over the images; the SNR keys are strings such as ``"10"``)
  with the reserved keys ``config`` (images, SNRs, mismatch, erasure, the weights of both LPIPS networks,
  each model's card summary) and ``versions``;
* ``snr_psnr.png``, ``snr_ms_ssim.png``, ``snr_lpips.png``: the metric against SNR, one curve per model;
* ``side_by_side.webp``: three images (``--figure-images``) at ``--figure-snr`` dB: original, then the MSE,
  perceptual and generative models at CBR 1/48 (those scored), full image and its centre crop (pixels
  enlarged without interpolation, so a block grid or a mesh shows);
* ``quality.md``: the tables (quality per SNR, SNR mismatch, erasures) that ``--readme`` splices into a
  README between ``<!-- quality-table:begin -->`` and ``<!-- quality-table:end -->``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.readme_markers import check_markers, splice  # noqa: E402
from models.evaluate import package_versions, transmit_awgn  # noqa: E402
from models.figure_file import write_figure  # noqa: E402
from models.image_io import list_images, load_image  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import LPIPS, MS_SSIM_MIN_SIZE, compute_metrics, psnr  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.registry import available_models, load_model  # noqa: E402

RESERVED_KEYS = ("config", "versions")
README_BLOCK = "quality-table"
METRIC_LABELS = {"psnr_db": "PSNR (dB)", "ms_ssim": "MS-SSIM", "lpips": "LPIPS (lower is better)"}
FIGURE_MODELS = ("mse-cbr48", "perceptual-cbr48", "generative-cbr48")
CROP = 192  # side [pixels] of the centre crop in the side-by-side figure (nearest-neighbour, about 1.7x)
SIDE_BY_SIDE_DPI = 80


class QualityError(ValueError):
    """Bad arguments: no images, an unknown or unshipped model, bad SNRs, a README without markers."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of evaluation images (Kodak)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--models", default=None, help="comma-separated model names or .pt paths (default: all shipped)")
    p.add_argument("--snrs", default="1,4,7,10,13", help="channel SNRs [dB] (default 1,4,7,10,13)")
    p.add_argument("--mismatch", type=float, default=1.0, help="SNR mismatch [dB] told to the model (default 1)")
    p.add_argument("--erasure", type=float, default=0.1, help="fraction of symbols erased (default 0.1)")
    p.add_argument("--figure-images", default="kodim05,kodim14,kodim23",
                   help="names (without suffix) of the three images of side_by_side.webp")
    p.add_argument("--figure-snr", type=float, default=10.0, help="SNR [dB] of side_by_side.webp (default 10)")
    p.add_argument("--readme", default=None, help="README to splice quality.md into (between the markers)")
    p.add_argument("--lpips-weights", default=None, help="AlexNet features file (default $JSCC_WEIGHTS_DIR)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of the channel noise (default 0)")
    p.add_argument("--merge", default=None, metavar="DIR,DIR,...",
                   help="score nothing: join the quality.json of these earlier runs (same images, SNRs, mismatch, "
                        "erasure and seed; e.g. models scored in parallel) and write OUT from them")
    args = p.parse_args(argv)
    try:
        args.snrs = [float(s) for s in args.snrs.split(",")]
    except ValueError:
        p.error(f"--snrs must be comma-separated numbers [dB], got {args.snrs!r}")
    if not 0 <= args.erasure < 1:
        p.error(f"--erasure must be a fraction in [0, 1), got {args.erasure}")
    return args


def snr_key(snr_db: float) -> str:
    """JSON key of an SNR: ``"10"``, ``"-2.5"``."""
    return f"{snr_db:g}"


def score_model(model: torch.nn.Module, images: list[torch.Tensor], snrs: list[float], args: argparse.Namespace,
                lpips: LPIPS, lpips_squeeze: LPIPS, progress: Progress) -> dict[str, dict[str, float]]:
    """One model on every image at every SNR -> ``{snr_key: {metric: mean over images}}``.

    ``lpips`` (AlexNet trunk) scores the ``lpips`` key, ``lpips_squeeze`` (SqueezeNet 1.1) the ``lpips_squeeze`` key.
    """
    device = torch.device(args.device)
    with torch.no_grad():  # the encoder's SNR-independent part, the same at every SNR and variant
        analysed = [model.analyse(image.to(device)[None]) for image in images]
    table = {}
    for snr in snrs:
        sums: dict[str, list[float]] = {}
        for index, (image, features) in enumerate(zip(images, analysed, strict=True)):
            x = image.to(device)[None]
            variants = {
                "": {},
                "_snr_minus": {"assumed_snr_db": snr - args.mismatch},
                "_snr_plus": {"assumed_snr_db": snr + args.mismatch},
                "_erased": {"symbol_erasure_prob": args.erasure},
            }
            for suffix, options in variants.items():
                generator = torch.Generator(device=device).manual_seed(args.seed * 1_000_003 + index)
                x_hat = transmit_awgn(model, x, snr, generator, features=features, **options)
                if suffix:
                    scores = {"psnr_db": psnr(x, x_hat).cpu()}
                else:
                    scores = compute_metrics(x, x_hat, lpips)
                    with torch.no_grad():
                        scores["lpips_squeeze"] = lpips_squeeze(x, x_hat).cpu()
                for key, value in scores.items():
                    sums.setdefault(key + suffix, []).append(float(value[0]))
            progress.update()
        table[snr_key(snr)] = {key: float(np.mean(values)) for key, values in sums.items()}
    return table


def plot_metric(results: dict, snrs: list[float], metric: str, path: Path) -> Path:
    """One curve per model of ``metric`` against SNR."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, table in results.items():
        ax.plot(snrs, [table[snr_key(s)][metric] for s in snrs], marker="o",
                linestyle="--" if name.startswith("mse") else "-", label=name)
    ax.set_xlabel("channel SNR (dB), AWGN")
    ax.set_ylabel(METRIC_LABELS[metric])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_figure(fig, path, 130)
    plt.close(fig)
    return path


def plot_side_by_side(models: dict, images: dict[str, torch.Tensor], args: argparse.Namespace, path: Path) -> Path:
    """Rows: the figure images; columns: original, then each model of ``models`` (those of FIGURE_MODELS that
    were scored), full and centre crop."""
    device = torch.device(args.device)
    shown_models = [name for name in FIGURE_MODELS if name in models]
    columns = ["original", *shown_models]
    fig, axes = plt.subplots(2 * len(images), len(columns), figsize=(4 * len(columns), 5.6 * len(images)))
    for row, (name, image) in enumerate(images.items()):
        x = image.to(device)[None]
        shown = {"original": (x, "")}
        for model_name in shown_models:
            generator = torch.Generator(device=device).manual_seed(args.seed)
            x_hat = transmit_awgn(models[model_name], x, args.figure_snr, generator)
            scores = compute_metrics(x, x_hat, models["lpips"], which=("psnr", "lpips"))
            shown[model_name] = (x_hat, f"\n{scores['psnr_db'][0]:.2f} dB, LPIPS {scores['lpips'][0]:.3f}")
        height, width = x.shape[-2:]
        top, left = (height - CROP) // 2, (width - CROP) // 2
        for col, label in enumerate(columns):
            picture = shown[label][0][0].permute(1, 2, 0).cpu().numpy()
            crop = picture[top:top + CROP, left:left + CROP]
            for offset, (view, title) in enumerate(((picture, f"{name}: {label}{shown[label][1]}"),
                                                    (crop, f"centre {CROP}x{CROP}, pixels enlarged"))):
                ax = axes[2 * row + offset, col]
                ax.imshow(view, interpolation="nearest")
                ax.set_title(title, fontsize=9)
                ax.axis("off")
    fig.suptitle(f"AWGN {args.figure_snr:g} dB, CBR 1/48")
    fig.tight_layout()
    write_figure(fig, path, SIDE_BY_SIDE_DPI)
    plt.close(fig)
    return path


def markdown_tables(results: dict, snrs: list[float], n_images: int, args: argparse.Namespace) -> str:
    """The quality, SNR-mismatch and erasure tables in Markdown."""
    header = "| model | " + " | ".join(f"{s:g} dB" for s in snrs) + " |\n|---|" + "---|" * len(snrs) + "\n"

    def rows(cell) -> str:
        return "".join(f"| {name} | " + " | ".join(cell(table[snr_key(s)]) for s in snrs) + " |\n"
                       for name, table in results.items())

    m, pct = args.mismatch, args.erasure * 100
    return (
        f"Kodak ({n_images} whole images), AWGN, 8-bit output; `python benchmarks/quality.py` "
        f"(`quality.json`). Each cell: PSNR (dB) / MS-SSIM / LPIPS (AlexNet) / LPIPS (SqueezeNet).\n\n" + header
        + rows(lambda e: f"{e['psnr_db']:.2f} / {e['ms_ssim']:.3f} / {e['lpips']:.3f} / {e['lpips_squeeze']:.3f}")
        + f"\nSNR mismatch: PSNR (dB) when the model is told SNR - {m:g} dB / the true SNR / SNR + {m:g} dB.\n\n"
        + header + rows(lambda e: f"{e['psnr_db_snr_minus']:.2f} / {e['psnr_db']:.2f} / {e['psnr_db_snr_plus']:.2f}")
        + f"\nErasures: PSNR (dB) with none / {pct:g} % of the symbols erased (drop in dB).\n\n"
        + header + rows(lambda e: f"{e['psnr_db']:.2f} / {e['psnr_db_erased']:.2f} "
                                  f"({e['psnr_db'] - e['psnr_db_erased']:.2f})")
    )


def resolve_models(spec: str | None) -> list[str]:
    """``--models`` -> names or paths; default: every shipped model."""
    names = [n.strip() for n in spec.split(",") if n.strip()] if spec else list(available_models())
    if not names:
        raise QualityError("no models to evaluate: none is shipped under models/weights/ and --models is empty")
    return names


MERGED_CONFIG_KEYS = ("images", "snrs_db", "channel", "mismatch_db", "erasure_fraction", "seed", "quantised_8bit",
                      "lpips", "lpips_squeeze")
"""Settings that runs joined with ``--merge`` must share."""


def merge_runs(folders: list[Path]) -> tuple[dict, dict]:
    """The models' tables and the config of several runs' ``quality.json`` -> ``(results, config)``."""
    results: dict = {}
    config: dict = {}
    for folder in folders:
        path = folder / "quality.json"
        if not path.is_file():
            raise QualityError(f"--merge: {path} does not exist")
        report = json.loads(path.read_text(encoding="utf-8"))
        for key in MERGED_CONFIG_KEYS:
            if config and report["config"].get(key) != config.get(key):
                raise QualityError(f"--merge: {path} has {key} = {report['config'].get(key)!r}, "
                                   f"the first run {config.get(key)!r}; only runs of the same settings join")
        models = {**config.get("models", {}), **report["config"]["models"]}
        wall = config.get("wall_s", 0.0) + report["config"]["wall_s"]
        config = {**report["config"], "models": models, "wall_s": wall, "merged_from": [str(f) for f in folders]}
        results.update({name: table for name, table in report.items() if name not in RESERVED_KEYS})
    return results, config


def score_all(
    args: argparse.Namespace, paths: list[Path], images: list[torch.Tensor], lpips: LPIPS
) -> tuple[dict, dict]:
    """Score every model of ``--models`` -> ``(results, config)`` as written to quality.json."""
    started = time.perf_counter()
    names = resolve_models(args.models)
    models = {name: load_model(name, args.device) for name in names}
    lpips_squeeze = LPIPS(net="squeeze").to(args.device)
    results = {}
    with Progress(total=len(names) * len(args.snrs) * len(images), desc="quality", unit="image") as progress:
        for name, (model, _) in models.items():
            progress.set_postfix(model=name)
            results[name] = score_model(model, images, args.snrs, args, lpips, lpips_squeeze, progress)
    config = {
        "data": str(args.data), "images": [p.stem for p in paths], "snrs_db": args.snrs, "channel": "awgn",
        "mismatch_db": args.mismatch, "erasure_fraction": args.erasure, "seed": args.seed,
        "quantised_8bit": True, "device": args.device, "lpips": lpips.source, "lpips_squeeze": lpips_squeeze.source,
        "models": {name: {"cbr": card.cbr, "architecture": card.architecture, "training": {
            k: card.training.get(k) for k in ("device", "wall_s", "steps")}} for name, (_, card) in models.items()},
        "wall_s": time.perf_counter() - started,
    }
    return results, config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = list_images(args.data)
    if not paths:
        raise QualityError(f"{args.data}: no images")
    readme = Path(args.readme) if args.readme else None
    if readme is not None:
        check_markers(readme, README_BLOCK)  # before the long work
    images = [load_image(p) for p in paths]
    small = [p.name for p, image in zip(paths, images, strict=True) if min(image.shape[-2:]) < MS_SSIM_MIN_SIZE]
    if small:
        raise QualityError(f"MS-SSIM needs images of at least {MS_SSIM_MIN_SIZE} pixels a side; too small: {small}")
    lpips = LPIPS(args.lpips_weights).to(args.device)
    if args.merge:
        results, config = merge_runs([Path(f.strip()) for f in args.merge.split(",") if f.strip()])
        args.snrs, args.mismatch, args.erasure = config["snrs_db"], config["mismatch_db"], config["erasure_fraction"]
        args.seed = config["seed"]
    else:
        results, config = score_all(args, paths, images, lpips)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    figures = [plot_metric(results, args.snrs, metric, out / f"snr_{metric.removesuffix('_db')}.png")
               for metric in METRIC_LABELS]
    wanted = [n.strip() for n in args.figure_images.split(",")]
    figure_images = {p.stem: image for p, image in zip(paths, images, strict=True) if p.stem in wanted}
    shown = [name for name in FIGURE_MODELS if name in results]
    if shown and figure_images:
        models = {name: load_model(name, args.device)[0] for name in shown} | {"lpips": lpips}
        figures.append(plot_side_by_side(models, figure_images, args, out / "side_by_side.webp"))

    report = {**results, "config": config, "versions": package_versions()}
    write_json(out / "quality.json", report)
    tables = markdown_tables(results, args.snrs, len(paths), args)
    (out / "quality.md").write_text(tables, encoding="utf-8")
    if readme is not None:
        splice(readme, README_BLOCK, tables)
    print(tables)
    print(f"wrote {out / 'quality.json'}, {out / 'quality.md'} and {', '.join(p.name for p in figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
