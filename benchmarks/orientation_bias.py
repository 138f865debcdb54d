"""Which way a generative model's decoder draws fine texture, and whether that follows the image or the decoder.

    python benchmarks/orientation_bias.py --data ../shared/datasets/train/bsds500/val \\
        --models generative-cbr48 --snr 10 --out docs/streaks/orientation_bias.json

Every image of ``--data`` (cropped to a multiple of 16 pixels a side from its top-left corner) is pictured
three times by each decoder from the same latent z: ``D(z)``, as the model does; ``D(z^T)^T``, the picture of
the latent with its grid transposed, transposed back; and ``D(M(z^T))^T``, where the linear channel map M
(fitted by least squares on ``--fit-images`` training crops, ``bsds500/val`` left out) brings the grid-transposed
latent of an image near the latent of the transposed image. TAEF2's channels describe the texture inside each
8x8 block, orientation included, which a grid transposition does not turn: stripes that turn by 90 degrees
under it and stay put under M follow the latent, stripes that turn under M too are the decoder's own. The
latent is the model's generator-head estimate through AWGN at ``--snr`` (seeded), and for reference TAEF2's
clean latent through its pretrained decoder (``taef2-pretrained``, no channel).

Reported per decoder, as means over the images: the share of the fine texture's energy (period
:data:`models.metrics.STREAK_PERIOD` pixels, :func:`models.metrics.orientation_energies`) in horizontal and in
vertical stripes, of the source and of the three pictures; their streak indices; and the transpose gap
``mean((D(z) - D(z^T)^T)^2)`` (images in [0, 1], 8-bit). Also the share of the transposed image's latent
variance that the grid transposition alone, and M, leave unexplained (on the fitting crops).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.clean_latent import PRETRAINED, crop, decoders, generative_models  # noqa: E402
from benchmarks.latent_estimate import estimate, estimate_parser, parse_estimate_args  # noqa: E402
from models.data import ImageFolderCrops  # noqa: E402
from models.evaluate import package_versions  # noqa: E402
from models.image_io import list_images, load_image, quantise  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import STREAK_ORIENTATIONS, orientation_energies, streak_index  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.taef2 import TAEF2_CHANNELS, load_taef2, taef2_encoder  # noqa: E402

VALIDATION = "bsds500/val"
"""The validation split, left out of the fit."""

VERTICAL, HORIZONTAL = 0, STREAK_ORIENTATIONS // 2
"""Orientations of :func:`models.metrics.orientation_energies` whose stripes run up-down and left-right."""

PICTURES = ("source", "decoded", "decoded_transposed", "decoded_mapped")

FIT_CROP = 256
"""Side [pixels] of the training crops the channel map is fitted on."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = estimate_parser(__doc__)
    p.add_argument("--fit-data", default="../shared/datasets/train",
                   help="training images the channel map is fitted on (bsds500/val left out)")
    p.add_argument("--fit-images", type=int, default=16, help="training images (evenly spaced) to fit on (default 16)")
    return parse_estimate_args(p, argv)


