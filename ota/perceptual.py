"""The LPIPS network, loaded once per process, and whether a reception can be scored with it here.

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
def lpips_network(weights: str | None = None, device: str = "cpu") -> LPIPS:
    """The LPIPS network (AlexNet features from ``weights``, default as :class:`models.metrics.LPIPS` finds them)
    on ``device``: loaded once per (weights, device) in a process, shared by every command and the sweep."""
    return LPIPS(features_path=weights).to(device)


def lpips_module(path: str | None = None) -> tuple[LPIPS | None, str | None]:
    """(the LPIPS network on the CPU or None, a note saying why it is missing or None): a receiving command's
    LPIPS, computed only from local weights."""
    if path is None and weights_dir_file(ALEXNET_FEATURES_FILE) is None and _cached_download() is None:
        return None, (
            f"LPIPS not computed: no local AlexNet weights; pass --lpips-weights PATH or set JSCC_WEIGHTS_DIR "
            f"to a folder holding {ALEXNET_FEATURES_FILE}"
        )
    return lpips_network(path), None
