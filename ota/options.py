"""Command-line options and helpers shared by the ``ota`` sub-commands."""

from __future__ import annotations

import argparse
import math
import platform
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy
import torch

from models.checkpoint import weights_sha256
from models.evaluate import package_versions
from models.image_io import load_image
from models.registry import DEFAULT_MODEL, MODELS, resolve_model
from ota.link import Link, RxImage, TxImage
from ota.radios import Radio, RadioConfig, backends, parse_radio_spec
from ota.reception import Reception
from ota.reception import write as write_reception
from ota.user_error import UserError
from phy.frame_config import FrameConfig
from phy.link_config import LinkConfig, LinkConfigError
from phy.numerology import SUPPORTED_FFT_SIZES, Numerology
from phy.receiver_config import ReceiverConfig

SNR_RANGE_DB = (-10.0, 40.0)
DEFAULT_IMAGE = "matplotlib:grace_hopper.jpg"


def snr_db(text: str) -> float:
    """argparse type: an SNR in dB inside :data:`SNR_RANGE_DB`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; expected an SNR in dB like 10") from None
    lo, hi = SNR_RANGE_DB
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"SNR {value} dB is out of range; expected {lo:g} to {hi:g} dB")
    return value


def cbr(text: str) -> float:
    """argparse type: a channel bandwidth ratio written as ``1/48`` or ``0.0208``."""
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a bandwidth ratio; expected e.g. 1/48 or 1/24") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"CBR {text} must be between 0 and 1, e.g. 1/48")
    return value


def parse_snr_list(text: str) -> list[float]:
    """``"1,4,7"`` -> ``[1.0, 4.0, 7.0]``: comma-separated SNRs [dB] inside SNR_RANGE_DB, each once."""
    values = []
    for item in text.split(","):
        item = item.strip()
        try:
            value = float(item)
        except ValueError:
            raise UserError(f"--snr: '{item}' is not a number; expected comma-separated dB values like 1,4,7") from None
        lo, hi = SNR_RANGE_DB
        if not (math.isfinite(value) and lo <= value <= hi):
            raise UserError(f"--snr: {item} dB is out of range; expected values from {lo:g} to {hi:g} dB")
        if value in values:
            raise UserError(f"--snr: {item} dB is listed twice")
        values.append(value)
    return values


def add_receive_options(p: argparse.ArgumentParser, default_seconds: float | None) -> None:
    p.add_argument("--seconds", type=float, default=default_seconds,
                   help="how much baseband to receive, in seconds" + (
                       f" (default {default_seconds})" if default_seconds else " (default: twice the burst)"))
    p.add_argument("--reference", default=None, help="the image that was sent, to score the reception")
    p.add_argument("--out", default="out/rx", help="output folder (default out/rx)")


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=None,
        help=f"registered model name ({', '.join(sorted(MODELS))}) or checkpoint path (default {DEFAULT_MODEL})",
    )
    p.add_argument("--cbr", type=cbr, default=None, help="pick the registered model of this CBR, e.g. 1/48 or 1/24")
    p.add_argument("--device", default="auto", help="torch device for the models: auto (CUDA if present), cpu, cuda")
    p.add_argument(
        "--lpips-weights", default=None,
        help="AlexNet features file for LPIPS (default $JSCC_WEIGHTS_DIR/alexnet_features.pth)",
    )


def add_phy_options(p: argparse.ArgumentParser) -> None:
    """The physical layer: a ``--phy-config`` file (:class:`phy.link_config.LinkConfig`), or the few
    numerology and framing options alone (one or the other for each of its tables)."""
    p.add_argument("--phy-config", default=None, metavar="FILE.toml",
                   help="[ofdm], [frame] and [receiver] tables (equalizer, channel smoothing, tracking, ...)")
    p.add_argument("--fft-size", type=int, default=None, choices=SUPPORTED_FFT_SIZES, help="OFDM FFT size (default 64)")
    p.add_argument("--cp-len", type=int, default=None, help="cyclic prefix in samples (default fft_size/4)")
    p.add_argument("--sample-rate", type=float, default=None, help="baseband sample rate in samples/s (default 2e6)")
    p.add_argument("--frame-symbols", type=int, default=None,
                   help=f"payload OFDM symbols per frame at most (default {FrameConfig().max_payload_symbols})")


def model_choice(args: argparse.Namespace) -> str:
    """The model name or path that ``--model`` and ``--cbr`` select together."""
    if args.cbr is None:
        return args.model or DEFAULT_MODEL
    family = (args.model or DEFAULT_MODEL).rsplit("-cbr", 1)[0]
    name = f"{family}-cbr{round(1 / args.cbr)}"
    if name not in MODELS:
        have = ", ".join(sorted(MODELS))
        raise ValueError(f"no registered model '{name}' for --cbr {Fraction(args.cbr).limit_denominator(1000)}; "
                         f"registered models: {have}")
    return name


def phy_config_file(path: str | None) -> LinkConfig | None:
    """The ``--phy-config`` file's configuration (None without one); a bad file is one UserError line."""
    try:
        return LinkConfig.from_toml(path) if path else None
    except LinkConfigError as exc:
        raise UserError(str(exc)) from None


