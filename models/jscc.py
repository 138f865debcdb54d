"""The deep JSCC model: encoder f_e and generator f_g around the symbol contract, any image size.

``DeepJSCC.encode`` maps images to k = round(CBR * 3 * H * W) unit-power complex symbols each
(:mod:`models.symbols`), ``DeepJSCC.decode`` maps received soft symbols, their noise variance and the
erasure mask back to images, and ``forward`` runs both around a :class:`models.channel.TrainingChannel`.
Images of any size are reflect-padded (bottom and right) to a multiple of 16 and cropped back;
:func:`batch_images` batches images of different sizes, and ``encode_many``/``decode_many`` code them.
The discriminator is built next to the model, ``Discriminator(config.channels, config.disc_width)``.

Two architectures share this contract (``ModelConfig.architecture``): ``cnn``, the first seed paper's
encoder and generator trained from scratch (:mod:`models.encoder`, :mod:`models.generator`), and
``generative``, JSCC heads around the pretrained TAEF2 autoencoder (:mod:`models.generative`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from models.channel import TrainingChannel
from models.encoder import Encoder
from models.generative import GenerativeEncoder, GenerativeGenerator, load_pretrained_transforms
from models.generator import Generator
from models.snr_attention import SNR_LIMITS_DB, as_snr_tensor
from models.symbols import DOWNSAMPLING, latent_size, latent_to_symbols, n_symbols, symbols_to_latent

ARCHITECTURES = ("cnn", "generative")
"""``cnn``: encoder and generator of the first seed paper; ``generative``: heads around pretrained TAEF2."""


class ModelConfigError(ValueError):
    """A model configuration with an unknown key or a value out of range."""


class ModelInputError(ValueError):
    """Images or symbols handed to the model that do not fit its contract."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a :class:`DeepJSCC` (and of its discriminator).

    Attributes:
        channels: C, real latent channels; C/2 complex symbols per latent position, CBR = C/1536
            (32 -> 1/48, 64 -> 1/24).
        width: feature channels of the encoder and generator (width/2 in the encoder stage at 1/2 and the
            generator stages at 1/2 and full resolution); 96 (default) trains at 128x128 crops on a CPU.
        n_res_blocks: residual blocks of the generator at latent resolution.
        snr_adaptive: SNR attention modules in encoder and generator, SNR map as generator input.
        snr_range: SNR range [dB] mapped onto [-1, 1] for the networks' SNR inputs.
        disc_width: first-layer channels of the PatchGAN discriminator.
        architecture: ``cnn`` or ``generative`` (then ``width`` and ``n_res_blocks`` size the JSCC heads:
            feature channels, and residual blocks per head stage).
        latent_dither: generative only: std of the high-pass noise added to the generator head's latent
            estimate before the TAEF2 decoder (:mod:`models.latent_dither`); 0 (default): none. It has no
            weights, so checkpoints that differ only in it hold the same tensors.
        lattice_taps: generative only: the decoder's picture passes through a
            :class:`~models.lattice_filter.LatticeFilter` of that many taps, which removes what repeats on
            the latent's 8-pixel grid; 0 (default): none. No weights either.
    """

    channels: int = 32
    width: int = 96
    n_res_blocks: int = 6
    snr_adaptive: bool = True
    snr_range: tuple[float, float] = (0.0, 20.0)
    disc_width: int = 64
    architecture: str = "cnn"
    latent_dither: float = 0.0
    lattice_taps: int = 0

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ModelConfigError(
                f"ModelConfig.architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}"
            )
        for name in ("channels", "width", "n_res_blocks", "disc_width", "lattice_taps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ModelConfigError(f"ModelConfig.{name} must be an integer, got {value!r}")
        if self.channels < 2 or self.channels % 2:
            raise ModelConfigError(f"ModelConfig.channels must be a positive even integer, got {self.channels}")
        if self.width < 8 or self.width % 2:
            raise ModelConfigError(f"ModelConfig.width must be an even integer >= 8, got {self.width}")
        if self.n_res_blocks < 0:
            raise ModelConfigError(f"ModelConfig.n_res_blocks must be >= 0, got {self.n_res_blocks}")
        if self.lattice_taps < 0:
            raise ModelConfigError(f"ModelConfig.lattice_taps must be >= 0 (0: no filter), got {self.lattice_taps}")
        if self.lattice_taps and self.architecture != "generative":
            raise ModelConfigError(f"ModelConfig.lattice_taps = {self.lattice_taps} filters the TAEF2 decoder's "
                                   f"picture and needs architecture = 'generative', not {self.architecture!r}")
        if self.disc_width < 1:
            raise ModelConfigError(f"ModelConfig.disc_width must be >= 1, got {self.disc_width}")
        if not isinstance(self.snr_adaptive, bool):
            raise ModelConfigError(f"ModelConfig.snr_adaptive must be true or false, got {self.snr_adaptive!r}")
        try:
            low, high = (float(v) for v in self.snr_range)
        except (TypeError, ValueError) as exc:
            raise ModelConfigError(f"ModelConfig.snr_range must be two numbers [dB], got {self.snr_range!r}") from exc
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ModelConfigError(f"ModelConfig.snr_range must be (low, high) with low < high [dB], got {(low, high)}")
        object.__setattr__(self, "snr_range", (low, high))
        self._check_dither()

    def _check_dither(self) -> None:
        dither = self.latent_dither
        if isinstance(dither, bool) or not isinstance(dither, (int, float)) or not 0 <= dither < math.inf:
            raise ModelConfigError(f"ModelConfig.latent_dither must be a finite number >= 0, got {dither!r}")
        if dither and self.architecture != "generative":
            raise ModelConfigError(
                f"ModelConfig.latent_dither = {dither} needs architecture = 'generative' (the noise goes on the "
                f"TAEF2 latent), not {self.architecture!r}"
            )
        object.__setattr__(self, "latent_dither", float(dither))

    def same_weights(self, other: ModelConfig) -> bool:
        """Whether ``other`` builds the same tensors: equal but for ``latent_dither`` and ``lattice_taps``,
        which have no weights."""
        return replace(self, latent_dither=other.latent_dither, lattice_taps=other.lattice_taps) == other

    @property
    def cbr(self) -> float:
        """Channel bandwidth ratio C / (2 * 3 * 16^2) [complex symbols per real source dimension]."""
        return self.channels / (2 * 3 * DOWNSAMPLING**2)

    def to_dict(self) -> dict:
        """Plain dict (lists, numbers, bools), fit for TOML, JSON and ``torch.load(weights_only=True)``."""
        data = asdict(self)
        data["snr_range"] = list(self.snr_range)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, unknown keys are an error."""
        if not isinstance(data, dict):
            raise ModelConfigError(f"a model config must be a table/dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelConfigError(f"unknown model config keys {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        if "snr_range" in values and isinstance(values["snr_range"], list):
            values["snr_range"] = tuple(values["snr_range"])
        return cls(**values)


def reflect_pad(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pad (B, 3, H, W) at the bottom and right to (B, 3, height, width) by mirroring.

    Repeats the reflection where the padding exceeds the image (a tiny image in a large batch); a side
    of one pixel is replicated.
    """
    if x.shape[-2] > height or x.shape[-1] > width:
        raise ModelInputError(f"cannot pad a {tuple(x.shape[-2:])} image to the smaller size {(height, width)}")
    if (x.shape[-2] == 1 and height > 1) or (x.shape[-1] == 1 and width > 1):
        x = F.pad(x, (0, int(x.shape[-1] == 1 and width > 1), 0, int(x.shape[-2] == 1 and height > 1)), "replicate")
    while x.shape[-2] < height or x.shape[-1] < width:
        pad_h = min(height - x.shape[-2], x.shape[-2] - 1)
        pad_w = min(width - x.shape[-1], x.shape[-1] - 1)
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    return x


def pad_to_multiple(x: torch.Tensor) -> torch.Tensor:
    """Reflect-pad (B, 3, H, W) to (B, 3, 16*ceil(H/16), 16*ceil(W/16))."""
    h, w = latent_size(x.shape[-2], x.shape[-1])
    return reflect_pad(x, h * DOWNSAMPLING, w * DOWNSAMPLING)


def _check_image(image: torch.Tensor, ndim: int) -> None:
    if image.ndim != ndim or image.shape[-3] != 3 or not image.is_floating_point():
        expected = "(B, 3, H, W)" if ndim == 4 else "(3, H, W)"
        raise ModelInputError(
            f"expected float image tensor(s) of shape {expected} in [0, 1], got {image.dtype} {tuple(image.shape)}"
        )


def batch_images(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Batch images of different sizes: each (3, H_i, W_i) is reflect-padded to a common multiple of 16.

    Returns:
        ``(batch, sizes)``: batch (B, 3, 16*max h_i, 16*max w_i) and the original ``(H_i, W_i)``.
    """
    if not images:
        raise ModelInputError("batch_images needs at least one image")
    for image in images:
        _check_image(image, 3)
    sizes = [(int(image.shape[-2]), int(image.shape[-1])) for image in images]
    grids = [latent_size(*size) for size in sizes]
    height = max(h for h, _ in grids) * DOWNSAMPLING
    width = max(w for _, w in grids) * DOWNSAMPLING
    batch = torch.cat([reflect_pad(image[None], height, width) for image in images])
    return batch, sizes


class DeepJSCC(nn.Module):
    """Perceptual deep JSCC: f_e (``.encoder``) and f_g (``.generator``), SNR-adaptive.

    With ``architecture = "generative"`` the two are :class:`~models.generative.GenerativeEncoder` and
    :class:`~models.generative.GenerativeGenerator` (random TAEF2 weights until
    :meth:`load_pretrained` or a checkpoint fills them).

    Args:
        config: the architecture (default :class:`ModelConfig`).
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        if c.architecture == "generative":
            self.encoder = GenerativeEncoder(c.channels, c.width, c.n_res_blocks, c.snr_adaptive, c.snr_range)
            self.generator = GenerativeGenerator(
                c.channels, c.width, c.n_res_blocks, c.snr_adaptive, c.snr_range, c.latent_dither, c.lattice_taps
            )
        else:
            self.encoder = Encoder(c.channels, c.width, c.snr_adaptive, c.snr_range)
            self.generator = Generator(c.channels, c.width, c.n_res_blocks, c.snr_adaptive, c.snr_range)

    def load_pretrained(self) -> None:
        """Generative architecture: load TAEF2 into the analysis and synthesis transforms ($JSCC_WEIGHTS_DIR)."""
        if self.config.architecture != "generative":
            raise ModelConfigError(
                f"only the generative architecture has pretrained parts, not {self.config.architecture!r}"
            )
        load_pretrained_transforms(self.encoder, self.generator)

    @property
    def cbr(self) -> float:
        """Channel bandwidth ratio C/1536 [complex symbols per real source dimension]."""
        return self.config.cbr

    def n_symbols(self, height: int, width: int) -> int:
        """k = round(cbr * 3 * H * W) symbols for an H x W image."""
        return n_symbols(height, width, self.cbr)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def analyse(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's part that does not depend on the SNR, on (B, 3, H, W) images in [0, 1]: the TAEF2
        latent of the padded images (generative), or the padded images themselves (cnn, whose every stage is
        SNR-conditioned). Computed once, it serves :meth:`encode` at any number of SNRs."""
        _check_image(x, 4)
        return self.encoder.analyse(pad_to_multiple(x))

    def encode(
        self, x: torch.Tensor, snr_db: torch.Tensor | float, *, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Images -> channel symbols.

        Args:
            x: (B, 3, H, W) images in [0, 1], all of one size (see :meth:`encode_many` otherwise).
            snr_db: (B,) or one float, the SNR [dB] the symbols will meet (the attention's condition).
            features: ``self.analyse(x)`` when already computed (the same symbols, faster).

        Returns:
            complex64 (B, k), k = round(cbr*3*H*W), mean |s|^2 = 1 per image.
        """
        _check_image(x, 4)
        batch, _, height, width = x.shape
        features = self.analyse(x) if features is None else features
        y = self.encoder.condition(features, as_snr_tensor(snr_db, batch, x.device))
        return self.symbols(y, (height, width))

    def symbols(self, y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Encoder output (B, C, h, w) of (H, W) = ``size`` images -> complex64 (B, k) unit-power symbols."""
        return latent_to_symbols(y, self.n_symbols(*size), size)

    def encode_many(self, images: Sequence[torch.Tensor], snr_db: torch.Tensor | float) -> list[torch.Tensor]:
        """Images of different sizes -> one complex64 (k_i,) symbol vector each (one padded batch)."""
        batch, sizes = batch_images(images)
        y = self.encoder(batch.to(self._device()), as_snr_tensor(snr_db, len(sizes), self._device()))
        symbols = []
        for index, (height, width) in enumerate(sizes):
            h, w = latent_size(height, width)
            latent = y[index : index + 1, :, :h, :w]
            symbols.append(latent_to_symbols(latent, self.n_symbols(height, width), (height, width))[0])
        return symbols

    def receive(
        self,
        s_hat: torch.Tensor,
        size: tuple[int, int],
        noise_var: torch.Tensor | None,
        snr_db: torch.Tensor | float | None,
        erased: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validate received symbols -> (y_hat, erased_map, noise_var_map, effective snr_db (B,)): the
        generator's inputs on the latent grid (:func:`models.symbols.symbols_to_latent`); arguments as
        :meth:`decode`."""
        height, width = size
        k = self.n_symbols(height, width)
        if s_hat.ndim != 2 or s_hat.shape[1] != k or not s_hat.is_complex():
            raise ModelInputError(
                f"s_hat must be a complex tensor of shape (B, {k}) for a {height}x{width} image at CBR "
                f"{self.cbr:.5f}, got {s_hat.dtype} {tuple(s_hat.shape)}"
            )
        device = self._device()
        s_hat = s_hat.to(device)
        batch = s_hat.shape[0]
        if (noise_var is None) == (snr_db is None):
            raise ModelInputError("give exactly one of noise_var (B, k) or snr_db (B,) to describe the channel noise")
        if erased is None:
            erased = torch.zeros(batch, k, dtype=torch.bool)
        if erased.shape != (batch, k) or erased.dtype != torch.bool:
            raise ModelInputError(
                f"erased must be a bool tensor of shape ({batch}, {k}), got {erased.dtype} {tuple(erased.shape)}"
            )
        erased = erased.to(device)
        if noise_var is None:
            snr = as_snr_tensor(snr_db, batch, device)
            noise_var = torch.pow(10.0, -snr / 10)[:, None].expand(batch, k)
        noise_var = torch.as_tensor(noise_var, dtype=torch.float32, device=device)
        if noise_var.shape != (batch, k):
            raise ModelInputError(f"noise_var must have shape ({batch}, {k}), got {tuple(noise_var.shape)}")
        received = ~erased
        if not (torch.isfinite(noise_var[received]).all() and (noise_var[received] >= 0).all()):
            raise ModelInputError("noise_var must be finite and >= 0 wherever a symbol is not erased")
        if not torch.isfinite(torch.view_as_real(s_hat)[received]).all():
            raise ModelInputError("s_hat must be finite wherever a symbol is not erased")
        count = received.sum(dim=1)
        mean_var = torch.where(received, noise_var, 0).sum(dim=1) / count.clamp_min(1)
        effective = -10 * torch.log10(mean_var.clamp_min(1e-12))
        effective = torch.where(count > 0, effective, SNR_LIMITS_DB[0]).clamp(*SNR_LIMITS_DB)
        noise_var = torch.where(received, noise_var, 1.0)
        s_hat = torch.where(erased, 0, s_hat.to(torch.complex64))
        y_hat, erased_map, noise_var_map = symbols_to_latent(s_hat, erased, noise_var, self.config.channels, size)
        return y_hat, erased_map, noise_var_map, effective

    def decode(
        self,
        s_hat: torch.Tensor,
        *,
        size: tuple[int, int],
        noise_var: torch.Tensor | None = None,
        snr_db: torch.Tensor | float | None = None,
        erased: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Received symbols -> images.

        Args:
            s_hat: complex (B, k) soft symbols, k = round(cbr*3*H*W).
            size: (H, W) of the images [pixels].
            noise_var: (B, k) noise variance per symbol [unit-power domain], or
            snr_db: (B,) or one float, one SNR [dB] per image (give exactly one of the two).
            erased: bool (B, k), True where a symbol never arrived (default: none erased); s_hat and
                noise_var are ignored there (they may hold anything, NaN included).

        Returns:
            (B, 3, H, W) images in [0, 1]. The generator's SNR condition is -10 log10 of the mean noise
            variance of the non-erased symbols, clamped as :func:`~models.snr_attention.normalise_snr` clamps.
        """
        y_hat, erased_map, noise_var_map, effective = self.receive(s_hat, size, noise_var, snr_db, erased)
        return self.generator(y_hat, erased_map, noise_var_map, effective)[:, :, : size[0], : size[1]]

    def decode_many(
        self,
        s_hats: Sequence[torch.Tensor],
        sizes: Sequence[tuple[int, int]],
        *,
        noise_vars: Sequence[torch.Tensor] | None = None,
        snr_db: torch.Tensor | float | None = None,
        erased: Sequence[torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        """Symbols of images of different sizes -> one (3, H_i, W_i) image each (one padded batch).

        ``s_hats[i]``, ``noise_vars[i]`` and ``erased[i]`` are (k_i,) for image i; ``snr_db`` is one float
        or (B,). Latent positions outside an image's own grid are fed to the generator as erased.
        """
        if len(s_hats) != len(sizes) or not sizes:
            raise ModelInputError(f"need one size per symbol vector, got {len(s_hats)} vectors and {len(sizes)} sizes")
        snr = None if snr_db is None else as_snr_tensor(snr_db, len(sizes), self._device())
        grids = [latent_size(*size) for size in sizes]
        h_max, w_max = max(h for h, _ in grids), max(w for _, w in grids)
        parts: list[list[torch.Tensor]] = [[], [], [], []]
        for index, (s_hat, size) in enumerate(zip(s_hats, sizes, strict=True)):
            received = self.receive(
                s_hat[None],
                size,
                None if noise_vars is None else noise_vars[index][None],
                None if snr is None else snr[index : index + 1],
                None if erased is None else erased[index][None],
            )
            pad = (0, w_max - grids[index][1], 0, h_max - grids[index][0])
            parts[0].append(F.pad(received[0], pad))
            parts[1].append(F.pad(received[1], pad, value=True))
            parts[2].append(F.pad(received[2], pad, value=1.0))
            parts[3].append(received[3])
        images = self.generator(*(torch.cat(p) for p in parts))
        return [images[index, :, :height, :width] for index, (height, width) in enumerate(sizes)]

    def forward(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor | float,
        channel: TrainingChannel,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Encode, pass through the training channel, decode.

        Args:
            x: (B, 3, H, W) images in [0, 1].
            snr_db: (B,) or one float, channel SNR [dB] (also the encoder's condition).
            channel: the training channel layer.
            generator: torch.Generator for the channel's noise and erasures.

        Returns:
            dict with ``x_hat`` (B, 3, H, W), ``s`` complex64 (B, k), ``s_hat`` complex64 (B, k),
            ``noise_var`` (B, k), ``erased`` bool (B, k) and ``latent`` (B, C, h, w): the normalised channel
            input s on the latent grid (0 where not sent), what the discriminator is conditioned on
            (not detached).
        """
        _check_image(x, 4)
        batch, _, height, width = x.shape
        snr = as_snr_tensor(snr_db, batch, x.device)
        s = self.encode(x, snr)
        s_hat, noise_var, erased = channel(s, snr, generator)
        x_hat = self.decode(s_hat, size=(height, width), noise_var=noise_var, erased=erased)
        nothing_erased = torch.zeros_like(erased)
        latent = symbols_to_latent(
            s, nothing_erased, torch.ones_like(noise_var), self.config.channels, (height, width)
        )[0]
        return {"x_hat": x_hat, "s": s, "s_hat": s_hat, "noise_var": noise_var, "erased": erased, "latent": latent}
