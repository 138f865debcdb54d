"""Band-limited interpolation, SFO resampling, phase noise, IQ imbalance and the ADC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phy.channel.adc import adc_gain, quantize
from phy.channel.impairments import (
    apply_iq_imbalance,
    apply_sfo,
    image_rejection_db,
    iq_imbalance_coefficients,
    lo_phase,
    wiener_phase_noise,
)
from phy.channel.interpolation import HALF_WIDTH, fractional_delay_filters, interpolate


def multitone(n: int, frequencies: np.ndarray, phases: np.ndarray, delay: float = 0.0) -> np.ndarray:
    """Sum of complex tones (cycles/sample) sampled at ``arange(n) - delay``, shape (n,)."""
    t = np.arange(n)[:, None] - delay
    return np.exp(1j * (2 * np.pi * frequencies[None, :] * t + phases[None, :])).sum(axis=1)


def test_integer_delays_are_exact_impulses() -> None:
    filters, lead = fractional_delay_filters(np.array([0.0, 2.0, 5.0]))
    assert lead == 0
    np.testing.assert_array_equal(filters, np.eye(6)[[0, 2, 5]])


def test_fractional_delay_is_accurate_in_the_occupied_band() -> None:
    rng = np.random.default_rng(0)
    f = rng.uniform(-0.41, 0.41, 40)
    phases = rng.uniform(0, 2 * np.pi, 40)
    x = multitone(3000, f, phases)
    for delay in (0.37, 2.5, 5.81):
        filters, lead = fractional_delay_filters(np.array([delay]))
        y = np.convolve(x, filters[0])[lead : lead + x.size]
        want = multitone(x.size, f, phases, delay)
        inner = slice(100, -100)
        error_db = 10 * np.log10(np.mean(np.abs(y[inner] - want[inner]) ** 2) / np.mean(np.abs(want[inner]) ** 2))
        assert error_db < -55, (delay, error_db)


def test_fractional_delay_filters_reject_bad_delays() -> None:
    with pytest.raises(ValueError, match="delays"):
        fractional_delay_filters(np.array([-1.0]))
    with pytest.raises(ValueError, match="delays"):
        fractional_delay_filters(np.array([]))


def test_interpolate_reproduces_samples_and_is_zero_outside() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(200) + 1j * rng.standard_normal(200)
    np.testing.assert_allclose(interpolate(x, np.arange(200.0)), x, atol=1e-7)
    assert np.all(interpolate(x, np.array([-HALF_WIDTH - 1.0, 200.0 + HALF_WIDTH])) == 0)


@pytest.mark.parametrize("ppm", [50.0, -30.0])
def test_sfo_shifts_a_tone_by_the_ppm(ppm: float) -> None:
    n, f0 = 1 << 15, 0.1
    x = np.exp(2j * np.pi * f0 * np.arange(n))
    y = apply_sfo(x, ppm)
    ratio = 1 + ppm * 1e-6
    assert y.size == math.floor((n - 1) * ratio) + 1
    inner = np.arange(200, y.size - 200)
    phase = np.unwrap(np.angle(y[inner]))
    slope = np.polyfit(inner, phase, 1)[0] / (2 * np.pi)
    # the shift is -5e-6 cycles/sample for 50 ppm: measured to 1 % of itself
    assert slope - f0 == pytest.approx(f0 / ratio - f0, rel=0.01)
    assert np.max(np.abs(np.abs(y[inner]) - 1)) < 1e-3


def test_sfo_keeps_the_origin_sample() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal(5000) + 1j * rng.standard_normal(5000)
    y = apply_sfo(x, 200.0, origin=11)
    assert y[11] == pytest.approx(x[11], abs=1e-9)
    assert y.size == 11 + math.floor((5000 - 1 - 11) * (1 + 200e-6)) + 1


def test_wiener_phase_noise_increments() -> None:
    rng = np.random.default_rng(3)
    phi = wiener_phase_noise(200_000, 100.0, 2e6, rng)
    assert phi[0] == 0.0
    assert np.var(np.diff(phi)) == pytest.approx(2 * np.pi * 100.0 / 2e6, rel=0.02)
    np.testing.assert_array_equal(wiener_phase_noise(10, 0.0, 2e6, rng), np.zeros(10))


def test_lo_phase_ramp() -> None:
    theta = lo_phase(1000, 1e3, 2e6, 0.3, np.zeros(1000), origin=100)
    assert theta[100] == pytest.approx(0.3)
    np.testing.assert_allclose(np.diff(theta), 2 * np.pi * 1e3 / 2e6)


def test_iq_imbalance_branch_model() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(100) + 1j * rng.standard_normal(100)
    y = apply_iq_imbalance(x, 0.5, 3.0)
    g, phi = 10 ** (0.5 / 20), np.radians(3.0)
    np.testing.assert_allclose(y.real, x.real, atol=1e-12)
    np.testing.assert_allclose(y.imag, g * (x.imag * np.cos(phi) - x.real * np.sin(phi)), atol=1e-12)


@pytest.mark.parametrize(("amplitude_db", "phase_deg"), [(0.1, 1.0), (0.5, 0.0), (0.0, 2.0), (1.0, -3.0)])
def test_iq_imbalance_image_rejection(amplitude_db: float, phase_deg: float) -> None:
    n, k = 1024, 100
    tone = np.exp(2j * np.pi * k * np.arange(n) / n)
    spectrum = np.abs(np.fft.fft(apply_iq_imbalance(tone, amplitude_db, phase_deg))) ** 2
    measured = 10 * np.log10(spectrum[k] / spectrum[-k])
    assert measured == pytest.approx(image_rejection_db(amplitude_db, phase_deg), abs=0.01)
    g, phi = 10 ** (amplitude_db / 20), np.radians(phase_deg)
    closed_form = 10 * np.log10((1 + 2 * g * np.cos(phi) + g**2) / (1 - 2 * g * np.cos(phi) + g**2))
    assert measured == pytest.approx(closed_form, abs=0.01)


def test_no_iq_imbalance() -> None:
    assert iq_imbalance_coefficients(0.0, 0.0) == (1.0, 0.0)
    assert image_rejection_db(0.0, 0.0) == math.inf


def test_adc_grid_rounding_and_backoff() -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(100_000) + 1j * rng.standard_normal(100_000)) * 0.3
    rms = np.sqrt(np.mean(np.abs(x) ** 2))
    gain = adc_gain(rms, 12, 12.0)
    assert rms * gain == pytest.approx(2048 * 10 ** (-12 / 20))
    codes, y, clipped = quantize(x, 12, gain)
    assert codes.dtype == np.int16 and codes.shape == (x.size, 2)
    assert codes.min() >= -2048 and codes.max() <= 2047
    assert clipped == 0.0
    assert y.dtype == np.complex64
    scaled = y.astype(np.complex128) * gain
    np.testing.assert_allclose(scaled.real, codes[:, 0], atol=1e-3)
    np.testing.assert_allclose(scaled.imag, codes[:, 1], atol=1e-3)
    error = (y - x) * gain
    assert np.max(np.abs(error.real)) <= 0.5 + 1e-3
    # uniform rounding error: 1/12 LSB^2 per component
    assert np.var(error.real) == pytest.approx(1 / 12, rel=0.03)


def test_adc_clips_at_full_scale() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal(50_000) + 1j * rng.standard_normal(50_000)
    gain = adc_gain(np.sqrt(2.0), 12, 0.0)
    codes, y, clipped = quantize(x, 12, gain)
    assert codes.max() == 2047 and codes.min() == -2048
    big = np.abs(x.real * gain) > 2048
    assert clipped == pytest.approx(np.mean(np.concatenate([big, np.abs(x.imag * gain) > 2048])), abs=1e-3)
    assert clipped > 0.05
    assert np.all(np.abs(y.real[big] * gain) >= 2047 - 1e-3)
    with pytest.raises(ValueError, match="bits"):
        quantize(x, 17, gain)