def link_settings(args: argparse.Namespace) -> LinkConfig:
    """The physical layer the options describe: ``--phy-config`` and/or the numerology and framing options."""
    base = phy_config_file(args.phy_config)
    numerology_options = (args.fft_size, args.cp_len, args.sample_rate)
    if base is None or any(value is not None for value in numerology_options):
        if base is not None and base.numerology != Numerology():
            raise UserError(f"{args.phy_config} sets [ofdm]: give the numerology there or with --fft-size, "
                            "--cp-len and --sample-rate, not both")
        default = Numerology()
        fft = args.fft_size or default.fft_size
        num = Numerology(fft_size=fft, cp_len=args.cp_len if args.cp_len is not None else fft // 4,
                         sample_rate=args.sample_rate or default.sample_rate)
    else:
        num = base.numerology
    frame = base.frame if base is not None else FrameConfig()
    if args.frame_symbols is not None:
        if base is not None and base.frame != FrameConfig():
            raise UserError(f"{args.phy_config} sets [frame]: give the framing there or with --frame-symbols, not both")
        frame = FrameConfig(max_payload_symbols=args.frame_symbols)
    return LinkConfig(num, frame, base.receiver if base is not None else ReceiverConfig())


def only_table(settings: LinkConfig, table: str, reason: str) -> LinkConfig:
    """``settings`` when no table but ``table`` differs from the defaults; otherwise one UserError line that
    starts with ``reason`` (why the command takes no other) and names the tables set."""
    extra = [name for name in settings.non_default_tables() if name != table]
    if extra:
        raise UserError(f"{reason}: give only [{table}] settings, not {', '.join(f'[{name}]' for name in extra)}")
    return settings


def build_link(args: argparse.Namespace) -> Link:
    """The model and physical layer the options describe."""
    return Link.load(model_choice(args), link_settings(args), device=args.device)


def link_config(link: Link) -> dict:
    """The link's configuration as echoed into result files: the model, and the ``ofdm``, ``frame`` and
    ``receiver`` tables of :meth:`LinkConfig.to_dict` (a ``--phy-config`` file that rebuilds the link)."""
    return {
        "model": link.name,
        "model_card": link.card.name,
        "cbr": link.cbr,
        "device": str(link.device),
        **link.config.to_dict(),
    }


def resolve_image(spec: str | None) -> Path:
    """A path, or ``matplotlib:NAME`` for an image of matplotlib's sample data (the default)."""
    spec = spec or DEFAULT_IMAGE
    if spec.startswith("matplotlib:"):
        from matplotlib import cbook

        return Path(cbook.get_sample_data(spec.split(":", 1)[1], asfileobj=False))
    return Path(spec)


def load_input_image(spec: str | None) -> tuple[torch.Tensor, str]:
    """Load the image to send; returns the tensor and the name to echo into results."""
    return load_image(resolve_image(spec)), spec or DEFAULT_IMAGE


