"""Image quality metrics: PSNR, MS-SSIM, LPIPS (here), DISTS and FID (:mod:`models.dists`, :mod:`models.fid`).

All take image batches ``(B, 3, H, W)`` with RGB values in [0, 1] and return one value per image
``(B,)``. They follow the conventions of the field's reference numbers, checked against
``fixtures/tid2013_calib/reference_values.csv`` (computed by the original implementations on 8-bit
images) in ``tests/test_metrics.py``:

- PSNR: RGB, the MSE averaged over all three channels and all pixels, ``10 log10(range^2 / MSE)``.
  The reference images are 8-bit; a reconstruction scored as it is saved (8-bit PNG) is scored after
  quantising it to 8 bits (:func:`models.evaluate.evaluate` does so).
- MS-SSIM: pytorch-msssim (Gaussian window 11, sigma 1.5, five scales, weights of Wang et al. 2003) on
  the RGB channels, averaged over the channels: the convention of deep-JSCC and learned-compression
  results (CompressAI, TensorFlow's ``ssim_multiscale``). ``luma=True`` scores the 8-bit grey image of
  MATLAB's ``rgb2gray`` instead, as the original MATLAB implementation used for the fixture does.
- LPIPS: Zhang et al.'s ``lpips`` package, AlexNet trunk (or SqueezeNet 1.1 with ``net="squeeze"``),
  v0.1 linear heads.
- Grid index (:func:`grid_index`, no reference convention): how strongly an image's edges line up on a
  fixed grid of period 16 pixels or a divisor of it (the 2x2 blocks of a nearest-neighbour upsampling,
  8-pixel latent blocks, the 16-pixel symbol grid), the artefacts a decoder that upsamples draws.
  :func:`compute_metrics` scores the reconstruction's value minus the reference's, so that 0 means no
  grid beyond the photograph's.
- Streak index (:func:`streak_index`, no reference convention): how much of the reconstruction's fine
  texture runs in one direction where the source's does not: the parallel streaks and hatching a
  generative decoder draws along edges and into busy regions.
- Hatch index (:func:`hatch_index`, no reference convention): how much of the reconstruction's fine
  texture is gathered into few directions (one: streaks; two: a cross-hatch) where the source's is not;
  it sees the cross-hatch that the streak index misses.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import lpips as lpips_package
import pytorch_msssim
import torch
from torch import nn

from models.dists import DISTS
from models.fid import FID
from models.lpips_backbone import load_alexnet_features, load_squeezenet_features
from models.pretrained_weights import load_state_file, load_strict, weights_dir_file

__all__ = ["DISTS", "FID", "LPIPS", "MetricInputError", "compute_metrics", "grid_index", "ms_ssim", "psnr",
           "streak_index", "hatch_index", "METRICS"]

log = logging.getLogger(__name__)

GRID_PERIOD = 16  # pixels: the symbol grid of every shipped model; its divisors cover 2-, 4- and 8-pixel patterns
MS_SSIM_MIN_SIZE = 161  # pytorch-msssim: smaller side > (window 11 - 1) * 2**4 for its four downsamplings
MATLAB_RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
LPIPS_HEADS_FILE = "lpips_v0.1/{net}.pth"  # in $JSCC_WEIGHTS_DIR; the wheel has weights/v0.1/{net}.pth
LPIPS_TRUNKS = {"alex": ("AlexNet", load_alexnet_features), "squeeze": ("SqueezeNet 1.1", load_squeezenet_features)}
STREAK_PERIOD = 3.0  # pixels: the wavelength of the texture the streak index looks at (the streaks drawn)
STREAK_ORIENTATIONS = 8  # Gabor filter angles over 180 degrees
STREAK_WINDOW = 4.0  # pixels: Gaussian sigma of the window the orientation energies are averaged over
STREAK_MIN_SIZE = 32  # pixels a side: the window's reflected border (12 pixels) needs room
METRICS = {"psnr": "psnr_db", "ms_ssim": "ms_ssim", "lpips": "lpips", "grid": "grid_index",
           "streak": "streak_index", "hatch": "hatch_index"}  # name -> key in results


class MetricInputError(ValueError):
    """Images a metric cannot score: wrong shapes, or too small."""


def check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    """Both (B, 3, H, W) and of the same shape, else :class:`MetricInputError`."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise MetricInputError(f"expected image batches of shape (B, 3, H, W), got {tuple(x.shape)}")
    if x.shape != y.shape:
        raise MetricInputError(f"images to compare differ in shape: {tuple(x.shape)} and {tuple(y.shape)}")


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio [dB] of each image pair, RGB.

    Args:
        x, y: (B, 3, H, W), values in [0, data_range].
    Returns:
        (B,) float64, ``10 log10(data_range^2 / MSE)`` with the MSE over channels and pixels;
        ``inf`` for identical images.
    """
    check_pair(x, y)
    mse = (x.double() - y.double()).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)


def to_gray8(x: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """(B, 3, H, W) in [0, data_range] -> (B, 1, H, W) grey levels 0..255 as MATLAB's ``rgb2gray`` of 8-bit RGB."""
    rgb8 = (x.double() / data_range).clamp(0, 1).mul(255).round()
    weights = torch.tensor(MATLAB_RGB2GRAY, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    return (rgb8 * weights).sum(dim=1, keepdim=True).round()


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, *, luma: bool = False) -> torch.Tensor:
    """Multi-scale SSIM of each image pair (pytorch-msssim, five scales).

    Args:
        x, y: (B, 3, H, W), values in [0, data_range]; the smaller side must be at least 161 pixels
            (the five-scale protocol; fewer scales would give numbers not comparable with the field's,
            so smaller images are refused rather than scored differently).
        luma: score the 8-bit grey image (MATLAB ``rgb2gray``) instead of averaging the RGB channels.
    Returns:
        (B,) float32 in [0, 1].
    """
    check_pair(x, y)
    if min(x.shape[-2:]) < MS_SSIM_MIN_SIZE:
        raise MetricInputError(
            f"MS-SSIM needs images of at least {MS_SSIM_MIN_SIZE}x{MS_SSIM_MIN_SIZE} pixels for its five scales, "
            f"got {x.shape[-2]}x{x.shape[-1]}; use larger images or patches (e.g. 256x256)"
        )
    if luma:
        return pytorch_msssim.ms_ssim(to_gray8(x, data_range).float(), to_gray8(y, data_range).float(),
                                      data_range=255, size_average=False)
    return pytorch_msssim.ms_ssim(x.float(), y.float(), data_range=data_range, size_average=False)


