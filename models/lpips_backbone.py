"""The ImageNet AlexNet features under LPIPS (Zhang et al., 2018), from a local file or torchvision.

The LPIPS v0.1 linear heads come with the ``lpips`` package; the AlexNet trunk comes from torchvision,
whose own download does not work offline. :func:`load_alexnet_features` loads the trunk from a local
file (``alexnet_features.pth``: torchvision's ``features.{0,3,6,8,10}.{weight,bias}``) when one is given
or found in ``$JSCC_WEIGHTS_DIR``, and through torchvision's weights API otherwise, and says which.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import AlexNet_Weights, alexnet

from models.pretrained_weights import load_torchvision_features

ALEXNET_FEATURES_FILE = "alexnet_features.pth"


def load_alexnet_features(path: str | Path | None = None) -> tuple[nn.Module, str]:
    """torchvision's ``alexnet().features`` with ImageNet weights (IMAGENET1K_V1), in eval mode.

    Args:
        path: a local weights file; without it ``$JSCC_WEIGHTS_DIR/alexnet_features.pth`` is used when
            the variable is set and the file exists, and torchvision's download otherwise.

    Returns:
        (the 13-layer ``features`` Sequential: conv layers at indices 0, 3, 6, 8, 10,
        the source used: "local file <path>" or "torchvision download <url>").

    Raises:
        MissingWeightsError: no file given or found and the download failed (offline).
        WeightsFileError: the file is corrupted or does not hold AlexNet's features.
    """
    return load_torchvision_features(
        lambda: alexnet(weights=None).features,
        AlexNet_Weights.IMAGENET1K_V1,
        ALEXNET_FEATURES_FILE,
        "AlexNet features (LPIPS backbone)",
        path,
        option="--lpips-weights PATH (or the path argument)",
    )
