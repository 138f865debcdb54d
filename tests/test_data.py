"""The training data pipeline: crops, small images, bad files, reproducible and resumable batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.data import (
    CropSampler,
    ImageFolderCrops,
    check_images,
    file_list_sha256,
    make_loader,
    mix_seed,
    random_crop,
)
from models.image_io import ImageError, list_images


def write_images(root, sizes, seed=0):
    """Random RGB images of the given (H, W) sizes as PNG/JPEG under root (some in a subfolder)."""
    rng = np.random.default_rng(seed)
    paths = []
    for index, (height, width) in enumerate(sizes):
        folder = root / "sub" if index % 2 else root
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{index}.{'jpg' if index % 3 == 0 else 'png'}"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_dir(tmp_path):
    write_images(tmp_path / "data", [(48, 64), (40, 40), (64, 48), (50, 70), (36, 44)])
    return tmp_path / "data"


def test_crops_are_searched_recursively_and_have_the_crop_size(image_dir):
    dataset = ImageFolderCrops(image_dir, crop=32)
    assert len(dataset) == 5 and any(p.parent.name == "sub" for p in dataset.files)
    crop = dataset[(2, 123)]
    assert crop.shape == (3, 32, 32) and crop.dtype == torch.float32
    assert 0 <= float(crop.min()) and float(crop.max()) <= 1


def test_crop_is_a_window_of_the_image_or_its_mirror():
    image = torch.rand(3, 40, 50, generator=torch.Generator().manual_seed(1))
    flips = set()
    for seed in range(40):
        crop = random_crop(image, 32, torch.Generator().manual_seed(seed))
        found = None
        for candidate, flipped in ((crop, False), (crop.flip(-1), True)):
            for top in range(9):
                for left in range(19):
                    if torch.equal(image[:, top : top + 32, left : left + 32], candidate):
                        found = flipped
        assert found is not None, f"seed {seed}: crop is no window of the image"
        flips.add(found)
    assert flips == {False, True}


def test_small_images_are_upscaled_not_mirrored():
    ramp = torch.linspace(0, 1, 20).expand(3, 12, 20).contiguous()  # 12 x 20, brighter to the right
    for seed in range(10):
        crop = random_crop(ramp, 32, torch.Generator().manual_seed(seed))
        assert crop.shape == (3, 32, 32)
        row = crop[0, 5]
        steps = row[1:] - row[:-1]
        # a reflect-padded ramp would rise and then fall; an upscaled one is monotone
        assert bool((steps >= -1e-6).all()) or bool((steps <= 1e-6).all())
        assert float(row.max() - row.min()) > 0.5


def test_small_file_is_handled_end_to_end(tmp_path):
    write_images(tmp_path, [(10, 14), (40, 40)])
    dataset = ImageFolderCrops(tmp_path, crop=32)
    assert all(dataset[(i, 7)].shape == (3, 32, 32) for i in range(len(dataset)))


def test_unreadable_files_are_all_named_in_one_error(image_dir):
    (image_dir / "broken.png").write_bytes(b"this is not a png")
    (image_dir / "sub" / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError) as info:
        ImageFolderCrops(image_dir, crop=32)
    message = str(info.value)
    assert "broken.png" in message and "empty.jpg" in message and "2 of 7" in message


def test_corrupt_data_behind_a_good_header_names_the_file_on_first_read(tmp_path):
    paths = write_images(tmp_path, [(64, 64)])
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: len(data) // 3])  # truncated JPEG: header fine, data missing
    check_images(paths)  # only the header is checked up front
    dataset = ImageFolderCrops(tmp_path, crop=32)
    with pytest.raises(ImageError, match="img0.jpg"):
        dataset[(0, 1)]


def test_file_list_hash_depends_on_names_and_sizes_not_on_root_or_order(tmp_path):
    first = write_images(tmp_path / "a", [(20, 20), (30, 30)])
    second = write_images(tmp_path / "b", [(20, 20), (30, 30)])
    digest = file_list_sha256(first, tmp_path / "a")
    assert len(digest) == 64
    assert digest == file_list_sha256(list(reversed(second)), tmp_path / "b") == file_list_sha256(second)
    second[0].rename(second[0].with_name("renamed.jpg"))
    assert file_list_sha256(list_images(tmp_path / "b")) != digest
    with first[1].open("ab") as f:
        f.write(b"\0")
    assert file_list_sha256(first, tmp_path / "a") != digest


def test_each_epoch_visits_every_file_once_in_a_seeded_order():
    sampler = CropSampler(n_files=7, batch_size=3, seed=5)
    keys = [key for b in range(7) for key in sampler.batch(b)]  # 21 samples = 3 epochs
    epochs = [sorted(i for i, _ in keys[e * 7 : (e + 1) * 7]) for e in range(3)]
    assert epochs == [list(range(7))] * 3
    orders = [[i for i, _ in keys[e * 7 : (e + 1) * 7]] for e in range(3)]
    assert len({tuple(o) for o in orders}) > 1
    assert len({seed for _, seed in keys}) == 21
    assert keys != [k for b in range(7) for k in CropSampler(7, 3, seed=6).batch(b)]


def test_ranks_split_every_global_batch():
    whole = CropSampler(n_files=10, batch_size=4, seed=3)
    ranks = [CropSampler(10, 2, seed=3, rank=r, world_size=2) for r in range(2)]
    for b in range(5):
        assert ranks[0].batch(b) + ranks[1].batch(b) == whole.batch(b)


def test_loader_is_seeded_resumable_and_independent_of_workers(image_dir):
    dataset = ImageFolderCrops(image_dir, crop=32)
    straight = make_loader(dataset, batch_size=3, seed=11)
    batches = [next(it) for it in [iter(straight)] for _ in range(4)]
    again = iter(make_loader(dataset, batch_size=3, seed=11, workers=1))
    assert all(torch.equal(next(again), b) for b in batches)
    resumed = iter(make_loader(dataset, batch_size=3, seed=11, start=2))
    assert torch.equal(next(resumed), batches[2]) and torch.equal(next(resumed), batches[3])
    other = next(iter(make_loader(dataset, batch_size=3, seed=12)))
    assert batches[0].shape == (3, 3, 32, 32) and not torch.equal(other, batches[0])


def test_mix_seed_spreads_nearby_inputs():
    seeds = {mix_seed(0, 2, p) for p in range(1000)} | {mix_seed(1, 2, p) for p in range(1000)}
    assert len(seeds) == 2000 and all(0 <= s < 2**63 for s in seeds)


def test_excluded_folders_such_as_the_validation_split_are_never_drawn(tmp_path):
    write_images(tmp_path / "data", [(40, 40), (44, 44)])
    write_images(tmp_path / "data" / "bsds500" / "val", [(48, 48), (52, 52), (56, 56)])
    everything = ImageFolderCrops(tmp_path / "data", crop=32)
    training = ImageFolderCrops(tmp_path / "data", crop=32, exclude=("bsds500/val",))
    assert len(everything) == 2 + 3 and len(training) == 2
    assert not any("val" in p.parts for p in training.files)
    assert training.sha256() != everything.sha256()
    with pytest.raises(ImageError, match="excluded"):
        ImageFolderCrops(tmp_path / "data" / "bsds500", crop=32, exclude=("val",))
