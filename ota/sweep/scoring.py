"""The per-image metrics of a sweep entry: PSNR, MS-SSIM, LPIPS, and DISTS / FID when their weights exist."""

from __future__ import annotations

import functools

import numpy as np
import torch

from models.fid import FEATURE_DIM, FID
from models.metrics import DISTS, compute_metrics
from models.pretrained_weights import MissingWeightsError
from ota.perceptual import lpips_network


@functools.lru_cache(maxsize=4)
def _optional_metric(name: str) -> tuple[torch.nn.Module | None, str]:
    """DISTS or FID when its weights exist: (module, source) or (None, why not). Loaded once per process."""
    try:
        module = {"dists": DISTS, "fid": FID}[name]()
    except MissingWeightsError as exc:
        return None, str(exc)
    return module, module.source


class Scorer:
    """The metrics of one sweep: PSNR, MS-SSIM, LPIPS always; DISTS and FID when their weights exist."""

    def __init__(self, device: torch.device, lpips_weights: str | None = None) -> None:
        self.device = device
        self.lpips = lpips_network(lpips_weights, str(device))
        dists, self.dists_source = _optional_metric("dists")
        fid, self.fid_source = _optional_metric("fid")
        self.dists = None if dists is None else dists.to(device)
        self.fid = None if fid is None else fid.to(device)

    @property
    def available(self) -> list[str]:
        """Metric keys this scorer fills (``fid`` is per point)."""
        return ["psnr_db", "ms_ssim", "lpips"] + ["dists"] * (self.dists is not None) + ["fid"] * (self.fid is not None)

    def sources(self) -> dict[str, str | None]:
        return {"lpips": self.lpips.source, "dists": None if self.dists is None else self.dists_source,
                "fid": None if self.fid is None else self.fid_source}

    def notes(self) -> list[str]:
        missing = [(n, s) for n, s, m in (("DISTS", self.dists_source, self.dists), ("FID", self.fid_source, self.fid))
                   if m is None]
        return [f"{name} is null: {why}" for name, why in missing]

    @torch.no_grad()
    def score(self, reference: torch.Tensor, image: torch.Tensor) -> dict[str, float | None]:
        """(3, H, W) reference and reconstruction in [0, 1] -> the per-image metrics of :data:`IMAGE_METRICS`."""
        x, y = reference[None].to(self.device), image[None].to(self.device)
        values = {k: float(v[0]) for k, v in compute_metrics(x, y, self.lpips).items()}
        values["dists"] = None if self.dists is None else float(self.dists(x, y)[0])
        return values

    @torch.no_grad()
    def features(self, image: torch.Tensor) -> np.ndarray:
        """FID Inception pool3 features of one (3, H, W) image: float64 (2048,)."""
        return self.fid.inception(image[None].to(self.device).float())[0].reshape(FEATURE_DIM).double().cpu().numpy()
