"""The ImageNet trunks under LPIPS (Zhang et al., 2018): AlexNet and SqueezeNet 1.1, from a local file or torchvision.

The LPIPS v0.1 linear heads come with the ``lpips`` package; the trunks come from torchvision, whose own
download does not work offline. :func:`load_alexnet_features` and :func:`load_squeezenet_features` load a
trunk from a local file (torchvision's ``features.*`` tensors: ``alexnet_features.pth``,
``squeezenet1_1_features.pth``) when one is given or found in ``$JSCC_WEIGHTS_DIR``, and through
torchvision's weights API otherwise (:func:`models.pretrained_weights.load_torchvision_features`), and say which.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import AlexNet_Weights, SqueezeNet1_1_Weights, alexnet, squeezenet1_1

from models.pretrained_weights import load_torchvision_features

ALEXNET_FEATURES_FILE = "alexnet_features.pth"
SQUEEZENET_FEATURES_FILE = "squeezenet1_1_features.pth"


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


def load_squeezenet_features(path: str | Path | None = None) -> tuple[nn.Module, str]:
    """torchvision's ``squeezenet1_1().features`` with ImageNet weights (IMAGENET1K_V1), in eval mode.

    Args:
        path: a local weights file; without it ``$JSCC_WEIGHTS_DIR/squeezenet1_1_features.pth`` is used
            when the variable is set and the file exists, and torchvision's download otherwise.

    Returns:
        (the 13-layer ``features`` Sequential: a conv layer at index 0, Fire modules at 3, 4, 6, 7, 9..12,
        the source used: "local file <path>" or "torchvision download <url>").

    Raises:
        MissingWeightsError: no file given or found and the download failed (offline).
        WeightsFileError: the file is corrupted or does not hold SqueezeNet 1.1's features.
    """
    return load_torchvision_features(
        lambda: squeezenet1_1(weights=None).features,
        SqueezeNet1_1_Weights.IMAGENET1K_V1,
        SQUEEZENET_FEATURES_FILE,
        "SqueezeNet 1.1 features (LPIPS backbone)",
        path,
        option='LPIPS(net="squeeze", features_path=PATH) (or the path argument)',
    )
