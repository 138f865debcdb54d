"""Wall time of the paper's comparison sweep (``ota sweep``), per sweep and per image and scheme.

    python -m benchmarks.sweep --out DIR [--data DIR] [--limit N]
    python benchmarks/sweep.py --out DIR --limit 1 --channel ofdm --profile lab

Runs the paper's two sweeps into a fresh ``DIR/sweep`` (one store; see :mod:`ota.sweep`): the SNR sweep
(1, 4, 7, 10, 13 dB at CBR 1/48) and the CBR sweep (1/96, 1/48, 1/24, 1/12 at 10 dB; the point at
10 dB, 1/48 is shared, computed once), then the figures and claims. Writes ``DIR/sweep_bench.json``:

- ``wall_s``: each sweep, the figures, the total; ``per_image_s``: the total over the images;
  ``estimate_s_for_24_images``: that times 24 (the Kodak set; an extrapolation, labelled as such);
- ``per_scheme``: for each scheme, the mean seconds per entry (one image at one SNR and CBR) of every phase
  (encode: JSCC encoder or HEVC budget search, channel_code: LDPC + QAM, channel, decode: generator or
  demapping + LDPC + HEVC decode, metrics), and the seconds per image over all its points. The x265
  encodings of an image are made once and reused (one quality ladder per image); they count where first
  needed. The envelope (``bpg-ldpc``) sums every configuration it tries.

The images are ``--data``, else ``$JSCC_KODAK_DIR``. Torch runs with ``--threads`` CPU threads (default 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.channel import PAPER_SNRS_DB  # noqa: E402
from models.json_file import write_json  # noqa: E402
from ota.sweep import (  # noqa: E402
    CHANNELS,
    PAPER_CBRS,
    PHASES,
    SCHEMES,
    STORE_FILE,
    SweepConfig,
    run_sweep,
    versions,
)
from ota.sweep.figures import describe, render  # noqa: E402

CBR_SWEEP_SNR_DB = 10.0
PAPER_CBR = Fraction(1, 48)
KODAK_IMAGES = 24


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (sweep_bench.json; the sweep itself in OUT/sweep)")
    p.add_argument("--data", default=os.environ.get("JSCC_KODAK_DIR"), help="images (default $JSCC_KODAK_DIR)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--channel", choices=CHANNELS, default="awgn", help="awgn (default) or ofdm")
    p.add_argument("--profile", default="awgn", help="channel-emulator profile for --channel ofdm")
    p.add_argument("--configs", nargs="+", default=None, help="envelope configurations (default all 25)")
    p.add_argument("--device", default="auto", help="torch device for the models and metrics")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the channel draws (default 0)")
    return p.parse_args(argv)


def per_scheme(entries: list[dict]) -> dict[str, dict]:
    """Mean seconds per entry of every phase, and seconds per image over all points, by scheme."""
    out = {}
    for scheme in (s for s in SCHEMES if any(e["scheme"] == s for e in entries)):
        mine = [e for e in entries if e["scheme"] == scheme]
        per_image: dict[str, float] = defaultdict(float)
        for e in mine:
            per_image[e["image"]] += sum(e["timings"].values())
        out[scheme] = {
            "entries": len(mine),
            "per_entry_s": {phase: statistics.fmean(e["timings"][phase] for e in mine) for phase in PHASES},
            "per_entry_total_s": statistics.fmean(sum(e["timings"].values()) for e in mine),
            "per_image_s": statistics.fmean(per_image.values()),
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.data is None:
        raise SystemExit("--data DIR is required (or set JSCC_KODAK_DIR)")
    out = Path(args.out)
    folder = out / "sweep"
    if (folder / STORE_FILE).exists():
        raise SystemExit(f"{folder / STORE_FILE} exists: the benchmark times a fresh sweep; use another --out")
    common = {"data": args.data, "channel": args.channel, "profile": args.profile, "limit": args.limit,
              "seed": args.seed, "configs": tuple(args.configs) if args.configs else None, "device": args.device,
              "threads": args.threads}
    sweeps = {
        "snr_sweep": SweepConfig(snrs_db=PAPER_SNRS_DB, cbrs=(PAPER_CBR,), **common),
        "cbr_sweep": SweepConfig(snrs_db=(CBR_SWEEP_SNR_DB,), cbrs=PAPER_CBRS, **common),
    }
    wall, runs = {}, {}
    for name, config in sweeps.items():
        runs[name] = run_sweep(config, folder)
        wall[name] = runs[name].wall_s
    start = time.perf_counter()
    _, found = render(folder)
    wall["figures"] = time.perf_counter() - start
    wall["total"] = sum(wall.values())
    results = runs["cbr_sweep"].results
    images = sorted({e["image"] for e in results["entries"]})
    bench = {
        "benchmark": "sweep",
        "config": {**results["config"], "sweeps": {n: {"snrs_db": list(c.snrs_db), "cbrs": [str(x) for x in c.cbrs]}
                                                   for n, c in sweeps.items()}},
        "images": images,
        "entries": {name: {"new": run.new, "reused": run.reused} for name, run in runs.items()},
        "wall_s": wall,
        "per_image_s": wall["total"] / len(images),
        "estimate_s_for_24_images": wall["total"] / len(images) * KODAK_IMAGES,
        "estimate_note": "extrapolated linearly from the measured images, not measured",
        "per_scheme": per_scheme(results["entries"]),
        "versions": {**versions(), "cpu_count": os.cpu_count(), "torch_threads": args.threads},
        "notes": results["notes"],
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "sweep_bench.json", bench)
    print(f"{len(images)} image(s): SNR sweep {wall['snr_sweep']:.1f} s, CBR sweep {wall['cbr_sweep']:.1f} s, "
          f"figures {wall['figures']:.1f} s; {bench['per_image_s']:.1f} s per image "
          f"(24 images: about {bench['estimate_s_for_24_images'] / 3600:.2f} h, extrapolated)")
    for scheme, t in bench["per_scheme"].items():
        phases = ", ".join(f"{p.removesuffix('_s')} {t['per_entry_s'][p]:.3f}" for p in PHASES)
        print(f"{scheme:>15}: {t['per_image_s']:.2f} s per image over {t['entries']} entries; per entry [s]: {phases}")
    for line in describe(found):
        print(line)
    print(f"wrote {out / 'sweep_bench.json'}")
    return bench


if __name__ == "__main__":
    main()