def map_channels(z: torch.Tensor, channel_map: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> the affine map (C + 1, C) applied to every latent vector of z (last row: the offset)."""
    vectors = z.movedim(1, -1)
    return (vectors @ channel_map[:-1] + channel_map[-1]).movedim(-1, 1)


def fit_channel_map(paths: list[Path], encoder: nn.Module) -> tuple[torch.Tensor, dict[str, float]]:
    """The affine channel map M (33, 32) with enc(x^T) ~ M(enc(x)^T), least squares over the top-left
    FIT_CROP-pixel crops of ``paths``; and the shares of enc(x^T)'s variance left by the plain and the mapped
    grid transposition."""
    moved, target = [], []
    for path in paths:
        x = crop(load_image(path))[..., :FIT_CROP, :FIT_CROP]
        moved.append(encoder(x).transpose(-1, -2).movedim(1, -1).reshape(-1, TAEF2_CHANNELS))
        target.append(encoder(x.transpose(-1, -2)).movedim(1, -1).reshape(-1, TAEF2_CHANNELS))
    moved, target = torch.cat(moved).double(), torch.cat(target).double()
    design = torch.cat([moved, torch.ones(len(moved), 1, dtype=moved.dtype)], dim=1)
    channel_map = torch.linalg.lstsq(design, target).solution
    variance = target.var(dim=0).sum()
    left = {"plain_transpose_unexplained": float((target - moved).square().mean(0).sum() / variance),
            "mapped_transpose_unexplained": float((target - design @ channel_map).square().mean(0).sum() / variance)}
    return channel_map.float(), left


def pictures(decoder: nn.Module, z: torch.Tensor, channel_map: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(D(z), D(z^T)^T, D(M(z^T))^T)`` for a latent z (1, 32, h, w), each (1, 3, 8h, 8w), 8-bit."""
    transposed = z.transpose(-1, -2)
    return (quantise(decoder(z)), quantise(decoder(transposed).transpose(-1, -2)),
            quantise(decoder(map_channels(transposed, channel_map)).transpose(-1, -2)))


def stripe_shares(picture: torch.Tensor) -> tuple[float, float]:
    """Shares of a picture's (1, 3, H, W) fine-texture energy in (horizontal, vertical) stripes."""
    energy = orientation_energies(picture).sum(dim=(0, 2, 3)).double()
    return float(energy[HORIZONTAL] / energy.sum()), float(energy[VERTICAL] / energy.sum())


def scores(x: torch.Tensor, drawn: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """Stripe shares of the source and the pictures, streak indices of the pictures, the transpose gap."""
    values = {"transpose_gap": float((drawn[0] - drawn[1]).square().mean())}
    for name, picture in zip(PICTURES, (x, *drawn), strict=True):
        values[f"{name}_horizontal"], values[f"{name}_vertical"] = stripe_shares(picture)
        if name != "source":
            values[f"{name}_streak_index"] = float(streak_index(x, picture))
    return values


def measure(
    paths: list[Path], names: list[str], snr_db: float, seed: int, channel_map: torch.Tensor, encoder: nn.Module
) -> dict[str, dict[str, float]]:
    """Per decoder (TAEF2's pretrained one on the clean latent, then each model's on its estimate): mean scores."""
    models = generative_models(names)
    pictured = decoders(names)
    sums: dict[str, dict[str, float]] = {name: {} for name in [PRETRAINED, *names]}
    with torch.no_grad(), Progress(total=len(paths), desc="orientation bias", unit="image") as progress:
        for path in paths:
            x = crop(load_image(path))
            latents = {PRETRAINED: encoder(x)}
            latents |= {name: estimate(models[name], x, snr_db, torch.Generator().manual_seed(seed)) for name in names}
            for name, z in latents.items():
                for key, value in scores(x, pictures(pictured[name], z, channel_map)).items():
                    sums[name][key] = sums[name].get(key, 0.0) + value / len(paths)
            progress.update()
    return sums


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = list_images(args.data)[: args.limit]
        training = ImageFolderCrops(args.fit_data, FIT_CROP, exclude=[VALIDATION]).files
        encoder = load_taef2(taef2_encoder(), "encoder").eval()
        with torch.no_grad():
            channel_map, fit = fit_channel_map(training[:: max(len(training) // args.fit_images, 1)][: args.fit_images],
                                               encoder)
        results = measure(paths, args.models, args.snr, args.seed, channel_map, encoder)
    except (FileNotFoundError, ValueError) as exc:  # clean_latent.CleanLatentError and models' errors too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(args.out, {
        "data": str(args.data), "images": len(paths), "snr_db": args.snr, "seed": args.seed,
        "channel": "awgn (TrainingChannel, no erasures)",
        "latent": {PRETRAINED: "TAEF2's clean latent (no heads, no channel)",
                   "models": "the generator head's estimate (before any latent dither)"},
        "channel_map_fit": {"data": str(args.fit_data), "images": args.fit_images, "crop": FIT_CROP} | fit,
        "decoders": results, "versions": package_versions(),
    })
    for name, r in results.items():
        print(f"{name}: horizontal stripes {r['source_horizontal']:.1%} of the source's fine texture, "
              f"{r['decoded_horizontal']:.1%} of D(z)'s, {r['decoded_transposed_horizontal']:.1%} of D(z^T)^T's; "
              f"vertical {r['source_vertical']:.1%} / {r['decoded_vertical']:.1%} / "
              f"{r['decoded_transposed_vertical']:.1%}; mapped: horizontal {r['decoded_mapped_horizontal']:.1%}, "
              f"vertical {r['decoded_mapped_vertical']:.1%}; transpose gap {r['transpose_gap']:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
