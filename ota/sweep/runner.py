"""Running a sweep: the grid's tasks, the models and links, every missing entry into the store."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import weights_sha256
from models.image_io import list_images, load_image
from models.json_file import write_json
from models.metrics import MS_SSIM_MIN_SIZE
from models.progress import Progress
from models.registry import DEFAULT_MODEL, available_models
from models.symbols import n_symbols
from ota.baseline.hevc import QualityLadder
from ota.link import Link, resolve_device
from ota.sweep.channels import Channel, OfdmChannel, SymbolChannel
from ota.sweep.config import (
    FID_FOLDER,
    JSCC_SCHEMES,
    PHASES,
    RESULTS_FILE,
    STORE_FILE,
    SweepConfig,
    SweepError,
    cbr_text,
    channel_seed,
    entry_key,
)
from ota.sweep.results import build_results
from ota.sweep.schemes import Clock, run_capacity, run_envelope, run_fixed, run_jscc
from ota.sweep.scoring import Scorer
from ota.sweep.store import ResultStore
from phy.channel import get_profile


@dataclass(frozen=True)
class Task:
    """One entry to compute."""

    image: str
    scheme: str
    snr_db: float
    cbr: Fraction
    draw: int = 0

    @property
    def key(self) -> str:
        return entry_key(self.image, self.scheme, self.snr_db, self.cbr, self.draw)


@dataclass
class SweepRun:
    """What :func:`run_sweep` did: the results written, how many entries were new, where it wrote."""

    results: dict
    new: int
    reused: int
    wall_s: float
    out: Path


def jscc_model(scheme: str, cbr: Fraction) -> str:
    """Registered name of a JSCC scheme's model at ``cbr``: ``perceptual`` at 1/48 -> ``perceptual-cbr48``."""
    return f"{JSCC_SCHEMES[scheme]}-cbr{cbr.denominator}"


def _skipped(config: SweepConfig) -> list[dict]:
    """(scheme, CBR) pairs with no shipped model, with the reason."""
    shipped = available_models()
    skipped = []
    for scheme in config.schemes:
        for cbr in config.cbrs:
            if scheme not in JSCC_SCHEMES:
                continue
            name = jscc_model(scheme, cbr)
            if cbr.numerator != 1:
                reason = f"no {scheme} model: JSCC models exist only at CBRs 1/N"
            elif name not in shipped:
                reason = f"no shipped model {name!r} (shipped: {', '.join(sorted(shipped)) or 'none'})"
            else:
                continue
            skipped.append({"scheme": scheme, "cbr": cbr_text(cbr), "reason": reason})
    return skipped


def _images(config: SweepConfig) -> dict[str, Path]:
    """The sweep's images by name (file stem), each read once and checked to be usable."""
    paths = list_images(config.data)[: config.limit]
    names = [p.stem for p in paths]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise SweepError(f"image names must be unique (entries are keyed by name): {', '.join(twins)}")
    for path in paths:
        height, width = load_image(path).shape[-2:]
        if min(height, width) < MS_SSIM_MIN_SIZE:
            raise SweepError(f"{path} is {height}x{width} pixels; MS-SSIM needs at least "
                             f"{MS_SSIM_MIN_SIZE}x{MS_SSIM_MIN_SIZE}")
    return dict(zip(names, paths, strict=True))


def _stale_entries(store: ResultStore, current: dict[str, str], recompute: bool) -> set[str]:
    """Keys of the entries of a model whose weights (``current``: name -> :func:`weights_sha256`) changed since
    they were computed; refused unless ``recompute``."""
    stale = {key for key, entry in store.entries.items()
             if entry.get("model") in current and entry.get("model_weights_sha256") != current[entry["model"]]}
    if stale and not recompute:
        models = sorted({store.entries[key]["model"] for key in stale})
        raise SweepError(f"{store.path}: {len(stale)} entries of {', '.join(map(repr, models))} were made with "
                         "another checkpoint than the one shipped now; --recompute-stale drops them and computes "
                         "them again, or use another --out")
    return stale


