"""``ota eval``: score a model over AWGN on a folder of images at several SNRs (PSNR, MS-SSIM, LPIPS).

Writes ``--out/results.json`` and the reconstructions ``--out/snr_<snr>/<name>.png``
(see :mod:`models.evaluate`). ``--patches 256`` is the paper's protocol: every image is cut into
non-overlapping 256x256 patches, each sent and scored on its own, and the scores averaged.
"""

from __future__ import annotations

import argparse
import os

import torch

from models.channel import PAPER_SNRS_DB
from models.evaluate import evaluate
from models.image_io import list_images
from models.registry import DEFAULT_MODEL, load_model
from ota import options
from ota.commands import COMMANDS
from ota.perceptual import lpips_network
from ota.user_error import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help=COMMANDS["eval"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"registered model name or checkpoint path (default {DEFAULT_MODEL})")
    p.add_argument("--data", default=os.environ.get("JSCC_KODAK_DIR"),
                   help="folder of images to score (default $JSCC_KODAK_DIR)")
    p.add_argument("--snr", default=",".join(f"{s:g}" for s in PAPER_SNRS_DB),
                   help="comma-separated channel SNRs [dB] (default the paper's 1,4,7,10,13)")
    p.add_argument("--out", required=True, help="output folder (must not exist yet, or be empty)")
    p.add_argument("--patches", type=int, default=None, metavar="SIZE",
                   help="score non-overlapping SIZE x SIZE patches (the paper: 256) instead of whole images")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="torch device (default cpu)")
    p.add_argument("--lpips-weights", default=None, metavar="PATH",
                   help="AlexNet features file for LPIPS (default $JSCC_WEIGHTS_DIR/alexnet_features.pth, "
                        "else torchvision's download)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="score only the first N images (sorted)")
    p.add_argument("--seed", type=int, default=0, help="seed of the channel noise (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    snrs = options.parse_snr_list(args.snr)
    if args.data is None:
        raise UserError("--data DIR is required (or set JSCC_KODAK_DIR to the Kodak folder)")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be a positive number of images, got {args.limit}")
    if args.patches is not None and args.patches < 1:
        raise UserError(f"--patches must be a positive patch size in pixels (e.g. 256), got {args.patches}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu")
    images = list_images(args.data)[: args.limit]
    model, card = load_model(args.model, args.device)
    lpips = lpips_network(args.lpips_weights, args.device)
    print(f"LPIPS: {lpips.source}")
    results = evaluate(
        model, images, snrs, args.out, patches=args.patches, device=args.device, lpips=lpips, seed=args.seed,
        model_card=card.to_dict(),
    )
    unit = f"{args.patches}x{args.patches} patches" if args.patches else "images"
    print(f"{args.model}: {len(images)} images ({results['results'][0]['n_scored']} {unit} scored per SNR)")
    print(f"{'SNR [dB]':>9} {'PSNR [dB]':>10} {'MS-SSIM':>8} {'LPIPS':>7}")
    for entry in results["results"]:
        mean = entry["mean"]
        print(f"{entry['snr_db']:>9g} {mean['psnr_db']:>10.2f} {mean['ms_ssim']:>8.4f} {mean['lpips']:>7.4f}")
    print(f"wrote {args.out}/results.json")
    return 0
