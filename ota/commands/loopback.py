"""``ota loopback``: transmit an image and receive it on the same radio (TX cabled or radiated to RX).

The burst is sent cyclically and twice its length is received, so at least one whole copy of every
frame is in the buffer wherever reception starts. With ``--radio emulator[:PROFILE]`` this is the
simulation-only path through the radio interface.
"""

from __future__ import annotations

import argparse
import time

from ota import options
from ota.commands import COMMANDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("loopback", help=COMMANDS["loopback"], description=__doc__)
    p.add_argument("image", nargs="?", help="image to send (default: a photograph shipped with matplotlib)")
    p.add_argument("--snr", type=options.snr_db, default=10.0, help="SNR in dB the encoder is conditioned on")
    options.add_receive_options(p, default_seconds=None)
    options.add_model_options(p)
    options.add_phy_options(p)
    options.add_radio_options(p)
    p.set_defaults(func=run, out="out/loopback")


def run(args: argparse.Namespace) -> int:
    image, image_name = options.load_input_image(args.image)
    link = options.build_link(args)
    t0 = time.perf_counter()
    sent = link.transmit_image(image, args.snr)
    burst = sent.burst.samples
    n = round(args.seconds * link.numerology.sample_rate) if args.seconds else 2 * len(burst)
    metadata = options.transmission_metadata(link, sent, image_name, args.snr)
    with options.open_configured_radio(args, link.numerology, record=True, metadata=metadata) as radio:
        radio.transmit(burst, cyclic=True)
        samples = radio.receive(n)
        radio.stop()
        described = radio.describe()
    rx = link.receive_image(samples)
    wall_s = time.perf_counter() - t0
    config = {"command": "loopback", "image": image_name, "snr_db": args.snr, "radio": described}
    options.report(args, link, rx, samples, wall_s, config, image, frames_expected=len(sent.burst.frame_starts))
    return 0
