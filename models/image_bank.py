"""Training images held in memory: decoded once as uint8, cropped and batched where they lie.

:class:`~models.data.ImageFolderCrops` behind a DataLoader decodes a JPEG for every crop; on a GPU
that stalls the step, and on a CPU it takes the cores from the step. An :class:`ImageBank` decodes every
training image once into a uint8 (3, H, W) tensor on the training device (a quarter of the float
memory: the 687 training images of ``train_pack_small.tar`` take about 0.4 GB) and then cuts each batch
there. It draws the same ``(file_index, crop_seed)`` keys from :class:`~models.data.CropSampler` and
the same crop windows and flips (:func:`~models.data.random_crop`), so its batches equal the
DataLoader's bit for bit and a run may switch between the two paths when it resumes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from models.data import CropSampler, random_crop
from models.image_io import load_image_uint8
from models.progress import Progress


class ImageBank:
    """Every image of ``files`` decoded once onto ``device``, as crops on demand.

    Args:
        files: the training images (e.g. ``ImageFolderCrops(...).files``, the validation split left out).
        crop: side of the square crops [px].
        device: where the images are kept and the batches made.
        progress: show a progress bar while decoding.
    """

    def __init__(self, files: Sequence[str | Path], crop: int, device: torch.device | str = "cpu", *,
                 progress: bool = True) -> None:
        if not files:
            raise ValueError("ImageBank: no image files given")
        self.crop = crop
        self.device = torch.device(device)
        self.images = [
            load_image_uint8(path).contiguous().to(self.device)
            for path in Progress(files, desc=f"decoding images into {self.device} memory", unit="img",
                             disable=not progress, mininterval=1.0)
        ]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def nbytes(self) -> int:
        """Bytes the decoded images take."""
        return sum(image.numel() for image in self.images)

    def crop_of(self, key: tuple[int, int]) -> torch.Tensor:
        """The crop of key ``(file_index, crop_seed)``: (3, crop, crop) float32 in [0, 1], as
        ``ImageFolderCrops(...)[key]`` gives it."""
        index, seed = key
        image = self.images[index]
        generator = torch.Generator().manual_seed(seed)
        if min(image.shape[1:]) < self.crop:  # upscaled in float, as the folder path does
            return random_crop(image.float().div_(255.0), self.crop, generator)
        return random_crop(image, self.crop, generator).float().div_(255.0)

    def batch(self, keys: Sequence[tuple[int, int]]) -> torch.Tensor:
        """(len(keys), 3, crop, crop) float32 batch on the bank's device."""
        return torch.stack([self.crop_of(key) for key in keys])

    def batches(self, batch_size: int, seed: int, *, rank: int = 0, world_size: int = 1,
                start: int = 0) -> Iterator[torch.Tensor]:
        """Endless batches from batch ``start`` on, keyed as :func:`models.data.make_loader` keys them."""
        for keys in CropSampler(len(self), batch_size, seed, rank=rank, world_size=world_size, start=start):
            yield self.batch(keys)
