"""How much of a model's picture repeats on the latent's 8-pixel grid, and what the metrics make of it.

    python benchmarks/latent_grid_lattice.py --data ../shared/datasets/train/bsds500/val \\
        --models generative-cbr48,generative-cbr24,perceptual-cbr48 --snr 10 --out docs/streaks/lattice.json

Every image of ``--data`` (cropped to a multiple of 16 pixels a side from its top-left corner) is sent through
each model and AWGN at ``--snr`` (seeded; 8-bit output, as ``ota eval``). Reported per model, as means over the
images: the share of the fine detail's energy on the grid's lattice of frequencies
(:func:`models.lattice_filter.lattice_energy_share`) of the source, of the picture, and of the picture passed
through a :class:`~models.lattice_filter.LatticeFilter` of ``--taps`` taps (8-bit again); and PSNR, MS-SSIM,
LPIPS with the AlexNet trunk (the training and selection metric) and with the SqueezeNet trunk, of the picture
and of the filtered picture. A metric that moves a lot when the filter takes away what repeats on the grid,
while the other barely moves, is scoring that lattice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402

from benchmarks.clean_latent import crop  # noqa: E402
from benchmarks.latent_estimate import estimate_parser, parse_estimate_args  # noqa: E402
from models.evaluate import package_versions, transmit_awgn  # noqa: E402
from models.image_io import list_images, load_image, quantise  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.lattice_filter import LatticeFilter, lattice_energy_share  # noqa: E402
from models.metrics import LPIPS, ms_ssim, psnr  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.registry import load_model  # noqa: E402

PICTURES = ("decoded", "filtered")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = estimate_parser(__doc__)
    p.add_argument("--taps", type=int, default=3, help="the lattice filter's taps each way (default 3)")
    return parse_estimate_args(p, argv)


def scores(x: torch.Tensor, picture: torch.Tensor, lpips: dict[str, LPIPS]) -> dict[str, float]:
    """Lattice share, PSNR, MS-SSIM and both LPIPS of one (1, 3, H, W) picture against its source x."""
    values = {"lattice_share": float(lattice_energy_share(picture)), "psnr_db": float(psnr(x, picture)),
              "ms_ssim": float(ms_ssim(x, picture))}
    return values | {f"lpips_{net}": float(module(x, picture)) for net, module in lpips.items()}


def measure(paths: list[Path], names: list[str], snr_db: float, seed: int, taps: int) -> dict[str, dict]:
    """Per model: the mean source lattice share and the mean scores of its pictures, filtered and not."""
    lattice = LatticeFilter(taps)
    lpips = {"alex": LPIPS(net="alex"), "squeeze": LPIPS(net="squeeze")}
    models = {name: load_model(name)[0].eval() for name in names}
    results: dict[str, dict] = {name: {"source_lattice_share": 0.0, **{p: {} for p in PICTURES}} for name in names}
    with torch.no_grad(), Progress(total=len(paths) * len(names), desc="lattice", unit="image") as progress:
        for path in paths:
            x = crop(load_image(path))
            source_share = float(lattice_energy_share(x))
            for name, model in models.items():
                decoded = transmit_awgn(model, x, snr_db, torch.Generator().manual_seed(seed))
                result = results[name]
                result["source_lattice_share"] += source_share / len(paths)
                for picture, image in zip(PICTURES, (decoded, quantise(lattice(decoded))), strict=True):
                    for key, value in scores(x, image, lpips).items():
                        result[picture][key] = result[picture].get(key, 0.0) + value / len(paths)
                progress.update()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = list_images(args.data)[: args.limit]
        results = measure(paths, args.models, args.snr, args.seed, args.taps)
    except (FileNotFoundError, ValueError) as exc:  # models' and metrics' errors too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(args.out, {
        "data": str(args.data), "images": len(paths), "snr_db": args.snr, "seed": args.seed,
        "channel": "awgn (TrainingChannel, no erasures)", "lattice_filter_taps": args.taps,
        "models": results, "versions": package_versions(),
    })
    for name, r in results.items():
        d, f = r["decoded"], r["filtered"]
        print(f"{name}: lattice share {r['source_lattice_share']:.2%} of the sources' fine detail, "
              f"{d['lattice_share']:.2%} of the pictures', {f['lattice_share']:.2%} filtered; filtering moves PSNR "
              f"{f['psnr_db'] - d['psnr_db']:+.2f} dB, LPIPS-alex {f['lpips_alex'] - d['lpips_alex']:+.4f}, "
              f"LPIPS-squeeze {f['lpips_squeeze'] - d['lpips_squeeze']:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
