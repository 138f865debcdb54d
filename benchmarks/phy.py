"""Physical-layer benchmark: speed and quality of the OFDM transmitter and receiver.

``python benchmarks/phy.py --out DIR`` writes ``DIR/phy.json`` and plots (constellation before and
after equalisation, PAPR CCDF, QPSK BER against theory) made from the JSON's own numbers.

Measured (all on the default numerology, FFT 64 at 2 MS/s, single process, one BLAS thread):

* ``rx_msps``: receiver throughput on a 10 s capture at 2 MS/s holding frames (JSCC-like payloads of
  24576 symbols, each burst through its own ``lab`` channel draw at 20 dB, the emulator's noise
  padding between bursts), wall clock and CPU time (``rx_msps_cpu``; on a shared machine the wall
  clock includes other processes' turns): the median over ``RECEIVE_RUNS`` fresh processes (each
  value, the minimum and maximum under ``rx_runs``, with the kernel time of each pass, ``rx_system_s``),
  with a profile of where the time goes;
  ``rx_msps_numpy_hugepages``: the same with numpy's own huge-page policy instead of ``ota``'s
  (:data:`ota.NUMPY_ENVIRONMENT`); ``tx_msps_cpu``: the transmitter making that capture's bursts (CPU time);
* ``stream_rx``: the same capture received as a stream, as ``ota rx --follow`` receives one at 2 and at
  20 MS/s (50 ms chunks, the receiver run every ``phy.stream_receiver.hop_for_latency`` samples): CPU-time
  throughput (``msps_cpu``), frames found, most samples held;
* ``peak_rss_mb``: median peak resident memory of the receiving processes (the capture itself is 160 MB);
* ``snr_est_max_err_db``: largest per-frame SNR-estimate error over AWGN at 0, 5, ..., 30 dB;
* ``detect_rate_lab_5db``: frames received with their header over ``lab`` at 5 dB;
* ``false_frames_noise_10s``: frames reported in 10 s (20 M samples) of complex Gaussian noise;
* ``post_eq_snr_loss_lab_db``: channel-normalised post-equalisation SNR over AWGN minus over ``lab``
  (mean of several channel draws), at 10 and 20 dB (see ``benchmarks.link_measurements``);
* ``qpsk_ber_gap_db``: SNR at BER 1e-3 of QPSK through the whole chain minus theory's.

The measurement functions are those the tests assert with (``benchmarks.link_measurements``).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one process, one thread: what "MS/s in one process" means here

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.link_measurements import (  # noqa: E402
    count_false_frames,
    detection_rate,
    gaussian_symbols,
    post_eq_snr_db,
    qpsk_ber_theory,
    qpsk_bits,
    qpsk_symbols,
    run_link,
    snr_at_ber,
)
from models.figure_file import write_figure  # noqa: E402
from models.progress import Progress  # noqa: E402
from ota import NUMPY_ENVIRONMENT  # noqa: E402
from phy.channel import ChannelEmulator  # noqa: E402
from phy.frame_config import FrameConfig  # noqa: E402
from phy.header import PayloadKind  # noqa: E402
from phy.numerology import Numerology  # noqa: E402
from phy.papr import ccdf, symbol_papr_db  # noqa: E402
from phy.receiver import Receiver  # noqa: E402
from phy.receiver_config import ReceiverConfig  # noqa: E402
from phy.stream_receiver import LOW_LATENCY_BLOCK, StreamReceiver, hop_for_latency  # noqa: E402
from phy.transmitter import Transmitter  # noqa: E402

IMAGE_SYMBOLS = 24576  # a 512 x 768 image at CBR 1/48
RECEIVE_RUNS = 5  # fresh processes per setting that receive the 10 s capture
STREAM_RATES = (2e6, 20e6)  # follow mode's stream settings at these sample rates
SNR_GRID_DB = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
BER_GRID_DB = (6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0)
PAPR_THRESHOLDS_DB = tuple(np.round(np.arange(3.0, 13.01, 0.25), 2))


def capture(tx: Transmitter, seconds: float, snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, int, float]:
    """A capture of ``seconds`` with bursts through fresh ``lab`` draws: (samples, frames sent, tx CPU seconds)."""
    num = tx.numerology
    emulator = ChannelEmulator("lab", num, rng)
    total = int(seconds * num.sample_rate)
    pieces, n, frames, tx_time = [], 0, 0, 0.0
    with Progress(total=total, desc="capture", unit="sample", unit_scale=True) as bar:
        while n < total:
            payload = gaussian_symbols(IMAGE_SYMBOLS, rng)
            start = time.process_time()
            burst = tx.transmit(payload, payload_kind=PayloadKind.JSCC, sequence=frames % 65536)
            tx_time += time.process_time() - start
            out = emulator(burst.samples, snr_db).samples
            pieces.append(out)
            n += out.size
            frames += len(burst.headers)
            bar.update(out.size)
    return np.concatenate(pieces)[:total], frames, tx_time


def profile_receiver(rx: Receiver, x: np.ndarray, top: int = 12) -> list[dict]:
    """Where the receiver's time goes: the functions with the largest own time, as shares of the total."""
    profiler = cProfile.Profile()
    profiler.enable()
    rx.receive(x)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [
        {"function": f"{Path(file).name}:{line}({name})", "own_s": round(v[2], 4), "share": round(v[2] / total, 3)}
        for (file, line, name), v in rows
    ]


