"""Speed and waterfall of the digital chain (HEVC intra + 5G NR LDPC + QAM), on the CPU.

    python -m benchmarks.digital --out results/bench
    python benchmarks/digital.py --out DIR --image kodim23.png --cbr 1/48 --threads 1 --bler-blocks 64

Writes ``DIR/digital.json``:

- ``per_config``: for one image at the given CBR (``k = round(CBR * 3 * H * W)`` symbols), for each
  configuration (the 25 of the envelope and the paper's 16-QAM 2/3 n=6144): seconds for the HEVC
  encode including the budget search (a fresh search, x265 runs counted), for the channel encode
  (packing, LDPC, QAM; the HEVC coding already made), and for the receive at ``--snr-db``
  (demapping, LDPC decoding, CRC, HEIF rebuild and HEVC decode), with the budget, the bits used, the
  quality, the CRC result and the PSNR;
- ``ldpc_throughput``: decoding (and encoding) speed in information Mbit/s of three codes
  (rate-1/2 QPSK n=6144, the paper's block, and one Kodak-size transport block), batch 1 and 16, at an
  Es/N0 where they decode, with the CRC early stop (the default, :mod:`ota.baseline.ldpc`) and without it;
- ``bler_qpsk_rate_half``: the measured BLER of rate-1/2 QPSK n=6144 over AWGN on an Es/N0 grid and
  its 10 % point.

The image is ``--image``, else the first ``$JSCC_KODAK_DIR`` image, else a synthetic 512x768 one.
Timings are medians over ``--repeats`` after one warm-up (HEVC search: a single fresh run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pillow_heif
import torch

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.image_io import list_images, load_image  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.symbols import n_symbols  # noqa: E402
from ota.baseline.chain import (  # noqa: E402
    CONFIGURATIONS,
    PAPER_CONFIG,
    DigitalScheme,
    block_error_rate,
    psnr_score,
    threshold_db,
)
from ota.baseline.hevc import QualityLadder  # noqa: E402
from ota.baseline.ldpc import LdpcCode  # noqa: E402
from ota.baseline.qam import Qam  # noqa: E402
from ota.sweep import versions as sweep_versions  # noqa: E402
from phy.channel import awgn  # noqa: E402

SYNTHETIC_SIZE = (512, 768)
THROUGHPUT_CODES = {  # name -> (n_info, n_coded, modulation, Es/N0 [dB] where it decodes)
    "qpsk-1/2-n6144": (3072, 6144, "qpsk", 3.0),
    "16qam-2/3-n6144": (4096, 6144, "16qam", 12.0),
    "16qam-2/3-kodak-cbr48": (65536, 98304, "16qam", 12.0),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder for digital.json")
    p.add_argument("--image", default=None, help="image file (default: first $JSCC_KODAK_DIR image, else synthetic)")
    p.add_argument("--cbr", default="1/48", help="channel uses per real source dimension (default 1/48)")
    p.add_argument("--snr-db", type=float, default=30.0, help="Es/N0 of the timed receptions (default 30)")
    p.add_argument("--configs", nargs="+", default=None, help="configuration names (default: all 25 + paper)")
    p.add_argument("--repeats", type=int, default=3, help="timed channel encodes/decodes (default 3)")
    p.add_argument("--bler-grid", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
                   help="Es/N0 points [dB] of the rate-1/2 QPSK BLER curve")
    p.add_argument("--bler-blocks", type=int, default=64, help="transport blocks per BLER point (default 64)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.bler_blocks < 1:
        p.error("--repeats and --bler-blocks must be >= 1")
    return args


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_image(args: argparse.Namespace) -> tuple[torch.Tensor, str]:
    """The benchmark image (3, H, W) and where it came from."""
    if args.image:
        return load_image(args.image), str(args.image)
    kodak = os.environ.get("JSCC_KODAK_DIR")
    if kodak and Path(kodak).is_dir():
        path = list_images(kodak)[0]
        return load_image(path), str(path)
    rng = np.random.default_rng(args.seed)
    y, x = np.mgrid[0 : SYNTHETIC_SIZE[0], 0 : SYNTHETIC_SIZE[1]] / SYNTHETIC_SIZE[1]
    image = np.stack([x, y, 0.5 + 0.4 * np.sin(9 * x + 5 * y)]) + 0.05 * rng.standard_normal((3, *SYNTHETIC_SIZE))
    return torch.from_numpy(np.clip(image, 0, 1)).float(), "synthetic gradients + noise"


def bench_config(scheme: DigitalScheme, image: torch.Tensor, k: int, args: argparse.Namespace,
                 rng: np.random.Generator) -> dict:
    """Timings and outcome of one configuration on one image."""
    height, width = image.shape[1:]
    layout = scheme.layout(k)
    ladder = QualityLadder(image)
    start = time.perf_counter()
    source = ladder.within(layout.info_bits)
    hevc_s = time.perf_counter() - start
    tx = scheme.transmit(image, k, ladder)
    encode_s = timed(lambda: scheme.transmit(image, k, ladder), args.repeats)
    received, noise_var = awgn(tx.symbols, args.snr_db, rng)
    rx = scheme.receive(received, noise_var, height, width, sent=tx)
    decode_s = timed(lambda: scheme.receive(received, noise_var, height, width), args.repeats)
    return {
        "config": scheme.config.to_dict(),
        "blocks": len(layout.blocks),
        "filler_symbols": layout.filler_symbols,
        "budget_bits": layout.info_bits,
        "bitstream_bits": None if source is None else source.bitstream_bits,
        "file_bits": None if source is None else source.file_bits,
        "quality": None if source is None else source.quality,
        "x265_runs": ladder.n_encodes,
        "hevc_encode_with_search_s": hevc_s,
        "channel_encode_s": encode_s,
        "receive_s": decode_s,
        "crc_ok": rx.crc_ok,
        "lost": rx.lost,
        "psnr_db": psnr_score(image, rx.scored_image),
    }


def bench_throughput(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """Information Mbit/s of LDPC decoding and encoding, batch 1 and 16."""
    results = {}
    for name, (n_info, n_coded, modulation, es_n0) in Progress(THROUGHPUT_CODES.items(), desc="LDPC throughput"):
        qam = Qam(modulation)
        code = LdpcCode(n_info, n_coded, bits_per_symbol=qam.bits_per_symbol)
        full = LdpcCode(n_info, n_coded, bits_per_symbol=qam.bits_per_symbol, early_stop=False)
        entry = {"code": code.describe(), "es_n0_db": es_n0}
        for batch in (1, 16):
            bits = rng.integers(0, 2, (batch, n_info), dtype=np.uint8)
            received, noise_var = awgn(qam.map(code.encode(bits).reshape(-1)), es_n0, rng)
            llr = qam.demap(received, noise_var).reshape(batch, n_coded)
            decode_s = timed(lambda code=code, llr=llr: code.decode(llr), args.repeats)
            full_s = timed(lambda full=full, llr=llr: full.decode(llr), args.repeats)
            encode_s = timed(lambda code=code, bits=bits: code.encode(bits), args.repeats)
            entry[f"batch{batch}"] = {
                "decode_s": decode_s,
                "decode_info_mbit_s": batch * n_info / decode_s / 1e6,
                "decode_info_mbit_s_without_early_stop": batch * n_info / full_s / 1e6,
                "encode_info_mbit_s": batch * n_info / encode_s / 1e6,
            }
        results[name] = entry
    return results


def bench_bler(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """BLER of rate-1/2 QPSK, n = 6144, over AWGN on the grid, and its 10 % point."""
    code, qam = LdpcCode(3072, 6144, bits_per_symbol=2), Qam("qpsk")
    grid = sorted(args.bler_grid)
    bler = [block_error_rate(code, qam, es_n0, args.bler_blocks, rng) for es_n0 in Progress(grid, desc="BLER")]
    return {"code": code.describe(), "blocks_per_point": args.bler_blocks, "es_n0_db": grid, "bler": bler,
            "threshold_db_bler_0.1": threshold_db(grid, bler)}


def versions() -> dict[str, str]:
    """The sweep's versions (:func:`ota.sweep.versions`: codecs included), plus the x265 build, CPU and threads."""
    return {**sweep_versions(), "hevc_encoder": pillow_heif.libheif_info()["HEIF"],
            "cpu_count": str(os.cpu_count()), "torch_threads": str(torch.get_num_threads())}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    image, image_source = bench_image(args)
    height, width = image.shape[1:]
    k = n_symbols(height, width, float(Fraction(args.cbr)))
    configs = {c.name: c for c in (*CONFIGURATIONS, PAPER_CONFIG)}
    names = args.configs or list(configs)
    unknown = [n for n in names if n not in configs]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; known: {', '.join(configs)}")
    per_config = [bench_config(DigitalScheme.from_config(configs[n]), image, k, args, rng)
                  for n in Progress(names, desc="configurations")]
    results = {
        "benchmark": "digital",
        "image": {"source": image_source, "height": height, "width": width, "cbr": args.cbr, "k_symbols": k},
        "snr_db": args.snr_db,
        "repeats": args.repeats,
        "seed": args.seed,
        "per_config": per_config,
        "ldpc_throughput": bench_throughput(args, rng),
        "bler_qpsk_rate_half": bench_bler(args, rng),
        "versions": versions(),
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = write_json(Path(args.out) / "digital.json", results)
    for r in per_config:
        print(f"{r['config']['name']:>18}: budget {r['budget_bits']} bits, q={r['quality']}, "
              f"HEVC+search {r['hevc_encode_with_search_s']:.2f} s, encode {r['channel_encode_s']:.2f} s, "
              f"receive {r['receive_s']:.2f} s, PSNR {r['psnr_db']:.2f} dB")
    for name, r in results["ldpc_throughput"].items():
        print(f"LDPC {name}: decode {r['batch1']['decode_info_mbit_s']:.3f} (batch 1) / "
              f"{r['batch16']['decode_info_mbit_s']:.3f} (batch 16) Mbit/s")
    bler = results["bler_qpsk_rate_half"]
    print(f"rate-1/2 QPSK BLER {dict(zip(bler['es_n0_db'], bler['bler'], strict=True))}; "
          f"10 % at {bler['threshold_db_bler_0.1']} dB; wrote {path}")
    return results


if __name__ == "__main__":
    main()
