"""Encoder, generator and discriminator around the symbol contract (small widths, so it runs in seconds)."""

from __future__ import annotations

import math

import pytest
import torch

from models.channel import TrainingChannel
from models.discriminator import Discriminator
from models.jscc import (
    DeepJSCC,
    ModelConfig,
    ModelConfigError,
    ModelInputError,
    batch_images,
    pad_to_multiple,
    reflect_pad,
)
from models.symbols import latent_size, n_symbols


def small_model(channels: int = 32, snr_adaptive: bool = True, seed: int = 0) -> DeepJSCC:
    torch.manual_seed(seed)
    return DeepJSCC(ModelConfig(channels=channels, width=16, n_res_blocks=1, snr_adaptive=snr_adaptive)).eval()


def images(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def test_config_cbr_and_round_trip() -> None:
    assert ModelConfig().cbr == pytest.approx(1 / 48)
    assert ModelConfig(channels=64).cbr == pytest.approx(1 / 24)
    config = ModelConfig(channels=64, width=24, snr_range=(-2, 15))
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ModelConfigError, match="unknown"):
        ModelConfig.from_dict({"chanels": 32})
    with pytest.raises(ModelConfigError, match="even"):
        ModelConfig(channels=33)
    with pytest.raises(ModelConfigError, match="snr_range"):
        ModelConfig(snr_range=(10, 0))


@pytest.mark.parametrize("channels", [32, 64])
@pytest.mark.parametrize(("height", "width"), [(17, 33), (250, 301), (64, 64)])
def test_encode_exact_k_unit_power_and_decode_shape(channels: int, height: int, width: int) -> None:
    model = small_model(channels)
    with torch.no_grad():
        s = model.encode(images(2, height, width), torch.tensor([1.0, 13.0]))
        k = round(model.cbr * 3 * height * width)
        assert k == n_symbols(height, width, channels / 1536)
        assert s.shape == (2, k) and s.dtype == torch.complex64
        torch.testing.assert_close(s.abs().square().mean(dim=1), torch.ones(2), atol=1e-5, rtol=0)
        x_hat = model.decode(s, size=(height, width), snr_db=torch.tensor([1.0, 13.0]))
    assert x_hat.shape == (2, 3, height, width)
    assert float(x_hat.min()) >= 0 and float(x_hat.max()) <= 1


def test_reflect_padding_mirrors_and_crops() -> None:
    x = images(1, 17, 33)
    padded = pad_to_multiple(x)
    assert padded.shape == (1, 3, 32, 48)
    assert torch.equal(padded[..., :17, :33], x)
    assert torch.equal(padded[..., 17, :33], x[..., 15, :])  # mirror about the last row
    tiny = reflect_pad(images(1, 1, 3), 40, 40)
    assert tiny.shape == (1, 3, 40, 40) and torch.isfinite(tiny).all()


def test_batch_images_of_mixed_sizes() -> None:
    batch, sizes = batch_images([images(1, 17, 33)[0], images(1, 40, 20)[0]])
    assert sizes == [(17, 33), (40, 20)]
    assert batch.shape == (2, 3, 48, 48)
    model = small_model()
    with torch.no_grad():
        one = images(1, 17, 33)
        symbols = model.encode_many([one[0]], 5.0)
        torch.testing.assert_close(symbols[0], model.encode(one, 5.0)[0])
        many = model.encode_many([one[0], images(1, 40, 20)[0]], 5.0)
        assert [len(s) for s in many] == [n_symbols(17, 33, 1 / 48), n_symbols(40, 20, 1 / 48)]
        decoded = model.decode_many(many, sizes, snr_db=5.0)
    assert [tuple(d.shape) for d in decoded] == [(3, 17, 33), (3, 40, 20)]


def test_gradients_reach_encoder_through_channel() -> None:
    model = small_model().train()
    x = images(2, 32, 48)
    out = model(x, torch.tensor([4.0, 10.0]), TrainingChannel(0.1, 0.1), torch.Generator().manual_seed(0))
    torch.nn.functional.mse_loss(out["x_hat"], x).backward()
    first = model.encoder.stages[0][0].weight.grad
    assert first is not None and float(first.abs().sum()) > 0
    assert out["latent"].shape == (2, 32, 2, 3)
    torch.testing.assert_close(out["latent"].square().sum(dim=(1, 2, 3)), torch.full((2,), 96.0))


def test_seeded_forward_repeats_exactly() -> None:
    model = small_model()
    x = images(2, 32, 32)
    channel = TrainingChannel(0.05, 0.1)
    with torch.no_grad():
        a = model(x, torch.tensor([1.0, 7.0]), channel, torch.Generator().manual_seed(4))
        b = model(x, torch.tensor([1.0, 7.0]), channel, torch.Generator().manual_seed(4))
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_snr_conditioning_changes_encoder_and_generator() -> None:
    model = small_model()
    x = images(1, 32, 32)
    with torch.no_grad():
        low, high = model.encode(x, 1.0), model.encode(x, 13.0)
        assert float((low - high).abs().max()) > 1e-4
        decoded_low = model.decode(low, size=(32, 32), snr_db=1.0)
        decoded_high = model.decode(low, size=(32, 32), snr_db=13.0)
        assert float((decoded_low - decoded_high).abs().max()) > 1e-5
        fixed = small_model(snr_adaptive=False)
        assert torch.equal(fixed.encode(x, 1.0), fixed.encode(x, 13.0))
        assert torch.equal(fixed.decode(low, size=(32, 32), snr_db=1.0), fixed.decode(low, size=(32, 32), snr_db=13.0))