def versions() -> dict:
    """Versions of what produced a result: the model side's, plus the radio and capture side's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        sigmf_version = version("sigmf")
    except PackageNotFoundError:
        sigmf_version = None
    return {**package_versions(), "scipy": scipy.__version__, "sigmf": sigmf_version, "platform": platform.platform()}


def print_summary(result: dict, out: str | Path) -> None:
    def fmt(key: str, unit: str = "", digits: int = 2) -> str:
        value = result.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}{unit}"

    frames = "n/a" if result.get("frames_expected") is None else (
        f"{result['frames_decoded']}/{result['frames_expected']}")
    print(
        f"PSNR {fmt('psnr_db', ' dB')}  MS-SSIM {fmt('ms_ssim', '', 4)}  LPIPS {fmt('lpips', '', 4)}  "
        f"SNR est {fmt('snr_db_est', ' dB')}  frames {frames}"
        f"  CBR {result['cbr']:.5f}  ({result['wall_s']:.2f} s)"
    )
    for note in result.get("notes", []):
        print(f"note: {note}")
    print(f"wrote {out}/result.json")


def add_radio_options(p: argparse.ArgumentParser) -> None:
    """Options that select and configure a radio (``ota.radios.RadioConfig``), each backend's own included."""
    kinds = [f"{kind}[:{cls.address_name}] (e.g. {kind}:{cls.address_example})" for kind, cls in backends().items()]
    p.add_argument("--radio", required=True, metavar="KIND[:ADDRESS]",
                   help=", ".join(kinds[:-1]) + f", or {kinds[-1]}")
    p.add_argument("--radio-config", default=None, help="TOML file with a [radio] table of RadioConfig fields")
    p.add_argument("--freq", type=float, default=None, help="centre frequency in Hz (default 915e6)")
    p.add_argument("--bandwidth", type=float, default=None, help="analog RF bandwidth in Hz")
    p.add_argument("--tx-gain", type=float, default=None, help="TX gain in dB (Pluto: -89.75..0)")
    p.add_argument("--rx-gain", type=float, default=None, help="manual RX gain in dB")
    p.add_argument("--gain-mode", default=None, choices=("manual", "slow_attack", "fast_attack"), help="RX AGC mode")
    p.add_argument("--timeout", type=float, default=None, help="seconds a device call may take (default 3)")
    for backend in backends().values():
        backend.add_options(p)


def radio_config(args: argparse.Namespace, *, record: bool, sample_rate: float) -> tuple[str, RadioConfig]:
    """(backend kind, RadioConfig) from the radio options at the link's ``sample_rate``; ``record`` says the
    command transmits (a capture radio's --capture is written, not read)."""
    base = RadioConfig.from_toml(args.radio_config) if args.radio_config else RadioConfig()
    kind, config = parse_radio_spec(args.radio, base)
    changes = {
        "sample_rate": sample_rate,
        "center_freq": args.freq,
        "rf_bandwidth": args.bandwidth,
        "tx_gain_db": args.tx_gain,
        "rx_gain_db": args.rx_gain,
        "gain_mode": args.gain_mode,
        "timeout_s": args.timeout,
    }
    config = config.replace(**{k: v for k, v in changes.items() if v is not None})
    return kind, backends()[kind].apply_options(config, args, record=record)


def open_configured_radio(args: argparse.Namespace, num: Numerology, *, record: bool = False,
                          metadata: dict | None = None) -> Radio:
    """Open the radio the options name, as its backend opens for a link."""
    kind, config = radio_config(args, record=record, sample_rate=num.sample_rate)
    return backends()[kind].open_for_link(config, numerology=num, metadata=metadata or {})


def transmission_metadata(link: Link, sent: TxImage, image_name: str, snr_db: float, sequence: int = 0) -> dict:
    """What a capture must say about a transmission so that a replay can decode and score it (its numerology
    and framing under ``numerology`` and ``frame``, the keys of the captures in ``captures/``)."""
    return {
        "sent": {
            "image": image_name, "model": link.name,
            "model_weights_sha256": weights_sha256(resolve_model(link.name)),
            "cbr": link.cbr, "snr_db": snr_db, "sequence": sequence,
            "height": sent.height, "width": sent.width, "frames": len(sent.burst.frame_starts),
        },
        "numerology": link.numerology.to_dict(),
        "frame": link.config.frame.to_dict(),
    }


def report(args: argparse.Namespace, link: Link, rx: RxImage, samples: np.ndarray, wall_s: float, config: dict,
           reference: torch.Tensor | None, frames_expected: int | None = None, extra: dict | None = None,
           framed: bool = True) -> dict:
    """Score a reception, write ``args.out`` and print a one-line summary; returns the result."""
    reception = Reception(
        rx=rx, samples=samples, numerology=link.numerology, cbr=link.cbr, wall_s=wall_s,
        config={**config, **link_config(link)}, reference=reference, frames_expected=frames_expected,
        lpips_weights=getattr(args, "lpips_weights", None), extra=extra or {}, framed=framed,
    )
    result = write_reception(reception, args.out, versions())
    print_summary(result, args.out)
    return result
