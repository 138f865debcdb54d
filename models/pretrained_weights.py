"""Finding and loading the pretrained weights of the metric backbones (AlexNet, VGG16, Inception).

Every backbone file is looked for in this order, and the caller is told which source was used:

1. a path given by the caller (a command-line option or an argument);
2. ``$JSCC_WEIGHTS_DIR/<file name>`` when the variable is set and the file is there;
3. only when ``$JSCC_WEIGHTS_DIR`` is not set: the download of the library that publishes the weights
   (torchvision's weights API or torch.hub), which works on a machine with internet. A set variable
   names the local weights folder, so a file missing there is an error and nothing is fetched (the
   team's machines and CI must send no traffic). Where nothing is found, :class:`MissingWeightsError`
   names the file to pass and the variable to set.

Files are read with ``torch.load(weights_only=True, map_location="cpu")`` and loaded strictly: a file
that is missing, corrupted or does not fit the network gets one clear error naming it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn
from torchvision.models import WeightsEnum

WEIGHTS_DIR_VARIABLE = "JSCC_WEIGHTS_DIR"

log = logging.getLogger(__name__)


class MissingWeightsError(ValueError):
    """A weights file that is needed is neither given, nor in $JSCC_WEIGHTS_DIR, nor downloadable."""


class WeightsFileError(ValueError):
    """A weights file that exists but is unreadable or does not fit the network it is meant for."""


def weights_dir_file(name: str) -> Path | None:
    """``$JSCC_WEIGHTS_DIR/name`` if the variable is set and that file exists, else None."""
    root = os.environ.get(WEIGHTS_DIR_VARIABLE)
    if not root:
        return None
    path = Path(root) / name
    if path.is_file():
        return path
    log.info("%s=%s has no %s", WEIGHTS_DIR_VARIABLE, root, name)
    return None


def refuse_download_when_local(what: str, name: str, option: str, url: str) -> None:
    """Raise :class:`MissingWeightsError` instead of downloading ``url`` while $JSCC_WEIGHTS_DIR is set."""
    if os.environ.get(WEIGHTS_DIR_VARIABLE):
        reason = f"not downloaded from {url} while ${WEIGHTS_DIR_VARIABLE} names the local weights folder"
        raise MissingWeightsError(missing_weights_message(what, name, option, reason))


def missing_weights_message(what: str, name: str, option: str, reason: str) -> str:
    """The text of a :class:`MissingWeightsError`: what is missing and the two ways to provide it."""
    root = os.environ.get(WEIGHTS_DIR_VARIABLE)
    looked = f"{WEIGHTS_DIR_VARIABLE}={root} has no {name}" if root else f"{WEIGHTS_DIR_VARIABLE} is not set"
    return (
        f"{what} not available ({reason}; {looked}). Pass the file with {option}, "
        f"or put it at $JSCC_WEIGHTS_DIR/{name} and set {WEIGHTS_DIR_VARIABLE}"
    )


def load_state_file(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """Read a state dict (name -> tensor) saved with ``torch.save``, on the CPU.

    Raises:
        MissingWeightsError: ``path`` does not exist.
        WeightsFileError: the file is not a readable PyTorch file holding a dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"{what}: {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load of a damaged file raises anything from its unpickler (IndexError, ...)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsFileError(f"{path}: not a readable PyTorch weights file ({first_line}); expected {what}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsFileError(f"{path}: holds a {type(state).__name__}, not a dict of tensors; expected {what}")
    return dict(state)


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, what: str) -> None:
    """``module.load_state_dict(state, strict=True)`` with one error listing every mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
            f"wrong shapes {'; '.join(shapes)}" if shapes else "",
        ]
        raise WeightsFileError(f"{source} does not fit {what}: " + "; ".join(p for p in parts if p))
    module.load_state_dict(state, strict=True)


def load_torchvision_features(
    build: Callable[[], nn.Module],
    weights: WeightsEnum,
    file_name: str,
    what: str,
    path: str | Path | None = None,
    option: str = "the path argument",
) -> tuple[nn.Module, str]:
    """The ``features`` part of a torchvision classifier with ImageNet weights.

    Args:
        build: makes the untrained ``features`` module, e.g. ``lambda: alexnet(weights=None).features``.
        weights: the torchvision weights enum entry used for the download path.
        file_name: the local file's name in $JSCC_WEIGHTS_DIR.
        what: a description for messages, e.g. "AlexNet features (LPIPS backbone)".
        path: an explicit local file, used instead of anything else. Local files hold the ``features.*``
            tensors (other keys, such as a whole classifier's ``classifier.*``, are ignored) or the
            features module's own keys (``0.weight``, ...).
        option: how the user passes ``path``, named in the error when nothing is found.

    Returns:
        (features module in eval mode, the source used: "local file <path>" or "torchvision download <url>").
    """
    features = build()
    local = Path(path) if path is not None else weights_dir_file(file_name)
    if local is not None:
        state = load_state_file(local, what)
        source = f"local file {local}"
    else:
        refuse_download_when_local(what, file_name, option, weights.url)
        try:
            full = weights.get_state_dict(progress=True, check_hash=True)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError; a hash mismatch is a RuntimeError
            reason = f"torchvision could not download {weights.url}: {exc}"
            raise MissingWeightsError(missing_weights_message(what, file_name, option, reason)) from exc
        state = full
        source = f"torchvision download {weights.url}"
    if any(k.startswith("features.") for k in state):  # a whole classifier's file: keep its features
        state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    load_strict(features, state, source, what)
    log.info("%s: %s", what, source)
    return features.eval(), source
