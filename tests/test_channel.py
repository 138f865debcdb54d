"""Channel profiles and the channel emulator: SNR definition, offset, truth, seeding, errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from phy.channel import PROFILES, SNR_RANGE_DB, ChannelEmulator, ChannelError, ChannelProfile, get_profile
from phy.channel.interpolation import interpolate
from phy.numerology import Numerology

NUM = Numerology()
REQUIRED = {"awgn", "lab", "tdl-a", "tdl-b", "tdl-c", "exp", "tdl-c-doppler"}


def gaussian_burst(n: int, seed: int, power: float = 1.0, gap_fraction: float = 0.0) -> np.ndarray:
    """Complex Gaussian samples of the given power, with a run of exact zeros (a frame gap) in the middle."""
    rng = np.random.default_rng(seed)
    x = np.sqrt(power / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    gap = int(n * gap_fraction)
    x[n // 2 : n // 2 + gap] = 0
    return x.astype(np.complex64)


def emulate(profile: ChannelProfile | str, x: np.ndarray, snr_db: float, seed: int = 0, num: Numerology = NUM):
    return ChannelEmulator(profile, num, np.random.default_rng(seed))(x, snr_db)


def burst_region(out, n_in: int) -> slice:
    return slice(out.offset, out.offset + n_in)


# --- profiles -------------------------------------------------------------------------------------------


def test_required_profiles_exist_and_serialise() -> None:
    assert REQUIRED <= set(PROFILES)
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert get_profile(name) is profile
        assert json.loads(json.dumps(profile.to_dict()))["name"] == name


def test_unknown_profile_lists_the_names() -> None:
    with pytest.raises(ValueError, match="unknown channel profile 'moon'.*'awgn'.*'lab'"):
        get_profile("moon")
    with pytest.raises(ChannelError, match="tdl-c-doppler"):
        ChannelEmulator("moon", NUM, np.random.default_rng(0))


def test_lab_profile_is_a_mild_pluto_bench() -> None:
    lab = get_profile("lab")
    emulator = ChannelEmulator(lab, NUM, np.random.default_rng(0))
    assert emulator.path_delays_s.max() * NUM.sample_rate < NUM.cp_len / 4
    assert lab.cfo_hz_max == 50e3 and lab.sfo_ppm == 20.0 and lab.adc_bits == 12
    assert lab.fading == "block" and lab.phase_noise_linewidth_hz <= 100
    out = emulator(gaussian_burst(2000, 1), 20.0)
    assert out.truth["image_rejection_db"] >= 35


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tdl_model": "TDL-Z", "delay_spread_s": 1e-7}, "tdl_model"),
        ({"delay_spread_s": 1e-7}, "tdl_model"),
        ({"tdl_model": "TDL-A"}, "delay_spread_s"),
        ({"tdl_model": "TDL-A", "delay_spread_s": 1e-7, "fading": "doppler"}, "doppler_hz"),
        ({"tdl_model": "TDL-A", "delay_spread_s": 1e-7, "fading": "fast", "doppler_hz": 5.0}, "fading"),
        ({"pad_before": (10, 5)}, "pad_before"),
        ({"adc_bits": 20}, "adc_bits"),
        ({"sfo_ppm": -1.0}, "sfo_ppm"),
        ({"iq_phase_deg": float("nan")}, "iq_phase_deg"),
    ],
)
def test_profile_validation(changes: dict, field: str) -> None:
    with pytest.raises(ChannelError, match=field):
        ChannelProfile(**changes)


def test_profile_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        '[channel]\nbase = "lab"\nname = "lab-hot"\ncfo_hz_max = 20000.0\npad_before = [0, 10]\n'
        '[other]\nname = "plain"\ntdl_model = "TDL-B"\ndelay_spread_s = 1e-7\n'
    )
    hot = ChannelProfile.from_toml(path)
    assert hot == dataclasses.replace(PROFILES["lab"], name="lab-hot", cfo_hz_max=20000.0, pad_before=(0, 10))
    plain = ChannelProfile.from_toml(path, table="other")
    assert plain == ChannelProfile(name="plain", tdl_model="TDL-B", delay_spread_s=1e-7)
    path.write_text('[channel]\nname = "x"\ncfo = 3.0\n')
    with pytest.raises(ChannelError, match="unknown key\\(s\\) cfo in \\[channel\\]"):
        ChannelProfile.from_toml(path)
    with pytest.raises(ChannelError, match="no \\[radio\\] table"):
        ChannelProfile.from_toml(path, table="radio")


# --- SNR and noise --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num",
    [Numerology(), Numerology(fft_size=256, cp_len=64), Numerology(fft_size=128, cp_len=32, sample_rate=5e6)],
    ids=["64", "256", "128"],
)
@pytest.mark.parametrize("snr_db", [-5.0, 10.0, 30.0])
def test_noise_power_follows_the_snr_definition(num: Numerology, snr_db: float) -> None:
    x = gaussian_burst(100_000, 7, power=2.5, gap_fraction=0.2)
    out = emulate("awgn", x, snr_db, seed=3, num=num)
    active = x[x != 0]
    power = np.mean(np.abs(active.astype(np.complex128)) ** 2)
    assert out.truth["signal_power"] == pytest.approx(power, rel=1e-6)
    expected = power / (10 ** (snr_db / 10) * num.occupied_fraction)
    assert out.truth["noise_var"] == pytest.approx(expected, rel=1e-9)
    noise = out.samples.astype(np.complex128)
    noise[burst_region(out, x.size)] -= x
    assert np.mean(np.abs(noise) ** 2) == pytest.approx(expected, rel=0.02)
    assert out.samples.dtype == np.complex64


def test_padding_is_noise_at_the_same_level() -> None:
    profile = dataclasses.replace(PROFILES["awgn"], pad_before=(5000, 6000), pad_after=(4000, 4000))
    x = gaussian_burst(3000, 2)
    out = emulate(profile, x, 10.0, seed=4)
    t = out.truth
    assert 5000 <= t["pad_before"] <= 6000 and t["pad_after"] == 4000
    assert out.offset == t["pad_before"] and out.samples.size == t["pad_before"] + x.size + 4000
    pads = np.concatenate([out.samples[: out.offset], out.samples[out.offset + x.size :]])
    assert np.mean(np.abs(pads) ** 2) == pytest.approx(t["noise_var"], rel=0.05)


@pytest.mark.parametrize("name", ["tdl-a", "tdl-c", "exp", "tdl-c-doppler"])
def test_multipath_has_unit_average_gain(name: str) -> None:
    emulator = ChannelEmulator(name, NUM, np.random.default_rng(11))
    x = gaussian_burst(400, 5)
    gains = np.array([emulator(x, 20.0).truth["channel_gain"] for _ in range(300)])
    assert gains.mean() == pytest.approx(1.0, abs=0.1)
    realised = emulator(x, 20.0).truth
    assert realised["snr_db_realised"] == pytest.approx(20.0 + 10 * np.log10(realised["channel_gain"]))


# --- what the channel does ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tdl-a", "tdl-b", "exp"])
def test_output_is_the_input_through_the_true_channel(name: str) -> None:
    x = gaussian_burst(5000, 8)
    out = emulate(name, x, 60.0, seed=9)
    t = out.truth
    lead = t["impulse_response_lead"]
    want = np.convolve(x, t["impulse_response"])
    got = out.samples[out.offset - lead : out.offset - lead + want.size]
    error_db = 10 * np.log10(np.mean(np.abs(got - want) ** 2) / np.mean(np.abs(want) ** 2))
    assert error_db < -45
    n = np.arange(t["impulse_response"].size) - lead
    dft = np.exp(-2j * np.pi * np.outer(NUM.occupied, n) / NUM.fft_size) @ t["impulse_response"]
    np.testing.assert_allclose(t["freq_response"], dft, atol=1e-9)
    assert t["channel_gain"] == pytest.approx(np.mean(np.abs(dft) ** 2))
    assert t["path_gains"].shape == t["path_delays_s"].shape == t["path_powers"].shape


def test_doppler_channel_varies_as_its_truth_says() -> None:
    x = gaussian_burst(40_000, 10)  # 20 ms at 2 MS/s: two Doppler periods at 100 Hz
    out = emulate("tdl-c-doppler", x, 60.0, seed=12)
    t = out.truth
    gains, times = t["path_gains"], t["path_gain_times_s"]
    assert gains.shape == (24, times.size)
    np.testing.assert_allclose(np.diff(times), 200 / NUM.sample_rate)
    # the strongest path changes over the burst
    strongest = np.argmax(t["path_powers"])
    assert np.ptp(np.abs(gains[strongest])) > 0.2 * np.sqrt(t["path_powers"][strongest])
    # a block of output is the block of input through the paths' gains at that time
    em = ChannelEmulator("tdl-c-doppler", NUM, np.random.default_rng(0))
    lead, start = t["impulse_response_lead"], 30_000
    grid = np.arange(times.size) * 200
    at = np.array([np.interp(start, grid, g.real) + 1j * np.interp(start, grid, g.imag) for g in gains])
    impulse = at @ em.path_filters
    window = np.arange(start - 5, start + 5)
    want = np.array([np.dot(impulse, x[w - np.arange(impulse.size)]) for w in window])
    got = out.samples[out.offset - lead + window]
    assert np.max(np.abs(got - want)) / np.sqrt(np.mean(np.abs(want) ** 2)) < 0.01


def test_cfo_phase_ramp_matches_the_truth() -> None:
    profile = dataclasses.replace(PROFILES["awgn"], cfo_hz_max=40e3)
    x = np.ones(4000, np.complex64)
    cfos = []
    for seed in range(3):
        out = emulate(profile, x, 60.0, seed=seed)
        t = out.truth
        phase = np.unwrap(np.angle(out.samples[burst_region(out, x.size)].astype(np.complex128)))
        slope, intercept = np.polyfit(np.arange(x.size), phase, 1)
        assert slope * NUM.sample_rate / (2 * np.pi) == pytest.approx(t["cfo_hz"], abs=2.0)
        assert np.angle(np.exp(1j * (intercept - t["phase0_rad"]))) == pytest.approx(0.0, abs=1e-3)
        assert abs(t["cfo_hz"]) <= 40e3
        cfos.append(t["cfo_hz"])
    assert len(set(cfos)) == 3


def test_phase_noise_in_the_output_is_the_truth() -> None:
    profile = dataclasses.replace(PROFILES["awgn"], phase_noise_linewidth_hz=200.0)
    x = np.ones(20_000, np.complex64)
    out = emulate(profile, x, 60.0, seed=2)
    pn = out.truth["phase_noise_rad"]
    assert pn.shape == out.samples.shape and pn.dtype == np.float32
    region = burst_region(out, x.size)
    residual = np.angle(out.samples[region] * np.exp(-1j * pn[region]))
    assert np.max(np.abs(residual)) < 0.01
    assert np.ptp(pn[region]) > 0.1


def test_sfo_in_the_emulator() -> None:
    profile = dataclasses.replace(PROFILES["awgn"], sfo_ppm=100.0, pad_before=(50, 50), pad_after=(0, 0))
    n, f0 = 50_000, 0.05
    x = np.exp(2j * np.pi * f0 * np.arange(n)).astype(np.complex64)
    out = emulate(profile, x, 60.0, seed=1)
    sfo = out.truth["sfo_ppm"]
    assert 0 < abs(sfo) <= 100
    ratio = 1 + sfo * 1e-6
    assert out.samples.size == 50 + int(np.floor((n - 1) * ratio)) + 1
    np.testing.assert_allclose(out.samples[50:60], x[:10], atol=1e-2)
    burst = out.samples[50:].astype(np.complex128)
    want = interpolate(x.astype(np.complex128), np.arange(burst.size) / ratio)
    inner = slice(100, -100)
    assert np.max(np.abs(burst[inner] - want[inner])) < 0.01


def test_lab_output_lies_on_the_12_bit_grid() -> None:
    x = gaussian_burst(20_000, 3)
    out = emulate("lab", x, 30.0, seed=5)
    t = out.truth
    codes, gain = t["adc_codes"], t["adc_gain"]
    assert codes.shape == (out.samples.size, 2) and codes.dtype == np.int16
    assert codes.min() >= -2048 and codes.max() <= 2047
    scaled = out.samples.astype(np.complex128) * gain
    np.testing.assert_allclose(scaled.real, codes[:, 0], atol=2e-3)
    np.testing.assert_allclose(scaled.imag, codes[:, 1], atol=2e-3)
    assert t["adc_clipped_fraction"] == 0.0
    burst = scaled[t["pad_before"] : t["pad_before"] + x.size + 30]
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(np.abs(burst) ** 2)) / 2048)
    assert rms_dbfs == pytest.approx(-12.0, abs=0.3)


def test_lab_truth_is_within_the_profile() -> None:
    lab = PROFILES["lab"]
    for seed in range(5):
        t = emulate("lab", gaussian_burst(1000, seed), 10.0, seed=seed).truth
        assert abs(t["cfo_hz"]) <= lab.cfo_hz_max and abs(t["sfo_ppm"]) <= lab.sfo_ppm
        assert abs(t["dc_offset"]) == pytest.approx(lab.dc_offset * np.sqrt(t["signal_power"]))
        assert 0 <= t["phase0_rad"] < 2 * np.pi


# --- offset, seeding, errors ----------------------------------------------------------------------------


def test_offset_marks_input_sample_zero() -> None:
    x = gaussian_burst(3000, 4)
    for seed in range(4):
        out = emulate("awgn", x, 60.0, seed=seed)
        pad = out.truth["pad_before"]
        assert out.offset == pad and 100 <= pad <= 1000
        got = out.samples[burst_region(out, x.size)]
        assert np.max(np.abs(got - x)) < 0.01
        assert np.max(np.abs(out.samples[: out.offset])) < 0.01


def test_offset_through_integer_delay_paths() -> None:
    # the exponential profile has one path per sample: an impulse comes out as the path gains from the offset
    x = np.zeros(400, np.complex64)
    x[0] = 1.0
    out = emulate("exp", x, 60.0, seed=3)
    t = out.truth
    assert t["impulse_response_lead"] == 0 and out.offset == t["pad_before"]
    gains = t["path_gains"]
    np.testing.assert_allclose(out.samples[out.offset : out.offset + gains.size], gains, atol=6e-3)
    assert np.max(np.abs(out.samples[out.offset + gains.size : out.offset + 400])) < 6e-3


def test_same_seed_same_output_different_seed_different() -> None:
    x = gaussian_burst(4000, 6)
    for name in ("lab", "tdl-c-doppler"):
        a, b, c = (emulate(name, x, 15.0, seed=s) for s in (42, 42, 43))
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.offset == b.offset
        assert a.truth["cfo_hz"] == b.truth["cfo_hz"] and a.truth["sfo_ppm"] == b.truth["sfo_ppm"]
        np.testing.assert_array_equal(a.truth["path_gains"], b.truth["path_gains"])
        assert a.samples.size != c.samples.size or not np.array_equal(a.samples, c.samples)
        assert not np.array_equal(a.truth["path_gains"], c.truth["path_gains"])


@pytest.mark.parametrize("snr_db", [SNR_RANGE_DB[1] + 1, SNR_RANGE_DB[0] - 0.5, float("nan"), float("inf"), "ten"])
def test_snr_out_of_range_is_a_clear_error(snr_db) -> None:
    emulator = ChannelEmulator("awgn", NUM, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"snr_db=.*expected dB in \[-20.0, 60.0\]"):
        emulator(gaussian_burst(100, 0), snr_db)


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros((2, 10), np.complex64), "1-D"),
        (np.zeros(0, np.complex64), "non-empty"),
        (np.zeros(10, np.complex64), "all zero"),
        (np.array([1, np.nan], np.complex64), "NaN"),
        (np.array(["a", "b"]), "numeric"),
    ],
)
def test_bad_samples_are_a_clear_error(samples: np.ndarray, message: str) -> None:
    emulator = ChannelEmulator("awgn", NUM, np.random.default_rng(0))
    with pytest.raises(ChannelError, match=message):
        emulator(samples, 10.0)


def test_bad_emulator_arguments() -> None:
    with pytest.raises(ChannelError, match="rng"):
        ChannelEmulator("awgn", NUM, 1234)
    with pytest.raises(ChannelError, match="numerology"):
        ChannelEmulator("awgn", {"fft_size": 64}, np.random.default_rng(0))
    fast = dataclasses.replace(PROFILES["awgn"], cfo_hz_max=1.5e6)
    with pytest.raises(ChannelError, match="cfo_hz_max"):
        ChannelEmulator(fast, NUM, np.random.default_rng(0))


# --- the lab profile stays mild for an 802.11a-like link ------------------------------------------------


def ofdm_excess_distortion_db(profile: ChannelProfile, snr_db: float, seed: int, n_symbols: int = 40) -> float:
    """Genie OFDM link: mean error per occupied subcarrier over the noise per subcarrier, in dB.

    The genie knows the CFO, initial phase and channel from the truth, removes the common phase of each
    symbol (what pilot tracking does) and starts each FFT window 4 samples into the cyclic prefix.
    Thermal noise alone gives 0 dB; the rest is what the impairments add.
    """
    n, cp, backoff = NUM.fft_size, NUM.cp_len, 4
    bins = NUM.bins(NUM.occupied)
    rng = np.random.default_rng(seed)
    grid = np.zeros((n_symbols, n), complex)
    grid[:, bins] = (rng.choice([-1, 1], (n_symbols, bins.size)) + 1j * rng.choice([-1, 1], (n_symbols, bins.size)))
    grid /= np.sqrt(2)
    time = np.fft.ifft(grid, axis=1) * np.sqrt(n)
    x = np.concatenate([time[:, -cp:], time], axis=1).ravel().astype(np.complex64)
    out = emulate(profile, x, snr_db, seed=seed + 100)
    t = out.truth
    k = np.arange(out.samples.size)
    y = out.samples * np.exp(-1j * (2 * np.pi * t["cfo_hz"] * (k - out.offset) / NUM.sample_rate + t["phase0_rad"]))
    response = t["freq_response"] * np.exp(-2j * np.pi * NUM.occupied * backoff / n)
    errors = []
    for s in range(n_symbols):
        start = out.offset + s * (n + cp) + cp - backoff
        received = (np.fft.fft(y[start : start + n]) / np.sqrt(n))[bins]
        reference = response * grid[s, bins]
        received *= np.exp(-1j * np.angle(np.vdot(reference, received)))
        errors.append(np.abs(received - reference) ** 2)
    return float(10 * np.log10(np.mean(errors) / t["noise_var"]))


@pytest.mark.parametrize("snr_db", [10.0, 20.0])
def test_lab_costs_less_than_1_db_over_awgn(snr_db: float) -> None:
    # SFO is left out: it moves the FFT window, which this genie does not track.
    lab = dataclasses.replace(PROFILES["lab"], sfo_ppm=0.0)
    for seed in range(3):
        awgn = ofdm_excess_distortion_db(PROFILES["awgn"], snr_db, seed)
        assert abs(awgn) < 0.3
        assert ofdm_excess_distortion_db(lab, snr_db, seed) - awgn < 1.0


def test_snr_at_receiver_follows_the_drawn_channel() -> None:
    """With snr_at_receiver the noise follows each fade: realised SNR equals the requested one."""
    num = Numerology()
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(20000) + 1j * rng.standard_normal(20000)).astype(np.complex64)
    averaged = ChannelEmulator(dataclasses.replace(PROFILES["tdl-c"], pad_before=(0, 0)), num, np.random.default_rng(1))
    at_rx = ChannelEmulator(
        dataclasses.replace(PROFILES["tdl-c"], pad_before=(0, 0), snr_at_receiver=True), num, np.random.default_rng(1)
    )
    gains, ratios = [], []
    for _ in range(20):
        a, b = averaged(x, 10.0).truth, at_rx(x, 10.0).truth
        assert b["snr_db_realised"] == 10.0
        assert b["noise_var"] == pytest.approx(a["noise_var"] * a["channel_gain"], rel=1e-12)
        gains.append(a["channel_gain"])
        ratios.append(b["noise_var"] / a["noise_var"])
    assert np.std(10 * np.log10(gains)) > 1.0  # the fades really differ between draws
    np.testing.assert_allclose(ratios, gains, rtol=1e-12)
    assert PROFILES["lab"].snr_at_receiver