def receive_stream(rx: Receiver, x: np.ndarray, sample_rate: float) -> dict:
    """``x`` received as follow mode receives a stream at ``sample_rate``: chunks of 50 ms, the receiver run
    every :func:`~phy.stream_receiver.hop_for_latency` samples; CPU-time throughput and frames found."""
    stream = StreamReceiver(rx, hop=hop_for_latency(sample_rate), block=LOW_LATENCY_BLOCK)
    chunk = round(0.05 * sample_rate)
    cpu, frames, held = time.process_time(), 0, 0
    for start in range(0, x.size, chunk):
        frames += len(stream.push(x[start : start + chunk]))
        held = max(held, stream.buffered)
    frames += len(stream.finish())
    cpu = time.process_time() - cpu
    return {"hop": stream.hop, "chunk": chunk, "msps_cpu": x.size / cpu / 1e6, "frames_received": frames,
            "max_samples_held": held}


def receive_file(path: str, detail: bool) -> dict:
    """Receive a saved capture in this (fresh) process: timings, frames found and peak memory; with
    ``detail`` also a profile and the same capture as a stream, with follow mode's settings at 2 and at
    20 MS/s."""
    x = np.load(path)
    rx = Receiver(Numerology(), ReceiverConfig())
    rx.receive(x[:200000])  # warm-up (imports, caches)
    system = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    wall, cpu = time.perf_counter(), time.process_time()
    frames = rx.receive(x)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "rx_msps": x.size / wall / 1e6,
        "rx_msps_cpu": x.size / cpu / 1e6,
        "rx_wall_s": wall,
        "rx_cpu_s": cpu,
        "rx_system_s": usage.ru_stime - system,
        "numpy_madvise_hugepage": bool(np._core.multiarray._get_madvise_hugepage()),
        "capture_frames_received": len(frames),
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }
    if detail:
        result["rx_profile"] = profile_receiver(rx, x)
        result["stream_rx"] = {f"{rate / 1e6:g}_msps": receive_stream(rx, x, rate) for rate in STREAM_RATES}
    return result


def in_fresh_process(path: Path, detail: bool, environment: dict[str, str]) -> dict:
    """:func:`receive_file` in a new process started with ``environment`` added to this one's."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(receive_file, str(path), detail).result()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value


def spread(runs: list[dict], key: str) -> dict:
    """Median, minimum and maximum of ``key`` over ``runs``, and every run's value."""
    values = [run[key] for run in runs]
    return {"median": float(np.median(values)), "min": min(values), "max": max(values), "runs": values}


def throughput(tx: Transmitter, rng: np.random.Generator, folder: Path) -> dict:
    """Receiver speed on a 10 s capture, each measurement in a fresh process (a first pass over new
    memory, as ``ota rx`` makes, and its own peak memory): ``RECEIVE_RUNS`` processes with ``ota``'s numpy
    settings (:data:`ota.NUMPY_ENVIRONMENT`; the figures reported are their medians) and as many with
    numpy's own huge-page policy, for comparison."""
    x, sent, tx_cpu = capture(tx, 10.0, 20.0, rng)
    path = folder / "capture.npy"
    np.save(path, x)
    try:
        ota_runs = [in_fresh_process(path, i == 0, NUMPY_ENVIRONMENT) for i in range(RECEIVE_RUNS)]
        numpy_runs = [in_fresh_process(path, False, {"NUMPY_MADVISE_HUGEPAGE": "1"}) for _ in range(RECEIVE_RUNS)]
    finally:
        path.unlink()
    first = ota_runs[0]
    return {
        **{key: first[key] for key in ("capture_frames_received", "rx_profile", "stream_rx")},
        "rx_msps": spread(ota_runs, "rx_msps")["median"],
        "rx_msps_cpu": spread(ota_runs, "rx_msps_cpu")["median"],
        "rx_runs": {key: spread(ota_runs, key) for key in ("rx_msps", "rx_msps_cpu", "rx_system_s", "peak_rss_mb")},
        "rx_msps_numpy_hugepages": spread(numpy_runs, "rx_msps")["median"],
        "rx_runs_numpy_hugepages": {key: spread(numpy_runs, key) for key in ("rx_msps", "rx_msps_cpu",
                                                                             "rx_system_s")},
        "peak_rss_mb": spread(ota_runs, "peak_rss_mb")["median"],
        "tx_msps_cpu": x.size / tx_cpu / 1e6, "capture_samples": int(x.size),
        "capture_frames_sent": sent, "load_average": list(os.getloadavg()),
    }


