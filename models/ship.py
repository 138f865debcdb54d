"""Ship a trained checkpoint as a registered model: float16 weights, no discriminator, its card filled in.

    python -m models.ship runs/generative-cbr48-cpu/checkpoint_0002750.pt --name generative-cbr48 \\
        --selection docs/selection/generative-cbr48/selection.json --notes-file NOTES.txt
    python -m models.ship models/weights/generative-cbr48.pt --name generative-cbr48 \\
        --quality docs/quality/quality.json            # later: attach the Kodak scores to the card

Writes ``models/weights/<name>.pt`` (or ``--out``) with :func:`models.checkpoint.export_weights` (``inference``):
the card's ``training["selected_on"]`` is the validation record of ``--selection`` (what
``benchmarks/select_checkpoint.py`` chose it on; refused when it selected another file), its
``metrics["kodak_awgn"]`` the model's entry of a ``benchmarks/quality.py`` report (reported, never chosen
on). Options not given keep what the card already holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.checkpoint import export_weights, load_checkpoint
from models.registry import WEIGHTS_DIR

QUALITY_SOURCE = ("python benchmarks/quality.py --data ../shared/datasets/kodak (24 whole Kodak images, AWGN, "
                  "8-bit output; SNR mismatch +-1 dB; 10 % symbols erased)")


class ShipError(ValueError):
    """A selection record that chose another checkpoint, or a quality report without the model."""


def selection_record(path: Path, checkpoint: Path) -> dict:
    """The record of ``benchmarks/select_checkpoint.py`` at ``path``, which must have selected ``checkpoint``."""
    record = json.loads(path.read_text(encoding="utf-8"))
    if Path(record.get("selected") or "").resolve() != checkpoint.resolve():
        raise ShipError(f"{path} selected {record.get('selected')!r}, not {checkpoint}")
    return {key: record[key] for key in ("set", "rule", "snrs_db", "candidates", "references", "selected")}


def quality_metrics(path: Path, name: str) -> dict:
    """``{"kodak_awgn": <name's entry of the quality report>, "source": ...}``."""
    report = json.loads(path.read_text(encoding="utf-8"))
    if name not in report:
        scored = sorted(k for k in report if k not in ("config", "versions"))
        raise ShipError(f"{path} holds no scores of {name} (it has {scored})")
    return {"kodak_awgn": report[name], "source": QUALITY_SOURCE}


def ship(
    checkpoint: Path, name: str, out: Path, *, selection: Path | None = None, quality: Path | None = None,
    notes: str | None = None,
) -> Path:
    """Export ``checkpoint`` to ``out`` as model ``name`` (see the module doc); returns ``out``."""
    _, card, _ = load_checkpoint(checkpoint)
    metrics = quality_metrics(quality, name) if quality is not None else card.metrics
    selected_on = selection_record(selection, checkpoint) if selection is not None else None
    training = {"selected_on": selected_on} if selected_on is not None else None
    return export_weights(checkpoint, out, name=name, notes=notes, metrics=metrics, inference=True, training=training)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="the training checkpoint (or shipped file) to ship")
    p.add_argument("--name", required=True, help="registered model name (the card's name and the file's stem)")
    p.add_argument("--out", type=Path, default=None, help="output file (default models/weights/<name>.pt)")
    p.add_argument("--selection", type=Path, default=None, help="selection.json that chose this checkpoint")
    p.add_argument("--quality", type=Path, default=None, help="quality.json whose scores of <name> go on the card")
    p.add_argument("--notes-file", type=Path, default=None, help="text file: the card's notes")
    args = p.parse_args(argv)
    notes = args.notes_file.read_text(encoding="utf-8").strip() if args.notes_file else None
    out = args.out or WEIGHTS_DIR / f"{args.name}.pt"
    try:
        ship(args.checkpoint, args.name, out, selection=args.selection, quality=args.quality, notes=notes)
    except (ShipError, OSError, json.JSONDecodeError) as exc:
        print(f"models.ship: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
