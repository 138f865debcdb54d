"""The linear path of the deep JSCC: a block Karhunen-Loeve transform (KLT) of 16x16 RGB blocks.

Encoder and generator each carry a linear path next to their CNN (``Encoder.linear``: a 16x16 stride-16
convolution, 768 pixel values -> C latent values per block; ``Generator.linear``: its transposed
convolution back). Trained from random weights the CNNs need many steps before they beat even a linear
analog scheme; initialised from the KLT of the training blocks, the model *starts* as the classical
linear analog code of the first C principal components and the CNNs only learn what improves on it:

* encoder: ``y_i = g_i * v_i . (b - m)``, the projection of block b on the i-th eigenvector with the
  power allocation ``g_i = lambda_i^(-1/4)`` (the known optimum shape for linear analog transmission
  of Gaussian components, up to its water-filling threshold);
* generator: per component the LMMSE estimate from the power-normalised received value at
  ``wiener_snr_db``, mapped back through the eigenvectors, plus the mean colour (the transposed
  convolution has one bias per colour; the mean block of photographs is flat to within a few 1e-3);
* the CNN branches start silent (the encoder's head and generator's tail are zeroed), so at step 0
  the model is exactly that linear code. Everything stays trainable.

On Kodak (24 images) at CBR 1/48 this starting point reaches 21.8 dB at 10 dB and 19.8 dB at 1 dB,
fitted to 256 training crops of 128x128. Most of what separates it from the ideal linear code (about
24.9 dB at 10 dB) is the per-image power-normalisation scale, which the receiver does not know and the
fixed LMMSE gains cannot undo; training learns to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from models.symbols import DOWNSAMPLING

if TYPE_CHECKING:
    from models.jscc import DeepJSCC

BLOCK_DIM = 3 * DOWNSAMPLING**2
"""Real values in one 16x16 RGB block (768)."""


class BlockTransformError(ValueError):
    """Images or a model that the block KLT cannot be fitted to or applied to."""


@dataclass(frozen=True)
class BlockKLT:
    """The KLT of 16x16 RGB blocks, in the layout of a ``Conv2d(3, K, 16, stride=16)`` weight.

    Attributes:
        mean: (3, 16, 16) mean block, pixel values in [0, 1].
        basis: (K, 3, 16, 16) orthonormal eigenvectors, by decreasing variance.
        variances: (K,) the eigenvalues, variance of each component [(pixel value)^2].
    """

    mean: torch.Tensor
    basis: torch.Tensor
    variances: torch.Tensor


def image_blocks(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, 16h, 16w) -> (B*h*w, 768) blocks flattened as (channel, row, column)."""
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] % DOWNSAMPLING or images.shape[3] % DOWNSAMPLING:
        raise BlockTransformError(
            f"expected images (B, 3, H, W) with H and W multiples of {DOWNSAMPLING}, got {tuple(images.shape)}"
        )
    blocks = nn.functional.unfold(images.double(), DOWNSAMPLING, stride=DOWNSAMPLING)  # (B, 768, h*w)
    return blocks.transpose(1, 2).reshape(-1, BLOCK_DIM)


def fit_block_klt(images: torch.Tensor, n_components: int) -> BlockKLT:
    """Fit the block KLT to (B, 3, H, W) training crops in [0, 1], keeping the first ``n_components``.

    Needs at least ``BLOCK_DIM`` (768) blocks for a full-rank covariance.
    """
    blocks = image_blocks(images)
    if not 1 <= n_components <= BLOCK_DIM:
        raise BlockTransformError(f"n_components must be in [1, {BLOCK_DIM}], got {n_components}")
    if blocks.shape[0] < BLOCK_DIM:
        raise BlockTransformError(f"the block KLT needs at least {BLOCK_DIM} 16x16 blocks, got {blocks.shape[0]}")
    mean = blocks.mean(dim=0)
    centred = blocks - mean
    covariance = centred.T @ centred / (blocks.shape[0] - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    order = torch.argsort(eigenvalues, descending=True)[:n_components]
    shape = (3, DOWNSAMPLING, DOWNSAMPLING)
    return BlockKLT(
        mean=mean.reshape(shape).float(),
        basis=eigenvectors[:, order].T.reshape(n_components, *shape).float(),
        variances=eigenvalues[order].clamp_min(1e-12).float(),
    )


def linear_code_gains(
    klt: BlockKLT, wiener_snr_db: float, receiver_shrinks: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder gains g (K,) and generator gains (K,) of the linear analog code.

    The encoder sends ``g_i * c_i``; power normalisation divides by the per-image scale, about
    ``a = sqrt(2 * mean_i(lambda_i g_i^2))`` on average (unit power per complex symbol, 1/2 per real
    value). An SNR-adaptive generator (``receiver_shrinks``) receives the values already shrunk by
    ``1 / (1 + N)`` (the LMMSE factor of a unit-power symbol at complex noise variance N); the gain that
    makes the whole the LMMSE estimate of component i at noise variance N/2 per real value is
    ``a / g_i * (1 + N) * s_i / (s_i + N/2)`` with ``s_i = lambda_i g_i^2 / a^2``. An SNR-blind
    generator takes the values as received, so its gain lacks the ``(1 + N)``.
    """
    gains = klt.variances.rsqrt().sqrt()
    received_power = klt.variances * gains.square()
    scale = torch.sqrt(2 * received_power.mean())
    signal = received_power / scale.square()
    noise_var = 10 ** (-wiener_snr_db / 10)
    unshrink = 1 + noise_var if receiver_shrinks else 1.0
    return gains, scale / gains * unshrink * signal / (signal + noise_var / 2)


@torch.no_grad()
def init_linear_paths(model: DeepJSCC, klt: BlockKLT, wiener_snr_db: float = 7.0) -> None:
    """Make ``model`` the KLT linear code (see the module docstring): set its linear paths, silence its CNNs.

    Args:
        model: a :class:`~models.jscc.DeepJSCC` with C latent channels.
        klt: a fit with C components.
        wiener_snr_db: SNR [dB] of the generator's LMMSE gains (the middle of the training SNRs).
    """
    encoder_linear, generator_linear = model.encoder.linear, model.generator.linear
    k = klt.basis.shape[0]
    if encoder_linear.weight.shape != klt.basis.shape or generator_linear.weight.shape != klt.basis.shape:
        raise BlockTransformError(
            f"the model's linear paths have weights {tuple(encoder_linear.weight.shape)} and "
            f"{tuple(generator_linear.weight.shape)}; this KLT of {k} components fits ({k}, 3, 16, 16)"
        )
    encoder_gains, generator_gains = linear_code_gains(
        klt, wiener_snr_db, receiver_shrinks=model.generator.snr_adaptive
    )
    encoder_linear.weight.copy_(klt.basis * encoder_gains[:, None, None, None])
    encoder_linear.bias.copy_(-encoder_gains * (klt.basis * klt.mean).sum(dim=(1, 2, 3)))
    generator_linear.weight.copy_(klt.basis * generator_gains[:, None, None, None])
    generator_linear.bias.copy_(klt.mean.mean(dim=(1, 2)))
    for silent in (model.encoder.head, model.generator.tail):
        nn.init.zeros_(silent.weight)
        nn.init.zeros_(silent.bias)
