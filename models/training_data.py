"""Where a training run's batches come from: crops of the training photographs, or cached latents.

Image stages draw crops of the images under ``data.dir`` (its ``data.exclude`` folders, the validation
split, left out) from memory (``data.in_memory``: :class:`models.image_bank.ImageBank`, decoded once on
the training device) or from a DataLoader decoding files (:func:`models.data.make_loader`); both give the
same batches, a function of ``(seed, step, rank)``. The ``latent`` stage of a generative model draws TAEF2
latents of random crops, encoded once into a cache file (:mod:`models.latent_stage`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from models.data import ImageFolderCrops, make_loader, mix_seed
from models.distributed import DistributedContext
from models.image_bank import ImageBank
from models.latent_stage import latent_batch, load_or_build_cache
from models.train_config import DataConfig


class TrainingData:
    """The training images of one run (``dataset`` None when no folder is given) and their batch streams.

    Args:
        data: the ``[data]`` section.
        data_dir: the folder of training images (None: no data; :meth:`batches` then raises).
        seed: the run's seed.
        device: where batches are delivered (and the in-memory images kept).
        context: rank and world size.
        progress: show a bar while decoding into memory.
    """

    def __init__(self, data: DataConfig, data_dir: str | Path | None, seed: int, device: torch.device,
                 context: DistributedContext, progress: bool = True) -> None:
        self.data, self.seed, self.device, self.context, self.progress = data, seed, device, context, progress
        self.dataset = ImageFolderCrops(data_dir, data.crop, exclude=data.exclude) if data_dir is not None else None
        self.sha256 = self.dataset.sha256() if self.dataset is not None else None
        self.bank: ImageBank | None = None
        self.latents: torch.Tensor | None = None

    def images(self, start: int) -> Iterator[torch.Tensor]:
        """This rank's (batch, 3, crop, crop) crops in [0, 1] from batch ``start`` on (endless)."""
        data, context = self.data, self.context
        if data.in_memory:
            if self.bank is None:
                self.bank = ImageBank(self.dataset.files, data.crop, self.device, progress=self.progress)
            return self.bank.batches(data.batch_size, self.seed, rank=context.rank, world_size=context.world_size,
                                     start=start)
        return iter(make_loader(self.dataset, data.batch_size, self.seed, workers=data.workers, rank=context.rank,
                                world_size=context.world_size, start=start, pin_memory=self.device.type == "cuda"))

    def latent_batches(self, start: int, analysis: nn.Module, default_cache: Path) -> Iterator[torch.Tensor]:
        """Endless latent batches from step ``start`` on. Every rank uses the same cache (its crops drawn
        from ``(seed, 0)``, encoded by ``analysis`` into ``data.latent_cache`` or ``default_cache``), and
        draws its own batches from it (``(seed, rank)``)."""
        data = self.data
        if self.latents is None:
            path = Path(data.latent_cache) if data.latent_cache else default_cache
            crops = ImageFolderCrops(self.dataset.root, data.latent_crop, exclude=data.exclude, check=False)
            self.latents = load_or_build_cache(path, crops, analysis, data.latent_crops, mix_seed(self.seed, 0),
                                               self.device)
        step = start
        while True:
            yield latent_batch(self.latents, data.latent_batch_size, mix_seed(self.seed, self.context.rank),
                               step).to(self.device)
            step += 1
