"""``ota rx``: receive from a radio, find the frames of an image and rebuild it.

Receives ``--seconds`` of baseband (enough for twice the longest expected burst is a good choice),
runs the OFDM receiver and the generator, and writes ``DIR/result.json``, the reconstruction and the
physical-layer plots. Metrics need ``--reference`` (the image that was sent).
"""

from __future__ import annotations

import argparse
import time

from ota import options
from ota.commands import COMMANDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rx", help=COMMANDS["rx"], description=__doc__)
    options.add_receive_options(p, default_seconds=0.5)
    options.add_model_options(p)
    options.add_phy_options(p)
    options.add_radio_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
