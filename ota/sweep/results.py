"""``results.json``: every entry, per-point summaries over images and channel draws, versions and notes."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from models.confidence import mean_and_ci
from models.fid import frechet_distance
from ota import options
from ota.sweep.config import DIGITAL_SCHEMES, FID_FOLDER, IMAGE_METRICS, RESULTS_FILE, SCHEMES, SweepError
from ota.sweep.scoring import Scorer
from ota.sweep.store import ResultStore


def _metric_summary(group: list[dict], key: str) -> dict[str, float | int | list[float]] | None:
    """:func:`mean_and_ci` of one metric over a point's entries (every image and draw), plus the spread over
    channel draws: ``draw_means`` (the mean over images of each draw, in draw order), ``draw_min``,
    ``draw_max``, and the 10th / 90th percentiles over the entries (``p10``, ``p90``). None without values."""
    by_draw: dict[int, list[float]] = defaultdict(list)
    for entry in group:
        if entry.get(key) is not None:
            by_draw[entry.get("draw", 0)].append(entry[key])
    if not by_draw:
        return None
    values = [v for draw in sorted(by_draw) for v in by_draw[draw]]
    draw_means = [float(np.mean(by_draw[draw])) for draw in sorted(by_draw)]
    p10, p90 = np.percentile(values, [10, 90])
    return {**mean_and_ci(values), "draw_means": draw_means, "draw_min": min(draw_means),
            "draw_max": max(draw_means), "p10": float(p10), "p90": float(p90)}


def _fid(entries: list[dict], out: Path) -> float | None:
    """FID of one point over its images (None without features, or with fewer than two images)."""
    files = [(out / FID_FOLDER / f"ref-{e['image']}.npy", out / e["fid_features"]) for e in entries
             if e.get("fid_features")]
    if len(files) < 2 or not all(r.exists() and g.exists() for r, g in files):
        return None
    real = np.stack([np.load(r) for r, _ in files])
    generated = np.stack([np.load(g) for _, g in files])
    return frechet_distance(real, generated)


def summarise(entries: list[dict], out: Path) -> list[dict]:
    """Per (scheme, SNR, CBR) point: every metric's mean, std and 95 % CI over its entries (images x channel
    draws) and spread over draws (:func:`_metric_summary`), lost count, FID."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for entry in entries:
        groups[(entry["scheme"], entry["snr_db"], entry["cbr"])].append(entry)
    points = []
    order = {s: i for i, s in enumerate(SCHEMES)}

    def position(item: tuple[tuple, list[dict]]) -> tuple:
        (scheme, snr, _), group = item
        return order[scheme], snr, group[0]["cbr_value"]

    for (scheme, snr, cbr), group in sorted(groups.items(), key=position):
        metrics = {key: summary for key in IMAGE_METRICS if (summary := _metric_summary(group, key)) is not None}
        fid = _fid(group, out)
        if fid is not None:
            metrics["fid"] = {"mean": fid, "std": 0.0, "ci95": 0.0, "n": len(group)}
        points.append({
            "scheme": scheme, "snr_db": snr, "cbr": cbr, "cbr_value": group[0]["cbr_value"],
            "n_images": len({e["image"] for e in group}), "n_draws": len({e.get("draw", 0) for e in group}),
            "n_lost": sum(bool(e.get("lost")) for e in group) if scheme in DIGITAL_SCHEMES else None,
            "metrics": metrics,
        })
    return points


def versions() -> dict:
    """Versions of what produced the numbers: :func:`ota.options.versions` plus the digital chain's codecs."""
    from importlib.metadata import version

    import pillow_heif

    return {**options.versions(), "sionna-no-rt": version("sionna-no-rt"), "pillow-heif": pillow_heif.__version__,
            "libheif": pillow_heif.libheif_version()}


def build_results(store: ResultStore, out: Path, scorer: Scorer, skipped: list[dict], run_info: dict) -> dict:
    """The content of ``results.json``: configuration, versions, notes, every entry, per-point summaries."""
    entries = sorted(store.entries.values(),
                     key=lambda e: (e["image"], e["scheme"], e["snr_db"], e["cbr_value"], e.get("draw", 0)))
    notes = scorer.notes() + [f"{s['scheme']} at CBR {s['cbr']} skipped: {s['reason']}" for s in skipped]
    return {
        "config": {**store.identity, "metric_sources": scorer.sources(), "last_run": run_info},
        "versions": versions(),
        "notes": notes,
        "skipped": skipped,
        "entries": entries,
        "points": summarise(entries, out),
    }


def load_results(out: str | Path) -> dict:
    """``out/results.json`` of a sweep (a clear error when it is missing)."""
    path = Path(out) / RESULTS_FILE
    if not path.is_file():
        raise SweepError(f"{path} does not exist; run `ota sweep --out {out}` first")
    return json.loads(path.read_text())