def grid_index(x: torch.Tensor, period: int = GRID_PERIOD) -> torch.Tensor:
    """How much of the edge energy of images sits at fixed positions modulo ``period``.

    The mean absolute difference between neighbouring pixels (grey: the mean of R, G, B) is averaged over
    the rows and columns that share a phase modulo ``period``; the index is the coefficient of variation
    (standard deviation / mean) of those ``period`` averages, the mean of the horizontal and vertical
    values. Whole Kodak photographs score 0.019-0.028 (kodim05, 14, 23: their edges fall at any phase;
    small crops score more); adding faint 2x2, 8x8 or 16x16 blocks raises that several times
    (``tests/test_metrics.py``). A one-pixel checkerboard, whose
    edges are equally strong at every phase, is not what this measures.

    Args:
        x: (B, 3, H, W) in [0, 1], H and W at least ``2 * period + 1``.
        period: the grid period [pixels].
    Returns:
        (B,) grid index, >= 0.
    """
    if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) <= 2 * period:
        raise MetricInputError(f"grid_index needs (B, 3, H, W) images larger than {2 * period} pixels a side, "
                               f"got shape {tuple(x.shape)}")
    grey = x.float().mean(dim=1)
    values = []
    for edges in ((grey[..., :, 1:] - grey[..., :, :-1]).abs().mean(dim=-2),   # (B, W-1): across columns
                  (grey[..., 1:, :] - grey[..., :-1, :]).abs().mean(dim=-1)):  # (B, H-1): across rows
        n = edges.shape[-1] // period * period
        by_phase = edges[..., :n].reshape(x.shape[0], -1, period).mean(dim=1)  # (B, period)
        values.append(by_phase.std(dim=-1) / by_phase.mean(dim=-1).clamp_min(1e-8))
    return (values[0] + values[1]) / 2


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), radius ``3 sigma``, reflected at the borders."""
    radius = int(3 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-taps.square() / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(x.shape[1], 1, 1, 1)  # (C, 1, 1, K): one per channel
    x = nn.functional.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = nn.functional.conv2d(x, kernel, groups=x.shape[1])
    return nn.functional.conv2d(x, kernel.transpose(-1, -2), groups=x.shape[1])


def gabor_bank(period: float, orientations: int = STREAK_ORIENTATIONS) -> torch.Tensor:
    """Quadrature pairs of Gabor filters of wavelength ``period`` [pixels] at ``orientations`` angles over 180 deg.

    Returns:
        (2 * orientations, 1, K, K): even (zero-mean cosine) and odd (sine) filter of each angle in turn, each
        with an envelope of sigma ``period / 2`` and unit L1 norm.
    """
    sigma = period / 2
    radius = int(2.5 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    rows, cols = torch.meshgrid(taps, taps, indexing="ij")
    envelope = torch.exp(-(rows.square() + cols.square()) / (2 * sigma**2))
    filters = []
    for k in range(orientations):
        angle = math.pi * k / orientations
        phase = 2 * math.pi * (cols * math.cos(angle) + rows * math.sin(angle)) / period
        even = envelope * torch.cos(phase)
        even = even - envelope * even.sum() / envelope.sum()  # no response to a flat image
        odd = envelope * torch.sin(phase)
        filters += [even / even.abs().sum(), odd / odd.abs().sum()]
    return torch.stack(filters)[:, None]


def orientation_energies(x: torch.Tensor) -> torch.Tensor:
    """Gabor energy of the fine texture of images per orientation, band-passed at :data:`STREAK_PERIOD`.

    Args:
        x: (B, 3, H, W) in [0, 1].
    Returns:
        (B, K, H, W), K = :data:`STREAK_ORIENTATIONS`: the energy of the grey image's quadrature responses
        (:func:`gabor_bank`; orientation k's stripes run at k * 180/K degrees from the y axis: k = 0 vertical
        stripes, k = K/2 horizontal ones), averaged over a Gaussian window of :data:`STREAK_WINDOW` pixels.
    """
    weights = torch.tensor(MATLAB_RGB2GRAY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    grey = (x * weights).sum(dim=1, keepdim=True)
    bank = gabor_bank(STREAK_PERIOD).to(x)
    radius = bank.shape[-1] // 2
    responses = nn.functional.conv2d(nn.functional.pad(grey, (radius,) * 4, mode="reflect"), bank)
    return gaussian_blur(responses[:, 0::2].square() + responses[:, 1::2].square(), STREAK_WINDOW)


def oriented_energy(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orientation coherence and energy of the fine texture of images, band-passed at :data:`STREAK_PERIOD`.

    Args:
        x: (B, 3, H, W) in [0, 1].
    Returns:
        ``(coherence, energy)``, each (B, H, W): of :func:`orientation_energies`, their sum over the
        orientations, and how strongly one orientation dominates (the length of the mean of the energies as
        vectors at twice their angles over their sum: 1 for parallel lines, 0 for no preferred direction).
    """
    energy = orientation_energies(x)
    angles = 2 * math.pi * torch.arange(STREAK_ORIENTATIONS, dtype=x.dtype, device=x.device) / STREAK_ORIENTATIONS
    cos = (energy * angles.cos().view(1, -1, 1, 1)).sum(dim=1)
    sin = (energy * angles.sin().view(1, -1, 1, 1)).sum(dim=1)
    total = energy.sum(dim=1)
    return (cos.square() + sin.square() + 1e-20).sqrt() / total.clamp_min(1e-12), total


