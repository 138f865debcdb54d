"""``ota sweep``: the paper's comparison on one link, over SNR and CBR, with its figures and claims.

Schemes: generative, perceptual and MSE deep JSCC (the registered models of each CBR; a CBR without a shipped model is
skipped with a note), BPG + 5G LDPC + QAM (the envelope of the configurations), the paper's fixed
configuration (16-QAM, rate 2/3, n = 6144) and BPG + capacity. Every image x scheme x SNR x CBR of the grid
is one entry, appended to ``OUT/store.jsonl`` as it finishes: an interrupted sweep continues where it
stopped, and a second grid (the CBR sweep after the SNR sweep) can go into the same folder. At the end
``OUT/results.json``, the figures (``snr_<metric>.png``, ``cbr_<metric>.png``) and ``OUT/claims.json``
are written from the whole store. See :mod:`ota.sweep` and :mod:`ota.sweep.figures`.

The paper's two sweeps (into one folder):

    ota sweep --snr 1,4,7,10,13 --cbr 1/48 --data DIR --out OUT
    ota sweep --snr 10 --cbr 1/96,1/48,1/24,1/12 --data DIR --out OUT

The sweep runs torch with one CPU thread by default (``--threads``): Sionna's LDPC decoder, which dominates
the time, is far slower with two threads on a small machine.
"""

from __future__ import annotations

import argparse
import os

from ota import options
from ota.commands import COMMANDS
from ota.sweep import CHANNELS, PAPER_CBRS, SCHEMES, SweepConfig, as_cbr, cbr_text, run_sweep
from ota.sweep.figures import ERROR_BARS, describe, render
from ota.user_error import UserError
from phy.channel import PROFILES


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(item.strip() for item in text.split(",") if item.strip())
    if not names:
        raise UserError(f"{option}: expected a comma-separated list, got {text!r}")
    return names


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help=COMMANDS["sweep"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--schemes", default=",".join(SCHEMES), help=f"comma-separated (default {','.join(SCHEMES)})")
    p.add_argument("--snr", default="1,4,7,10,13", help="comma-separated SNRs [dB] (default 1,4,7,10,13)")
    p.add_argument("--cbr", default="1/48",
                   help=f"comma-separated CBRs (default 1/48; the paper's CBR sweep: "
                        f"{','.join(cbr_text(c) for c in PAPER_CBRS)} at --snr 10)")
    p.add_argument("--data", default=os.environ.get("JSCC_KODAK_DIR"),
                   help="folder of images (default $JSCC_KODAK_DIR)")
    p.add_argument("--channel", choices=CHANNELS, default="awgn",
                   help="awgn: noise on the symbols; ofdm: every scheme through the same OFDM link (default awgn)")
    p.add_argument("--profile", default="awgn", choices=sorted(PROFILES),
                   help="channel-emulator profile for --channel ofdm (default awgn)")
    p.add_argument("--out", default=None, help="output folder (store.jsonl, results.json, figures, claims.json)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images (sorted)")
    p.add_argument("--seed", type=int, default=0, help="seed of every channel draw (default 0)")
    p.add_argument("--draws", type=int, default=1,
                   help="channel realisations per image and point, each its own entry (default 1)")
    p.add_argument("--configs", default=None, metavar="NAMES",
                   help="the envelope's candidate configurations, comma-separated (e.g. qpsk-1/2,16qam-2/3; "
                        "default all 25)")
    p.add_argument("--device", default="auto", help="torch device for the models and metrics: auto, cpu, cuda")
    p.add_argument("--lpips-weights", default=None,
                   help="AlexNet features file for LPIPS (default $JSCC_WEIGHTS_DIR/alexnet_features.pth)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads during the sweep (default 1)")
    p.add_argument("--error-bars", choices=ERROR_BARS, default="ci95",
                   help="figures' error bars: 95 %% CI of the mean (default), std over the entries, or draws: "
                        "lowest to highest mean of one channel draw")
    p.add_argument("--plot-only", default=None, metavar="OUT",
                   help="only redraw the figures and claims of an existing sweep folder from its results.json")
    p.add_argument("--recompute-stale", action="store_true",
                   help="drop the stored entries of a JSCC model made with another checkpoint than the shipped "
                        "one and compute them again (after a model is replaced; refused without this)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.add_phy_options(p)
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> SweepConfig:
    if args.data is None:
        raise UserError("--data DIR is required (or set JSCC_KODAK_DIR to the Kodak folder)")
    return SweepConfig(
        data=args.data,
        schemes=_names(args.schemes, "--schemes"),
        snrs_db=tuple(options.parse_snr_list(args.snr)),
        cbrs=tuple(as_cbr(c) for c in _names(args.cbr, "--cbr")),
        channel=args.channel,
        profile=args.profile,
        limit=args.limit,
        seed=args.seed,
        draws=args.draws,
        configs=None if args.configs is None else _names(args.configs, "--configs"),
        phy=options.link_settings(args),
        device=args.device,
        lpips_weights=args.lpips_weights,
        threads=args.threads,
    )


def _print_points(results: dict) -> None:
    print(f"{'scheme':<15} {'SNR':>5} {'CBR':>6} {'n':>4} {'PSNR':>7} {'MS-SSIM':>8} {'LPIPS':>7} {'lost':>5}")
    for point in results["points"]:
        m = point["metrics"]

        def value(key: str, digits: int, m: dict = m) -> str:
            return f"{m[key]['mean']:.{digits}f}" if key in m else "n/a"

        lost = "" if point["n_lost"] is None else str(point["n_lost"])
        entries = point["n_images"] * point["n_draws"]
        print(f"{point['scheme']:<15} {point['snr_db']:>5g} {point['cbr']:>6} {entries:>4} "
              f"{value('psnr_db', 2):>7} {value('ms_ssim', 4):>8} {value('lpips', 4):>7} {lost:>5}")


def run(args: argparse.Namespace) -> int:
    out = args.plot_only
    if out is None:
        if args.out is None:
            raise UserError("--out DIR is required (or --plot-only DIR to redraw an existing sweep)")
        out = args.out
        done = run_sweep(_config(args), out, progress=not args.no_progress, recompute_stale=args.recompute_stale)
        print(f"{done.new} new entries, {done.reused} already in {out}/store.jsonl ({done.wall_s:.1f} s)")
        for note in done.results["notes"]:
            print(f"note: {note}")
        _print_points(done.results)
    figures, found = render(out, args.error_bars)
    for line in describe(found):
        print(line)
    wrote = "" if args.plot_only else f"{out}/results.json, "
    print(f"wrote {wrote}{len(figures)} figures and {out}/claims.json")
    return 0
