"""LPIPS with the SqueezeNet 1.1 trunk of the digital chain's received images, from a finished comparison sweep.

    python benchmarks/digital_squeeze.py --results docs/comparison/results.json \
        --out docs/comparison/digital_squeeze.json
    python benchmarks/digital_squeeze.py --results R --data DIR --snr 4 --cbr 1/48 --schemes bpg-ldpc --out F

The channel is not run again. A digital entry (scheme ``bpg-ldpc``, ``bpg-ldpc-fixed`` or ``bpg-capacity``) of
an ``ota sweep`` results file (:mod:`ota.sweep`) that was not lost was received bit-exactly, so its received
image is the HEVC decode of the original at the recorded rung (``quality``), coded as the sweep codes it
(:class:`ota.baseline.hevc.QualityLadder` with the sweep's chroma format, :func:`ota.baseline.hevc.decode`:
8-bit values, scored as they are); a lost entry is scored as :func:`ota.baseline.chain.lost_image` (mid-grey).
Each entry of the chosen schemes at ``--snr`` and ``--cbr`` is rebuilt so, scored with LPIPS (AlexNet trunk, the sweep's
``lpips``), PSNR and LPIPS with the SqueezeNet 1.1 trunk (``lpips_squeeze``), and checked: the rebuilt
coding must have the stored ``bitstream_bits``, and the recomputed LPIPS and PSNR must equal the stored ones
(within :data:`LPIPS_TOLERANCE` and :data:`PSNR_TOLERANCE_DB`), the proof that the rebuilt image is the one
received. Any entry that fails stops the run with an error naming it, before anything is written.

Writes ``--out`` (JSON): ``schemes``: ``{scheme: {lpips, lpips_squeeze, psnr_db (means over the images),
n_images, n_lost, images: {image: {lpips, lpips_squeeze, psnr_db, lost, quality}}}}``, with ``config`` (the
settings, the sweep's chroma, the sources of both LPIPS networks, the tolerances) and ``versions``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.image_io import list_images, load_image  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.metrics import LPIPS, compute_metrics  # noqa: E402
from models.progress import Progress  # noqa: E402
from ota.baseline.chain import lost_image  # noqa: E402
from ota.baseline.hevc import QualityLadder, decode  # noqa: E402
from ota.sweep import DIGITAL_SCHEMES, SweepError, as_cbr, cbr_text, versions  # noqa: E402

LPIPS_TOLERANCE = 1e-4
"""Largest difference between a recomputed and a stored LPIPS (AlexNet) that still counts as equal."""
PSNR_TOLERANCE_DB = 1e-3
"""Largest difference [dB] between a recomputed and a stored PSNR that still counts as equal."""
SCORES = ("lpips", "lpips_squeeze", "psnr_db")
"""Per-image values written, and averaged per scheme."""


class DigitalSqueezeError(ValueError):
    """A results file this script cannot use, or an entry whose stored values the rebuilt image does not reproduce."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", required=True, help="results.json of a finished `ota sweep`")
    p.add_argument("--data", default=os.environ.get("JSCC_KODAK_DIR"),
                   help="the images the sweep used (default $JSCC_KODAK_DIR)")
    p.add_argument("--snr", type=float, default=10.0, help="channel SNR [dB] of the entries (default 10)")
    p.add_argument("--cbr", default="1/48", help="CBR of the entries (default 1/48)")
    p.add_argument("--schemes", default=",".join(DIGITAL_SCHEMES),
                   help=f"comma-separated digital schemes (default {','.join(DIGITAL_SCHEMES)})")
    p.add_argument("--out", required=True, help="JSON file to write")
    args = p.parse_args(argv)
    if args.data is None:
        p.error("--data DIR is required (or set JSCC_KODAK_DIR)")
    try:
        args.cbr = as_cbr(args.cbr)
    except SweepError as exc:
        p.error(f"--cbr: {exc}")
    args.schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    unknown = [s for s in args.schemes if s not in DIGITAL_SCHEMES]
    if unknown or not args.schemes or len(set(args.schemes)) != len(args.schemes):
        p.error(f"--schemes must name each of some of {', '.join(DIGITAL_SCHEMES)} once, got {args.schemes}")
    return args


def select_entries(results: dict, schemes: list[str], snr_db: float, cbr: Fraction) -> list[dict]:
    """The entries of ``schemes`` at (``snr_db``, ``cbr``), by scheme then image; each scheme must have some."""
    chosen = [e for e in results["entries"]
              if e["scheme"] in schemes and e["snr_db"] == snr_db and e["cbr"] == cbr_text(cbr)]
    missing = [s for s in schemes if not any(e["scheme"] == s for e in chosen)]
    if missing:
        raise DigitalSqueezeError(f"the results hold no entry of {', '.join(missing)} at {snr_db:g} dB, "
                                  f"CBR {cbr_text(cbr)}; choose --snr, --cbr and --schemes of the sweep")
    return sorted(chosen, key=lambda e: (schemes.index(e["scheme"]), e["image"]))


