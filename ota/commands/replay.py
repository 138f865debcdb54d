"""``ota replay``: decode a recorded SigMF capture (from a lab, or from ``ota tx --radio capture``).

The capture's metadata says what was sent (model, image, OFDM numerology) when this tool wrote it;
``--model`` and ``--reference`` override or supply what a foreign recording lacks.

``--follow`` reads the capture chunk by chunk, whatever its length, and decodes every image in it as soon
as its frames are in (:mod:`ota.follow`): one line per image, ``OUT/<n>/`` per image and
``OUT/summary.json``. Ctrl-C finishes the current image and writes the summary.
"""

from __future__ import annotations

import argparse
import time

from ota import options
from ota.commands import COMMANDS
from ota.follow import Follower
from ota.link import Link
from ota.user_error import UserError
from phy.capture import capture_info, iter_capture, read_capture
from phy.frame_config import FrameConfig
from phy.link_config import LinkConfig
from phy.numerology import Numerology
from phy.receiver_config import ReceiverConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help=COMMANDS["replay"], description=__doc__)
    p.add_argument("capture", help="the capture's .sigmf-meta (or .sigmf-data) file")
    p.add_argument("--reference", default=None, help="the image that was sent (default: as the metadata says)")
    p.add_argument("--model", default=None, help="model name or checkpoint path (default: as the metadata says)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    p.add_argument("--lpips-weights", default=None, help="AlexNet features file for LPIPS")
    p.add_argument("--out", default="out/replay", help="output folder (default out/replay)")
    p.add_argument("--phy-config", default=None, metavar="FILE.toml",
                   help="receiver settings from its [receiver] table (the capture says its numerology and framing)")
    p.add_argument("--follow", action="store_true", help="decode every image of the capture as a stream")
    p.add_argument("--chunk", type=int, default=1 << 18, help="--follow: samples read at a time (default 262144)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.follow:
        return follow(args)
    capture = read_capture(args.capture)
    link, sent, reference_spec, reference = _link_for(args, capture.metadata, capture.sample_rate)
    t0 = time.perf_counter()
    rx = link.receive_image(capture.samples, sequence=sent.get("sequence"))
    wall_s = time.perf_counter() - t0
    config = {
        "command": "replay",
        "capture": str(args.capture),
        "capture_datatype": capture.datatype,
        "capture_metadata": capture.metadata,
        "reference": reference_spec,
    }
    expected = capture.metadata.get("expected", {})
    options.report(args, link, rx, capture.samples, wall_s, config, reference, frames_expected=sent.get("frames"),
                   extra={"expected_psnr_db": expected.get("psnr_db")})
    return 0


def follow(args: argparse.Namespace) -> int:
    """Decode every image of the capture, read chunk by chunk (:class:`ota.follow.Follower`)."""
    if args.chunk < 1:
        raise UserError(f"--chunk must be a positive number of samples, got {args.chunk}")
    info = capture_info(args.capture)
    link, _, reference_spec, reference = _link_for(args, info["metadata"], info["sample_rate"])
    config = {"command": "replay --follow", "capture": str(args.capture), "capture_datatype": info["datatype"],
              "reference": reference_spec, **options.link_config(link)}
    follower = Follower(link, args.out, reference=reference, config=config, versions=options.versions(),
                        lpips_weights=args.lpips_weights)
    try:
        for chunk in iter_capture(args.capture, args.chunk):
            follower.push(chunk)
    except KeyboardInterrupt:
        print("interrupted: finishing the current image")
    follower.finish()
    summary = follower.summary()
    print(f"{summary['images_decoded']} images ({summary['images_incomplete']} incomplete), "
          f"{summary['frames_decoded']} frames, {summary['rx_msps']:.2f} MS/s; wrote {args.out}/summary.json")
    return 0


def _link_for(args: argparse.Namespace, metadata: dict, sample_rate: float) -> tuple:
    """(link, what the metadata says was sent, the reference's name, the reference image or None)."""
    sent = metadata.get("sent", {})
    model = args.model or sent.get("model") or options.model_choice(argparse.Namespace(model=None, cbr=None))
    num = Numerology(**metadata["numerology"]) if "numerology" in metadata else Numerology(sample_rate=sample_rate)
    if num.sample_rate != sample_rate:
        raise ValueError(
            f"{args.capture}: sample rate {sample_rate:g} S/s does not match the numerology's "
            f"{num.sample_rate:g} S/s in its metadata"
        )
    reference_spec = args.reference or sent.get("image")
    reference = options.load_input_image(reference_spec)[0] if reference_spec else None
    frame = FrameConfig(**metadata["frame"]) if "frame" in metadata else FrameConfig()
    link = Link.load(model, LinkConfig(num, frame, _receiver_config(args.phy_config)), device=args.device)
    return link, sent, reference_spec, reference


def _receiver_config(path: str | None) -> ReceiverConfig:
    """The ``[receiver]`` table of ``--phy-config`` (default settings without one)."""
    settings = options.phy_config_file(path) or LinkConfig()
    return options.only_table(settings, "receiver", f"{path}: a replay reads its numerology and framing from the "
                              "capture").receiver
