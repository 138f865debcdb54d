"""Training images: random crops from a folder of photographs, as a reproducible stream of batches.

The stream is a pure function of ``(seed, batch index, rank, world size)``:

* global sample position ``p`` (counting all ranks) belongs to epoch ``p // n_files``; each epoch
  visits every file once in an order drawn by a ``torch.Generator`` seeded from ``(seed, epoch)``;
* each sample's crop position and horizontal flip come from a ``torch.Generator`` seeded from
  ``(seed, p)``.

So a resumed run needs no saved data-loader state, only the number of batches already drawn, and the
batches do not depend on how many DataLoader workers decode them. Under DistributedDataParallel each
rank takes its own ``batch_size`` slice of every global batch of ``batch_size * world_size`` samples.

Images smaller than the crop are **upscaled** (bilinear, aspect ratio kept) until their shorter side
equals the crop, then cropped; reflect-padding would show mirrored content the model should not learn.

Unreadable files: :func:`check_images` opens every file's header up front and raises one
:class:`~models.image_io.ImageError` listing all files that are not images; a file whose header is
fine but whose data is corrupt fails on first decode with an error naming that file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, Sampler

from models.image_io import ImageError, list_images, load_image

_MASK64 = (1 << 64) - 1


def mix_seed(*values: int) -> int:
    """Combine integers into one 63-bit seed (splitmix64 steps); distinct inputs give unrelated seeds."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & _MASK64)) & _MASK64
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        state = z ^ (z >> 31)
    return state >> 1


def check_images(files: Sequence[Path]) -> None:
    """Open every file's header; raise one ImageError naming all files that are not readable images."""
    bad = []
    for path in files:
        try:
            with Image.open(path) as img:
                width, height = img.size
            if width < 1 or height < 1:
                raise ValueError(f"empty image {width}x{height}")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            bad.append(f"{path} ({exc})")
    if bad:
        listing = "\n  ".join(bad)
        raise ImageError(
            f"{len(bad)} of {len(files)} training files are not readable images; remove or replace them:\n  {listing}"
        )


def file_list_sha256(files: Sequence[Path], root: str | Path | None = None) -> str:
    """SHA-256 (hex) of the sorted list of ``relative/path<TAB>size_in_bytes`` lines.

    Identifies a training set on a model card: the same files (names and sizes) under any root give
    the same hash. ``root`` defaults to the files' common parent directory.
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise ValueError("file_list_sha256: no files given")
    base = Path(root) if root is not None else Path(os.path.commonpath([p.parent for p in paths]))
    lines = sorted(f"{p.relative_to(base).as_posix()}\t{p.stat().st_size}\n" for p in paths)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def random_crop(image: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
    """A random ``crop x crop`` window of a (3, H, W) image, flipped left-right with probability 1/2.

    An image with a side shorter than ``crop`` is first upscaled (bilinear, aspect kept) so that its
    shorter side is ``crop``.

    Returns:
        (3, crop, crop) float32 tensor in [0, 1].
    """
    _, height, width = image.shape
    if min(height, width) < crop:
        scale = crop / min(height, width)
        size = (max(crop, round(height * scale)), max(crop, round(width * scale)))
        image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0].clamp_(0, 1)
        _, height, width = image.shape
    top = int(torch.randint(0, height - crop + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - crop + 1, (1,), generator=generator))
    window = image[:, top : top + crop, left : left + crop]
    if bool(torch.rand((), generator=generator) < 0.5):
        window = window.flip(-1)
    return window.contiguous()


class ImageFolderCrops(Dataset):
    """Random crops of the images under a folder but not under its ``exclude`` sub-folders (such as
    the validation split), keyed by ``(file_index, crop_seed)``.

    ``dataset[(i, seed)]`` decodes file ``i`` and returns the crop drawn with ``seed``: (3, crop, crop)
    float32 in [0, 1]. :class:`CropSampler` produces the keys.
    """

    def __init__(
        self, root: str | Path, crop: int = 256, *, exclude: Sequence[str] = (), check: bool = True
    ) -> None:
        if crop < 1:
            raise ValueError(f"crop must be a positive number of pixels, got {crop}")
        self.root = Path(root)
        self.exclude = tuple(exclude)
        self.files = [path for path in list_images(self.root) if not self._excluded(path)]
        if not self.files:
            raise ImageError(f"{self.root}: every image lies in an excluded folder ({', '.join(self.exclude)})")
        self.crop = crop
        if check:
            check_images(self.files)

    def _excluded(self, path: Path) -> bool:
        """Whether ``path`` lies under one of the excluded sub-folders of the root."""
        relative = path.relative_to(self.root)
        return any(relative.is_relative_to(folder) for folder in self.exclude)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, seed = key
        image = load_image(self.files[index])
        return random_crop(image, self.crop, torch.Generator().manual_seed(seed))

    def sha256(self) -> str:
        """:func:`file_list_sha256` of this folder's files, relative to its root."""
        return file_list_sha256(self.files, self.root)


class CropSampler(Sampler[list[tuple[int, int]]]):
    """Endless stream of batches of ``(file_index, crop_seed)`` keys, starting at batch ``start``.

    Batch ``b`` of rank ``r`` holds global sample positions ``b*B*W + r*B + j`` for ``j < B``
    (``B`` = batch size per rank, ``W`` = world size); see the module docstring.
    """

    def __init__(
        self, n_files: int, batch_size: int, seed: int, *, rank: int = 0, world_size: int = 1, start: int = 0
    ) -> None:
        if n_files < 1 or batch_size < 1 or world_size < 1 or not 0 <= rank < world_size or start < 0:
            raise ValueError(
                f"CropSampler: need n_files >= 1, batch_size >= 1, 0 <= rank < world_size and start >= 0; got "
                f"n_files={n_files}, batch_size={batch_size}, rank={rank}, world_size={world_size}, start={start}"
            )
        self.n_files, self.batch_size, self.seed = n_files, batch_size, seed
        self.rank, self.world_size, self.start = rank, world_size, start
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        """The file order of one epoch (the last two are kept)."""
        if epoch not in self._orders:
            generator = torch.Generator().manual_seed(mix_seed(self.seed, 1, epoch))
            self._orders = {e: o for e, o in self._orders.items() if e == epoch - 1}
            self._orders[epoch] = torch.randperm(self.n_files, generator=generator).tolist()
        return self._orders[epoch]

    def batch(self, index: int) -> list[tuple[int, int]]:
        """The keys of this rank's part of global batch ``index``."""
        first = (index * self.world_size + self.rank) * self.batch_size
        keys = []
        for position in range(first, first + self.batch_size):
            epoch, offset = divmod(position, self.n_files)
            keys.append((self._order(epoch)[offset], mix_seed(self.seed, 2, position)))
        return keys

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        index = self.start
        while True:
            yield self.batch(index)
            index += 1


def make_loader(
    dataset: ImageFolderCrops,
    batch_size: int,
    seed: int,
    *,
    workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    start: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """An endless DataLoader of (batch_size, 3, crop, crop) batches, beginning at batch ``start``."""
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    sampler = CropSampler(len(dataset), batch_size, seed, rank=rank, world_size=world_size, start=start)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
    )