class Sweeper:
    """Computes entries: holds the models, the links, the channel and the metrics of one run."""

    def __init__(self, config: SweepConfig, scorer: Scorer, out: Path) -> None:
        self.config = config
        self.scorer = scorer
        self.out = out
        self.links: dict[str, Link] = {}
        self.shipped = available_models()
        self.model_sha = {name: weights_sha256(path) for name, path in self.shipped.items()}
        self.channel: Channel = SymbolChannel()
        if config.channel == "ofdm":
            if not self.shipped:
                raise SweepError("--channel ofdm needs a shipped JSCC model for the link's transmitter and receiver")
            air = DEFAULT_MODEL if DEFAULT_MODEL in self.shipped else sorted(self.shipped)[0]
            self.channel = OfdmChannel(self.link(air), get_profile(config.profile))

    def link(self, name: str) -> Link:
        """The link of a registered model (loaded once)."""
        if name not in self.links:
            self.links[name] = Link.load(name, self.config.phy, device=self.config.device)
        return self.links[name]

    def compute(self, task: Task, image: torch.Tensor, ladder: QualityLadder) -> dict:
        """One entry: run the scheme, score the result, return the store line."""
        clock = Clock()
        k = n_symbols(ladder.height, ladder.width, float(task.cbr))
        seed = channel_seed(self.config.seed, task.image, task.snr_db, task.cbr, task.draw)
        if task.scheme in JSCC_SCHEMES:
            name = jscc_model(task.scheme, task.cbr)
            outcome = run_jscc(self.link(name), image, task.snr_db, self.channel, seed, clock)
            if outcome.record.pop("k") != k:
                raise SweepError(f"model {name!r} does not send {k} symbols for CBR {cbr_text(task.cbr)} "
                                 f"(its card says CBR {self.link(name).cbr:.5f})")
            outcome.record["model_weights_sha256"] = self.model_sha[name]
        elif task.scheme == "bpg-ldpc":
            outcome = run_envelope(image, ladder, k, task.snr_db, self.config.envelope, self.channel, seed, clock)
        elif task.scheme == "bpg-ldpc-fixed":
            outcome = run_fixed(ladder, k, task.snr_db, self.channel, seed, clock)
        else:
            outcome = run_capacity(ladder, k, task.snr_db, clock)
        with clock("metrics_s"):
            metrics = self.scorer.score(image, outcome.image)
            fid_file = self._fid_features(task, image, outcome.image)
        return {
            "key": task.key, "image": task.image, "scheme": task.scheme, "snr_db": task.snr_db,
            "cbr": cbr_text(task.cbr), "cbr_value": float(task.cbr), "draw": task.draw, "k": k,
            **metrics, **outcome.record, "fid_features": fid_file,
            "timings": {phase: clock.totals.get(phase, 0.0) for phase in PHASES},
        }

    def _fid_features(self, task: Task, reference: torch.Tensor, image: torch.Tensor) -> str | None:
        """Save the Inception features of the reconstruction (and once of the reference); None without FID."""
        if self.scorer.fid is None:
            return None
        folder = self.out / FID_FOLDER
        folder.mkdir(exist_ok=True)
        ref = folder / f"ref-{task.image}.npy"
        if not ref.exists():
            np.save(ref, self.scorer.features(reference))
        name = f"{hashlib.sha1(task.key.encode()).hexdigest()[:20]}.npy"
        np.save(folder / name, self.scorer.features(image))
        return f"{FID_FOLDER}/{name}"


def _tasks(config: SweepConfig, images: dict[str, Path], skipped: list[dict]) -> list[Task]:
    """Every entry of the grid, image-major (one HEVC ladder per image), skipped models left out."""
    off = {(s["scheme"], s["cbr"]) for s in skipped}
    return [Task(image, scheme, snr, cbr, draw) for image in images for cbr in config.cbrs
            for snr in config.snrs_db for draw in range(config.draws)
            for scheme in config.schemes if (scheme, cbr_text(cbr)) not in off]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Set torch's CPU threads for the duration (None: unchanged)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_sweep(
    config: SweepConfig, out: str | Path, *, progress: bool = True, recompute_stale: bool = False
) -> SweepRun:
    """Compute every missing entry of the grid into ``out/store.jsonl``, then write ``out/results.json``.

    Everything is checked (images, options, the store's configuration) before any entry is computed.
    Entries of a JSCC model made with another checkpoint than the shipped one are refused, or with
    ``recompute_stale`` dropped from the store and computed again (after a model is replaced).
    """
    t_start = time.perf_counter()
    out = Path(out)
    images = _images(config)
    skipped = _skipped(config)
    with torch_threads(config.threads):
        device = resolve_device(config.device)
        scorer = Scorer(device, config.lpips_weights)
        store = ResultStore(out / STORE_FILE, config.identity(scorer.available))
        sweeper = Sweeper(config, scorer, out)
        stale = _stale_entries(store, sweeper.model_sha, recompute_stale)
        if stale:
            store.drop(stale)
        tasks = _tasks(config, images, skipped)
        todo = [t for t in tasks if t.key not in store]
        by_image: dict[str, list[Task]] = defaultdict(list)
        for task in todo:
            by_image[task.image].append(task)
        with Progress(total=len(todo), desc="sweep", unit="entry", disable=not progress) as bar:
            for name, image_tasks in by_image.items():
                image = load_image(images[name])
                ladder = QualityLadder(image)
                for task in image_tasks:
                    bar.set_postfix(image=name, scheme=task.scheme, snr=f"{task.snr_db:g}", cbr=cbr_text(task.cbr),
                                    draw=task.draw)
                    store.add(sweeper.compute(task, image, ladder))
                    bar.update()
    wall_s = time.perf_counter() - t_start
    run_info = {
        "schemes": list(config.schemes), "snrs_db": list(config.snrs_db),
        "cbrs": [cbr_text(c) for c in config.cbrs], "draws": config.draws, "limit": config.limit,
        "images": list(images), "device": str(device), "threads": config.threads,
        "new_entries": len(todo), "reused_entries": len(tasks) - len(todo), "wall_s": wall_s,
    }
    results = build_results(store, out, scorer, skipped, run_info)
    write_json(out / RESULTS_FILE, results, indent=None)
    return SweepRun(results, len(todo), len(tasks) - len(todo), wall_s, out)
