"""The comparison's claims as README tables: every JSCC scheme against every digital one, wins and losses.

    python benchmarks/claims_table.py --claims docs/comparison/claims.json --readme README.md

Reads a sweep's ``claims.json`` (:mod:`ota.sweep.figures`: LPIPS-matched bandwidth saving and SNR gain)
and writes two markdown tables between ``<!-- comparison-table:begin -->`` and
``<!-- comparison-table:end -->`` of the README (and to stdout): the bandwidth saving (the CBR the
digital scheme needs for the JSCC scheme's LPIPS, over the JSCC scheme's CBR; above 1 the JSCC scheme
uses less bandwidth) and the SNR gain (the SNR the digital scheme needs for that LPIPS, minus the JSCC
scheme's; positive: the JSCC scheme needs less power). A claim the sweep could not interpolate keeps its
reason, and its verdict is the side of the bound it states ("win (bound)": the digital scheme does not
reach the JSCC scheme's LPIPS anywhere in the sweep's range).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.readme_markers import check_markers, splice  # noqa: E402

README_BLOCK = "comparison-table"


def _verdict(value: float | None, threshold: float, reason: str | None) -> str:
    """win / loss; for a claim outside the sweep's range, the side its bound is on (or - if none)."""
    if value is None:
        bound = reason or ""
        return "**win** (bound)" if "more than" in bound else "loss (bound)" if "less than" in bound else "-"
    return "**win**" if value > threshold else "loss"


def _cbr_text(cbr: float) -> str:
    return f"1/{1 / cbr:.1f}"


def bandwidth_table(claims: list[dict]) -> str:
    """Markdown rows of the bandwidth-saving claims (one per SNR, JSCC scheme and reference)."""
    lines = ["| SNR | JSCC scheme (CBR) | its LPIPS | reference | reference's CBR for that LPIPS | saving | |",
             "|---|---|---|---|---|---|---|"]
    for c in claims:
        reached = _cbr_text(c["reference_cbr"]) if c["saving"] is not None else c["reason"]
        saving = f"{c['saving']:.2f}x" if c["saving"] is not None else "-"
        lines.append(f"| {c['snr_db']:g} dB | {c['scheme']} ({c['cbr']}) | {c['lpips']:.3f} | {c['reference']} | "
                     f"{reached} | {saving} | {_verdict(c['saving'], 1.0, c['reason'])} |")
    return "\n".join(lines) + "\n"


def snr_table(claims: list[dict]) -> str:
    """Markdown rows of the SNR-gain claims (one per CBR, SNR, JSCC scheme and reference)."""
    lines = ["| CBR | JSCC scheme at SNR | its LPIPS | reference | reference's SNR for that LPIPS | gain | |",
             "|---|---|---|---|---|---|---|"]
    for c in claims:
        reached = f"{c['reference_snr_db']:.1f} dB" if c["gain_db"] is not None else c["reason"]
        gain = f"{c['gain_db']:+.1f} dB" if c["gain_db"] is not None else "-"
        lines.append(f"| {c['cbr']} | {c['scheme']} at {c['snr_db']:g} dB | {c['lpips']:.3f} | {c['reference']} | "
                     f"{reached} | {gain} | {_verdict(c['gain_db'], 0.0, c['reason'])} |")
    return "\n".join(lines) + "\n"


def tables(claims: dict, source: str) -> str:
    """Both tables with their captions (LPIPS-matched; from ``source``)."""
    parts = [f"Measured on this link, from `{source}` (`python benchmarks/claims_table.py`); "
             f"metric {claims['metric']} (AlexNet), lower is better, interpolated between the sweep's points.\n"]
    for title, key, render in (("Bandwidth saving at equal LPIPS", "bandwidth_saving", bandwidth_table),
                               ("SNR gain at equal LPIPS", "snr_gain", snr_table)):
        body = render(claims[key]) if claims[key] else f"none: {claims[f'{key}_reason']}\n"
        parts.append(f"\n{title}:\n\n{body}")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--claims", type=Path, required=True, help="a sweep's claims.json")
    p.add_argument("--readme", type=Path, default=None, help="README to splice the tables into")
    args = p.parse_args(argv)
    if args.readme is not None:
        check_markers(args.readme, README_BLOCK)
    text = tables(json.loads(args.claims.read_text(encoding="utf-8")), str(args.claims))
    if args.readme is not None:
        splice(args.readme, README_BLOCK, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
