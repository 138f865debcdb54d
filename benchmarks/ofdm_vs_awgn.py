"""The comparison over the OFDM link against the symbol-level AWGN one: JSCC at the receiver's SNR, and the cliff.

    python benchmarks/ofdm_vs_awgn.py --awgn docs/comparison/results.json \
        --ofdm docs/comparison-ofdm/lab/results.json,docs/comparison-ofdm/tdl-c/results.json \
        --out docs/comparison-ofdm/vs_awgn.json --readme README.md

Two questions, from the sweeps' ``results.json`` alone (:mod:`ota.sweep`):

- **JSCC over OFDM against AWGN at the post-equalisation SNR.** Each JSCC entry of an OFDM sweep (one image,
  nominal SNR, channel draw) recorded the SNR its receiver measured after equalisation
  (``reception.post_eq_snr_db``). The same image's AWGN curve of the same scheme (PSNR at the AWGN sweep's
  SNRs) is interpolated linearly in dB at that SNR, and the gap is OFDM PSNR minus that value: what the
  OFDM link costs beyond the SNR it delivers (pilots' estimation error, residual offsets, a noise variance
  that varies across subcarriers). Entries whose post-equalisation SNR lies outside the AWGN sweep's range
  are counted, not interpolated, and so are those of which no frame was received (the preamble or header
  lost in a fade: the generator then gets nothing but erasures).
- **Where the digital chain falls off its cliff.** Per digital scheme and nominal SNR: the fraction of
  images lost (a transport-block CRC failed, nothing fitted, no frame), over all entries and per channel
  draw; ``cliff_snr_db`` is the lowest SNR of the grid from which on at most 10 % of the entries are lost.

Writes ``--out`` (JSON) and, with ``--readme``, a table between ``<!-- ofdm-table:begin -->`` and
``<!-- ofdm-table:end -->``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.readme_markers import check_markers, splice  # noqa: E402
from models.json_file import write_json  # noqa: E402
from ota.sweep import DIGITAL_SCHEMES, JSCC_SCHEMES  # noqa: E402

README_BLOCK = "ofdm-table"
CLIFF_LOST_FRACTION = 0.1
"""A digital scheme is past its cliff where at most this fraction of its images is lost."""


def awgn_curves(awgn: dict) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]:
    """(image, scheme, CBR) -> (SNRs [dB] ascending, PSNR [dB]) of the AWGN sweep's JSCC entries."""
    points: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for e in awgn["entries"]:
        if e["scheme"] in JSCC_SCHEMES:
            points[(e["image"], e["scheme"], e["cbr"])].append((e["snr_db"], e["psnr_db"]))
    return {key: tuple(np.array(v) for v in zip(*sorted(pts), strict=True)) for key, pts in points.items()}


def jscc_gaps(ofdm: dict, curves: dict) -> list[dict]:
    """Per (JSCC scheme, CBR, nominal SNR) of one OFDM sweep: the post-equalisation SNR and the PSNR gap to AWGN."""
    groups: dict[tuple[str, str, float], list[dict]] = defaultdict(list)
    for e in ofdm["entries"]:
        if e["scheme"] in JSCC_SCHEMES:
            groups[(e["scheme"], e["cbr"], e["snr_db"])].append(e)
    rows = []
    for (scheme, cbr, snr), entries in sorted(groups.items()):
        gaps, post_eq, outside, missing, no_frame = [], [], 0, 0, 0
        for e in entries:
            curve = curves.get((e["image"], scheme, cbr))
            reception = e.get("reception") or {}
            snr_eq = reception.get("post_eq_snr_db")
            if reception.get("frames_decoded") == 0:
                no_frame += 1
                continue
            if curve is None or snr_eq is None:
                missing += 1
                continue
            post_eq.append(snr_eq)
            if not curve[0][0] <= snr_eq <= curve[0][-1]:
                outside += 1
                continue
            gaps.append(e["psnr_db"] - float(np.interp(snr_eq, *curve)))
        rows.append({
            "scheme": scheme, "cbr": cbr, "snr_db": snr, "entries": len(entries),
            "post_eq_snr_db_mean": float(np.mean(post_eq)) if post_eq else None,
            "gap_db_mean": float(np.mean(gaps)) if gaps else None,
            "gap_db_max_abs": float(np.max(np.abs(gaps))) if gaps else None,
            "within_1db": int(np.sum(np.abs(gaps) <= 1.0)), "compared": len(gaps),
            "outside_awgn_range": outside, "without_awgn_curve": missing, "no_frame_received": no_frame,
        })
    return rows