def test_a_condition_above_the_snr_range_is_taken_at_its_top() -> None:
    """A receiver's SNR estimate on a clean bench (40 dB) must not push the networks' condition past the range
    they are built for (0..20 dB here): extrapolated upward it made every shipped model draw worse images from
    better symbols. Below the range the condition still counts. (The same clamp applies to the generator's
    condition and SNR maps: models.snr_attention.normalise_snr.)"""
    model = small_model()
    x = images(1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encode(x, 40.0), model.encode(x, 20.0))
        assert not torch.equal(model.encode(x, 19.0), model.encode(x, 20.0))
        assert not torch.equal(model.encode(x, -5.0), model.encode(x, 0.0))


def test_erasure_mask_is_an_input_not_a_zero() -> None:
    model = small_model()
    with torch.no_grad():
        s = model.encode(images(1, 32, 32), 7.0)
        erased = torch.zeros_like(s.real, dtype=torch.bool)
        erased[:, 20:50] = True
        zeroed = torch.where(erased, 0, s)
        with_mask = model.decode(zeroed, size=(32, 32), snr_db=7.0, erased=erased)
        without_mask = model.decode(zeroed, size=(32, 32), snr_db=7.0)
        assert float((with_mask - without_mask).abs().max()) > 1e-5
        # values and noise variances at erased positions are ignored (a receiver may leave anything there)
        garbage = torch.where(erased, torch.tensor(1e6 + 1e6j, dtype=torch.complex64), s)
        noise_var = torch.where(erased, torch.tensor(float("nan")), torch.full(s.shape, 10**-0.7))
        again = model.decode(garbage, size=(32, 32), noise_var=noise_var, erased=erased)
    torch.testing.assert_close(again, with_mask)


def test_per_symbol_noise_variance_is_used() -> None:
    model = small_model()
    with torch.no_grad():
        s = model.encode(images(1, 32, 32), 7.0)
        flat = model.decode(s, size=(32, 32), noise_var=torch.full(s.shape, 0.2))
        varied = torch.full(s.shape, 0.2)
        varied[:, :48] = 0.02
        varied[:, 48:] = 0.38  # same mean, so the scalar SNR condition is unchanged
        assert float((model.decode(s, size=(32, 32), noise_var=varied) - flat).abs().max()) > 1e-6
        torch.testing.assert_close(flat, model.decode(s, size=(32, 32), snr_db=-10 * math.log10(0.2)))


def test_decode_rejects_bad_input() -> None:
    model = small_model()
    s = torch.zeros(1, n_symbols(32, 32, 1 / 48), dtype=torch.complex64)
    with pytest.raises(ModelInputError, match="exactly one"):
        model.decode(s, size=(32, 32))
    with pytest.raises(ModelInputError, match="exactly one"):
        model.decode(s, size=(32, 32), snr_db=1.0, noise_var=torch.ones(s.shape))
    with pytest.raises(ModelInputError, match=r"\(B, 64\)"):
        model.decode(s[:, :-1], size=(32, 32), snr_db=1.0)
    with pytest.raises(ModelInputError, match="complex"):
        model.decode(s.real, size=(32, 32), snr_db=1.0)
    with pytest.raises(ModelInputError, match="erased"):
        model.decode(s, size=(32, 32), snr_db=1.0, erased=torch.zeros(s.shape))
    with pytest.raises(ModelInputError, match="image"):
        model.encode(torch.zeros(1, 1, 32, 32), 1.0)
    with pytest.raises(ValueError, match="finite"):
        model.encode(torch.zeros(1, 3, 32, 32), float("nan"))


def test_discriminator_uses_its_condition() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(32, width=8).eval()
    x = images(2, 64, 48)
    latent = torch.randn(2, 32, *latent_size(64, 48))
    with torch.no_grad():
        logits = discriminator(x, latent)
        assert logits.shape == (2, 1, 64 // 8 - 2, 48 // 8 - 2)
        other = discriminator(x, latent + torch.randn_like(latent))
        assert float((logits - other).abs().max()) > 1e-5
        assert float((discriminator(x.flip(-1), latent) - logits).abs().max()) > 1e-5
    assert sum(name.endswith("parametrizations.weight.original") for name, _ in discriminator.named_parameters()) == 5
    with pytest.raises(ValueError, match="latent"):
        discriminator(x, latent[:, :16])
    with pytest.raises(ValueError, match="at least"):
        discriminator(images(1, 16, 64), torch.zeros(1, 32, 1, 4))
