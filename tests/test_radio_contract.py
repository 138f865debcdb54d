"""The radio contract, the same for every backend: PlutoSDR and SoapySDR (on faithful fakes of their
device APIs), the SigMF capture radio (record, then replay) and the channel emulator.

Each backend comes as a :class:`Bench`: a valid configuration, a configuration the device must refuse
(with the words the error must contain: the device and its range), and a way to make it stall.
The emulator has no device API to fake; its own checks are at the end of this file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from fakes import Air
from fakes.fake_adi import FakeAdiModule, FakePlutoHardware
from fakes.fake_soapy import FakeSoapyHardware, FakeSoapyModule

import ota.radios.pluto
import ota.radios.soapy
from ota.radios import (
    Radio,
    RadioConfig,
    RadioError,
    RadioSettingError,
    RadioTimeout,
    open_radio,
    parse_radio_spec,
)
from ota.radios.device import GRACE_S
from ota.radios.emulator import EmulatorRadio
from phy.capture import write_capture

SAMPLE_RATE = 1e6
BURST_LEN = 2000
N = 2000  # samples per receive: at least the burst's first PREFIX samples whatever the latency
PREFIX = 512
TIMEOUT_S = 1.0  # the radios' deadline; 0.5 s was once missed by the SoapySDR fake on a busy 2-core machine


def random_burst(seed: int, n: int = BURST_LEN, rms: float = 0.25) -> np.ndarray:
    """A noise-like burst (complex64 (n,)) whose correlation peak is sharp."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    return (x * rms / np.sqrt(2)).astype(np.complex64)


def correlation(received: np.ndarray, reference: np.ndarray) -> float:
    """Peak of the normalised cross-correlation of ``reference`` over ``received`` (1 = an exact copy)."""
    c = np.abs(np.correlate(received, reference, "valid"))
    energy = np.sqrt(np.convolve(np.abs(received) ** 2, np.ones(reference.size), "valid"))
    return float((c / (energy * np.linalg.norm(reference) + 1e-30)).max())


@dataclass
class Bench:
    """One backend ready to open."""

    kind: str
    config: RadioConfig
    bad_config: RadioConfig  # a sample rate the device cannot do
    bad_words: tuple[str, ...]  # what the refusal must name
    options: dict = field(default_factory=dict)
    stall: Callable[[], None] | None = None  # makes the device stop delivering samples
    queued: int = 0  # samples of an old burst the device may still send after a new one is submitted

    def open(self, config: RadioConfig | None = None) -> Radio:
        return open_radio(self.kind, config or self.config, **self.options)


