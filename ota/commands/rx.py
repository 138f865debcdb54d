"""``ota rx``: receive from a radio, find the frames of an image and rebuild it.

Receives ``--seconds`` of baseband (enough for twice the longest expected burst is a good choice),
runs the OFDM receiver and the generator, and writes ``DIR/result.json``, the reconstruction and the
physical-layer plots. Metrics need ``--reference`` (the image that was sent).

``--follow`` receives continuously (until Ctrl-C, or for ``--follow SECONDS``) and decodes every image as
soon as its frames are in (:mod:`ota.follow`): one line per image, ``OUT/<n>/`` per image and a running
``OUT/summary.json`` with the radio's overflow count and the achieved rate. Ctrl-C, or the end of a
replayed capture, finishes the current image and writes the summary.
"""

from __future__ import annotations

import argparse
import time

from ota import options
from ota.commands import COMMANDS
from ota.follow import Follower
from ota.radios.capture import EndOfCapture
from ota.user_error import UserError

FOLLOW_CHUNK_S = 0.05
"""Seconds of baseband asked of the radio at a time in follow mode."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rx", help=COMMANDS["rx"], description=__doc__)
    options.add_receive_options(p, default_seconds=0.5)
    p.add_argument("--follow", nargs="?", type=float, const=float("inf"), default=None, metavar="SECONDS",
                   help="receive and decode image after image until Ctrl-C (or for SECONDS)")
    options.add_model_options(p)
    options.add_phy_options(p)
    options.add_radio_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.follow is not None:
        return follow(args)
    reference = options.load_input_image(args.reference)[0] if args.reference else None
    link = options.build_link(args)
    n = max(1, round(args.seconds * link.numerology.sample_rate))
    t0 = time.perf_counter()
    with options.open_configured_radio(args, link.numerology) as radio:
        samples = radio.receive(n)
        described = radio.describe()
    rx = link.receive_image(samples)
    wall_s = time.perf_counter() - t0
    config = {"command": "rx", "radio": described, "seconds": args.seconds, "reference": args.reference}
    options.report(args, link, rx, samples, wall_s, config, reference)
    return 0


def follow(args: argparse.Namespace) -> int:
    """Receive chunk after chunk and decode each image as it completes (:class:`ota.follow.Follower`)."""
    if not args.follow > 0:
        raise UserError(f"--follow SECONDS must be positive, got {args.follow:g}")
    reference = options.load_input_image(args.reference)[0] if args.reference else None
    link = options.build_link(args)
    chunk = max(1 << 16, round(FOLLOW_CHUNK_S * link.numerology.sample_rate))
    with options.open_configured_radio(args, link.numerology) as radio:
        config = {"command": "rx --follow", "radio": radio.describe(), "reference": args.reference,
                  **options.link_config(link)}
        follower = Follower(link, args.out, reference=reference, config=config, versions=options.versions(),
                            lpips_weights=args.lpips_weights)
        started = time.monotonic()
        try:
            while time.monotonic() - started < args.follow:
                follower.push(radio.receive(chunk), overflows=radio.overflows, gaps=radio.receive_gaps)
        except (KeyboardInterrupt, EndOfCapture) as stop:
            print("interrupted: finishing the current image" if isinstance(stop, KeyboardInterrupt)
                  else "end of the capture")
    follower.finish()
    summary = follower.summary()
    print(f"{summary['images_decoded']} images ({summary['images_incomplete']} incomplete), "
          f"{summary['frames_decoded']} frames, {summary['overflows']} overflows "
          f"({summary['symbols_erased_by_overflows']} symbols erased), {summary['rx_msps']:.2f} MS/s; "
          f"wrote {args.out}/summary.json")
    return 0
