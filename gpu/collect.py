"""Collect a training run into the folder the device tool brings back: ``last.pt``, ``log.csv``, ``gpu_run.json``.

    python gpu/collect.py RUN_DIR OUT_DIR --pack PACK.tar

A file comes back from the GPU machine only under 16 MiB (the device tool's README): ``last.pt`` is the
run's checkpoint as it is when it fits, else its compact copy (float16 weights, discriminator and step
counters kept, optimizer states dropped: :func:`models.checkpoint.export_weights` with ``half``), which
``ota train --resume`` continues with fresh optimizers. ``gpu_run.json`` is the run's ``run.json`` (device,
steps, images/s, wall time, losses) with the pack, the library versions and what ``last.pt`` holds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

if not __package__:  # run as a file from gpu/: the repository root holds the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402

from models.checkpoint import export_weights  # noqa: E402

RETURNED_FILE_LIMIT = 16 * 2**20


def collect(run_dir: Path, out_dir: Path, pack: str) -> dict:
    """Write ``last.pt``, ``log.csv`` and ``gpu_run.json`` of ``run_dir`` into ``out_dir``; return the JSON."""
    for name in ("last.pt", "log.csv", "run.json"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: the training run wrote no {name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    last = run_dir / "last.pt"
    if last.stat().st_size <= RETURNED_FILE_LIMIT:
        shutil.copyfile(last, out_dir / "last.pt")
        holds = "the whole checkpoint (optimizer states included)"
    else:
        export_weights(last, out_dir / "last.pt", half=True)
        holds = "float16 weights, discriminator and step counters (optimizer states dropped to fit 16 MiB)"
    shutil.copyfile(run_dir / "log.csv", out_dir / "log.csv")
    report = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    report |= {"pack": Path(pack).name, "last_pt": holds, "torch": torch.__version__,
               "cuda": torch.version.cuda if torch.cuda.is_available() else None}
    (out_dir / "gpu_run.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="the folder ota train wrote")
    parser.add_argument("out_dir", type=Path, help="the folder whose files come back ($OUT)")
    parser.add_argument("--pack", required=True, help="the training pack the run read")
    args = parser.parse_args(argv)
    report = collect(args.run_dir, args.out_dir, args.pack)
    print(f"gpu_run: {report['steps_this_run']} steps on {report['device_name']}, "
          f"{report['train_img_s']:.1f} img/s, {report['train_s']:.0f} s of training; wrote "
          f"{args.out_dir / 'last.pt'}, log.csv, gpu_run.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
