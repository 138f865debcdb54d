"""Where a generative model's artefacts come from: its decoder on TAEF2's clean latent, no heads, no channel.

    python benchmarks/clean_latent.py --data ../shared/datasets/train/bsds500/val --models generative-cbr48 \\
        --out docs/streaks/clean_latent.json

Every image of ``--data`` (cropped to a multiple of 16 pixels a side from its top-left corner) is encoded
once by the pretrained TAEF2 encoder (frozen in every generative model, so the latent a model's heads
start from) and decoded by the pretrained TAEF2 decoder (``taef2-pretrained``, from $JSCC_WEIGHTS_DIR) and
by the fine-tuned decoder of each generative model of ``--models``. An artefact of the fine-tuned decoder
shows here; one that appears only through the channel comes from the latent the generator head
estimates. Scores per decoder and image, 8-bit output (:func:`models.metrics.compute_metrics`): PSNR,
MS-SSIM, LPIPS (AlexNet), the grid index above the source's and the streak index. Writes ``--out`` with the
means and the versions (and every image's scores with ``--per-image``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402
from torch import nn  # noqa: E402

from models.evaluate import package_versions  # noqa: E402
from models.image_io import list_images, load_image, quantise  # noqa: E402
from models.jscc import DeepJSCC  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import LPIPS, METRICS, compute_metrics  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.registry import load_model  # noqa: E402
from models.taef2 import load_taef2, taef2_decoder, taef2_encoder  # noqa: E402

PRETRAINED = "taef2-pretrained"
SIDE_MULTIPLE = 16  # pixels: the crop every model's symbol grid needs


class CleanLatentError(ValueError):
    """A model of ``--models`` that has no TAEF2 decoder."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of images (../shared/datasets/train/bsds500/val)")
    p.add_argument("--models", default="", help="comma-separated generative models (names or checkpoint paths)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images (sorted)")
    p.add_argument("--per-image", action="store_true", help="also write every image's scores (per_image)")
    p.add_argument("--out", required=True, help="output JSON file")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    return args


def generative_models(names: list[str]) -> dict[str, DeepJSCC]:
    """Each model of ``names``, in eval mode; CleanLatentError for one that is not generative."""
    found = {}
    for name in names:
        model, _ = load_model(name)
        if model.config.architecture != "generative":
            raise CleanLatentError(f"{name} is a {model.config.architecture!r} model; expected a generative one "
                                   "(its decoder is TAEF2's, fine-tuned)")
        found[name] = model.eval()
    return found


def decoders(models: list[str]) -> dict[str, nn.Module]:
    """The pretrained TAEF2 decoder and each model's fine-tuned one, float32, in eval mode."""
    found = {PRETRAINED: load_taef2(taef2_decoder(), "decoder")}
    found |= {name: model.generator.synthesis for name, model in generative_models(models).items()}
    return {name: module.float().eval() for name, module in found.items()}


def crop(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> (1, 3, H', W'): the top-left crop with sides a multiple of 16."""
    height, width = (side // SIDE_MULTIPLE * SIDE_MULTIPLE for side in image.shape[-2:])
    return image[None, :, :height, :width].float()


def score(paths: list[Path], nets: dict[str, nn.Module]) -> dict[str, list[dict]]:
    """Per decoder, per image: name and the metrics of its 8-bit decoding of the clean latent."""
    encoder = load_taef2(taef2_encoder(), "encoder").eval()
    lpips = LPIPS()
    rows: dict[str, list[dict]] = {name: [] for name in nets}
    with torch.no_grad(), Progress(total=len(paths) * len(nets), desc="clean latent", unit="decode") as progress:
        for path in paths:
            x = crop(load_image(path))
            z = encoder(x)
            for name, net in nets.items():
                y = quantise(net(z))
                values = compute_metrics(x, y, lpips, which=tuple(METRICS))
                rows[name].append({"name": path.stem, **{k: float(v) for k, v in values.items()}})
                progress.update()
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = list_images(args.data)[: args.limit]
        nets = decoders(args.models)
    except (FileNotFoundError, ValueError) as exc:  # CleanLatentError and models' errors are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = score(paths, nets)
    means = {name: {key: sum(r[key] for r in values) / len(values) for key in METRICS.values()}
             for name, values in rows.items()}
    report = {"data": str(args.data), "images": len(paths), "crop": f"top-left, sides a multiple of {SIDE_MULTIPLE}",
              "means": means, "versions": package_versions()}
    write_json(args.out, report | ({"per_image": rows} if args.per_image else {}))
    for name, mean in means.items():
        print(f"{name}: {mean['psnr_db']:.2f} dB, MS-SSIM {mean['ms_ssim']:.4f}, LPIPS {mean['lpips']:.4f}, "
              f"grid {mean['grid_index']:+.4f}, streak {mean['streak_index']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
