"""``ota capture``: record the air to a SigMF capture (``cf32_le`` or ``ci16_le``).

The metadata holds the radio's settings as read back from the device; add what was sent with
``--note`` so that a later ``ota replay --reference IMAGE`` can be scored.
"""

from __future__ import annotations

import argparse

from ota import options
from ota.commands import COMMANDS
from phy.capture import write_capture


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("capture", help=COMMANDS["capture"], description=__doc__)
    p.add_argument("--seconds", type=float, required=True, help="how long to record, in seconds")
    p.add_argument("--out", required=True, metavar="PATH.sigmf-meta", help="the capture to write")
    p.add_argument("--datatype", choices=("cf32_le", "ci16_le"), default="cf32_le", help="sample format")
    p.add_argument("--note", default="", help="free text stored as the capture's description")
    options.add_phy_options(p)
    options.add_radio_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.seconds > 0:
        raise ValueError(f"--seconds {args.seconds}: expected a positive duration")
    why = "ota capture records the air at the numerology's sample rate (framing and receiver apply in the replay)"
    num = options.only_table(options.link_settings(args), "ofdm", why).numerology
    n = round(args.seconds * num.sample_rate)
    with options.open_configured_radio(args, num) as radio:
        samples = radio.receive(n)
        described = radio.describe()
    path = write_capture(
        args.out, samples, num.sample_rate, radio.config.rx_freq, datatype=args.datatype,
        metadata={"radio": described, "numerology": num.to_dict()}, hw=radio.name, description=args.note,
    )
    print(f"wrote {path} ({n} samples, {args.seconds:g} s)")
    return 0
