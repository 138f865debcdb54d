"""``ota replay``: decode a recorded SigMF capture (from a lab, or from ``ota tx --radio capture``).

The capture's metadata says what was sent (model, image, OFDM numerology) when this tool wrote it;
``--model`` and ``--reference`` override or supply what a foreign recording lacks.
"""

from __future__ import annotations

import argparse
import time

from ota import options
from ota.commands import COMMANDS
from ota.link import Link
from phy.capture import read_capture
from phy.frame_config import FrameConfig
from phy.numerology import Numerology
from phy.receiver import ReceiverConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help=COMMANDS["replay"], description=__doc__)
    p.add_argument("capture", help="the capture's .sigmf-meta (or .sigmf-data) file")
    p.add_argument("--reference", default=None, help="the image that was sent (default: as the metadata says)")
    p.add_argument("--model", default=None, help="model name or checkpoint path (default: as the metadata says)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    p.add_argument("--lpips-weights", default=None, help="AlexNet features file for LPIPS")
    p.add_argument("--out", default="out/replay", help="output folder (default out/replay)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    capture = read_capture(args.capture)
    sent = capture.metadata.get("sent", {})
    model = args.model or sent.get("model") or options.model_choice(argparse.Namespace(model=None, cbr=None))
    num = Numerology(**capture.metadata["numerology"]) if "numerology" in capture.metadata else Numerology(
        sample_rate=capture.sample_rate
    )
    if num.sample_rate != capture.sample_rate:
        raise ValueError(
            f"{args.capture}: sample rate {capture.sample_rate:g} S/s does not match the numerology's "
            f"{num.sample_rate:g} S/s in its metadata"
        )
    reference_spec = args.reference or sent.get("image")
    reference = options.load_input_image(reference_spec)[0] if reference_spec else None
    frame = FrameConfig(**capture.metadata["frame"]) if "frame" in capture.metadata else FrameConfig()
    link = Link.load(model, num, frame, ReceiverConfig(), device=args.device)
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
