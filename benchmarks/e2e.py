"""End-to-end time of one image through the simulated OFDM link, stage by stage.

    python benchmarks/e2e.py --out DIR [--image PATH] [--model NAME] [--profile lab] [--repeats 3]

Writes ``DIR/e2e.json``: per device (CPU, and CUDA when present) the median over ``--repeats`` of
``encode_ms``, ``tx_ms`` (framing and OFDM modulation), ``channel_ms`` (the emulator), ``rx_ms``
(detection, synchronisation, equalisation, reassembly), ``decode_ms`` (generator) and ``total_ms``;
the air time of the burst at 2 MS/s and 20 MS/s and the real-time factor (air time / processing
time without the emulator: above 1 keeps up with the air). ``commands``: whole command lines as a user
runs them, process start to exit (median over the repeats): ``ota --help``, and ``ota simulate`` of the
image over the profile, its files written. ``follow``: ``ota replay --follow`` of five transmissions of the
image in one capture (``ota tx --count 5``), under cProfile: images/s and the seconds spent receiving the
stream, reassembling, in the generator, scoring and writing the files, and the rest.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

if __name__ == "__main__" and not __package__:  # run as a file: its folder's models.py would shadow the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.image_io import load_image  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.registry import DEFAULT_MODEL  # noqa: E402
from ota.cli import main as ota  # noqa: E402
from ota.link import Link  # noqa: E402
from ota.options import resolve_image, versions  # noqa: E402
from phy.channel import ChannelEmulator, get_profile  # noqa: E402

STAGES = ("encode_ms", "tx_ms", "channel_ms", "rx_ms", "decode_ms")


def _timed(function, *args, sync: bool):
    t0 = time.perf_counter()
    value = function(*args)
    if sync:
        torch.cuda.synchronize()
    return value, 1e3 * (time.perf_counter() - t0)


def run_once(link: Link, image: torch.Tensor, profile: str, snr_db: float, seed: int) -> tuple[dict, int]:
    """One transmission; returns the stage times in ms and the burst length in samples."""
    sync = link.device.type == "cuda"
    symbols, t_enc = _timed(link.encode, image, snr_db, sync=sync)
    burst, t_tx = _timed(link.frame_symbols, symbols, image.shape[1], image.shape[2], sync=False)
    emulator = ChannelEmulator(get_profile(profile), link.numerology, np.random.default_rng(seed))
    received, t_ch = _timed(lambda x: emulator(x, snr_db).samples, burst.samples, sync=False)
    (payload, _), t_rx = _timed(link.receive_jscc, received, sync=False)
    _, t_dec = _timed(
        link.decode, payload.symbols, payload.noise_var, payload.erased, (image.shape[1], image.shape[2]), sync=sync
    )
    times = dict(zip(STAGES, (t_enc, t_tx, t_ch, t_rx, t_dec), strict=True))
    return times, len(burst.samples)


def bench_device(device: str, args: argparse.Namespace, image: torch.Tensor) -> dict:
    link = Link.load(args.model, device=device)
    run_once(link, image, args.profile, args.snr, 0)  # warm-up (allocations, cuDNN autotuning)
    runs = [run_once(link, image, args.profile, args.snr, i + 1) for i in range(args.repeats)]
    times = {k: statistics.median(r[0][k] for r in runs) for k in STAGES}
    times["total_ms"] = sum(times.values())
    n_samples = runs[0][1]
    processing_s = (times["total_ms"] - times["channel_ms"]) / 1e3
    air = {f"air_ms_{rate // 1_000_000}msps": 1e3 * n_samples / rate for rate in (2_000_000, 20_000_000)}
    return {
        **times, **air, "burst_samples": n_samples,
        "realtime_factor_2msps": air["air_ms_2msps"] / 1e3 / processing_s,
        "realtime_factor_20msps": air["air_ms_20msps"] / 1e3 / processing_s,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else f"CPU ({os.cpu_count()} cores)",
    }


def command_times(spec: str, args: argparse.Namespace) -> dict:
    """Seconds from process start to exit of ``ota --help`` and of ``ota simulate`` (files written)."""
    ota = [sys.executable, "-m", "ota.cli"]
    with tempfile.TemporaryDirectory() as folder:
        lines = {
            "help_s": [*ota, "--help"],
            "simulate_s": [*ota, "simulate", spec, "--model", args.model, "--channel", "ofdm", "--profile",
                           args.profile, "--snr", str(args.snr), "--out", folder],
        }
        times = {}
        for name, command in lines.items():
            runs = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
                runs.append(time.perf_counter() - started)
            times[name] = statistics.median(runs)
    return times


FOLLOW_STAGES = {  # follow mode's stages: (module, function) whose cumulative time each is
    "reception_s": (("stream_receiver.py", "push"), ("stream_receiver.py", "finish")),
    "reassembly_s": (("link.py", "jscc_of"),),
    "generator_s": (("link.py", "decode"),),
    "scoring_s": (("reception.py", "score"),),
    "writing_s": (("reception.py", "write"),),  # less its scoring, below
}


def follow_chain(spec: str, args: argparse.Namespace, count: int = 5) -> dict:
    """``ota replay --follow`` of ``count`` transmissions of the image (``ota tx --count``, one capture) in this
    process, under cProfile: wall time, images/s and where the time goes (seconds per stage, and the rest)."""
    with tempfile.TemporaryDirectory() as folder:
        capture = str(Path(folder) / "stream.sigmf-meta")
        if ota(["tx", spec, "--model", args.model, "--radio", "capture", "--capture", capture,
                "--count", str(count)]) != 0:
            raise RuntimeError("ota tx --count failed")
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(ota, ["replay", capture, "--follow", "--reference", spec, "--out", str(Path(folder) / "out")])
        wall_s = time.perf_counter() - started
        summary = json.loads((Path(folder) / "out" / "summary.json").read_text())
    cumulative = {(Path(file).name, name): row[3] for (file, _, name), row in pstats.Stats(profiler).stats.items()}
    stages = {stage: sum(cumulative.get(key, 0.0) for key in keys) for stage, keys in FOLLOW_STAGES.items()}
    stages["writing_s"] -= stages["scoring_s"]
    stages["rest_s"] = wall_s - sum(stages.values())
    images = summary["images_decoded"]
    return {"model": args.model, "images": images, "frames": summary["frames_decoded"],
            "samples": summary["samples_processed"], "wall_s": wall_s, "images_per_s": images / wall_s,
            "stages_s": stages, "stage_shares": {k: v / wall_s for k, v in stages.items()},
            "note": "under cProfile (which slows Python-heavy stages more than torch's)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder for e2e.json")
    parser.add_argument("--image", default=None,
                        help="image to send (default kodim01 from $JSCC_KODAK_DIR, else matplotlib's grace_hopper)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--profile", default="lab")
    parser.add_argument("--snr", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    kodak = os.environ.get("JSCC_KODAK_DIR")
    spec = args.image or (str(Path(kodak) / "kodim01.png") if kodak else None)
    image = load_image(resolve_image(spec))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    result = {
        "image": spec or "matplotlib:grace_hopper.jpg",
        "image_size": list(image.shape[1:]),
        "config": vars(args),
        "devices": {d: bench_device(d, args, image) for d in devices},
        "commands": command_times(spec or "matplotlib:grace_hopper.jpg", args),
        "follow": follow_chain(spec or "matplotlib:grace_hopper.jpg", args),
        "versions": versions(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "e2e.json", result)
    print(json.dumps({"devices": result["devices"], "commands": result["commands"]}, indent=2))


if __name__ == "__main__":
    main()
