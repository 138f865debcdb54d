"""The latent a generative model's generator head estimates through the channel, against TAEF2's clean one.

    python benchmarks/latent_estimate.py --data ../shared/datasets/train/bsds500/val \\
        --models generative-cbr48,generative-cbr24 --snr 10 --out docs/streaks/latent_estimate.json

Every image of ``--data`` (cropped to a multiple of 16 pixels a side from its top-left corner) is encoded
by the pretrained TAEF2 encoder (the clean latent z, 32 channels at 1/8) and, for each generative model of
``--models``, sent through the model's encoder, AWGN at ``--snr`` (seeded) and its generator head (the
estimate z_hat, before any latent dither). Reported per model, as means over the images:

- the energy of z and z_hat (mean square per latent value) in all and in the high band, above half the
  latent's Nyquist frequency in either direction (the detail a decoder turns into fine texture), and the
  share of z's high-band energy that z_hat keeps;
- what TAEF2's *pretrained* decoder draws from z_hat, scored as ``benchmarks/clean_latent.py`` scores a
  decoder (8-bit, :func:`models.metrics.compute_metrics`): a pattern it draws here comes from the estimate,
  not from the fine-tuning of the model's own decoder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402

from benchmarks.clean_latent import PRETRAINED, crop, decoders, generative_models  # noqa: E402
from models.channel import TrainingChannel  # noqa: E402
from models.evaluate import package_versions  # noqa: E402
from models.image_io import list_images, load_image, quantise  # noqa: E402
from models.jscc import DeepJSCC  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import LPIPS, METRICS, compute_metrics  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.taef2 import load_taef2, taef2_encoder  # noqa: E402

HIGH_BAND = 0.25
"""Cycles per latent position above which (in y or in x) a frequency counts as high band; Nyquist is 0.5."""

ENERGY_KEYS = ("clean_energy", "clean_high_band", "estimate_energy", "estimate_high_band")


def estimate_parser(description: str | None) -> argparse.ArgumentParser:
    """The options of a benchmark on generative models' estimates through AWGN: --data, --models, --snr,
    --seed, --limit, --out (a benchmark adds its own, then :func:`parse_estimate_args`)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of images (../shared/datasets/train/bsds500/val)")
    p.add_argument("--models", required=True, help="comma-separated generative models (names or checkpoint paths)")
    p.add_argument("--snr", type=float, default=10.0, help="AWGN SNR [dB] (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the channel noise (default 0)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images (sorted)")
    p.add_argument("--out", required=True, help="output JSON file")
    return p


def parse_estimate_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with ``--models`` split into a list of names."""
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    return args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_estimate_args(estimate_parser(__doc__), argv)


def high_band_energy(z: torch.Tensor) -> float:
    """Mean square per value of z (B, C, h, w) carried by frequencies above HIGH_BAND in y or x (Parseval)."""
    spectrum = torch.fft.fft2(z.double()).abs().square()
    fy = torch.fft.fftfreq(z.shape[-2]).abs()[:, None]
    fx = torch.fft.fftfreq(z.shape[-1]).abs()[None, :]
    band = torch.maximum(fy, fx) > HIGH_BAND
    return float((spectrum * band).sum() / (z.numel() * z.shape[-2] * z.shape[-1]))


def estimate(model: DeepJSCC, x: torch.Tensor, snr_db: float, generator: torch.Generator) -> torch.Tensor:
    """The generator head's estimate (1, 32, H/8, W/8) of x's latent after AWGN at ``snr_db`` (no dither)."""
    snr = torch.full((1,), float(snr_db))
    s_hat, noise_var, erased = TrainingChannel()(model.encode(x, snr), snr, generator)
    return model.generator.head(*model.receive(s_hat, tuple(x.shape[-2:]), noise_var, None, erased))


def measure(paths: list[Path], models: dict[str, DeepJSCC], snr_db: float, seed: int) -> dict[str, dict]:
    """Per model: mean latent energies (ENERGY_KEYS) and the pretrained decoder's mean scores on z_hat."""
    encoder = load_taef2(taef2_encoder(), "encoder").eval()
    pretrained = decoders([])[PRETRAINED]
    lpips = LPIPS()
    sums = {name: dict.fromkeys([*ENERGY_KEYS, *METRICS.values()], 0.0) for name in models}
    with torch.no_grad(), Progress(total=len(paths) * len(models), desc="latent estimate", unit="image") as progress:
        for path in paths:
            x = crop(load_image(path))
            z = encoder(x)
            clean = {"clean_energy": float(z.square().mean()), "clean_high_band": high_band_energy(z)}
            for name, model in models.items():
                z_hat = estimate(model, x, snr_db, torch.Generator().manual_seed(seed))
                drawn = quantise(pretrained(z_hat))
                scores = compute_metrics(x, drawn, lpips, which=tuple(METRICS))
                values = {**clean, "estimate_energy": float(z_hat.square().mean()),
                          "estimate_high_band": high_band_energy(z_hat), **{k: float(v) for k, v in scores.items()}}
                for key, value in values.items():
                    sums[name][key] += value
                progress.update()
    report = {}
    for name, total in sums.items():
        mean = {key: value / len(paths) for key, value in total.items()}
        report[name] = {
            "latent": {key: mean[key] for key in ENERGY_KEYS}
            | {"high_band_kept": mean["estimate_high_band"] / mean["clean_high_band"]},
            "pretrained_decoder_on_estimate": {key: mean[key] for key in METRICS.values()},
        }
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = list_images(args.data)[: args.limit]
        models = generative_models(args.models)
    except (FileNotFoundError, ValueError) as exc:  # clean_latent.CleanLatentError and models' errors too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = measure(paths, models, args.snr, args.seed)
    write_json(args.out, {"data": str(args.data), "images": len(paths), "snr_db": args.snr, "seed": args.seed,
                          "channel": "awgn (TrainingChannel, no erasures)", "high_band": f"max(|f_y|, |f_x|) > "
                          f"{HIGH_BAND} cycle per latent position", "models": results, "versions": package_versions()})
    for name, result in results.items():
        latent, drawn = result["latent"], result["pretrained_decoder_on_estimate"]
        print(f"{name}: estimate keeps {latent['high_band_kept']:.1%} of the clean latent's high-band energy "
              f"({latent['estimate_high_band']:.4f} of {latent['clean_high_band']:.4f}); pretrained decoder on it: "
              f"{drawn['psnr_db']:.2f} dB, LPIPS {drawn['lpips']:.4f}, streak {drawn['streak_index']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