def received_image(entry: dict, ladder: QualityLadder) -> torch.Tensor:
    """The image the receiver of ``entry`` scored: (3, H, W) float32 in [0, 1].

    Not lost: the HEVC decode of the original (``ladder``, the sweep's chroma format) at the entry's
    ``quality``, which must have the entry's ``bitstream_bits``; lost: :func:`ota.baseline.chain.lost_image`.
    """
    if entry["lost"]:
        return lost_image(ladder.height, ladder.width)
    if entry.get("bits_ok") is False:
        raise DigitalSqueezeError(f"entry {entry['key']}: received with undetected bit errors (bits_ok false); "
                                  "its image cannot be rebuilt without the channel")
    if entry.get("quality") is None:
        raise DigitalSqueezeError(f"entry {entry['key']}: not lost but without a quality (HEVC rung)")
    coded = ladder.at(entry["quality"])
    if coded.bitstream_bits != entry["bitstream_bits"]:
        raise DigitalSqueezeError(
            f"entry {entry['key']}: HEVC at quality {entry['quality']} takes {coded.bitstream_bits} bits here, "
            f"{entry['bitstream_bits']} in the sweep; is --data the sweep's image folder, and the encoder "
            "(pillow-heif, libheif) the sweep's?")
    return decode(coded.data)


def check_reproduced(entry: dict, recomputed: dict[str, float]) -> None:
    """Fail unless the recomputed ``lpips`` and ``psnr_db`` equal the entry's stored ones within the tolerances."""
    for key, tolerance in (("lpips", LPIPS_TOLERANCE), ("psnr_db", PSNR_TOLERANCE_DB)):
        stored = entry.get(key)
        if stored is None or not abs(recomputed[key] - stored) <= tolerance:
            raise DigitalSqueezeError(
                f"entry {entry['key']}: recomputed {key} {recomputed[key]!r} differs from the stored {stored!r} "
                f"by more than {tolerance:g}: the rebuilt image is not the one the sweep scored")


def score_entries(entries: list[dict], data: Path, chroma: str, lpips: LPIPS,
                  lpips_squeeze: LPIPS) -> dict[str, dict[str, dict]]:
    """Rebuild, score and check every entry -> ``{scheme: {image: {lpips, lpips_squeeze, psnr_db, lost, quality}}}``."""
    paths = {p.stem: p for p in list_images(data)}
    absent = sorted({e["image"] for e in entries} - set(paths))
    if absent:
        raise DigitalSqueezeError(f"{data} lacks image(s) {', '.join(absent)} of the sweep; pass its --data")
    originals: dict[str, tuple[torch.Tensor, QualityLadder]] = {}  # image -> (original, its HEVC codings)
    scored: dict[str, dict[str, dict]] = {}
    for entry in Progress(entries, desc="digital squeeze", unit="entry"):
        name = entry["image"]
        if name not in originals:
            original = load_image(paths[name])
            originals[name] = original, QualityLadder(original, chroma)
        original, ladder = originals[name]
        reference, image = original[None], received_image(entry, ladder)[None]
        values = {k: float(v[0]) for k, v in compute_metrics(reference, image, lpips, which=("psnr", "lpips")).items()}
        check_reproduced(entry, values)
        with torch.no_grad():
            values["lpips_squeeze"] = float(lpips_squeeze(reference, image)[0])
        scored.setdefault(entry["scheme"], {})[name] = {
            **{k: values[k] for k in SCORES}, "lost": bool(entry["lost"]), "quality": entry.get("quality")}
    return scored


def summarise(scored: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Per scheme: the mean over its images of each of :data:`SCORES`, ``n_images``, ``n_lost`` and the images."""
    return {scheme: {**{k: float(np.mean([v[k] for v in images.values()])) for k in SCORES},
                     "n_images": len(images), "n_lost": sum(v["lost"] for v in images.values()), "images": images}
            for scheme, images in scored.items()}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    path = Path(args.results)
    if not path.is_file():
        raise DigitalSqueezeError(f"--results {path}: no such file; run `ota sweep` first")
    results = json.loads(path.read_text(encoding="utf-8"))
    if "entries" not in results or "chroma" not in results.get("config", {}):
        raise DigitalSqueezeError(f"{path} is not the results.json of `ota sweep` (no entries or no config.chroma)")
    chroma = results["config"]["chroma"]
    entries = select_entries(results, args.schemes, args.snr, args.cbr)
    lpips, lpips_squeeze = LPIPS(), LPIPS(net="squeeze")
    schemes = summarise(score_entries(entries, Path(args.data), chroma, lpips, lpips_squeeze))
    report = {
        "schemes": schemes,
        "config": {
            "results": str(path), "data": str(args.data), "snr_db": args.snr, "cbr": cbr_text(args.cbr),
            "schemes": args.schemes, "chroma": chroma, "lpips": lpips.source, "lpips_squeeze": lpips_squeeze.source,
            "sweep_lpips": results["config"].get("metric_sources", {}).get("lpips"),
            "tolerances": {"lpips": LPIPS_TOLERANCE, "psnr_db": PSNR_TOLERANCE_DB},
            "reproduced": f"all {len(entries)} entries: stored lpips and psnr_db recomputed within the tolerances",
            "wall_s": time.perf_counter() - started,
        },
        "versions": versions(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, report)
    for scheme, summary in schemes.items():
        print(f"{scheme}: LPIPS {summary['lpips']:.4f}, LPIPS-squeeze {summary['lpips_squeeze']:.4f}, "
              f"PSNR {summary['psnr_db']:.2f} dB ({summary['n_images']} images, {summary['n_lost']} lost)")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    try:
        main()
    except DigitalSqueezeError as exc:
        sys.exit(f"error: {exc}")