def snr_estimates(tx: Transmitter, rx: Receiver, rng: np.random.Generator) -> dict:
    emulator = ChannelEmulator("awgn", tx.numerology, rng)
    errors = {}
    for snr_db in Progress(SNR_GRID_DB, desc="SNR estimate"):
        payload = gaussian_symbols(3 * tx.layout.max_payload_len, rng)
        run = run_link(tx, rx, emulator, payload, snr_db)
        errors[str(snr_db)] = [f.diagnostics.snr_db - snr_db for f in run.frames]
    worst = max(abs(e) for v in errors.values() for e in v)
    return {"snr_est_max_err_db": worst, "snr_est_errors_db": errors}


def post_eq_loss(tx: Transmitter, rx: Receiver, rng: np.random.Generator, draws: int = 6) -> dict:
    num = tx.numerology
    payload = gaussian_symbols(2 * tx.layout.max_payload_len, rng)
    out = {}
    for snr_db in (10.0, 20.0):
        awgn = run_link(tx, rx, ChannelEmulator("awgn", num, rng), payload, snr_db)
        reference = post_eq_snr_db(awgn.frames, payload, num)
        lab = ChannelEmulator("lab", num, rng)
        measured = []
        for _ in range(draws):
            run = run_link(tx, rx, lab, payload, snr_db)
            measured.append(post_eq_snr_db(run.frames, payload, num, run.output.truth["freq_response"]))
        out[str(snr_db)] = {"awgn_db": reference, "lab_db": measured, "loss_db": reference - float(np.mean(measured))}
    return out


def qpsk_ber(tx: Transmitter, rx: Receiver, rng: np.random.Generator, n_bits: int = 200000) -> dict:
    emulator = ChannelEmulator("awgn", tx.numerology, rng)
    bers = []
    for snr_db in Progress(BER_GRID_DB, desc="QPSK BER"):
        bits = rng.integers(0, 2, n_bits).astype(np.uint8)
        run = run_link(tx, rx, emulator, qpsk_symbols(bits), snr_db)
        got = np.full(n_bits, 2, np.uint8)  # 2: never received, counts as an error
        for f in run.frames:
            got[2 * f.header.offset : 2 * (f.header.offset + f.header.payload_len)] = qpsk_bits(f.symbols)
        bers.append(float(np.mean(got != bits)))
    snrs = np.array(BER_GRID_DB)
    gap = snr_at_ber(snrs, np.array(bers), 1e-3) - snr_at_ber(snrs, qpsk_ber_theory(snrs), 1e-3)
    return {"snr_db": list(BER_GRID_DB), "ber": bers, "ber_theory": qpsk_ber_theory(snrs).tolist(), "gap_db": gap}


CONSTELLATION_DECIMALS = 4
"""Decimals kept of each plotted constellation point (a scatter plot needs no more; phy.json stays small)."""


def constellation(tx: Transmitter, rx: Receiver, rng: np.random.Generator, n: int = 4000) -> dict:
    """2000 soft QPSK symbols over ``lab`` at 20 dB before and after equalisation, rounded, as [[re], [im]]."""
    bits = rng.integers(0, 2, 2 * n).astype(np.uint8)
    run = run_link(tx, rx, ChannelEmulator("lab", tx.numerology, rng), qpsk_symbols(bits), 20.0)
    frame = run.frames[0]
    pre = frame.diagnostics.symbols_pre_eq[:2000]
    post = frame.symbols[:2000]
    rounded = {name: np.round(points.astype(np.complex128), CONSTELLATION_DECIMALS)
               for name, points in (("pre_eq", pre), ("post_eq", post))}
    return {name: [points.real.tolist(), points.imag.tolist()] for name, points in rounded.items()}