def streak_index(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How much of reconstruction ``y``'s fine texture runs in one direction where source ``x``'s does not.

    ``sum(E_y * relu(C_y - C_x)) / sum(E_x)`` over the pixels, with ``C`` and ``E`` the orientation
    coherence and energy of the texture of period about :data:`STREAK_PERIOD` pixels
    (:func:`oriented_energy`): parallel streaks drawn across a region the source fills with texture of no
    one direction (foliage, rock, cloth, knobbly tyres), or hatching along its edges, score; blur (no fine
    texture left), noise (no direction) and the source itself (0) do not. On the first 12 ``bsds500/val``
    images at 10 dB, generative-cbr48's run 4 scored 0.025, perceptual-cbr48 0.018 (its block edges),
    mse-cbr48 0.006; a Gaussian blur of sigma 2 pixels of Kodak photographs 0.0003. A cross-hatch of two
    directions has no one direction either and scores little: a decoder trained against this index drew
    one instead of streaks (``models/weights/README.md``), so it measures streaks, not all invented texture.
    It also charges small misplacements of real fine texture: TAEF2's own streak-free round trip scores as
    high on average over bsds500/val (0.028) as generative-cbr48 through the channel, whose streaks are
    plain (``docs/streaks/README.md``); its mean over a set is no measure of the streaks seen (on the three
    validation images where it is highest for run 4, it does follow them).

    Args:
        x, y: (B, 3, H, W) in [0, 1], at least :data:`STREAK_MIN_SIZE` pixels a side.
    Returns:
        (B,) >= 0.
    """
    return _texture_excess(x, y, oriented_energy, "streak_index")


def direction_concentration(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How few directions hold the fine texture of images, band-passed at :data:`STREAK_PERIOD`.

    Args:
        x: (B, 3, H, W) in [0, 1].
    Returns:
        ``(concentration, energy)``, each (B, H, W): the participation ratio of the
        :func:`orientation_energies` ``e_k``, ``K sum(e_k^2) / (sum e_k)^2``, mapped from [1, K] to [0, 1]
        (0: the same energy in every direction, as noise; about 1 for one direction; less, but far above
        noise, for two, a cross-hatch), and the energy summed over the orientations.
    """
    energy = orientation_energies(x)
    total = energy.sum(dim=1)
    ratio = STREAK_ORIENTATIONS * energy.square().sum(dim=1) / total.square().clamp_min(1e-20)
    return (ratio - 1) / (STREAK_ORIENTATIONS - 1), total


def hatch_index(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How much of reconstruction ``y``'s fine texture is gathered into few directions where source ``x``'s is not.

    ``sum(E_y * relu(A_y - A_x)) / sum(E_x)`` over the pixels, with ``A`` and ``E`` the direction
    concentration and energy of the texture of period about :data:`STREAK_PERIOD` pixels
    (:func:`direction_concentration`). Like :func:`streak_index`, but the concentration is not the
    coherence of one direction: a cross-hatch of two directions, which the streak index scores as no
    direction at all, scores here as much as parallel streaks; blur, noise and the source itself (0) do not.
    A lattice of dots, texture in four directions, escapes it: a decoder trained against it (with latent
    dither, run 11 of generative-cbr48, ``docs/streaks/README.md``) drew one on the latent's 8-pixel grid,
    which :func:`models.lattice_filter.lattice_energy_share` measures.

    Args:
        x, y: (B, 3, H, W) in [0, 1], at least :data:`STREAK_MIN_SIZE` pixels a side.
    Returns:
        (B,) >= 0.
    """
    return _texture_excess(x, y, direction_concentration, "hatch_index")


def _texture_excess(
    x: torch.Tensor,
    y: torch.Tensor,
    measure: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    name: str,
) -> torch.Tensor:
    """``sum(E_y * relu(A_y - A_x)) / sum(E_x)`` per image for ``measure(image) = (A, E)``, each (B, H, W)."""
    check_pair(x, y)
    if min(x.shape[-2:]) < STREAK_MIN_SIZE:
        raise MetricInputError(f"{name} needs images of at least {STREAK_MIN_SIZE} pixels a side, "
                               f"got shape {tuple(x.shape)}")
    measure_x, energy_x = measure(x)
    measure_y, energy_y = measure(y)
    excess = energy_y * (measure_y - measure_x).clamp_min(0)
    return excess.sum(dim=(1, 2)) / energy_x.sum(dim=(1, 2)).clamp_min(1e-12)


def lpips_heads_file(path: str | Path | None = None, net: str = "alex") -> Path:
    """LPIPS v0.1 heads of trunk ``net`` ("alex", "squeeze"): ``path``, else ``$JSCC_WEIGHTS_DIR/lpips_v0.1/<net>.pth``,
    else the ``lpips`` wheel's own ``weights/v0.1/<net>.pth``."""
    if path is not None:
        return Path(path)
    wheel = Path(lpips_package.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
    return weights_dir_file(LPIPS_HEADS_FILE.format(net=net)) or wheel


class LPIPS(nn.Module):
    """LPIPS distance (Zhang et al., 2018): AlexNet or SqueezeNet 1.1 trunk, v0.1 linear heads; frozen, in eval mode.

    The ``lpips`` package's network is built with an untrained trunk (``pnet_rand=True``, so nothing is
    downloaded); the ImageNet features from :func:`load_alexnet_features` (five slices) or
    :func:`load_squeezenet_features` (seven slices) are copied into its slices (which hold the modules at
    torchvision's ``features`` indices), and the heads are loaded strictly from :func:`lpips_heads_file`.
    Gradients flow to the inputs (it serves as a loss).

    Args:
        features_path: the trunk's features file (see :func:`load_alexnet_features`,
            :func:`load_squeezenet_features`).
        heads_path: LPIPS v0.1 heads file of that trunk (see :func:`lpips_heads_file`).
        net: the trunk, ``"alex"`` or ``"squeeze"``.

    Attributes:
        source: where the trunk and the heads came from (also logged).
    """

    def __init__(
        self, features_path: str | Path | None = None, heads_path: str | Path | None = None, net: str = "alex"
    ) -> None:
        super().__init__()
        if net not in LPIPS_TRUNKS:
            raise ValueError(f"unknown LPIPS net {net!r}; expected one of {', '.join(map(repr, LPIPS_TRUNKS))}")
        name, load_features = LPIPS_TRUNKS[net]
        features, features_source = load_features(features_path)
        with warnings.catch_warnings():  # lpips calls torchvision's deprecated alexnet/squeezenet1_1(pretrained=False)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.")
            self.net = lpips_package.LPIPS(pretrained=False, net=net, version="0.1", pnet_rand=True, verbose=False)
        trunk = self.net.net
        for i in range(1, trunk.N_slices + 1):
            for index, module in getattr(trunk, f"slice{i}").named_children():
                module.load_state_dict(features[int(index)].state_dict(), strict=True)
        heads = lpips_heads_file(heads_path, net)
        what = f"LPIPS v0.1 {name} linear heads"
        lins = nn.ModuleDict({f"lin{i}": lin for i, lin in enumerate(self.net.lins)})  # the file's key names
        load_strict(lins, load_state_file(heads, what), str(heads), what)
        self.source = f"{name} features: {features_source}; LPIPS v0.1 heads: {heads}"
        log.info("LPIPS: %s", self.source)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:
        """Stays in eval mode (no dropout in the heads), whatever the enclosing module's mode."""
        return super().train(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS distance. x, y: (B, 3, H, W) in [0, 1] (scaled to [-1, 1] here). Returns (B,)."""
        check_pair(x, y)
        return self.net(x, y, normalize=True).reshape(x.shape[0])


def compute_metrics(
    x: torch.Tensor,
    y: torch.Tensor,
    lpips_module: LPIPS | None = None,
    which: Sequence[str] = ("psnr", "ms_ssim", "lpips"),
) -> dict[str, torch.Tensor]:
    """Several metrics of reference ``x`` and reconstruction ``y`` at once, without gradients.

    Args:
        x, y: (B, 3, H, W) in [0, 1].
        lpips_module: the LPIPS network to use; built with the default weights when needed and not given
            (pass one to avoid loading it at every call).
        which: names among ``METRICS`` (psnr, ms_ssim, lpips, grid, streak, hatch).
    Returns:
        ``{"psnr_db": (B,), "ms_ssim": (B,), "lpips": (B,), "grid_index": (B,), "streak_index": (B,),
        "hatch_index": (B,)}`` (the keys of the metrics asked for), on the CPU; ``grid_index`` is the
        reconstruction's :func:`grid_index` minus the reference's.
    """
    unknown = [name for name in which if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; expected some of {', '.join(METRICS)}")
    check_pair(x, y)
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if "psnr" in which:
            out["psnr_db"] = psnr(x, y).cpu()
        if "ms_ssim" in which:
            out["ms_ssim"] = ms_ssim(x, y).cpu()
        if "lpips" in which:
            module = lpips_module if lpips_module is not None else LPIPS().to(x.device)
            out["lpips"] = module(x, y).cpu()
        if "grid" in which:
            out["grid_index"] = (grid_index(y) - grid_index(x)).cpu()
        if "streak" in which:
            out["streak_index"] = streak_index(x, y).cpu()
        if "hatch" in which:
            out["hatch_index"] = hatch_index(x, y).cpu()
    return out
