"""Removal of what repeats on the latent's 8-pixel grid: a local two-dimensional comb filter.

TAEF2's decoder upsamples an 8x-smaller latent, and generative-cbr48 draws part of its fine texture as a
lattice locked to that grid: energy at the spatial frequencies ``(k/8, l/8)`` cycles per pixel, which
photographs hardly have (``benchmarks/latent_grid_lattice.py``). :class:`LatticeFilter` subtracts the part of
an image that repeats with the grid's period in both directions, estimated locally: the mean of the
``(2 taps + 1)^2`` pixels at multiples of the period around each pixel (a comb), less its mean over one
period (the comb's local mean, which is not periodic and stays). It is linear and has no weights; what it
takes from a photograph is the little energy near those frequencies, within about ``1 / (period (2 taps + 1))``
cycles per pixel of them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LATENT_GRID = 8  # pixels: the TAEF2 latent's cell


class LatticeFilter(nn.Module):
    """``x - (comb(x) - box(comb(x)))`` per channel, separable, edges replicated.

    Args:
        taps: the comb reaches ``taps`` periods each way (``2 taps + 1`` teeth per axis); >= 1.
        period: the grid [pixels].
    """

    def __init__(self, taps: int = 3, period: int = LATENT_GRID) -> None:
        super().__init__()
        if isinstance(taps, bool) or not isinstance(taps, int) or taps < 1:
            raise ValueError(f"LatticeFilter: taps must be an integer >= 1, got {taps!r}")
        if isinstance(period, bool) or not isinstance(period, int) or period < 2:
            raise ValueError(f"LatticeFilter: period must be an integer >= 2, got {period!r}")
        self.taps, self.period = taps, period

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W), any H, W >= 1. Returns the same shape, the grid-periodic part removed."""
        if x.ndim != 4:
            raise ValueError(f"LatticeFilter expects (B, C, H, W), got shape {tuple(x.shape)}")
        comb = self._along(self._along(x, -1, comb=True), -2, comb=True)
        local_mean = self._along(self._along(comb, -1, comb=False), -2, comb=False)
        return x - (comb - local_mean)

    def _along(self, x: torch.Tensor, dim: int, comb: bool) -> torch.Tensor:
        """Mean along ``dim`` (-1: columns, -2: rows) over the comb's teeth, or over one period centred on each
        pixel (``period + 1`` taps, the two ends at half weight: zero phase, and exactly the mean of anything
        of that period)."""
        if comb:
            weights, dilation = torch.ones(2 * self.taps + 1), self.period
        else:
            weights, dilation = torch.ones(self.period + 1), 1
            weights[0] = weights[-1] = 0.5
        reach = (weights.numel() - 1) // 2 * dilation
        rows = dim == -2
        if rows:
            x = x.transpose(-1, -2)
        kernel = (weights / weights.sum()).to(x).expand(x.shape[1], 1, 1, -1)
        out = F.conv2d(F.pad(x, (reach, reach, 0, 0), mode="replicate"), kernel, dilation=(1, dilation),
                       groups=x.shape[1])
        return out.transpose(-1, -2) if rows else out


def lattice_energy_share(x: torch.Tensor, period: int = LATENT_GRID) -> torch.Tensor:
    """Share of images' fine detail that sits on the grid's lattice of frequencies ``(k/period, l/period)``.

    The grey images (the mean of R, G, B), less their means and under a Hann window, are Fourier transformed;
    of their energy above ``1/(2 period)`` cycles per pixel (in y or x), the share within one frequency bin (in
    both directions) of a lattice point other than 0 is returned. Photographs put 0.1-0.3 % there (about the
    share of the bins); a picture that repeats on the grid puts far more.

    Args:
        x: (B, 3, H, W), H and W at least ``4 * period``.
        period: the grid [pixels].
    Returns:
        (B,) in [0, 1].
    """
    if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < 4 * period:
        raise ValueError(f"lattice_energy_share needs (B, 3, H, W) images of at least {4 * period} pixels a side, "
                         f"got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    grey = x.double().mean(dim=1)
    grey = grey - grey.mean(dim=(-2, -1), keepdim=True)
    window = torch.outer(torch.hann_window(height, periodic=False, dtype=grey.dtype),
                         torch.hann_window(width, periodic=False, dtype=grey.dtype))
    power = torch.fft.fft2(grey * window).abs().square()
    fy, fx = torch.fft.fftfreq(height, dtype=grey.dtype)[:, None], torch.fft.fftfreq(width, dtype=grey.dtype)[None, :]

    def near_lattice(f: torch.Tensor, size: int) -> torch.Tensor:  # within one bin of a multiple of 1/period
        return (f * period - (f * period).round()).abs() <= period / size

    fine = torch.maximum(fy.abs(), fx.abs()) > 1 / (2 * period)
    lattice = near_lattice(fy, height) & near_lattice(fx, width) & fine
    return (power * lattice).sum(dim=(-2, -1)) / (power * fine).sum(dim=(-2, -1)).clamp_min(1e-30)
