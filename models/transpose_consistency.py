"""Transpose consistency of a synthesis transform: ``||D(z) - D(z^T)^T||^2``, a training penalty.

``z^T`` transposes the latent's grid, not what each latent vector says: TAEF2's 32 channels describe the
texture inside their 8x8 block, orientation included, so the latent of a transposed image is not the
grid-transposed latent, and even TAEF2's pretrained decoder on a clean latent draws ``D(z^T)^T`` with its
horizontal and vertical stripes swapped (``benchmarks/orientation_bias.py``). The penalty therefore charges
both the stripes a decoder draws along its own axes and the orientation its latent asks for: a regulariser
against oriented fine texture. Run 10 tried it against generative-cbr48's streaks
(``docs/selection/generative-cbr48-transpose/``): it halved the streak index and cost 0.02 LPIPS or more.

:class:`TransposeConsistency` watches the synthesis transform's input with a forward hook, so the model's
forward pass is unchanged; after each forward it can decode the transposed input a second time.
"""

from __future__ import annotations

import torch
from torch import nn


class TransposeConsistency:
    """The penalty for a synthesis transform ``synthesis`` (latent (B, C, h, w) -> image (B, 3, H, W)).

    Args:
        synthesis: the decoder; its input is captured on every forward call (a forward pre-hook).
    """

    def __init__(self, synthesis: nn.Module) -> None:
        self.synthesis = synthesis
        self.latent: torch.Tensor | None = None
        synthesis.register_forward_pre_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self.latent = inputs[0]

    def __call__(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Mean of ``(x_hat - clip(D(z^T))^T)^2`` for the latent z of the last forward, which gave ``x_hat``.

        Args:
            x_hat: (B, 3, H, W), the decoder's picture of z (as clipped by the model).
        Returns:
            () the penalty; gradients reach the decoder through both pictures (and z through both).
        """
        if self.latent is None:
            raise RuntimeError("TransposeConsistency: the synthesis transform has not run yet")
        transposed = self.synthesis(self.latent.transpose(-1, -2)).transpose(-1, -2)
        self.latent = None  # the hook caught this second call's input too; each forward is charged once
        transposed = transposed + (transposed.clamp(0, 1) - transposed).detach()
        if transposed.shape != x_hat.shape:
            raise ValueError(f"TransposeConsistency: the transposed picture has shape {tuple(transposed.shape)}, "
                             f"the picture {tuple(x_hat.shape)}: is x_hat the last forward's?")
        return (x_hat - transposed).square().mean()