def digital_losses(ofdm: dict) -> list[dict]:
    """Per (digital scheme, CBR): the lost fraction at each nominal SNR (overall and per draw) and the cliff."""
    groups: dict[tuple[str, str], dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for e in ofdm["entries"]:
        if e["scheme"] in DIGITAL_SCHEMES and e["scheme"] != "bpg-capacity":
            groups[(e["scheme"], e["cbr"])][e["snr_db"]].append(e)
    rows = []
    for (scheme, cbr), by_snr in sorted(groups.items()):
        points = []
        for snr, entries in sorted(by_snr.items()):
            per_draw: dict[int, list[bool]] = defaultdict(list)
            for e in entries:
                per_draw[e.get("draw", 0)].append(bool(e.get("lost")))
            points.append({"snr_db": snr, "entries": len(entries),
                           "lost_fraction": float(np.mean([bool(e.get("lost")) for e in entries])),
                           "lost_fraction_per_draw": [float(np.mean(per_draw[d])) for d in sorted(per_draw)]})
        past = [p["snr_db"] for i, p in enumerate(points)
                if all(q["lost_fraction"] <= CLIFF_LOST_FRACTION for q in points[i:])]
        rows.append({"scheme": scheme, "cbr": cbr, "points": points, "cliff_snr_db": past[0] if past else None})
    return rows


def compare(awgn: dict, ofdm_runs: dict[str, dict]) -> dict:
    """The whole report: per OFDM profile, the JSCC gaps and the digital losses."""
    curves = awgn_curves(awgn)
    return {
        "definition": __doc__.split("Two questions")[1].split("Writes")[0].strip(),
        "cliff_lost_fraction": CLIFF_LOST_FRACTION,
        "profiles": {name: {"draws": run["config"]["last_run"].get("draws", 1),
                            "images": run["config"]["last_run"]["images"],
                            "jscc": jscc_gaps(run, curves), "digital": digital_losses(run)}
                     for name, run in ofdm_runs.items()},
    }


def _number(value: float | None, digits: int, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign}.{digits}f}"


def table(report: dict, source: str) -> str:
    """Markdown: per profile, each JSCC scheme's gap to AWGN and each digital scheme's lost fraction per SNR."""
    parts = [f"From `{source}` (`python benchmarks/ofdm_vs_awgn.py`).\n"]
    for name, profile in report["profiles"].items():
        parts.append(f"\n`{name}` profile, {len(profile['images'])} Kodak images x {profile['draws']} channel draws "
                     "per point. JSCC: mean post-equalisation SNR and PSNR minus the same image's AWGN PSNR at that "
                     "SNR (mean, largest absolute), over the entries whose post-equalisation SNR lies in the AWGN "
                     "sweep's range:\n\n| scheme | SNR | post-eq. SNR | gap to AWGN (mean / max abs) | within 1 dB "
                     "| outside the AWGN range | no frame received |\n|---|---|---|---|---|---|---|\n")
        for r in profile["jscc"]:
            parts.append(f"| {r['scheme']} | {r['snr_db']:g} dB | {_number(r['post_eq_snr_db_mean'], 1)} dB | "
                         f"{_number(r['gap_db_mean'], 2, '+')} / {_number(r['gap_db_max_abs'], 2)} dB | "
                         f"{r['within_1db']} of {r['compared']} | {r['outside_awgn_range']} | "
                         f"{r['no_frame_received']} |\n")
        if profile["digital"]:
            parts.append("\nDigital: images lost, all entries (per draw):\n\n" + _digital_table(profile["digital"]))
    return "".join(parts)


def _digital_table(rows: list[dict]) -> str:
    """Markdown: one row per digital scheme, its lost fraction at each SNR and its cliff."""
    snrs = [p["snr_db"] for p in rows[0]["points"]]
    lines = ["| scheme | " + " | ".join(f"{s:g} dB" for s in snrs) + " | cliff |", "|---|" + "---|" * (len(snrs) + 1)]
    for r in rows:
        cells = [f"{p['lost_fraction']:.0%} ({', '.join(f'{f:.0%}' for f in p['lost_fraction_per_draw'])})"
                 for p in r["points"]]
        cliff = "-" if r["cliff_snr_db"] is None else f"from {r['cliff_snr_db']:g} dB"
        lines.append(f"| {r['scheme']} | {' | '.join(cells)} | {cliff} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--awgn", type=Path, required=True, help="the AWGN sweep's results.json")
    p.add_argument("--ofdm", required=True, help="comma-separated OFDM sweeps' results.json")
    p.add_argument("--out", type=Path, required=True, help="the report (JSON)")
    p.add_argument("--readme", type=Path, default=None, help="README to splice the table into")
    args = p.parse_args(argv)
    paths = [Path(s.strip()) for s in args.ofdm.split(",") if s.strip()]
    for path in [args.awgn, *paths]:
        if not path.is_file():
            p.error(f"{path}: no such results.json")
    if args.readme is not None:
        check_markers(args.readme, README_BLOCK)
    runs = {}
    for path in paths:
        run = json.loads(path.read_text())
        if run["config"]["channel"] != "ofdm":
            p.error(f"{path} is a {run['config']['channel']} sweep; --ofdm takes sweeps of --channel ofdm")
        runs[run["config"]["profile"]["name"]] = run
    report = compare(json.loads(args.awgn.read_text()), runs)
    report["sources"] = {"awgn": str(args.awgn), "ofdm": [str(p) for p in paths]}
    write_json(args.out, report)
    text = table(report, str(args.out))
    print(text)
    if args.readme is not None:
        splice(args.readme, README_BLOCK, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
