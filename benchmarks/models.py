"""Speed of the deep JSCC models: training images/s of each shipped configuration, the data path, coding.

    python benchmarks/models.py --out docs/benchmarks                 # every shipped model's configuration
    python benchmarks/models.py --out DIR --configs generative-cbr48 --compile --steps 3 --threads 2
    python benchmarks/models.py --out DIR --configs mse-cbr48.toml --devices cuda     # a config file, on a GPU

``--configs`` takes registered model names (the configuration echoed in the shipped checkpoint: what it
was trained with) and configuration files or shipped example names (``models/configs``); the default is
every registered model. Writes ``DIR/models.json``:

* per configuration and device: seconds per training step of each stage the configuration trains (a real
  step of :class:`models.train.Trainer`, LPIPS and discriminator included, at its crop and batch; a
  generative model's latent stage on the TAEF2 latents of that batch), the training images/s that makes
  (``train_img_s``), and the milliseconds to encode and to decode one 256x256 and one 768x512 image
  (batch 1, eval mode, no gradients); with ``--compile`` the same steps with ``run.compile`` (the first,
  compiling step timed apart as ``compile_s``);
* the data path on each device (``data_img_s``): crops per second cut from the images held in memory
  (:class:`models.image_bank.ImageBank`) against a DataLoader decoding files (``data.workers`` workers),
  for the first configuration's crop and batch, with the decode time and the memory the images take;
* the peak resident memory, parameter counts, configurations and library versions.

Timings are medians over the repeats, after one untimed warm-up. The weights are freshly initialised
(a generative model's TAEF2 transforms too, so no TAEF2 file is needed, e.g. on a GPU machine): speed
does not depend on them. Training batches are crops of ``$JSCC_TRAIN_DIR`` images (the validation
split left out) when it is set, else uniform noise, and then there is no data-path entry.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

if __name__ == "__main__" and not __package__:  # run as a file: its folder would shadow the models package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from models.data import ImageFolderCrops, make_loader  # noqa: E402
from models.discriminator import Discriminator  # noqa: E402
from models.distributed import describe_device  # noqa: E402
from models.evaluate import package_versions  # noqa: E402
from models.image_bank import ImageBank  # noqa: E402
from models.jscc import DeepJSCC  # noqa: E402
from models.json_file import write_json  # noqa: E402
from models.progress import Progress  # noqa: E402
from models.registry import available_models  # noqa: E402
from models.train import Trainer  # noqa: E402
from models.train_config import STAGES, TrainConfig, find_config  # noqa: E402
from models.trainer_checkpoint import config_of_checkpoint  # noqa: E402

IMAGE_SIZES = {"256x256": (256, 256), "768x512": (512, 768)}  # name -> (H, W); 768x512 is Kodak's size
SNR_DB = 10.0
DATA_BATCHES = 20  # batches timed per data path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder for models.json")
    p.add_argument("--configs", nargs="+", default=None,
                   help="registered model names or configuration files/names (default: every registered model)")
    p.add_argument("--devices", nargs="+", default=None, help="devices to time (default: cpu, and cuda if present)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per stage (default 3)")
    p.add_argument("--repeats", type=int, default=5, help="timed encodes/decodes (default 5)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--compile", action="store_true", help="also time the training steps with torch.compile")
    p.add_argument("--lpips-weights", default=None, help="AlexNet features file (default $JSCC_WEIGHTS_DIR)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        p.error("--steps and --repeats must be >= 1")
    return args


def resolve_configs(names: list[str] | None) -> dict[str, TrainConfig]:
    """Label -> configuration: a registered model's echoed configuration, else a configuration file/name."""
    models = available_models()
    configs = {}
    for name in names or list(models):
        configs[name] = config_of_checkpoint(models[name]) if name in models else TrainConfig.from_toml(
            find_config(name))
    return configs


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


def training_dataset(config: TrainConfig) -> ImageFolderCrops | None:
    """Crops of ``$JSCC_TRAIN_DIR`` (the configuration's excluded folders left out), or None without it."""
    root = os.environ.get("JSCC_TRAIN_DIR")
    if not (root and Path(root).is_dir()):
        return None
    return ImageFolderCrops(root, config.data.crop, exclude=config.data.exclude, check=False)


def training_batch(config: TrainConfig) -> tuple[torch.Tensor, str]:
    """One (batch, 3, crop, crop) batch: real crops from $JSCC_TRAIN_DIR, else uniform noise."""
    data = config.data
    dataset = training_dataset(config)
    if dataset is not None:
        return next(iter(make_loader(dataset, data.batch_size, config.run.seed))), f"crops of {dataset.root}"
    generator = torch.Generator().manual_seed(config.run.seed)
    return torch.rand(data.batch_size, 3, data.crop, data.crop, generator=generator), "uniform noise"


def step_times(trainer: Trainer, stages: list[str], inputs: dict[str, torch.Tensor], steps: int) -> dict[str, dict]:
    """Per stage: the first step's seconds (``first_s``: compilation, lazy set-up) and the median of
    ``steps`` more (``step_s``)."""
    out = {}
    for stage in Progress(stages, desc=f"train steps on {trainer.device}", unit="stage"):
        first = timed(lambda s=stage: trainer.train_step(s, inputs[s]), 1, trainer.device, warmup=0)[0]
        rest = timed(lambda s=stage: trainer.train_step(s, inputs[s]), steps, trainer.device, warmup=0)
        out[stage] = {"first_s": first, "step_s": statistics.median(rest)}
    return out


