"""Speed of the deep JSCC models: training steps, and encoding/decoding one 768x512 image.

    python -m benchmarks.models --out results/bench            # CPU, and CUDA when present
    python benchmarks/models.py --out DIR --config mse-cbr48 --steps 5 --threads 2

Writes ``DIR/models.json``: per device, the seconds per training step of each stage (a real step of
:class:`models.train.Trainer`, LPIPS and discriminator included, at the configuration's crop and batch,
default the paper's 256x256 x 12; a generative model's latent stage on the TAEF2 latents of that batch)
and the images per second that makes; the milliseconds to encode and to decode one 768x512 image
(Kodak's size; batch 1, eval mode, no gradients); the peak resident memory of the process; the
configuration, parameter counts and library versions. Timings are medians over the repeats, after warm-up.
The weights are freshly initialised: speed does not depend on them.
The training batches are crops of ``$JSCC_TRAIN_DIR`` images when it is set, else uniform noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.data import ImageFolderCrops, make_loader  # noqa: E402
from models.discriminator import Discriminator  # noqa: E402
from models.evaluate import package_versions  # noqa: E402
from models.jscc import DeepJSCC  # noqa: E402
from models.train import Trainer, describe_device  # noqa: E402
from models.train_config import STAGES, TrainConfig, find_config  # noqa: E402

IMAGE_SIZE = (512, 768)  # (H, W) of a landscape Kodak image
SNR_DB = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder for models.json")
    p.add_argument("--config", default="perceptual-cbr48", help="training configuration (file or shipped name)")
    p.add_argument("--devices", nargs="+", default=None, help="devices to time (default: cpu, and cuda if present)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per stage (default 3)")
    p.add_argument("--repeats", type=int, default=5, help="timed encodes/decodes (default 5)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--lpips-weights", default=None, help="AlexNet features file (default $JSCC_WEIGHTS_DIR)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        p.error("--steps and --repeats must be >= 1")
    return args


def timed(fn: Callable[[], object], repeats: int, device: torch.device, warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones (CUDA synchronised)."""
    times = []
    for index in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return times


def training_batch(config: TrainConfig) -> tuple[torch.Tensor, str]:
    """One (batch, 3, crop, crop) batch: real crops from $JSCC_TRAIN_DIR, else uniform noise."""
    data = config.data
    root = os.environ.get("JSCC_TRAIN_DIR")
    if root and Path(root).is_dir():
        loader = make_loader(ImageFolderCrops(root, data.crop, check=False), data.batch_size, config.run.seed)
        return next(iter(loader)), f"crops of {root}"
    generator = torch.Generator().manual_seed(config.run.seed)
    return torch.rand(data.batch_size, 3, data.crop, data.crop, generator=generator), "uniform noise"


def bench_device(config: TrainConfig, device: str, args: argparse.Namespace, batch: torch.Tensor) -> dict:
    """Training-step and coding times on one device."""
    config = config.replace(run=dataclasses.replace(config.run, device=device))
    trainer = Trainer(config, lpips_weights=args.lpips_weights, progress=False)
    where = trainer.device
    stages = [s for s in STAGES if stage_runs(s, config)]
    inputs = dict.fromkeys(stages, batch.to(where))
    if "latent" in inputs:  # the latent stage trains on the TAEF2 latents of the same crops
        with torch.no_grad():
            inputs["latent"] = trainer.model.encoder.analysis(inputs["latent"])
    step_s = {}
    for stage in tqdm(stages, desc=f"train steps on {where}", unit="stage"):
        step_s[stage] = statistics.median(
            timed(lambda s=stage: trainer.train_step(s, inputs[s]), args.steps, where))
    model = trainer.model.eval()
    image = torch.rand(1, 3, *IMAGE_SIZE, generator=torch.Generator().manual_seed(0)).to(where)
    with torch.no_grad():
        symbols = model.encode(image, SNR_DB)
        encode = timed(lambda: model.encode(image, SNR_DB), args.repeats, where)
        decode = timed(lambda: model.decode(symbols, size=IMAGE_SIZE, snr_db=SNR_DB), args.repeats, where)
    result = {
        "device": str(where),
        "device_name": describe_device(where),
        "train_step_s": step_s,
        "train_images_per_s": {stage: config.data.batch_size / s for stage, s in step_s.items()},
        "encode_ms_768x512": 1e3 * statistics.median(encode),
        "decode_ms_768x512": 1e3 * statistics.median(decode),
        "symbols_768x512": int(symbols.shape[1]),
    }
    if where.type == "cuda":
        result["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated(where) / 2**20
    return result


def stage_runs(stage: str, config: TrainConfig) -> bool:
    """Whether ``config`` trains ``stage``: pretrain always, latent when it has steps, the discriminator
    stages when there is a discriminator."""
    if stage == "pretrain":
        return True
    if stage == "latent":
        return config.stages.latent > 0
    return config.uses_discriminator


def versions() -> dict[str, str]:
    """The package versions of :func:`models.evaluate.package_versions`, plus the machine's CPU and threads."""
    return {**package_versions(), "platform": platform.platform(), "cpu_count": str(os.cpu_count()),
            "torch_threads": str(torch.get_num_threads())}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig.from_toml(find_config(args.config))
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    batch, batch_source = training_batch(config)
    per_device = {device: bench_device(config, device, args, batch) for device in devices}
    results = {
        "benchmark": "models",
        "sizes": {
            "train_batch": config.data.batch_size,
            "train_crop": config.data.crop,
            "train_data": batch_source,
            "timed_steps": args.steps,
            "code_image_hw": list(IMAGE_SIZE),
            "code_repeats": args.repeats,
            "snr_db": SNR_DB,
        },
        "parameters": parameter_counts(config),
        "devices": per_device,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "config": config.to_dict(),
        "versions": versions(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "models.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(results, indent=2) + "\n")
    temporary.replace(path)
    for device, r in per_device.items():
        steps = ", ".join(f"{s} {t:.3g} s" for s, t in r["train_step_s"].items())
        print(f"{device}: train step ({config.data.batch_size}x{config.data.crop}^2) {steps}; "
              f"encode {r['encode_ms_768x512']:.1f} ms, decode {r['decode_ms_768x512']:.1f} ms (768x512)")
    print(f"peak RSS {results['peak_rss_mb']:.0f} MB; wrote {path}")
    return results


def parameter_counts(config: TrainConfig) -> dict[str, int]:
    """Parameters of the model and (where the configuration trains one) of its discriminator."""
    modules = {"deepjscc": DeepJSCC(config.model)}
    if config.uses_discriminator:
        modules["discriminator"] = Discriminator(config.model.channels, config.model.disc_width)
    return {name: sum(p.numel() for p in module.parameters()) for name, module in modules.items()}


if __name__ == "__main__":
    main()
