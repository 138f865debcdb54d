"""``ota tx``: encode an image and transmit its OFDM frames on a radio.

On a hardware radio the burst repeats (cyclic TX) for ``--seconds`` (until Ctrl-C without it), so a
receiver started at any time catches whole frames. ``--radio capture --capture PATH.sigmf-meta``
writes the transmitted baseband to SigMF instead (what a lab loads into a signal generator), with
metadata saying what was sent so that ``ota replay`` can decode and score it.

``--count N`` sends N transmissions of the image back to back, sequence numbers ``--sequence`` to
``--sequence + N - 1``, each followed by ``--gap`` seconds of silence: into one capture with ``--radio
capture`` (what ``ota replay --follow`` and a lab's long tests read), and on a radio likewise, once each.
The image is encoded once; only the frame headers differ.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from models.progress import Progress
from ota import options
from ota.commands import COMMANDS
from ota.link import Link, TxImage
from ota.user_error import UserError
from phy.header import FIELD_BITS

MAX_SEQUENCE = 2 ** FIELD_BITS["sequence"] - 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tx", help=COMMANDS["tx"], description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", help="image to send (or matplotlib:grace_hopper.jpg)")
    p.add_argument("--snr", type=options.snr_db, default=10.0,
                   help="SNR in dB the encoder is conditioned on (the link's expected SNR; default 10)")
    p.add_argument("--seconds", type=float, default=None,
                   help="how long a cyclic burst runs (default: until Ctrl-C); 0 sends the burst once")
    p.add_argument("--sequence", type=int, default=0, help="sequence number in the frame headers (default 0)")
    p.add_argument("--count", type=int, default=1, help="transmissions of the image, back to back (default 1)")
    p.add_argument("--gap", type=float, default=1e-3, help="--count: seconds of silence after each (default 0.001)")
    options.add_model_options(p)
    options.add_phy_options(p)
    options.add_radio_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or not 0 <= args.sequence <= MAX_SEQUENCE - args.count + 1:
        raise UserError(f"--sequence {args.sequence} and --count {args.count}: the sequence numbers must lie in "
                        f"0..{MAX_SEQUENCE} (16 bits) and the count be >= 1")
    if not 0 <= args.gap < 60:
        raise UserError(f"--gap must be 0 to 60 seconds, got {args.gap:g}")
    image, image_name = options.load_input_image(args.image)
    link = options.build_link(args)
    sent = link.transmit_image(image, args.snr, sequence=args.sequence)
    metadata = options.transmission_metadata(link, sent, image_name, args.snr, args.sequence)
    if args.count > 1:
        metadata["sent"]["count"] = args.count
        return _send_many(args, link, sent, metadata)
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


def _send_many(args: argparse.Namespace, link: Link, sent: TxImage, metadata: dict) -> int:
    """``--count``: the transmissions one after the other, each with its sequence number and a gap."""
    gap = np.zeros(round(args.gap * link.numerology.sample_rate), np.complex64)
    with options.open_configured_radio(args, link.numerology, record=True, metadata=metadata) as radio:
        for i in Progress(range(args.count), desc=f"transmitting to {radio.name}", unit="image", mininterval=1.0):
            burst = link.frame_symbols(sent.symbols, sent.height, sent.width, args.sequence + i)
            radio.transmit(np.concatenate([burst.samples, gap]), cyclic=False)
    seconds = args.count * (len(sent.burst.samples) + gap.size) / link.numerology.sample_rate
    print(f"{radio.name}: {args.count} transmissions of {len(sent.burst.frame_starts)} frames, sequences "
          f"{args.sequence}..{args.sequence + args.count - 1}, {seconds:.2f} s of baseband")
    if radio.kind == "capture":
        print(f"wrote {radio.config.record_path}")
    return 0
