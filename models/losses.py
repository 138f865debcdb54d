"""Training losses of the perceptual deep JSCC (CompressAI style: modules returning dicts).

Generator: ``beta_m * MSE + beta_s * (1 - MS-SSIM) + beta_p * LPIPS + beta_g * adversarial + beta_grid * grid
+ beta_streak * streak + beta_hatch * hatch``;
discriminator: the non-saturating (binary cross-entropy) form of the conditional GAN objective
``min_G max_D E[log D(x, s)] + E[log(1 - D(x_hat, s))]``, where D sees an image and the symbols ``s``.
Both take the discriminator's logits (before the sigmoid).
"""

from __future__ import annotations

import pytorch_msssim
import torch
import torch.nn.functional as F
from torch import nn

from models.ensemble_lpips import EnsembleLPIPS
from models.metrics import LPIPS, MS_SSIM_MIN_SIZE, grid_index, hatch_index, streak_index

PIXEL_SCALE = 255.0  # the MSE term is taken on 0..255 pixel values, see GeneratorLoss


class GeneratorLoss(nn.Module):
    """Weighted sum of distortion, perceptual and adversarial losses of the generator (and encoder).

    ``mse`` is the mean squared error on the **0..255 pixel scale**, ``255^2`` times the MSE of images in
    [0, 1]. The paper's weights only balance on that scale: a reconstruction at 25 dB PSNR has
    MSE = 10^-2.5 = 3.2e-3 on [0, 1] but 3.2e-3 * 65025 = 206 on 0..255, so ``beta_m * mse`` with
    ``beta_m = 1e-5`` is 2.1e-3, of the order of the adversarial term (``beta_g = 1e-3`` times
    softplus(-logit) ~ 0.7, i.e. 7e-4) and about 1% of the LPIPS term (``beta_p = 1`` times LPIPS ~ 0.2),
    a small pixel-fidelity anchor; on [0, 1] it would be 3.2e-8, 4 to 7 orders of magnitude below the
    other terms, i.e. no distortion term at all.

    A term whose weight is 0 is not computed and is absent from the output (so the MSE baseline,
    ``beta_p = beta_g = 0``, needs neither the LPIPS network nor a discriminator), except ``mse``,
    which costs nothing and is always reported.

    ``ms_ssim`` (when ``beta_s > 0``) is the RGB five-scale MS-SSIM of pytorch-msssim, the metric the
    results report; its term ``beta_s * (1 - MS-SSIM)`` rewards structure at every scale, which MSE
    and LPIPS alone leave to chance. Crops need at least 161 pixels a side for its five scales.

    ``grid`` (when ``beta_grid > 0``) is how far the reconstruction's :func:`~models.metrics.grid_index`
    exceeds the source's, ``mean(relu(grid_index(x_hat) - grid_index(x)))``: edges that line up on a fixed
    2-, 4-, 8- or 16-pixel grid (crops must be larger than 32 pixels a side). LPIPS (AlexNet, stride 4)
    rewarded the generative model's decoder, fine-tuned on it, for drawing such a mesh of 2x2 blocks,
    which the pretrained decoder does not draw; this term makes the mesh cost what it looks like.

    ``streak`` (when ``beta_streak > 0``) is the batch mean of :func:`~models.metrics.streak_index`: fine
    texture that runs in one direction where the source's does not. LPIPS rewards the generative model for
    drawing texture where the source has some, whatever its direction; this term charges the parallel
    streaks it then draws across busy regions and along edges. Measured on generative-cbr48 (its fifth
    run, ``models/weights/README.md``): the term drives the index down but the decoder then draws a
    cross-hatch of two directions, which the index does not see, at a cost in LPIPS; it is kept to
    reproduce that run.

    ``hatch`` (when ``beta_hatch > 0``) is the batch mean of :func:`~models.metrics.hatch_index`: fine
    texture gathered into few directions where the source's is not, streaks and cross-hatch alike (a
    texture spread over all directions, as noise, is not charged).

    Args:
        beta_m, beta_p, beta_g, beta_s: weights of the MSE, LPIPS, adversarial and MS-SSIM terms (>= 0).
        beta_grid: weight of the grid term (>= 0).
        beta_streak: weight of the streak term (>= 0).
        beta_hatch: weight of the hatch term (>= 0).
        lpips: the LPIPS network (or :class:`~models.ensemble_lpips.EnsembleLPIPS` around one); required
            when ``beta_p > 0``.
    """

    def __init__(
        self,
        beta_m: float = 1e-5,
        beta_p: float = 1.0,
        beta_g: float = 1e-3,
        lpips: LPIPS | EnsembleLPIPS | None = None,
        beta_s: float = 0.0,
        beta_grid: float = 0.0,
        beta_streak: float = 0.0,
        beta_hatch: float = 0.0,
    ) -> None:
        super().__init__()
        weights = {"beta_m": beta_m, "beta_p": beta_p, "beta_g": beta_g, "beta_s": beta_s, "beta_grid": beta_grid,
                   "beta_streak": beta_streak, "beta_hatch": beta_hatch}
        negative = [f"{k}={v}" for k, v in weights.items() if not v >= 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {', '.join(negative)}")
        if beta_p > 0 and lpips is None:
            raise ValueError(f"beta_p={beta_p} needs an LPIPS network (lpips=models.metrics.LPIPS(...))")
        self.beta_m, self.beta_p, self.beta_g, self.beta_s, self.beta_grid = beta_m, beta_p, beta_g, beta_s, beta_grid
        self.beta_streak, self.beta_hatch = beta_streak, beta_hatch
        self.lpips = lpips if beta_p > 0 else None

    def forward(
        self, x: torch.Tensor, x_hat: torch.Tensor, d_fake_logits: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Losses of one batch.

        Args:
            x: (B, 3, H, W) source images in [0, 1].
            x_hat: (B, 3, H, W) reconstructions in [0, 1].
            d_fake_logits: D(x_hat, s), any shape (e.g. (B, 1) or a patch map); needed when ``beta_g > 0``.
        Returns:
            scalars: ``loss`` (the weighted sum), ``mse`` [0..255 scale], and ``lpips``, ``adv``,
            ``ms_ssim``, ``grid``, ``streak``, ``hatch`` when weighted.
        """
        if x.shape != x_hat.shape:
            raise ValueError(f"x and x_hat differ in shape: {tuple(x.shape)} and {tuple(x_hat.shape)}")
        out = {"mse": F.mse_loss(x_hat * PIXEL_SCALE, x * PIXEL_SCALE)}
        loss = self.beta_m * out["mse"]
        if self.beta_s > 0:
            if min(x.shape[-2:]) < MS_SSIM_MIN_SIZE:
                raise ValueError(f"beta_s={self.beta_s} needs crops of at least {MS_SSIM_MIN_SIZE} pixels a side "
                                 f"for MS-SSIM's five scales, got {x.shape[-2]}x{x.shape[-1]}")
            out["ms_ssim"] = pytorch_msssim.ms_ssim(x_hat.float().clamp(0, 1), x.float(), data_range=1.0)
            loss = loss + self.beta_s * (1 - out["ms_ssim"])
        if self.beta_p > 0:
            out["lpips"] = self.lpips(x_hat, x).mean()
            loss = loss + self.beta_p * out["lpips"]
        if self.beta_grid > 0:
            out["grid"] = F.relu(grid_index(x_hat) - grid_index(x)).mean()
            loss = loss + self.beta_grid * out["grid"]
        if self.beta_streak > 0:
            out["streak"] = streak_index(x, x_hat).mean()
            loss = loss + self.beta_streak * out["streak"]
        if self.beta_hatch > 0:
            out["hatch"] = hatch_index(x, x_hat).mean()
            loss = loss + self.beta_hatch * out["hatch"]
        if self.beta_g > 0:
            if d_fake_logits is None:
                raise ValueError(f"beta_g={self.beta_g} needs the discriminator's logits on x_hat (d_fake_logits)")
            out["adv"] = F.softplus(-d_fake_logits).mean()  # -log sigmoid(D(x_hat, s)), non-saturating
            loss = loss + self.beta_g * out["adv"]
        out["loss"] = loss
        return out


class DiscriminatorLoss(nn.Module):
    """Binary cross-entropy of D: real pairs (x, s) labelled 1, generated pairs (x_hat, s) labelled 0."""

    def forward(self, d_real_logits: torch.Tensor, d_fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of one batch.

        Args:
            d_real_logits: D(x, s), any shape; d_fake_logits: D(x_hat.detach(), s), same shape.
        Returns:
            scalars ``real`` = mean -log sigmoid(D(x, s)), ``fake`` = mean -log(1 - sigmoid(D(x_hat, s))),
            ``loss`` = real + fake.
        """
        if d_real_logits.shape != d_fake_logits.shape:
            raise ValueError(
                f"real and fake logits differ in shape: {tuple(d_real_logits.shape)}, {tuple(d_fake_logits.shape)}"
            )
        real = F.softplus(-d_real_logits).mean()
        fake = F.softplus(d_fake_logits).mean()
        return {"loss": real + fake, "real": real, "fake": fake}
