"""Choose a checkpoint on the validation split, never on Kodak: score candidates over AWGN, keep the best.

    python benchmarks/select_checkpoint.py --data ../shared/datasets/train/bsds500/val \\
        --candidates runs/generative-cbr48-cpu/checkpoint_0004300.pt,runs/generative-cbr48-cpu/last.pt \\
        --reference perceptual-cbr48 --snr 10 --out docs/selection/generative-cbr48

Every candidate (and the ``--reference`` models, scored for comparison only) is sent through AWGN at each
``--snr`` over every image of ``--data`` (:func:`models.evaluate.evaluate`, 8-bit output, the same noise for
all) and scored with PSNR, MS-SSIM, LPIPS (AlexNet), the grid index above the source's
(:func:`models.metrics.grid_index`) and the streak index (:func:`models.metrics.streak_index`). The selected
candidate has the lowest mean LPIPS (``--objective lpips``, the default) or the highest mean PSNR
(``--objective psnr``, for an MSE model) at ``--select-snr`` (default: the first SNR) among those whose PSNR
there is at least ``--min-psnr`` dB, whose MS-SSIM is at least ``--min-ms-ssim`` (defaults 0: no floor),
whose LPIPS is at most ``--max-lpips``, whose grid index is at most ``--max-grid`` and whose streak index is
at most ``--max-streak`` (defaults: no ceiling). Writes ``OUT/selection.json``: the set, the rule, every
candidate's and reference's means per SNR, the selected path, and whether it beats each reference on LPIPS;
that record is what a shipped model card keeps as ``selected_on``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.evaluate import evaluate, package_versions  # noqa: E402
from models.image_io import list_images  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import LPIPS  # noqa: E402
from models.registry import load_model  # noqa: E402

OBJECTIVES = {"lpips": "lowest LPIPS (alex)", "psnr": "highest PSNR"}
"""What ``--objective`` maximises, as the record's rule words it."""