def bench_training(config: TrainConfig, device: str, args: argparse.Namespace, batch: torch.Tensor) -> dict:
    """Training-step times and images/s of one configuration on one device (``compiled`` with --compile)."""
    result = {}
    for compiled in (False, True) if args.compile else (False,):
        run = dataclasses.replace(config.run, device=device, compile=compiled)
        trainer = Trainer(config.replace(run=run), lpips_weights=args.lpips_weights, progress=False, pretrained=False)
        stages = [s for s in STAGES if stage_runs(s, config)]
        inputs = dict.fromkeys(stages, batch.to(trainer.device))
        if "latent" in inputs:  # the latent stage trains on the TAEF2 latents of the same crops
            with torch.no_grad():
                inputs["latent"] = trainer.model.encoder.analysis(inputs["latent"])
        times = step_times(trainer, stages, inputs, args.steps)
        entry = {
            "train_step_s": {stage: t["step_s"] for stage, t in times.items()},
            "train_img_s": {stage: config.data.batch_size / t["step_s"] for stage, t in times.items()},
        }
        if compiled:
            entry["compile_s"] = {stage: t["first_s"] for stage, t in times.items()}
            result["compiled"] = entry
        else:
            result |= {"device": str(trainer.device), "device_name": describe_device(trainer.device), **entry}
            result |= bench_coding(trainer.model.eval(), trainer.device, args.repeats)
        if trainer.device.type == "cuda":
            result["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated(trainer.device) / 2**20
    return result


def bench_coding(model: DeepJSCC, device: torch.device, repeats: int) -> dict:
    """Milliseconds to encode and to decode one image of each of :data:`IMAGE_SIZES`, and its symbols."""
    result = {}
    for name, size in IMAGE_SIZES.items():
        image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0)).to(device)
        with torch.no_grad():
            symbols = model.encode(image, SNR_DB)
            encode = timed(lambda x=image: model.encode(x, SNR_DB), repeats, device)
            decode = timed(lambda y=symbols, hw=size: model.decode(y, size=hw, snr_db=SNR_DB), repeats, device)
        result |= {f"encode_ms_{name}": 1e3 * statistics.median(encode),
                   f"decode_ms_{name}": 1e3 * statistics.median(decode), f"symbols_{name}": int(symbols.shape[1])}
    return result


def bench_data_path(config: TrainConfig, device: str) -> dict | None:
    """Crops/s from memory (:class:`ImageBank`) and from a DataLoader decoding files, on ``device``."""
    dataset = training_dataset(config)
    if dataset is None:
        return None
    data, where = config.data, torch.device(device)
    started = time.perf_counter()
    bank = ImageBank(dataset.files, data.crop, where)
    decode_s = time.perf_counter() - started
    memory = bank.batches(data.batch_size, config.run.seed)
    files = iter(make_loader(dataset, data.batch_size, config.run.seed, workers=data.workers,
                             pin_memory=where.type == "cuda"))
    images = DATA_BATCHES * data.batch_size
    memory_s = sum(timed(lambda: next(memory), DATA_BATCHES, where))
    files_s = sum(timed(lambda: next(files).to(where, non_blocking=True), DATA_BATCHES, where))
    return {
        "crop": data.crop, "batch_size": data.batch_size, "n_images": len(bank), "workers": data.workers,
        "decode_s": decode_s, "memory_mb": bank.nbytes / 2**20,
        "data_img_s": {"memory": images / memory_s, "dataloader": images / files_s},
    }


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


def parameter_counts(config: TrainConfig) -> dict[str, int]:
    """Parameters of the model and (where the configuration trains one) of its discriminator."""
    modules = {"deepjscc": DeepJSCC(config.model)}
    if config.uses_discriminator:
        modules["discriminator"] = Discriminator(config.model.channels, config.model.disc_width)
    return {name: sum(p.numel() for p in module.parameters()) for name, module in modules.items()}


def bench_config(config: TrainConfig, devices: list[str], args: argparse.Namespace) -> dict:
    batch, batch_source = training_batch(config)
    return {
        "sizes": {"train_batch": config.data.batch_size, "train_crop": config.data.crop, "train_data": batch_source,
                  "timed_steps": args.steps, "code_images": list(IMAGE_SIZES), "code_repeats": args.repeats,
                  "snr_db": SNR_DB},
        "parameters": parameter_counts(config),
        "devices": {device: bench_training(config, device, args, batch) for device in devices},
        "config": config.to_dict(),
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = resolve_configs(args.configs)
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    first = next(iter(configs.values()))
    data_path = {device: bench_data_path(first, device) for device in devices}
    results = {
        "benchmark": "models",
        "configurations": {label: bench_config(config, devices, args) for label, config in configs.items()},
        "data_path": {device: entry for device, entry in data_path.items() if entry is not None},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "versions": versions(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "models.json"
    write_json(path, results)
    print_summary(results)
    print(f"wrote {path}")
    return results


def print_summary(results: dict) -> None:
    for label, entry in results["configurations"].items():
        sizes = entry["sizes"]
        for device, r in entry["devices"].items():
            rates = ", ".join(f"{s} {v:.3g}" for s, v in r["train_img_s"].items())
            print(f"{label} on {device}: train img/s ({sizes['train_batch']}x{sizes['train_crop']}^2) {rates}; "
                  f"decode {r['decode_ms_256x256']:.0f} / {r['decode_ms_768x512']:.0f} ms (256x256 / 768x512)")
    for device, d in results["data_path"].items():
        print(f"data path on {device}: {d['data_img_s']['memory']:.0f} img/s from memory, "
              f"{d['data_img_s']['dataloader']:.0f} img/s from files ({d['workers']} workers)")
    print(f"peak RSS {results['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
