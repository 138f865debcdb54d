"""The paper's figures and its two claims, from a sweep's ``results.json`` alone.

    python -m ota.sweep.figures OUT        (or ``ota sweep --plot-only OUT``)

Figures (matplotlib, one PNG per metric, means over images (and channel draws) with 95 % confidence
intervals as error bars, or the standard deviation, or the spread of the per-draw means):

- SNR curves: ``OUT/snr_<metric>.png`` at every CBR that has at least two SNRs (the paper: CBR 1/48);
- CBR curves: ``OUT/cbr_<metric>.png`` at every SNR that has at least two CBRs (the paper: 10 dB), CBR on a
  log axis.

``<metric>`` is ``psnr``, ``ms_ssim``, ``lpips``, and ``dists`` / ``fid`` where the sweep has them. When
several CBRs (SNRs) qualify, the name gets a suffix: ``snr_lpips_cbr1-48.png``, ``cbr_lpips_snr10.png``.

Claims (``OUT/claims.json``, also printed), at equal LPIPS, for every JSCC scheme against every digital one:

- bandwidth saving: on the CBR curves at one SNR, the digital scheme's CBR that reaches the JSCC model's
  LPIPS (at the model's own CBR), by linear interpolation in log CBR between the two measured points that
  bracket it; the saving is that CBR over the model's;
- SNR gain: on the SNR curves at one CBR, for every measured SNR of the JSCC model, the SNR at which the
  digital scheme reaches the model's LPIPS, by linear interpolation in dB; the gain is the difference.

Each value comes with the points it is interpolated from. Where the digital curve does not reach the
level inside the measured range (or is already below it at the first point), the value is null and the
reason gives the bound that the range implies. A curve is read from its low end: the crossing is the first
point where it falls to the level.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from matplotlib.figure import Figure

from models.figure_file import write_figure
from models.json_file import write_json
from ota.sweep import DIGITAL_SCHEMES, JSCC_SCHEMES, SCHEMES, SweepError, load_results

CLAIMS_FILE = "claims.json"
CLAIM_METRIC = "lpips"
METRIC_FILES = {"psnr_db": "psnr", "ms_ssim": "ms_ssim", "lpips": "lpips", "dists": "dists", "fid": "fid"}
METRIC_LABELS = {
    "psnr_db": "PSNR [dB]",
    "ms_ssim": "MS-SSIM",
    "lpips": "LPIPS (lower is better)",
    "dists": "DISTS (lower is better)",
    "fid": "FID (lower is better)",
}
SCHEME_STYLES = {  # label, colour, marker, line style
    "generative": ("generative deep JSCC (TAEF2 prior)", "C4", "P", "-"),
    "perceptual": ("perceptual deep JSCC", "C3", "o", "-"),
    "mse": ("MSE deep JSCC", "C0", "s", "-"),
    "bpg-ldpc": ("BPG + 5G LDPC + QAM (envelope)", "C2", "^", "-"),
    "bpg-ldpc-fixed": ("BPG + 5G LDPC, 16-QAM 2/3, n=6144", "C1", "v", "--"),
    "bpg-capacity": ("BPG + capacity", "0.3", "D", ":"),
}
ERROR_BARS = ("ci95", "std", "draws")
BAR_TEXT = {"ci95": "mean \u00b1 95 % CI", "std": "mean \u00b1 std", "draws": "mean, bars: lowest to highest draw mean"}
AXES = {"snr": ("snr_db", "cbr"), "cbr": ("cbr_value", "snr_db")}
"""Curve axis -> (the point's x key, the key held fixed along a curve)."""


# ---------------------------------------------------------------- curves


def curves(points: list[dict], axis: str) -> dict[object, dict[str, list[dict]]]:
    """Points grouped into curves along ``axis`` ("snr" or "cbr").

    Returns:
        fixed value (a CBR like "1/48", or an SNR) -> scheme -> its points sorted along the axis; only fixed
        values where some scheme has at least two points.
    """
    x_key, fixed_key = AXES[axis]
    grouped: dict[object, dict[str, list[dict]]] = {}
    for point in points:
        grouped.setdefault(point[fixed_key], {}).setdefault(point["scheme"], []).append(point)
    return {
        fixed: {scheme: sorted(pts, key=lambda p: p[x_key]) for scheme, pts in by_scheme.items()}
        for fixed, by_scheme in grouped.items()
        if max(len(pts) for pts in by_scheme.values()) >= 2
    }


def _fixed_text(axis: str, fixed: object) -> str:
    return f"CBR {fixed}" if axis == "snr" else f"SNR {fixed:g} dB"


def _suffix(axis: str, fixed: object) -> str:
    return f"_cbr{str(fixed).replace('/', '-')}" if axis == "snr" else f"_snr{fixed:g}"


def _plot(axis: str, fixed: object, by_scheme: dict[str, list[dict]], metric: str, title: str, error_bars: str,
          path: Path) -> Path:
    x_key, _ = AXES[axis]
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot()
    for scheme in (s for s in SCHEMES if s in by_scheme):
        pts = [p for p in by_scheme[scheme] if metric in p["metrics"]]
        if not pts:
            continue
        label, colour, marker, style = SCHEME_STYLES[scheme]
        ax.errorbar(
            [p[x_key] for p in pts], [p["metrics"][metric]["mean"] for p in pts],
            yerr=bar_lengths([p["metrics"][metric] for p in pts], error_bars), label=label, color=colour, marker=marker,
            linestyle=style, capsize=3,
        )
    if axis == "cbr":
        values = sorted({p["cbr_value"] for pts in by_scheme.values() for p in pts})
        ax.set_xscale("log")
        ax.set_xticks(values, [str(Fraction(v).limit_denominator(10_000)) for v in values])
        ax.minorticks_off()
        ax.set_xlabel("CBR (channel uses per source dimension)")
    else:
        ax.set_xlabel("SNR [dB]")
    ax.set_ylabel(METRIC_LABELS[metric])
    n = max(p["n_images"] for pts in by_scheme.values() for p in pts)
    draws = max(p.get("n_draws", 1) for pts in by_scheme.values() for p in pts)
    over = f"{n} image{'s' * (n > 1)}" + (f" x {draws} channel draws" if draws > 1 else "")
    ax.set_title(f"{title}, {_fixed_text(axis, fixed)}\n{BAR_TEXT[error_bars]} over {over}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_figure(fig, path, 110)
    return path


def bar_lengths(summaries: list[dict], error_bars: str) -> list[float] | list[list[float]]:
    """Matplotlib ``yerr`` of one curve: symmetric ``ci95`` / ``std``, or the spread of the draw means."""
    if error_bars != "draws":
        return [m[error_bars] for m in summaries]
    # max(0, .): the mean of equal draws can differ from them in the last bit, and matplotlib refuses negative bars
    return [[max(0.0, m["mean"] - m["draw_min"]) for m in summaries],
            [max(0.0, m["draw_max"] - m["mean"]) for m in summaries]]


def plot_all(results: dict, out: Path, error_bars: str = "ci95") -> list[Path]:
    """Every SNR and CBR figure of ``results`` into ``out``; returns the files written.

    ``error_bars``: "ci95" (95 % t-confidence interval of the mean), "std" (standard deviation over the
    entries) or "draws" (from the lowest to the highest mean over images of one channel draw).
    """
    if error_bars not in ERROR_BARS:
        raise SweepError(f"error_bars must be one of {ERROR_BARS}, got {error_bars!r}")
    config = results["config"]
    channel = "symbol AWGN" if config["channel"] == "awgn" else f"OFDM link, {config['profile']['name']} profile"
    written = []
    for axis in AXES:
        found = curves(results["points"], axis)
        for fixed, by_scheme in found.items():
            suffix = "" if len(found) == 1 else _suffix(axis, fixed)
            present = {m for pts in by_scheme.values() for p in pts for m in p["metrics"]}
            for metric in (m for m in METRIC_FILES if m in present):
                path = out / f"{axis}_{METRIC_FILES[metric]}{suffix}.png"
                written.append(_plot(axis, fixed, by_scheme, metric, channel, error_bars, path))
    return written


# ---------------------------------------------------------------- claims


@dataclass(frozen=True)
class Crossing:
    """Where a measured curve first falls to a level.

    Attributes:
        x: the interpolated abscissa, or None when the curve does not cross inside the measured range.
        bracket: the two measured points ``[[x, y], [x, y]]`` it is interpolated between (None without crossing).
        reason: why there is no crossing ("" when there is one): "above" (never reaches the level) or
            "below" (already at or below it at the first point).
    """

    x: float | None
    bracket: list[list[float]] | None
    reason: str


def crossing(xs: list[float], ys: list[float], level: float, *, log_x: bool = False) -> Crossing:
    """The smallest ``x`` where the piecewise-linear curve ``(xs, ys)`` (sorted by x) falls to ``level``.

    Interpolation is linear in ``x`` (or in ``log x`` with ``log_x``). A curve whose first point is
    exactly at the level crosses there; one already below it crosses before the range ("below"); one that
    stays above it everywhere crosses after it ("above").
    """
    if len(xs) != len(ys) or len(xs) < 2 or any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
        raise SweepError(f"a curve needs at least two points with increasing x, got x={xs}")
    if ys[0] == level:
        return Crossing(xs[0], [[xs[0], ys[0]], [xs[0], ys[0]]], "")
    if ys[0] < level:
        return Crossing(None, None, "below")
    for i in range(1, len(xs)):
        if ys[i] <= level:
            fraction = (ys[i - 1] - level) / (ys[i - 1] - ys[i])
            if log_x:
                x = math.exp(math.log(xs[i - 1]) + fraction * (math.log(xs[i]) - math.log(xs[i - 1])))
            else:
                x = xs[i - 1] + fraction * (xs[i] - xs[i - 1])
            return Crossing(x, [[xs[i - 1], ys[i - 1]], [xs[i], ys[i]]], "")
    return Crossing(None, None, "above")


def _pairs(by_scheme: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """(JSCC scheme, digital scheme) pairs present in a group of curves."""
    return [(j, d) for j in JSCC_SCHEMES if j in by_scheme for d in DIGITAL_SCHEMES if len(by_scheme.get(d, [])) >= 2]


def _level(point: dict) -> float | None:
    value = point["metrics"].get(CLAIM_METRIC)
    return None if value is None else value["mean"]


@dataclass(frozen=True)
class Reading:
    """One JSCC point read off a digital scheme's curve at the JSCC point's LPIPS."""

    fixed: object
    jscc: str
    digital: str
    point: dict
    level: float
    xs: list[float]
    ys: list[float]
    found: Crossing


def _readings(points: list[dict], axis: str) -> Iterator[Reading]:
    """Every JSCC point with an LPIPS, read off every digital curve of its group along ``axis`` (CBR in log)."""
    x_key, _ = AXES[axis]
    for fixed, by_scheme in curves(points, axis).items():
        for jscc, digital in _pairs(by_scheme):
            ref = [p for p in by_scheme[digital] if _level(p) is not None]
            xs, ys = [p[x_key] for p in ref], [_level(p) for p in ref]
            if len(xs) < 2:
                continue
            for point in by_scheme[jscc]:
                level = _level(point)
                if level is not None:
                    found = crossing(xs, ys, level, log_x=axis == "cbr")
                    yield Reading(fixed, jscc, digital, point, level, xs, ys, found)


def snr_gains(points: list[dict]) -> list[dict]:
    """SNR gain at equal LPIPS of every JSCC point on every SNR curve (see the module doc)."""
    claims = []
    for r in _readings(points, "snr"):
        xs, ys, level, snr, found = r.xs, r.ys, r.level, r.point["snr_db"], r.found
        claim = {"cbr": r.fixed, "scheme": r.jscc, "reference": r.digital, "snr_db": snr, "lpips": level,
                 "reference_snr_db": found.x, "gain_db": None if found.x is None else found.x - snr,
                 "bracket": found.bracket, "reason": None}
        if found.reason == "above":
            claim["reason"] = (f"{r.digital} does not reach LPIPS {level:.4f} within {xs[0]:g}..{xs[-1]:g} dB "
                               f"(best {min(ys):.4f}): the gain is more than {xs[-1] - snr:g} dB")
        elif found.reason == "below":
            claim["reason"] = (f"{r.digital} is already at LPIPS {ys[0]:.4f} <= {level:.4f} at its lowest SNR "
                               f"{xs[0]:g} dB: the gain is less than {xs[0] - snr:g} dB")
        claims.append(claim)
    return claims


def bandwidth_savings(points: list[dict]) -> list[dict]:
    """Bandwidth saving at equal LPIPS of every JSCC point on every CBR curve (see the module doc)."""
    claims = []
    for r in _readings(points, "cbr"):
        xs, ys, level, cbr, found = r.xs, r.ys, r.level, r.point["cbr_value"], r.found
        claim = {"snr_db": r.fixed, "scheme": r.jscc, "reference": r.digital, "cbr": r.point["cbr"], "lpips": level,
                 "reference_cbr": found.x, "saving": None if found.x is None else found.x / cbr,
                 "bracket": found.bracket, "reason": None}
        lo, hi = (str(Fraction(x).limit_denominator(10_000)) for x in (xs[0], xs[-1]))
        if found.reason == "above":
            claim["reason"] = (f"{r.digital} does not reach LPIPS {level:.4f} within CBR {lo}..{hi} "
                               f"(best {min(ys):.4f}): the saving is more than {xs[-1] / cbr:.3g}x")
        elif found.reason == "below":
            claim["reason"] = (f"{r.digital} is already at LPIPS {ys[0]:.4f} <= {level:.4f} at its lowest CBR "
                               f"{lo}: the saving is less than {xs[0] / cbr:.3g}x")
        claims.append(claim)
    return claims


def claims(results: dict) -> dict:
    """Both claims of ``results`` (see the module doc); an absent sweep gives null with the reason."""
    points = results["points"]
    out: dict[str, object] = {"metric": CLAIM_METRIC}
    for name, compute, needs in (
        ("bandwidth_saving", bandwidth_savings, "a CBR sweep: at least two CBRs at one SNR"),
        ("snr_gain", snr_gains, "an SNR sweep: at least two SNRs at one CBR"),
    ):
        found = compute(points)
        out[name] = found or None
        out[f"{name}_reason"] = None if found else (
            f"no JSCC and digital curves to compare; needs {needs}, with a JSCC scheme and a digital one")
    return out


def describe(result: dict) -> list[str]:
    """One line per claim, for the terminal."""
    lines = []
    for name in ("bandwidth_saving", "snr_gain"):
        if result[name] is None:
            lines.append(f"{name}: null ({result[f'{name}_reason']})")
            continue
        for c in result[name]:
            if name == "bandwidth_saving":
                head = f"bandwidth saving at {c['snr_db']:g} dB, {c['scheme']} (CBR {c['cbr']}) vs {c['reference']}"
                value = None if c["saving"] is None else (
                    f"{c['saving']:.2f}x (the reference reaches LPIPS {c['lpips']:.4f} at CBR "
                    f"1/{1 / c['reference_cbr']:.1f}, between {_bracket(c['bracket'], cbr=True)})")
            else:
                head = f"SNR gain at CBR {c['cbr']}, {c['scheme']} at {c['snr_db']:g} dB vs {c['reference']}"
                value = None if c["gain_db"] is None else (
                    f"{c['gain_db']:.2f} dB (the reference reaches LPIPS {c['lpips']:.4f} at "
                    f"{c['reference_snr_db']:.2f} dB, between {_bracket(c['bracket'], cbr=False)})")
            lines.append(f"{head}: {value if value else 'null (' + c['reason'] + ')'}")
    return lines


def _bracket(bracket: list[list[float]], cbr: bool) -> str:
    def x_text(x: float) -> str:
        return str(Fraction(x).limit_denominator(10_000)) if cbr else f"{x:g} dB"

    return " and ".join(f"{x_text(x)} (LPIPS {y:.4f})" for x, y in bracket)


def render(out: str | Path, error_bars: str = "ci95") -> tuple[list[Path], dict]:
    """Figures and ``claims.json`` from ``out/results.json``; returns (figures written, claims)."""
    out = Path(out)
    results = load_results(out)
    figures = plot_all(results, out, error_bars)
    found = claims(results)
    write_json(out / CLAIMS_FILE, {**found, "from": str(out / "results.json")})
    return figures, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ota.sweep.figures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="a sweep's output folder (holding results.json)")
    parser.add_argument("--error-bars", choices=ERROR_BARS, default="ci95",
                        help="95 %% confidence interval of the mean (default) or standard deviation over images")
    args = parser.parse_args(argv)
    try:
        figures, found = render(args.out, args.error_bars)
    except (SweepError, json.JSONDecodeError, KeyError) as exc:
        print(f"ota.sweep.figures: error: {exc}", file=sys.stderr)
        return 2
    for line in describe(found):
        print(line)
    print(f"wrote {len(figures)} figures and {Path(args.out) / CLAIMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
