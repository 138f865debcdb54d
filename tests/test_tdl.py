"""Power-delay profiles (TR 38.901 TDL tables, exponential) and the fading of their paths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import j0

from phy.channel.fading import N_SINUSOIDS, block_fading, doppler_fading, doppler_grid_step
from phy.channel.tdl import TDL_TABLES, exponential_profile, power_delay_profile, rms_delay_spread, tdl_profile

TABLE_SIZES = {"TDL-A": 23, "TDL-B": 23, "TDL-C": 24}
TABLE_MAX_DELAY = {"TDL-A": 9.6586, "TDL-B": 4.7834, "TDL-C": 8.6523}


@pytest.mark.parametrize("model", sorted(TDL_TABLES))
@pytest.mark.parametrize("delay_spread_s", [10e-9, 100e-9, 300e-9, 1e-6])
def test_tdl_scaled_to_the_delay_spread(model: str, delay_spread_s: float) -> None:
    delays, powers = tdl_profile(model, delay_spread_s)
    assert len(delays) == len(powers) == TABLE_SIZES[model]
    assert powers.sum() == pytest.approx(1.0, abs=1e-12)
    assert rms_delay_spread(delays, powers) == pytest.approx(delay_spread_s, rel=0.01)
    assert delays[0] == 0.0
    assert delays.max() == pytest.approx(TABLE_MAX_DELAY[model] * delay_spread_s, rel=1e-12)


@pytest.mark.parametrize("model", sorted(TDL_TABLES))
def test_tdl_relative_powers_are_the_table(model: str) -> None:
    _, powers = tdl_profile(model, 100e-9)
    table_db = np.array(TDL_TABLES[model][1])
    np.testing.assert_allclose(10 * np.log10(powers / powers.max()), table_db - table_db.max(), atol=1e-9)


def test_tdl_c_first_paths_match_the_standard() -> None:
    delays, powers = tdl_profile("TDL-C", 300e-9)
    np.testing.assert_allclose(delays[:3], [0.0, 0.2099 * 300e-9, 0.2219 * 300e-9], rtol=1e-12)
    db = 10 * np.log10(powers / powers.max())
    np.testing.assert_allclose(db[:3], [-4.4, -1.2, -3.5], atol=1e-9)


@pytest.mark.parametrize("delay_spread_s", [20e-9, 100e-9, 300e-9, 2e-6])
@pytest.mark.parametrize("tap_spacing_s", [0.5e-6, 0.125e-6])
def test_exponential_profile(delay_spread_s: float, tap_spacing_s: float) -> None:
    delays, powers = exponential_profile(delay_spread_s, tap_spacing_s)
    assert rms_delay_spread(delays, powers) == pytest.approx(delay_spread_s, rel=1e-6)
    assert powers.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(powers) < 0)
    np.testing.assert_allclose(delays, tap_spacing_s * np.arange(len(delays)))
    ratios = powers[1:] / powers[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert len(delays) == max(2, int(np.ceil(np.log(1e3) * delay_spread_s / tap_spacing_s)) + 1)


def test_power_delay_profile_dispatch_and_errors() -> None:
    d, p = power_delay_profile("exp", 300e-9, 2e6)
    np.testing.assert_allclose(d, 0.5e-6 * np.arange(len(d)))
    d2, p2 = power_delay_profile("TDL-B", 300e-9, 2e6)
    np.testing.assert_array_equal(p2, tdl_profile("TDL-B", 300e-9)[1])
    with pytest.raises(ValueError, match="TDL-D"):
        power_delay_profile("TDL-D", 300e-9, 2e6)
    with pytest.raises(ValueError, match="delay_spread_s"):
        tdl_profile("TDL-A", -1e-9)
    with pytest.raises(ValueError, match="delay_spread_s"):
        exponential_profile(0.0, 1e-6)


def test_block_fading_is_rayleigh_with_the_path_powers() -> None:
    _, powers = tdl_profile("TDL-A", 300e-9)
    rng = np.random.default_rng(3)
    gains = np.stack([block_fading(powers, rng) for _ in range(20000)])
    np.testing.assert_allclose(np.mean(np.abs(gains) ** 2, axis=0) / powers, 1.0, atol=0.05)
    # Rayleigh: E|g|^4 = 2 (E|g|^2)^2 and circular symmetry E[g^2] = 0.
    kurtosis = np.mean(np.abs(gains) ** 4, axis=0) / powers**2
    np.testing.assert_allclose(kurtosis, 2.0, atol=0.2)
    assert np.all(np.abs(np.mean(gains**2, axis=0)) / powers < 0.05)


def test_doppler_fading_autocorrelation_is_j0() -> None:
    doppler_hz = 100.0
    lags = np.linspace(0.0, 3.0 / doppler_hz, 61)
    n_paths = 4000
    gains = doppler_fading(np.ones(n_paths), doppler_hz, 0.5 + lags, np.random.default_rng(5))
    assert gains.shape == (n_paths, lags.size)
    power = np.mean(np.abs(gains) ** 2, axis=0)
    np.testing.assert_allclose(power, 1.0, atol=0.05)
    autocorrelation = np.mean(gains[:, :1] * np.conj(gains), axis=0)
    np.testing.assert_allclose(autocorrelation.real, j0(2 * np.pi * doppler_hz * lags), atol=0.05)
    assert np.max(np.abs(autocorrelation.imag)) < 0.05


def test_doppler_fading_path_powers_and_errors() -> None:
    powers = np.array([0.7, 0.2, 0.1])
    gains = doppler_fading(np.repeat(powers, 3000), 50.0, np.array([0.0, 0.013]), np.random.default_rng(1))
    mean_power = np.mean(np.abs(gains.reshape(3, 3000, 2)) ** 2, axis=(1, 2))
    np.testing.assert_allclose(mean_power / powers, 1.0, atol=0.05)
    # one realisation is a sum of N_SINUSOIDS unit phasors
    assert np.max(np.abs(gains) / np.sqrt(np.repeat(powers, 3000))[:, None]) <= np.sqrt(N_SINUSOIDS) + 1e-9
    with pytest.raises(ValueError, match="doppler_hz"):
        doppler_fading(powers, 0.0, np.zeros(2), np.random.default_rng(1))


def test_doppler_grid_step() -> None:
    assert doppler_grid_step(100.0, 2e6) == 200
    assert doppler_grid_step(1e5, 2e6) == 1
