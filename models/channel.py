"""The training channel layer: AWGN at a per-image SNR, with random symbol and frame erasures.

Noise convention (as in ``phy``): symbols have unit power, complex noise has E|n|^2 = noise_var =
10^(-snr_db/10) (half of it in each of the real and imaginary parts). The noise is reparametrised
(``s + sigma * n`` with n drawn independently of s), so gradients flow from the output to the encoder.
Erasures model what an OFDM link loses: single symbols, or whole frames (the k symbols split into
``n_frames`` contiguous, nearly equal parts, as the transmitter fills its frames in order).
Fading models what an OFDM link does to the symbols of a frequency-selective channel: after
zero-forcing equalisation and de-interleaving, each symbol has its own noise variance
``noise_var / |h|^2`` with ``|h|^2`` exponential of mean 1 (Rayleigh), the average received SNR unchanged;
the receiver knows each symbol's noise variance, as the link's receiver reports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

PAPER_SNRS_DB = (1.0, 4.0, 7.0, 10.0, 13.0)
"""The SNR set [dB] the seed paper trains and evaluates on."""


MIN_FADING_GAIN = 1e-3
"""Deepest fade of a symbol's power gain in the training channel (-30 dB), to keep noise variances finite."""


class ChannelError(ValueError):
    """Bad input to the training channel (shapes, dtypes, probabilities)."""


def frame_bounds(k: int, n_frames: int) -> list[tuple[int, int]]:
    """[start, stop) of each of ``n_frames`` contiguous frames covering k symbols (sizes differ by <= 1).

    Frames are ``[round(i*k/n), round((i+1)*k/n))`` computed in integers; with k < n_frames some are empty.
    """
    edges = [(i * k + n_frames // 2) // n_frames for i in range(n_frames + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def sample_snr(
    batch: int,
    choices: Sequence[float] = PAPER_SNRS_DB,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw one SNR [dB] per image uniformly from ``choices``: float32 (batch,)."""
    if not choices:
        raise ChannelError("choices must hold at least one SNR [dB]")
    table = torch.tensor([float(c) for c in choices], dtype=torch.float32, device=device)
    index = torch.randint(len(table), (batch,), generator=generator, device=device)
    return table[index]


class TrainingChannel:
    """AWGN + random erasures, differentiable with respect to the transmitted symbols.

    Args:
        symbol_erasure_prob: probability that any single symbol is erased.
        frame_erasure_prob: probability that each of the ``n_frames`` frames is erased as a whole.
        n_frames: frames the k symbols are split into.
        fading_prob: probability that an image's symbols are faded (independent Rayleigh power gains).
    """

    def __init__(
        self,
        symbol_erasure_prob: float = 0.0,
        frame_erasure_prob: float = 0.0,
        n_frames: int = 10,
        fading_prob: float = 0.0,
    ) -> None:
        probabilities = (("symbol_erasure_prob", symbol_erasure_prob), ("frame_erasure_prob", frame_erasure_prob),
                         ("fading_prob", fading_prob))
        for name, value in probabilities:
            if not 0.0 <= value <= 1.0:
                raise ChannelError(f"{name} must be a probability in [0, 1], got {value}")
        if isinstance(n_frames, bool) or int(n_frames) != n_frames or n_frames < 1:
            raise ChannelError(f"n_frames must be a positive integer, got {n_frames!r}")
        self.symbol_erasure_prob = float(symbol_erasure_prob)
        self.frame_erasure_prob = float(frame_erasure_prob)
        self.n_frames = int(n_frames)
        self.fading_prob = float(fading_prob)

    def __repr__(self) -> str:
        return (
            f"TrainingChannel(symbol_erasure_prob={self.symbol_erasure_prob}, "
            f"frame_erasure_prob={self.frame_erasure_prob}, n_frames={self.n_frames}, fading_prob={self.fading_prob})"
        )

    def erasures(self, batch: int, k: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """Draw the erasure pattern: bool (batch, k), True where erased."""
        erased = torch.zeros(batch, k, dtype=torch.bool, device=device)
        if self.symbol_erasure_prob > 0:
            erased |= torch.rand(batch, k, generator=generator, device=device) < self.symbol_erasure_prob
        if self.frame_erasure_prob > 0:
            lost = torch.rand(batch, self.n_frames, generator=generator, device=device) < self.frame_erasure_prob
            frame_of = torch.empty(k, dtype=torch.long, device=device)
            for index, (start, stop) in enumerate(frame_bounds(k, self.n_frames)):
                frame_of[start:stop] = index
            erased |= lost[:, frame_of]
        return erased

    def __call__(
        self, s: torch.Tensor, snr_db: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pass symbols through the channel.

        Args:
            s: complex (B, k) transmitted symbols (unit power).
            snr_db: (B,) SNR per image [dB].
            generator: torch.Generator on s's device for the noise and erasures (None: global RNG).

        Returns:
            ``(s_hat, noise_var, erased)``: s_hat complex64 (B, k), 0 where erased; noise_var float32
            (B, k) = 10^(-snr/10) [unit-power domain], divided by the symbol's power gain in a faded image;
            erased bool (B, k).
        """
        if s.ndim != 2 or not s.is_complex():
            raise ChannelError(f"s must be a complex tensor of shape (B, k), got {s.dtype} {tuple(s.shape)}")
        batch, k = s.shape
        snr_db = torch.as_tensor(snr_db, dtype=torch.float32, device=s.device)
        if snr_db.shape != (batch,) or not torch.isfinite(snr_db).all():
            raise ChannelError(f"snr_db must be a finite tensor of shape ({batch},), got {tuple(snr_db.shape)}")
        noise_var = torch.pow(10.0, -snr_db / 10)[:, None].expand(batch, k).contiguous()
        if self.fading_prob > 0:
            faded = torch.rand(batch, 1, generator=generator, device=s.device) < self.fading_prob
            power_gain = -torch.log1p(-torch.rand(batch, k, generator=generator, device=s.device))  # Exp(1)
            noise_var = torch.where(faded, noise_var / power_gain.clamp_min(MIN_FADING_GAIN), noise_var)
        sigma = torch.sqrt(noise_var / 2)
        noise_real = torch.randn(batch, k, generator=generator, device=s.device)
        noise_imag = torch.randn(batch, k, generator=generator, device=s.device)
        s_hat = s.to(torch.complex64) + torch.complex(sigma * noise_real, sigma * noise_imag)
        erased = self.erasures(batch, k, generator, s.device)
        s_hat = torch.where(erased, torch.zeros_like(s_hat), s_hat)
        return s_hat, noise_var, erased