class SelectionError(ValueError):
    """Bad arguments: no candidates, an SNR to select at that is not scored, a Kodak folder as --data."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="validation images (../shared/datasets/train/bsds500/val)")
    p.add_argument("--candidates", required=True, help="comma-separated checkpoint paths or model names")
    p.add_argument("--reference", default="", help="comma-separated models scored for comparison only")
    p.add_argument("--snr", default="10", help="comma-separated channel SNRs [dB] (default 10)")
    p.add_argument("--select-snr", type=float, default=None, help="SNR [dB] the choice is made at (default first)")
    p.add_argument("--objective", choices=OBJECTIVES, default="lpips",
                   help="lpips: the lowest LPIPS (default; perceptual models); psnr: the highest PSNR (MSE models)")
    p.add_argument("--min-psnr", type=float, default=0.0, help="PSNR floor [dB] at the selection SNR (default 0)")
    p.add_argument("--min-ms-ssim", type=float, default=0.0, help="MS-SSIM floor at the selection SNR (default 0)")
    p.add_argument("--max-lpips", type=float, default=float("inf"), help="LPIPS ceiling at the selection SNR")
    p.add_argument("--max-grid", type=float, default=float("inf"),
                   help="ceiling of the grid index above the source's at the selection SNR")
    p.add_argument("--max-streak", type=float, default=float("inf"),
                   help="ceiling of the streak index at the selection SNR")
    p.add_argument("--out", required=True, help="output folder (selection.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the channel noise (default 0)")
    args = p.parse_args(argv)
    args.candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    args.reference = [c.strip() for c in args.reference.split(",") if c.strip()]
    args.snr = [float(s) for s in args.snr.split(",")]
    args.select_snr = args.snr[0] if args.select_snr is None else args.select_snr
    if not args.candidates:
        raise SelectionError("--candidates names no checkpoint")
    if args.select_snr not in args.snr:
        raise SelectionError(f"--select-snr {args.select_snr:g} dB is not among the scored SNRs {args.snr}")
    if "kodak" in str(Path(args.data).resolve()).lower():
        raise SelectionError(f"--data {args.data}: Kodak is the test set; choose on the validation split")
    return args


def score(name: str, images: list[Path], snrs: list[float], lpips: LPIPS, seed: int) -> dict[str, dict]:
    """Mean metrics of one model per SNR: ``{"10": {"psnr_db": .., "ms_ssim": .., "lpips": .., "grid_index": ..,
    "streak_index": ..}}``."""
    model, _ = load_model(name)
    with tempfile.TemporaryDirectory() as scratch:
        results = evaluate(model, images, snrs, Path(scratch) / "eval", lpips=lpips, seed=seed,
                           save_reconstructions=False)
    return {f"{entry['snr_db']:g}": entry["mean"] for entry in results["results"]}


def select(candidates: dict[str, dict], snr: float, min_psnr: float, min_ms_ssim: float = 0.0,
           max_lpips: float = float("inf"), max_grid: float = float("inf"),
           max_streak: float = float("inf"), objective: str = "lpips") -> str | None:
    """The candidate with the lowest LPIPS (``objective`` "lpips") or the highest PSNR ("psnr") at ``snr`` among
    those with PSNR >= ``min_psnr``, MS-SSIM >= ``min_ms_ssim``, LPIPS <= ``max_lpips``, grid index <=
    ``max_grid`` and streak index <= ``max_streak`` (None if none)."""
    key = f"{snr:g}"
    eligible = {name: scores[key] for name, scores in candidates.items()
                if scores[key]["psnr_db"] >= min_psnr and scores[key]["ms_ssim"] >= min_ms_ssim
                and scores[key]["lpips"] <= max_lpips and scores[key]["grid_index"] <= max_grid
                and scores[key]["streak_index"] <= max_streak}
    if not eligible:
        return None
    if objective == "psnr":
        return max(eligible, key=lambda name: eligible[name]["psnr_db"])
    return min(eligible, key=lambda name: eligible[name]["lpips"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = list_images(args.data)
    lpips = LPIPS()
    candidates = {name: score(name, images, args.snr, lpips, args.seed) for name in args.candidates}
    references = {name: score(name, images, args.snr, lpips, args.seed) for name in args.reference}
    chosen = select(candidates, args.select_snr, args.min_psnr, args.min_ms_ssim, args.max_lpips, args.max_grid,
                    args.max_streak, args.objective)
    key = f"{args.select_snr:g}"
    record = {
        "set": f"{Path(args.data).resolve()} ({len(images)} images, whole, AWGN, 8-bit output, seed {args.seed})",
        "rule": f"{OBJECTIVES[args.objective]} at {args.select_snr:g} dB among candidates with PSNR >= "
                f"{args.min_psnr:g} dB and MS-SSIM >= {args.min_ms_ssim:g}"
                + (f" and LPIPS <= {args.max_lpips:g}" if args.max_lpips < float("inf") else "")
                + (f" and grid index <= {args.max_grid:g}" if args.max_grid < float("inf") else "")
                + (f" and streak index <= {args.max_streak:g}" if args.max_streak < float("inf") else ""),
        "snrs_db": args.snr,
        "candidates": candidates,
        "references": references,
        "selected": chosen,
        "beats_reference_lpips": {
            name: chosen is not None and candidates[chosen][key]["lpips"] < scores[key]["lpips"]
            for name, scores in references.items()
        },
        "lpips": lpips.source,
        "versions": package_versions(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "selection.json", record)
    for name, scores in {**candidates, **references}.items():
        mean = scores[key]
        mark = "*" if name == chosen else " "
        print(f"{mark} {name}: {mean['psnr_db']:.2f} dB, MS-SSIM {mean['ms_ssim']:.4f}, LPIPS {mean['lpips']:.4f}, "
              f"grid index {mean['grid_index']:+.4f}, streak index {mean['streak_index']:.4f}")
    print(f"selected {chosen}; wrote {out / 'selection.json'}")
    return 0 if chosen is not None else 1


if __name__ == "__main__":
    sys.exit(main())
