"""Fréchet Inception Distance (Heusel et al., 2017) between two sets of images, with pytorch-fid.

pytorch-fid's network (the TensorFlow FID Inception, 2048-d pool3 features, inputs resized to 299x299)
and its Fréchet distance, so that the numbers are those of the field. Its weights file
``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's release) is taken from a given path or
``$JSCC_WEIGHTS_DIR``, else (only when that variable is not set) downloaded by torch.hub as pytorch-fid
does; offline and without the file, :class:`MissingWeightsError` says where to put it. FID is a
property of sets: with few images (fewer than the 2048 feature dimensions) the covariances are singular
and the value is biased upwards; the paper protocol scores all 256x256 patches of a dataset together.
"""

from __future__ import annotations

import logging
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from pytorch_fid import inception as fid_inception
from pytorch_fid.fid_score import calculate_frechet_distance
from torch import nn

from models.pretrained_weights import (
    MissingWeightsError,
    WeightsFileError,
    load_state_file,
    missing_weights_message,
    refuse_download_when_local,
    weights_dir_file,
)

FID_INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048

log = logging.getLogger(__name__)


def load_fid_inception(path: str | Path | None = None) -> tuple[nn.Module, str]:
    """pytorch-fid's ``InceptionV3`` (pool3 block), weights from ``path``, $JSCC_WEIGHTS_DIR or the download.

    Returns:
        (network in eval mode mapping (B, 3, H, W) in [0, 1] to [(B, 2048, 1, 1)], the source used).
    """
    what = "FID Inception weights"
    local = Path(path) if path is not None else weights_dir_file(FID_INCEPTION_FILE)
    if local is not None:
        state = load_state_file(local, what)
        source = f"local file {local}"
    else:
        refuse_download_when_local(what, FID_INCEPTION_FILE, "the weights_path argument",
                                   fid_inception.FID_WEIGHTS_URL)
        try:
            state = torch.hub.load_state_dict_from_url(fid_inception.FID_WEIGHTS_URL, progress=True,
                                                       map_location="cpu")
        except (OSError, RuntimeError) as exc:
            reason = f"could not download {fid_inception.FID_WEIGHTS_URL}: {exc}"
            raise MissingWeightsError(missing_weights_message(what, FID_INCEPTION_FILE, "the weights_path argument",
                                                              reason)) from exc
        source = f"torch.hub download {fid_inception.FID_WEIGHTS_URL}"

    def provide(url: str, *args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        return state

    # pytorch-fid fetches its weights inside InceptionV3's constructor; hand it the state read above.
    try:
        with mock.patch.object(fid_inception, "load_state_dict_from_url", provide):
            network = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]])
    except RuntimeError as exc:
        raise WeightsFileError(f"{source} does not fit the FID Inception network: "
                               f"{str(exc).strip().splitlines()[0]}") from exc
    log.info("%s: %s", what, source)
    return network.eval(), source


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two feature sets (N, D) and (M, D), N, M >= 2.

    ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))`` with unbiased covariances, as pytorch-fid.
    """
    stats = []
    for name, features in (("real", real), ("generated", generated)):
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(f"FID needs at least 2 {name} images, got features of shape {features.shape}")
        stats += [features.mean(axis=0), np.cov(features, rowvar=False)]
    return float(calculate_frechet_distance(*stats))


class FID(nn.Module):
    """Accumulates Inception features of real and generated images; :meth:`compute` gives the FID.

    Args:
        weights_path: the FID Inception weights file (see :func:`load_fid_inception`).

    Attributes:
        source: where the Inception weights came from.
    """

    def __init__(self, weights_path: str | Path | None = None) -> None:
        super().__init__()
        self.inception, self.source = load_fid_inception(weights_path)
        self.requires_grad_(False)
        self.reset()

    def train(self, mode: bool = True) -> FID:
        """Stays in eval mode."""
        return super().train(False)

    def reset(self) -> None:
        """Forget every image seen."""
        self._features: dict[bool, list[np.ndarray]] = {True: [], False: []}

    @torch.no_grad()
    def update(self, images: torch.Tensor, real: bool) -> None:
        """Add a batch (B, 3, H, W) in [0, 1] to the real (reference) or the generated set."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (B, 3, H, W), got {tuple(images.shape)}")
        features = self.inception(images.float())[0].reshape(images.shape[0], FEATURE_DIM)
        self._features[real].append(features.double().cpu().numpy())

    def count(self, real: bool) -> int:
        """Number of images in the real or the generated set."""
        return sum(len(f) for f in self._features[real])

    def compute(self) -> float:
        """FID between the two sets so far (each needs at least two images; 2048-d, so this takes seconds)."""
        real, generated = (np.concatenate(self._features[r] or [np.zeros((0, FEATURE_DIM))]) for r in (True, False))
        return frechet_distance(real, generated)
