"""The symbol contract: k = round(cbr*3*H*W), which latent positions are sent, unit power, inverse mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.symbols import (
    SymbolError,
    latent_size,
    latent_to_symbols,
    n_symbols,
    sent_indices,
    symbols_to_latent,
)

SIZES = [(17, 33), (250, 301), (64, 64), (16, 16), (3, 5), (31, 47)]


@pytest.mark.parametrize(
    ("height", "width", "cbr", "expected"),
    [
        (17, 33, 1 / 48, 35),  # 35.06
        (250, 301, 1 / 48, 4703),  # 4703.125
        (64, 64, 1 / 48, 256),
        (17, 33, 1 / 24, 70),  # 70.125
        (250, 301, 1 / 24, 9406),  # 9406.25
        (768, 512, 1 / 48, 24576),
        (40, 1, 1 / 48, 3),  # exactly 2.5: halves round up
        (24, 1, 1 / 48, 2),  # exactly 1.5
    ],
)
def test_n_symbols_exact(height: int, width: int, cbr: float, expected: int) -> None:
    assert n_symbols(height, width, cbr) == expected


@pytest.mark.parametrize(("args", "match"), [((0, 5, 1 / 48), "positive"), ((5, 5, 0.0), "cbr"), ((1, 1, 1e-3), "no")])
def test_n_symbols_rejects_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(SymbolError, match=match):
        n_symbols(*args)


def coverage(height: int, width: int) -> np.ndarray:
    h, w = latent_size(height, width)
    rows = np.minimum(16, height - 16 * np.arange(h)) / 16
    cols = np.minimum(16, width - 16 * np.arange(w)) / 16
    return np.outer(rows, cols).ravel()


@pytest.mark.parametrize("channels", [32, 64])
@pytest.mark.parametrize(("height", "width"), SIZES)
def test_sent_positions_drop_the_least_covered(channels: int, height: int, width: int) -> None:
    k = n_symbols(height, width, channels / 1536)
    index = sent_indices(channels, height, width, k).numpy()
    h, w = latent_size(height, width)
    assert len(index) == k and len(np.unique(index)) == k
    assert np.all(np.diff(index) > 0), "transmit order is channel-major, raster within a channel"
    sent = np.zeros(channels // 2 * h * w, bool)
    sent[index] = True
    sent = sent.reshape(channels // 2, h * w)
    cov = coverage(height, width)
    # every position with a dropped symbol is covered no more than any position with all symbols sent
    partly_dropped = ~sent.all(axis=0)
    if partly_dropped.any() and not partly_dropped.all():
        assert cov[partly_dropped].max() <= cov[~partly_dropped].min() + 1e-12
    # the dropped symbols of a position are its trailing channels
    for column in sent.T:
        assert np.all(np.diff(column.astype(int)) <= 0)


def test_multiple_of_16_sends_every_position() -> None:
    assert len(sent_indices(32, 64, 48, n_symbols(64, 48, 1 / 48))) == 16 * 4 * 3


def test_sent_indices_rejects_too_many_symbols() -> None:
    with pytest.raises(SymbolError, match="do not fit"):
        sent_indices(32, 17, 33, 16 * 2 * 3 + 1)


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_latent_to_symbols_unit_power_and_inverse(height: int, width: int) -> None:
    generator = torch.Generator().manual_seed(1)
    h, w = latent_size(height, width)
    y = 3 * torch.randn(4, 32, h, w, generator=generator) + 0.5
    k = n_symbols(height, width, 1 / 48)
    s = latent_to_symbols(y, k, (height, width))
    assert s.shape == (4, k) and s.dtype == torch.complex64
    torch.testing.assert_close(s.abs().square().mean(dim=1), torch.ones(4), atol=1e-5, rtol=0)
    erased = torch.zeros(4, k, dtype=torch.bool)
    y_hat, erased_map, noise_var_map = symbols_to_latent(s, erased, torch.full((4, k), 0.1), 32, (height, width))
    scale = torch.sqrt((y_hat.square().sum(dim=(1, 2, 3))) / k)  # undo the normalisation per image
    assert torch.allclose(scale, torch.ones(4), atol=1e-5)
    sent = ~erased_map.repeat(1, 2, 1, 1)
    power = (y.square() * sent).sum(dim=(1, 2, 3)) / k
    torch.testing.assert_close(y_hat * power.sqrt()[:, None, None, None], y * sent, atol=1e-4, rtol=1e-4)
    assert int((~erased_map).sum()) == 4 * k
    assert torch.all(noise_var_map[erased_map] == 1.0) and torch.allclose(noise_var_map[~erased_map], torch.tensor(0.1))


def test_real_and_imaginary_channels() -> None:
    y = torch.zeros(1, 4, 1, 1)
    y[0, :, 0, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])  # symbols 1+3j, 2+4j
    s = latent_to_symbols(y, 2, (16, 16))
    expected = torch.tensor([1 + 3j, 2 + 4j]) / np.sqrt((10 + 20) / 2)
    torch.testing.assert_close(s[0], expected.to(torch.complex64))


def test_erased_symbols_are_zero_and_flagged() -> None:
    s = torch.full((2, 35), 1 + 1j, dtype=torch.complex64)
    erased = torch.zeros(2, 35, dtype=torch.bool)
    erased[1, 10:20] = True
    y_hat, erased_map, noise_var_map = symbols_to_latent(s, erased, torch.full((2, 35), 0.5), 32, (17, 33))
    assert int(erased_map[0].sum()) == 16 * 2 * 3 - 35
    assert int(erased_map[1].sum()) == 16 * 2 * 3 - 35 + 10
    assert float(y_hat[1].abs().sum()) == pytest.approx(2 * 25)  # 25 received symbols of value 1+1j
    assert float(noise_var_map[1][erased_map[1]].min()) == 1.0


def test_latent_grid_must_match_size() -> None:
    with pytest.raises(SymbolError, match="does not match"):
        latent_to_symbols(torch.zeros(1, 32, 2, 2), 35, (17, 33))
