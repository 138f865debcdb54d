"""``ota tx``: encode an image and transmit its OFDM frames on a radio.

On a hardware radio the burst repeats (cyclic TX) for ``--seconds`` (until Ctrl-C without it), so a
receiver started at any time catches whole frames. ``--radio capture --capture PATH.sigmf-meta``
writes the transmitted baseband to SigMF instead (what a lab loads into a signal generator), with
metadata saying what was sent so that ``ota replay`` can decode and score it.
"""

from __future__ import annotations

import argparse
import time

from ota import options
from ota.commands import COMMANDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tx", help=COMMANDS["tx"], description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", help="image to send (or matplotlib:grace_hopper.jpg)")
    p.add_argument("--snr", type=options.snr_db, default=10.0,
                   help="SNR in dB the encoder is conditioned on (the link's expected SNR; default 10)")
    p.add_argument("--seconds", type=float, default=None,
                   help="how long a cyclic burst runs (default: until Ctrl-C); 0 sends the burst once")
    p.add_argument("--sequence", type=int, default=0, help="sequence number in the frame headers (default 0)")
    options.add_model_options(p)
    options.add_phy_options(p)
    options.add_radio_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    image, image_name = options.load_input_image(args.image)
    link = options.build_link(args)
    sent = link.transmit_image(image, args.snr, sequence=args.sequence)
    metadata = options.transmission_metadata(link, sent, image_name, args.snr, args.sequence)
    burst = sent.burst
    with options.open_configured_radio(args, link.numerology, record=True, metadata=metadata) as radio:
        once = args.seconds == 0 or radio.kind == "capture"
        radio.transmit(burst.samples, cyclic=not once)
        air_ms = 1e3 * len(burst.samples) / link.numerology.sample_rate
        print(f"{radio.name}: {len(burst.frame_starts)} frames, {len(burst.samples)} samples "
              f"({air_ms:.1f} ms on air), PAPR {burst.papr_db:.1f} dB, {'once' if once else 'cyclic'}")
        if not once:
            try:
                if args.seconds is None:
                    print("transmitting; Ctrl-C stops")
                    while True:
                        time.sleep(1)
                time.sleep(args.seconds)
            except KeyboardInterrupt:
                pass
    if radio.kind == "capture":
        print(f"wrote {radio.config.record_path}")
    return 0