@pytest.fixture(params=["pluto", "soapy", "capture", "emulator"])
def bench(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Bench:
    base = RadioConfig(sample_rate=SAMPLE_RATE, timeout_s=TIMEOUT_S, center_freq=915e6)
    if request.param == "pluto":
        hardware = FakePlutoHardware(air=Air(sample_rate=SAMPLE_RATE, seed=1))
        monkeypatch.setattr(ota.radios.pluto, "_import_adi", lambda: FakeAdiModule({"usb:1.2.5": hardware}))
        request.addfinalizer(hardware.release.set)
        config = base.replace(uri="usb:1.2.5", tx_gain_db=-10.0, rx_gain_db=40.0, rx_buffer_size=4096)

        def stall() -> None:
            hardware.stall = "hang"

        return Bench("pluto", config, config.replace(sample_rate=100e6),
                     ("PlutoSDR at usb:1.2.5", "521 kS/s..61.44 MS/s"), stall=stall)
    if request.param == "soapy":
        hardware = FakeSoapyHardware(air=Air(sample_rate=SAMPLE_RATE, seed=2))
        monkeypatch.setattr(ota.radios.soapy, "_import_soapy", lambda: FakeSoapyModule([hardware]))
        request.addfinalizer(hardware.release.set)
        config = base.replace(device_args="driver=fake,serial=F00D", tx_gain_db=50.0, rx_gain_db=30.0)

        def stall() -> None:
            hardware.stall_rx = True

        return Bench("soapy", config, config.replace(sample_rate=100e6), ("FakeB210", "200 kS/s..56 MS/s"),
                     stall=stall, queued=hardware.tx_capacity + hardware.air.latency)
    if request.param == "capture":
        recorded_at_2m = tmp_path / "at-2MSps"
        write_capture(recorded_at_2m, random_burst(9), 2e6, 915e6)
        config = base.replace(record_path=str(tmp_path / "record"))
        return Bench("capture", config, config.replace(capture_path=str(recorded_at_2m)),
                     (str(recorded_at_2m), "2e+06 samples/s", "1e+06 samples/s"))
    config = base.replace(profile="awgn", snr_db=20.0, seed=3)
    return Bench("emulator", config, config.replace(profile="lab", sample_rate=80e3),
                 ("channel emulator at 80000 samples/s", "below half the sample rate"))


def test_configure_with_valid_settings(bench: Bench) -> None:
    with bench.open() as radio:
        changed = bench.config.replace(center_freq=2.45e9, rf_bandwidth=800e3)
        radio.configure(changed)
        assert radio.config == changed
        assert radio.describe()["config"]["center_freq"] == 2.45e9


def test_invalid_sample_rate_names_device_and_range(bench: Bench) -> None:
    with pytest.raises(RadioSettingError) as opened:
        bench.open(bench.bad_config)
    assert isinstance(opened.value, ValueError)
    for word in bench.bad_words:
        assert word in str(opened.value)
    with bench.open() as radio:
        with pytest.raises(RadioSettingError) as configured:
            radio.configure(bench.bad_config)
        assert all(word in str(configured.value) for word in bench.bad_words)
        assert radio.config == bench.config  # the old settings stay in force


def test_transmit_then_receive_has_the_burst(bench: Bench) -> None:
    burst = random_burst(1)
    with bench.open() as radio:
        radio.transmit(burst)
        received = radio.receive(N)
    assert received.dtype == np.complex64 and received.shape == (N,)
    assert correlation(received, burst[:PREFIX]) > 0.95


def test_cyclic_transmit_twice_replaces_the_burst(bench: Bench) -> None:
    first, second = random_burst(1), random_burst(2)
    with bench.open() as radio:
        radio.transmit(first, cyclic=True)
        assert correlation(radio.receive(N), first[:PREFIX]) > 0.95
        radio.transmit(second, cyclic=True)
        if bench.queued:  # a driver's TX buffering (SoapySDR) still sends what it holds of the first
            radio.receive(bench.queued)
        received = radio.receive(N)
        radio.stop()
    assert received.shape == (N,)
    assert correlation(received, second[:PREFIX]) > 0.95
    assert correlation(received, first[:PREFIX]) < 0.3


def test_close_is_idempotent_and_use_after_close_is_refused(bench: Bench) -> None:
    with bench.open() as radio:
        pass
    assert radio.closed
    radio.close()
    for call in (lambda: radio.receive(10), lambda: radio.transmit(random_burst(1)), radio.stop,
                 lambda: radio.configure(bench.config), radio.describe):
        with pytest.raises(RadioError, match="is closed"):
            call()


def test_bad_arguments_are_value_errors(bench: Bench) -> None:
    with bench.open() as radio:
        with pytest.raises(ValueError, match="exceeds full scale"):
            radio.transmit(np.full(100, 1.5, np.complex64))
        with pytest.raises(ValueError, match="non-empty 1-D"):
            radio.transmit(np.zeros((2, 10), np.complex64))
        with pytest.raises(ValueError, match="positive integer"):
            radio.receive(0)


def test_receive_never_blocks_longer_than_the_timeout(bench: Bench) -> None:
    n = 5000
    limit = TIMEOUT_S + n / SAMPLE_RATE
    with bench.open() as radio:
        if bench.stall is not None:
            bench.stall()
        if bench.kind == "capture":
            radio.transmit(random_burst(1, n))
        start = time.monotonic()
        try:
            received = radio.receive(n)
        except RadioTimeout:
            assert bench.stall is not None
        else:
            assert bench.stall is None and received.shape == (n,)
        elapsed = time.monotonic() - start
    assert elapsed < limit + GRACE_S + 0.3


# --- backend: emulator (no device API to fake; the contract above covers the rest) ---


def test_emulator_is_reproducible_from_its_seed() -> None:
    config = RadioConfig(sample_rate=SAMPLE_RATE, profile="tdl-a", snr_db=15.0, seed=7)
    outputs = []
    for _ in range(2):
        with EmulatorRadio(config) as radio:
            radio.transmit(random_burst(1), cyclic=True)
            outputs.append(radio.receive(6000))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_emulator_noise_matches_its_snr() -> None:
    snr_db, rms = 10.0, 0.25
    burst = random_burst(1, rms=rms)
    config = RadioConfig(sample_rate=SAMPLE_RATE, profile="awgn", snr_db=snr_db, seed=0)
    with EmulatorRadio(config, reference_rms=rms) as radio:
        quiet = radio.receive(20000)  # nothing sent yet: noise for a signal of the reference RMS
        radio.transmit(burst)
        radio.receive(BURST_LEN + 1300)  # the burst's pass: at most 1000 + 2000 + 300 samples
        after = radio.receive(20000)  # then noise for the burst's own power
    occupied = radio._emulator.numerology.occupied_fraction
    for noise, power in ((quiet, rms**2), (after, np.mean(np.abs(burst) ** 2))):
        assert np.mean(np.abs(noise) ** 2) == pytest.approx(power / (10 ** (snr_db / 10) * occupied), rel=0.03)


def test_emulator_cyclic_repeats_are_separated_by_noise_padding() -> None:
    config = RadioConfig(sample_rate=SAMPLE_RATE, profile="awgn", snr_db=30.0, seed=0)
    burst = random_burst(4, 1000)
    with EmulatorRadio(config) as radio:
        radio.transmit(burst, cyclic=True)
        received = radio.receive(20000)
    c = np.abs(np.correlate(received, burst, "valid")) / np.linalg.norm(burst) ** 2
    peaks = np.flatnonzero(c > 0.5)
    gaps = np.diff(peaks)
    assert len(peaks) >= 8  # 20000 samples hold >= 8 passes of 1000 + padding (200..1300)
    assert np.all((gaps >= 1000 + 200) & (gaps <= 1000 + 1300))


def test_emulator_unknown_profile_lists_the_names() -> None:
    with pytest.raises(RadioSettingError, match="unknown channel profile 'moon'.*awgn"):
        EmulatorRadio(RadioConfig(profile="moon"))


# --- the interface itself ---


def test_open_radio_refuses_an_unknown_kind() -> None:
    with pytest.raises(RadioSettingError, match="unknown radio kind 'hackrf'.*'emulator'"):
        open_radio("hackrf", RadioConfig())


def test_parse_radio_spec_sets_the_address() -> None:
    assert parse_radio_spec("pluto:usb:1.2.5")[1].uri == "usb:1.2.5"
    assert parse_radio_spec("soapy:driver=uhd,serial=3")[1].device_args == "driver=uhd,serial=3"
    assert parse_radio_spec("capture:c.sigmf-meta")[1].capture_path == "c.sigmf-meta"
    kind, config = parse_radio_spec("emulator:tdl-b", RadioConfig(snr_db=5.0))
    assert (kind, config.profile, config.snr_db) == ("emulator", "tdl-b", 5.0)
    assert parse_radio_spec("pluto") == ("pluto", RadioConfig())
    with pytest.raises(RadioSettingError, match="unknown kind 'usrp'"):
        parse_radio_spec("usrp:addr=1")


def test_radio_config_round_trips_through_toml(tmp_path) -> None:
    config = RadioConfig(sample_rate=4e6, tx_center_freq=2.4e9, rx_center_freq=2.5e9, tx_gain_db=-20.0,
                         gain_mode="fast_attack", uri="usb:1.2.5", seed=4)
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in config.to_dict().items() if v is not None]
    (tmp_path / "radio.toml").write_text("[radio]\n" + "\n".join(lines) + "\n")
    loaded = RadioConfig.from_toml(tmp_path / "radio.toml")
    assert loaded == config
    assert (loaded.tx_freq, loaded.rx_freq) == (2.4e9, 2.5e9)
    assert RadioConfig(record_path=tmp_path / "r").record_path == str(tmp_path / "r")  # JSON-ready
    (tmp_path / "bad.toml").write_text("[radio]\nsample_rat = 1e6\n")
    with pytest.raises(RadioSettingError, match="unknown key\\(s\\) sample_rat in \\[radio\\]"):
        RadioConfig.from_toml(tmp_path / "bad.toml")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": -1.0}, "sample_rate=-1.0 must be a positive number"),
        ({"gain_mode": "auto"}, "gain_mode='auto' is not known"),
        ({"gain_mode": "slow_attack", "rx_gain_db": 30.0}, "applies only with gain_mode='manual'"),
        ({"rx_buffer_size": 0}, "rx_buffer_size=0 must be an integer >= 1"),
        ({"center_freq": None}, "center_freq=None must be a positive number"),
        ({"uri": 192}, "uri=192 must be a string"),
        ({"tx_gain_db": float("nan")}, "tx_gain_db=nan must be a finite number"),
    ],
)
def test_radio_config_refuses_bad_values(changes: dict, message: str) -> None:
    with pytest.raises(RadioSettingError, match=message.replace("[", "\\[")):
        RadioConfig(**changes)