def papr(tx: Transmitter, rng: np.random.Generator) -> dict:
    burst = tx.transmit(gaussian_symbols(40 * IMAGE_SYMBOLS, rng))  # about 20000 OFDM symbols
    values = symbol_papr_db(burst.samples, tx.numerology.symbol_len)
    return {
        "burst_papr_db": burst.papr_db,
        "clipped_fraction": burst.clipped_fraction,
        "thresholds_db": list(PAPR_THRESHOLDS_DB),
        "symbol_ccdf": ccdf(values, np.array(PAPR_THRESHOLDS_DB)).tolist(),
    }


def plot(result: dict, folder: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    for ax, key, title in zip(axes, ("pre_eq", "post_eq"), ("before equalisation", "after equalisation"), strict=True):
        re, im = result["constellation"][key]
        ax.scatter(re, im, s=2, alpha=0.4)
        ax.set_title(f"QPSK over lab at 20 dB, {title}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    write_figure(fig, folder / "constellation.png", 110)
    plt.close(fig)

    p = result["papr"]
    fig, ax = plt.subplots(figsize=(6, 4))
    probability = np.array(p["symbol_ccdf"])
    shown = probability > 0
    ax.semilogy(np.array(p["thresholds_db"])[shown], probability[shown])
    ax.set_xlabel("PAPR threshold [dB]")
    ax.set_ylabel("P(symbol PAPR > threshold)")
    ax.set_title(f"PAPR CCDF per OFDM symbol (burst PAPR {p['burst_papr_db']:.1f} dB)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    write_figure(fig, folder / "papr_ccdf.png", 110)
    plt.close(fig)

    b = result["qpsk_ber"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(b["snr_db"], np.maximum(b["ber"], 1e-7), "o-", label="measured (full TX/RX chain, AWGN)")
    ax.semilogy(b["snr_db"], b["ber_theory"], "--", label="theory Q(sqrt(SNR))")
    ax.axhline(1e-3, color="gray", lw=0.5)
    ax.set_xlabel("SNR per subcarrier [dB]")
    ax.set_ylabel("bit error rate")
    ax.set_title(f"QPSK BER, gap at 1e-3: {b['gap_db']:.2f} dB")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    write_figure(fig, folder / "ber.png", 110)
    plt.close(fig)


def versions() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for phy.json and the plots")
    parser.add_argument("--seed", type=int, default=2024, help="seed of every random draw")
    args = parser.parse_args(argv)
    num, frame_config, receiver_config = Numerology(), FrameConfig(), ReceiverConfig()
    tx, rx = Transmitter(num, frame_config), Receiver(num, receiver_config)
    rng = np.random.default_rng(args.seed)

    result: dict = {"config": {"numerology": num.to_dict(), "frame": frame_config.to_dict(),
                               "receiver": receiver_config.to_dict(), "seed": args.seed}}
    args.out.mkdir(parents=True, exist_ok=True)
    result.update(throughput(tx, rng, args.out))
    result.update(snr_estimates(tx, rx, rng))
    result["detect_rate_lab_5db"] = detection_rate(tx, rx, ChannelEmulator("lab", num, rng), 5.0, 300, rng)
    false_frames, candidates = count_false_frames(rx, int(10 * num.sample_rate), rng)
    result["false_frames_noise_10s"] = false_frames
    result["false_candidates_noise_10s"] = candidates
    result["post_eq_snr_lab"] = post_eq_loss(tx, rx, rng)
    result["post_eq_snr_loss_lab_db"] = {k: v["loss_db"] for k, v in result["post_eq_snr_lab"].items()}
    result["qpsk_ber"] = qpsk_ber(tx, rx, rng)
    result["qpsk_ber_gap_db"] = result["qpsk_ber"]["gap_db"]
    result["constellation"] = constellation(tx, rx, rng)
    result["papr"] = papr(tx, rng)
    result["benchmark_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["versions"] = versions()

    with tempfile.NamedTemporaryFile("w", dir=args.out, suffix=".tmp", delete=False) as f:
        json.dump(result, f, separators=(",", ":"))  # one line: the constellation holds thousands of points
    os.replace(f.name, args.out / "phy.json")
    plot(result, args.out)
    summary = {k: result[k] for k in ("rx_msps", "rx_msps_cpu", "rx_msps_numpy_hugepages", "stream_rx",
                                      "tx_msps_cpu", "peak_rss_mb", "snr_est_max_err_db", "detect_rate_lab_5db",
                                      "false_frames_noise_10s", "post_eq_snr_loss_lab_db", "qpsk_ber_gap_db")}
    print(json.dumps(summary, indent=1))
    return result


if __name__ == "__main__":
    main()
