"""``ota simulate``: send an image through a simulated channel, no radio.

``--channel awgn`` adds complex Gaussian noise to the JSCC symbols themselves (the model's training
channel); ``--channel ofdm`` puts them into OFDM frames, through the physical layer's channel
emulator with a named profile (``awgn``, ``lab``, TDL, ...) and back through the receiver.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ota import options
from ota.commands import COMMANDS
from ota.link import Link, RxImage, TxImage
from phy.capture import write_capture
from phy.channel import ChannelEmulator, awgn, get_profile
from phy.reassembly import Reassembled


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help=COMMANDS["simulate"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", nargs="?", help="image to send (default: a photograph shipped with matplotlib)")
    p.add_argument("--snr", type=options.snr_db, default=10.0, help="channel SNR in dB (default 10)")
    p.add_argument("--channel", choices=("awgn", "ofdm"), default="ofdm", help="symbol-level AWGN or full OFDM")
    p.add_argument("--profile", default="awgn", help="channel-emulator profile for --channel ofdm (default awgn)")
    p.add_argument(
        "--drop-frame", type=int, action="append", default=[], metavar="I",
        help="lose frame I on the air (repeatable); its symbols reach the generator as erasures",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    options.add_model_options(p)
    options.add_phy_options(p)
    p.add_argument("--out", default="out/simulate", help="output folder (default out/simulate)")
    p.add_argument(
        "--save-capture", default=None, metavar="PATH.sigmf-meta",
        help="also write the received baseband (--channel ofdm) as a synthetic SigMF capture for `ota replay`",
    )
    p.add_argument("--capture-datatype", choices=("cf32_le", "ci16_le"), default="cf32_le",
                   help="sample format of --save-capture (default cf32_le)")
    p.set_defaults(func=run)


def _awgn(symbols: np.ndarray, snr_db: float, rng: np.random.Generator) -> Reassembled:
    """Symbol-level AWGN at ``snr_db`` (:func:`phy.channel.awgn.awgn`) as a payload without frames."""
    received, noise_var = awgn(symbols, snr_db, rng)
    return Reassembled(symbols=received, noise_var=noise_var, erased=np.zeros(len(symbols), bool),
                       frames_expected=0, frames_decoded=0, header=None)


def _drop_frames(samples: np.ndarray, starts: list[int], lengths: list[int], drop: list[int]) -> np.ndarray:
    """Silence the listed frames of a burst (as if they were lost on the air)."""
    out = samples.copy()
    for i in drop:
        if not 0 <= i < len(starts):
            raise ValueError(f"--drop-frame {i}: the burst has frames 0..{len(starts) - 1}")
        out[starts[i] : starts[i] + lengths[i]] = 0
    return out


def _save_capture(args: argparse.Namespace, link: Link, sent: TxImage, samples: np.ndarray, config: dict,
                  result: dict) -> None:
    """The received stream as a synthetic SigMF capture whose metadata says how it was made."""
    metadata = {
        **options.transmission_metadata(link, sent, config["image"], args.snr),
        "synthetic": True,
        "made_by": "ota simulate --save-capture (phy.channel.ChannelEmulator, no radio)",
        "channel": {"profile": config["profile"], "snr_db": args.snr, "seed": args.seed,
                    "dropped_frames": args.drop_frame},
        "expected": {k: result[k] for k in ("psnr_db", "ms_ssim", "snr_db_est", "frames_decoded")},
    }
    write_capture(
        args.save_capture, samples, link.numerology.sample_rate, 915e6, datatype=args.capture_datatype,
        metadata=metadata, description=f"synthetic: {config['image']} over profile {args.profile} at {args.snr} dB",
        overwrite=True,
    )
    print(f"wrote {args.save_capture}")


def run(args: argparse.Namespace) -> int:
    if args.save_capture and args.channel != "ofdm":
        raise ValueError("--save-capture needs --channel ofdm (a capture holds OFDM baseband samples)")
    image, image_name = options.load_input_image(args.image)
    link = options.build_link(args)
    profile = get_profile(args.profile)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    sent = link.transmit_image(image, args.snr)
    if args.channel == "awgn":
        payload = _awgn(sent.symbols, args.snr, rng)
        size = (sent.height, sent.width)
        rx = RxImage(link.decode(payload.symbols, payload.noise_var, payload.erased, size), payload, [])
        samples = np.zeros(0, np.complex64)
    else:
        burst = sent.burst
        tx = _drop_frames(burst.samples, burst.frame_starts, burst.frame_lengths, args.drop_frame)
        samples = ChannelEmulator(profile, link.numerology, rng)(tx, args.snr).samples
        rx = link.receive_image(samples)
    wall_s = time.perf_counter() - t0
    config = {
        "command": "simulate",
        "image": image_name,
        "snr_db": args.snr,
        "channel": args.channel,
        "profile": profile.to_dict() if args.channel == "ofdm" else None,
        "dropped_frames": args.drop_frame,
        "seed": args.seed,
    }
    frames = None if args.channel == "awgn" else len(sent.burst.frame_starts)
    result = options.report(args, link, rx, samples, wall_s, config, image, frames_expected=frames,
                            framed=args.channel == "ofdm")
    if args.save_capture:
        _save_capture(args, link, sent, samples, config, result)
    return 0
