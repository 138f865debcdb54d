"""The LPIPS network for scoring receptions, when its weights are on this machine.

A receiving command must not download anything on its own (the quick start promises no download),
so LPIPS is computed only from a local AlexNet file (``--lpips-weights`` or
``$JSCC_WEIGHTS_DIR/alexnet_features.pth``) or from torchvision's cache of an earlier download;
otherwise the result says ``lpips: null`` and a note names what to provide.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch
from torchvision.models import AlexNet_Weights

from models.lpips_backbone import ALEXNET_FEATURES_FILE
from models.metrics import LPIPS
from models.pretrained_weights import weights_dir_file


def _cached_download() -> Path | None:
    """torchvision's cached AlexNet file, if an earlier download left one."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(AlexNet_Weights.IMAGENET1K_V1.url).name
    return path if path.is_file() else None


@cache
def lpips_module(path: str | None = None) -> tuple[LPIPS | None, str | None]:
    """(the LPIPS network or None, a note saying why it is missing or None)."""
    if path is not None:
        return LPIPS(features_path=path), None
    if weights_dir_file(ALEXNET_FEATURES_FILE) is not None or _cached_download() is not None:
        return LPIPS(), None
    return None, (
        f"LPIPS not computed: no local AlexNet weights; pass --lpips-weights PATH or set JSCC_WEIGHTS_DIR "
        f"to a folder holding {ALEXNET_FEATURES_FILE}"
    )
