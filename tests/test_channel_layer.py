"""The training channel: AWGN power, differentiability, symbol and frame erasures, seeded draws."""

from __future__ import annotations

import pytest
import torch

from models.channel import PAPER_SNRS_DB, ChannelError, TrainingChannel, frame_bounds, sample_snr


def test_noise_power_matches_snr() -> None:
    generator = torch.Generator().manual_seed(0)
    snr_db = torch.tensor([0.0, 7.0, 20.0])
    s = torch.exp(2j * torch.pi * torch.rand(3, 40_000, generator=generator)).to(torch.complex64)
    s_hat, noise_var, erased = TrainingChannel()(s, snr_db, generator)
    expected = 10 ** (-snr_db / 10)
    noise = s_hat - s
    measured = noise.abs().square().mean(dim=1)
    torch.testing.assert_close(measured, expected, rtol=0.03, atol=0)
    torch.testing.assert_close(noise.real.square().mean(dim=1), expected / 2, rtol=0.04, atol=0)
    torch.testing.assert_close(noise_var, expected[:, None].expand(3, 40_000))
    assert not erased.any()
    assert abs(float((noise.real * noise.imag).mean())) < 0.01  # circular: real and imaginary independent


def test_gradients_flow_through_channel() -> None:
    s = torch.randn(2, 50, dtype=torch.complex64, requires_grad=True)
    s_hat, _, _ = TrainingChannel(symbol_erasure_prob=0.3)(s, torch.tensor([5.0, 5.0]), torch.Generator())
    (s_hat.real.sum() + 2 * s_hat.imag.sum()).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_symbol_erasures_zeroed_flagged_and_at_rate() -> None:
    generator = torch.Generator().manual_seed(3)
    s = torch.ones(4, 10_000, dtype=torch.complex64)
    s_hat, _, erased = TrainingChannel(symbol_erasure_prob=0.2)(s, torch.full((4,), 30.0), generator)
    assert erased.dtype == torch.bool
    assert torch.all(s_hat[erased] == 0)
    assert torch.all(s_hat[~erased] != 0)
    assert float(erased.float().mean()) == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize(("k", "n_frames"), [(1003, 10), (35, 4), (7, 10)])
def test_frame_bounds_cover_k(k: int, n_frames: int) -> None:
    bounds = frame_bounds(k, n_frames)
    assert len(bounds) == n_frames and bounds[0][0] == 0 and bounds[-1][1] == k
    assert all(stop == start for (_, stop), (start, _) in zip(bounds[:-1], bounds[1:], strict=True))
    lengths = [stop - start for start, stop in bounds]
    assert max(lengths) - min(lengths) <= 1


def test_frame_erasures_are_whole_contiguous_frames() -> None:
    generator = torch.Generator().manual_seed(5)
    k, n_frames = 1003, 10
    channel = TrainingChannel(frame_erasure_prob=0.4, n_frames=n_frames)
    _, _, erased = channel(torch.ones(64, k, dtype=torch.complex64), torch.full((64,), 10.0), generator)
    bounds = frame_bounds(k, n_frames)
    lost_frames = 0
    for row in erased:
        for start, stop in bounds:
            block = row[start:stop]
            assert block.all() or not block.any(), "a frame is erased as a whole or not at all"
            lost_frames += int(block.all())
        assert int(row.sum()) == sum(stop - start for start, stop in bounds if row[start])
    assert lost_frames / (64 * n_frames) == pytest.approx(0.4, abs=0.07)


def test_seeded_channel_repeats() -> None:
    s = torch.randn(3, 200, dtype=torch.complex64)
    channel = TrainingChannel(0.1, 0.2)
    first = channel(s, torch.tensor([1.0, 4.0, 7.0]), torch.Generator().manual_seed(9))
    second = channel(s, torch.tensor([1.0, 4.0, 7.0]), torch.Generator().manual_seed(9))
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_sample_snr_from_paper_set() -> None:
    snr = sample_snr(2000, generator=torch.Generator().manual_seed(0))
    assert snr.shape == (2000,) and snr.dtype == torch.float32
    values, counts = torch.unique(snr, return_counts=True)
    assert values.tolist() == list(PAPER_SNRS_DB)
    assert counts.min() > 300
    again = sample_snr(2000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(snr, again)


@pytest.mark.parametrize(
    "kwargs",
    [{"symbol_erasure_prob": 1.5}, {"frame_erasure_prob": -0.1}, {"n_frames": 0}, {"n_frames": 2.5},
     {"fading_prob": 2}],
)
def test_bad_channel_settings(kwargs: dict) -> None:
    with pytest.raises(ChannelError):
        TrainingChannel(**kwargs)


def test_bad_channel_input() -> None:
    with pytest.raises(ChannelError, match="complex"):
        TrainingChannel()(torch.zeros(2, 10), torch.zeros(2))
    with pytest.raises(ChannelError, match="snr_db"):
        TrainingChannel()(torch.zeros(2, 10, dtype=torch.complex64), torch.zeros(3))


def test_faded_symbols_carry_their_own_noise_variance() -> None:
    generator = torch.Generator().manual_seed(1)
    s = torch.exp(2j * torch.pi * torch.rand(4, 50_000, generator=generator)).to(torch.complex64)
    snr_db = torch.full((4,), 10.0)
    s_hat, noise_var, _ = TrainingChannel(fading_prob=1.0)(s, snr_db, generator)
    # the average power gain is 1: the mean of 1/noise_var is the SNR's
    torch.testing.assert_close((1 / noise_var).mean(dim=1), torch.full((4,), 10.0), rtol=0.03, atol=0)
    assert float(noise_var.max() / noise_var.min()) > 100  # Rayleigh: some symbols in deep fades
    normalised = (s_hat - s).abs().square() / noise_var
    torch.testing.assert_close(normalised.mean(dim=1), torch.ones(4), rtol=0.03, atol=0)


def test_fading_is_drawn_per_image() -> None:
    generator = torch.Generator().manual_seed(2)
    s = torch.ones(400, 64, dtype=torch.complex64)
    _, noise_var, _ = TrainingChannel(fading_prob=0.25)(s, torch.full((400,), 7.0), generator)
    faded = (noise_var != noise_var[:, :1]).any(dim=1)
    assert 0.18 < float(faded.float().mean()) < 0.32
