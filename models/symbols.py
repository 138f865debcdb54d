"""The symbol contract: a real latent (B, C, h, w) <-> k complex channel symbols per image.

Geometry. The encoder downsamples by ``DOWNSAMPLING = 16``: an image of H x W pixels is reflect-padded
to ``16*h x 16*w`` with ``h = ceil(H/16)``, ``w = ceil(W/16)``, and its latent has C real channels on
that h x w grid. Complex symbol ``(c, i, j)`` is ``y[c, i, j] + 1j * y[c + C/2, i, j]`` for
``c < C/2`` (real parts are channels ``[0:C/2]``, imaginary parts channels ``[C/2:C]``), so the padded
latent holds ``N = C/2 * h * w`` complex positions.

Exact CBR. ``k = n_symbols(H, W, cbr)`` uses the ORIGINAL H, W, so ``k <= N`` and ``N - k``
positions are not sent. Which ones: every latent position (i, j) covers a 16 x 16 block of the padded
image, of which a fraction ``coverage(i, j)`` lies inside the original image (1 inside, less in the
last row/column). Positions are ranked by coverage (highest first, ties in raster order) and complex
symbols are taken rank-major, channel-minor until k are chosen: the dropped symbols are the trailing
channels of the least-covered positions, i.e. those mostly in the padded area. At the receiver the
symbols that were not sent are treated exactly like erased ones.

Transmit order. The k chosen symbols are sent channel-major (all sent positions of complex channel 0
in raster order, then channel 1, ...). A contiguous run of lost symbols (a lost OFDM frame) therefore
removes a few latent channels over the whole image rather than one region of it.

Power. Each image's k symbols are scaled to mean power exactly one: ``mean |s|^2 = 1``.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from functools import lru_cache

import numpy as np
import torch

DOWNSAMPLING = 16
"""Spatial downsampling factor of the encoder (four stride-2 stages)."""


class SymbolError(ValueError):
    """Inputs to the symbol mapping that do not fit together (shapes, sizes, symbol counts)."""


def _check_size(height: int, width: int) -> tuple[int, int]:
    if isinstance(height, bool) or isinstance(width, bool) or int(height) != height or int(width) != width:
        raise SymbolError(f"image size must be two integers, got {height!r} x {width!r}")
    if height < 1 or width < 1:
        raise SymbolError(f"image size must be positive, got {height} x {width}")
    return int(height), int(width)


def latent_size(height: int, width: int) -> tuple[int, int]:
    """Latent grid (h, w) = (ceil(H/16), ceil(W/16)) of an H x W image."""
    height, width = _check_size(height, width)
    return math.ceil(height / DOWNSAMPLING), math.ceil(width / DOWNSAMPLING)


def n_symbols(height: int, width: int, cbr: float) -> int:
    """Number of complex channel symbols k = round(cbr * 3 * H * W) for an H x W RGB image.

    ``cbr`` is in complex channel uses per real source dimension (1/48 for C=32 at 16x downsampling).
    It is read as the nearest fraction with denominator <= 10^6, so 1/48 counts exactly, and halves
    round up (k = floor(cbr*3*H*W + 1/2)); every part of the project gets k from this function.
    """
    height, width = _check_size(height, width)
    if isinstance(cbr, bool) or not isinstance(cbr, numbers.Real) or not (math.isfinite(cbr) and 0 < cbr <= 1):
        raise SymbolError(f"cbr must be a number in (0, 1] (complex symbols per real source dimension), got {cbr!r}")
    exact = Fraction(float(cbr)).limit_denominator(1_000_000) * 3 * height * width
    k = math.floor(exact + Fraction(1, 2))
    if k < 1:
        raise SymbolError(f"a {height}x{width} image at cbr {cbr} gives no channel symbol; use a larger image")
    return k


@lru_cache(maxsize=512)
def _sent_indices_numpy(half_channels: int, height: int, width: int, k: int) -> np.ndarray:
    h, w = latent_size(height, width)
    rows = np.minimum(DOWNSAMPLING, height - DOWNSAMPLING * np.arange(h)) / DOWNSAMPLING
    cols = np.minimum(DOWNSAMPLING, width - DOWNSAMPLING * np.arange(w)) / DOWNSAMPLING
    coverage = np.outer(rows, cols).ravel()
    rank = np.empty(h * w, dtype=np.int64)
    rank[np.argsort(-coverage, kind="stable")] = np.arange(h * w)
    order = rank[None, :] * half_channels + np.arange(half_channels)[:, None]  # (C/2, h*w)
    indices = np.flatnonzero(order < k)
    indices.setflags(write=False)
    return indices


def sent_indices(channels: int, height: int, width: int, k: int) -> torch.Tensor:
    """Positions of the k sent symbols in the flattened complex latent, in transmit order.

    Args:
        channels: C, real latent channels (even).
        height, width: original image size H, W [pixels].
        k: number of symbols sent, 1 <= k <= C/2 * ceil(H/16) * ceil(W/16).

    Returns:
        int64 tensor (k,) of indices into the (C/2, h, w) complex latent flattened channel-major.
    """
    if channels < 2 or channels % 2:
        raise SymbolError(f"latent channels C must be a positive even number, got {channels}")
    h, w = latent_size(height, width)
    capacity = channels // 2 * h * w
    if not 1 <= k <= capacity:
        raise SymbolError(
            f"k={k} symbols do not fit a {height}x{width} image with C={channels}: expected 1 <= k <= {capacity}"
        )
    return torch.from_numpy(_sent_indices_numpy(channels // 2, height, width, int(k)).copy())


def _check_latent(shape: tuple[int, ...], size: tuple[int, int]) -> tuple[int, int, int]:
    if len(shape) != 4:
        raise SymbolError(f"latent must have shape (B, C, h, w), got {tuple(shape)}")
    _, channels, h, w = shape
    if (h, w) != latent_size(*size):
        raise SymbolError(
            f"latent grid {h}x{w} does not match image size {size[0]}x{size[1]}: expected {latent_size(*size)}"
        )
    return channels, h, w


def latent_to_symbols(y: torch.Tensor, k: int, size: tuple[int, int]) -> torch.Tensor:
    """Map a real latent to k power-normalised complex symbols per image.

    Args:
        y: real latent (B, C, h, w) of images of original size ``size`` = (H, W).
        k: symbols per image, usually ``n_symbols(H, W, C / 1536)``.
        size: original (H, W) [pixels], which decides the dropped positions (module docstring).

    Returns:
        complex64 (B, k), each row with mean |s|^2 = 1 (differentiable).
    """
    channels, _, _ = _check_latent(y.shape, size)
    index = sent_indices(channels, size[0], size[1], k).to(y.device)
    y = y.float()
    half = channels // 2
    real = y[:, :half].flatten(1)[:, index]
    imag = y[:, half:].flatten(1)[:, index]
    power = (real.square() + imag.square()).mean(dim=1, keepdim=True)
    scale = torch.rsqrt(power.clamp_min(1e-12))
    return torch.complex(real * scale, imag * scale)


def symbols_to_latent(
    s_hat: torch.Tensor,
    erased: torch.Tensor,
    noise_var: torch.Tensor,
    channels: int,
    size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Place received symbols back on the latent grid (the inverse of :func:`latent_to_symbols`).

    Args:
        s_hat: complex (B, k) received soft symbols (unit-power domain).
        erased: bool (B, k), True where a symbol never arrived.
        noise_var: float (B, k), noise variance E|n|^2 per symbol [same unit as E|s|^2 = 1].
        channels: C, real latent channels.
        size: original image size (H, W) [pixels].

    Returns:
        ``(y_hat, erased_map, noise_var_map)``: y_hat float32 (B, C, h, w) with zeros at erased and
        unsent positions; erased_map bool (B, C/2, h, w), True at erased and unsent positions;
        noise_var_map float32 (B, C/2, h, w), the symbol's noise variance, and 1 (the prior variance of
        a unit-power symbol: nothing known) where erased or unsent.
    """
    if s_hat.ndim != 2 or erased.shape != s_hat.shape or noise_var.shape != s_hat.shape:
        raise SymbolError(
            f"s_hat, erased and noise_var must all have shape (B, k); got {tuple(s_hat.shape)}, "
            f"{tuple(erased.shape)}, {tuple(noise_var.shape)}"
        )
    batch, k = s_hat.shape
    h, w = latent_size(*size)
    half = channels // 2
    index = sent_indices(channels, size[0], size[1], k).to(s_hat.device)
    erased = erased.to(device=s_hat.device, dtype=torch.bool)
    s_hat = torch.where(erased, torch.zeros_like(s_hat), s_hat.to(torch.complex64))
    n_positions = half * h * w
    zeros = s_hat.real.new_zeros(batch, n_positions)
    real = zeros.index_copy(1, index, s_hat.real)
    imag = zeros.index_copy(1, index, s_hat.imag)
    y_hat = torch.cat([real, imag], dim=1).reshape(batch, channels, h, w)
    erased_map = torch.ones(batch, n_positions, dtype=torch.bool, device=s_hat.device)
    erased_map = erased_map.index_copy(1, index, erased).reshape(batch, half, h, w)
    variance = torch.where(erased, torch.ones_like(noise_var, dtype=torch.float32), noise_var.float())
    noise_var_map = zeros.new_ones(batch, n_positions).index_copy(1, index, variance).reshape(batch, half, h, w)
    return y_hat, erased_map, noise_var_map
