"""SoapySDR backend on the fake ``SoapySDR`` module: device args, ranges, streams, overflow/timeout
handling, end of burst, cyclic repetition, errors."""

from __future__ import annotations

import logging
import sys
import time

import numpy as np
import pytest
from fakes import Air
from fakes.fake_soapy import (
    SOAPY_SDR_RX,
    SOAPY_SDR_UNDERFLOW,
    FakeSoapyHardware,
    FakeSoapyModule,
    StreamResult,
)

import ota.radios.soapy
from ota.radios import RadioConfig, RadioError, RadioSettingError, RadioTimeout
from ota.radios.device import GRACE_S
from ota.radios.soapy import SoapyRadio, _import_soapy

FS = 1e6
CONFIG = RadioConfig(sample_rate=FS, center_freq=915e6, device_args="driver=fake,serial=F00D", tx_gain_db=50.0,
                     rx_gain_db=30.0, timeout_s=1.0)  # 0.5 s was missed by the writer thread under load


@pytest.fixture()
def hardware(monkeypatch: pytest.MonkeyPatch) -> FakeSoapyHardware:
    """A fake device whose loop gain is 0 dB with CONFIG's gains (50 + 30 - 80)."""
    hw = FakeSoapyHardware(air=Air(sample_rate=FS, snr_db=30.0, seed=6))
    monkeypatch.setattr(ota.radios.soapy, "_import_soapy", lambda: FakeSoapyModule([hw]))
    yield hw
    hw.release.set()


def burst(n: int = 2000, seed: int = 0, rms: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) * rms / np.sqrt(2)).astype(np.complex64)


def peaks(received: np.ndarray, reference: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Where ``reference`` starts in ``received`` (normalised correlation above ``threshold``)."""
    c = np.abs(np.correlate(received, reference, "valid")) / np.linalg.norm(reference) ** 2
    return np.flatnonzero(c > threshold)


def test_opens_by_args_and_names_the_device(hardware: FakeSoapyHardware) -> None:
    with SoapyRadio(CONFIG) as radio:
        assert radio.name == "SoapySDR fake device FakeB210 'driver=fake,serial=F00D'"
        settings = radio.describe()["settings"]
    assert settings["rx_samplerate"] == FS and settings["tx_frequency"] == 915e6
    assert (settings["rx_gain"], settings["tx_gain"], settings["rx_automatic_gain"]) == (30.0, 50.0, False)
    assert hardware.closed


def test_empty_device_args_are_refused_without_enumerating(hardware: FakeSoapyHardware) -> None:
    with pytest.raises(RadioSettingError, match="needs device_args such as driver=uhd.*does not enumerate"):
        SoapyRadio(CONFIG.replace(device_args=""))


def test_no_matching_device_says_what_to_check(hardware: FakeSoapyHardware) -> None:
    with pytest.raises(RadioError, match=r"could not be opened \(SoapySDR::Device::make\(\) no match\).*"
                                         r"SoapySDRUtil --find='driver=fake,serial=BEEF'"):
        SoapyRadio(CONFIG.replace(device_args="driver=fake,serial=BEEF"))


def test_a_device_that_hangs_on_open_fails_within_the_timeout(hardware: FakeSoapyHardware) -> None:
    hardware.hang_make = True
    start = time.monotonic()
    with pytest.raises(RadioTimeout, match=r"did not answer within 0\.5 s \(opening\)"):
        SoapyRadio(CONFIG.replace(timeout_s=0.5))
    assert time.monotonic() - start < 0.8


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 100e6}, r"RX sample rate 100 MS/s is outside what SoapySDR fake device FakeB210 "
                                 r"'driver=fake,serial=F00D' can do \(200 kS/s\.\.56 MS/s\)"),
        ({"tx_center_freq": 10e6}, r"TX centre frequency 10 MHz is outside .* \(70 MHz\.\.6 GHz\)"),
        ({"rx_gain_db": 80.0}, r"RX gain 80 dB is outside .* \(0 dB\.\.76 dB\)"),
        ({"tx_gain_db": -10.0}, r"TX gain -10 dB is outside .* \(0 dB\.\.89\.75 dB\)"),
        ({"rf_bandwidth": 100e6}, r"RF bandwidth 100 MHz is outside .*; leave rf_bandwidth out"),
    ],
)
def test_settings_are_checked_against_the_device_ranges(
    hardware: FakeSoapyHardware, changes: dict, message: str
) -> None:
    with pytest.raises(RadioSettingError, match=message):
        SoapyRadio(CONFIG.replace(**changes))


def test_listed_sample_rates_are_used_when_there_are_no_ranges(hardware: FakeSoapyHardware) -> None:
    hardware.sample_rate_ranges = []
    hardware.sample_rates = [1e6, 2e6]
    with pytest.raises(RadioSettingError, match=r"sample rate 1\.5 MS/s is outside .* \(1 MS/s, 2 MS/s\)"):
        SoapyRadio(CONFIG.replace(sample_rate=1.5e6))
    with SoapyRadio(CONFIG.replace(sample_rate=2e6)) as radio:
        assert radio.describe()["settings"]["tx_samplerate"] == 2e6


def test_agc_needs_a_device_that_has_it(hardware: FakeSoapyHardware) -> None:
    agc = CONFIG.replace(gain_mode="slow_attack", rx_gain_db=None)
    with SoapyRadio(agc) as radio:
        assert radio.describe()["settings"]["rx_automatic_gain"] is True
    hardware.has_agc = False
    with pytest.raises(RadioSettingError, match="has no automatic gain control; use gain_mode='manual'"):
        SoapyRadio(agc)


def test_a_one_shot_burst_is_written_whole_and_ends_the_burst(hardware: FakeSoapyHardware) -> None:
    hardware.mtu = 700  # several partial writes
    x = burst(5000)
    with SoapyRadio(CONFIG) as radio:
        radio.transmit(x)
        received = radio.receive(8000)
    np.testing.assert_array_equal(np.concatenate(hardware.tx_written), x)
    assert hardware.end_bursts == 1
    assert list(peaks(received, x)) == [hardware.air.latency]


def test_cyclic_bursts_repeat_back_to_back_until_stopped(hardware: FakeSoapyHardware) -> None:
    x = burst(3000)
    with SoapyRadio(CONFIG) as radio:
        radio.transmit(x, cyclic=True)
        received = radio.receive(20000)
        radio.stop()
        assert hardware.end_bursts == 1
        radio.receive(hardware.tx_capacity + hardware.air.latency)  # what the driver still had queued
        after = radio.receive(20000)
    starts = peaks(received, x)
    assert len(starts) >= 5 and np.all(np.diff(starts) == x.size)
    assert len(peaks(after, x)) == 0
    assert np.count_nonzero(np.concatenate(hardware.tx_written[-1:])) == 0  # ended by zeros flagged END_BURST


def test_a_new_cyclic_burst_replaces_one_that_filled_the_device_queue(hardware: FakeSoapyHardware) -> None:
    """A device plays its queue out whether or not the host reads: a slow host may replace a cyclic
    burst after the writer filled the whole TX queue, and the new burst is taken (the samples nobody
    read show as one overflow)."""
    first, second = burst(2000, seed=1), burst(2000, seed=2)
    with SoapyRadio(CONFIG) as radio:
        radio.transmit(first, cyclic=True)
        radio.receive(2000)
        deadline = time.monotonic() + 5.0
        while radio._device._tx_cursor - hardware.air.now + 2000 <= hardware.tx_capacity:  # the queue fills
            assert time.monotonic() < deadline, "the writer never filled the fake's TX queue"
            time.sleep(0.01)
        radio.transmit(second, cyclic=True)
        radio.receive(hardware.tx_capacity + hardware.air.latency)
        received = radio.receive(20000)
        radio.stop()
        assert radio.overflows == 1
    assert len(peaks(received, second)) >= 5 and len(peaks(received, first)) == 0


def test_samples_keep_the_interface_scale(hardware: FakeSoapyHardware) -> None:
    hardware.air = Air(sample_rate=FS, snr_db=60.0, seed=1)
    x = burst(2000)
    with SoapyRadio(CONFIG) as radio:
        radio.transmit(x)
        received = radio.receive(4000)
    start = hardware.air.latency
    gain = np.vdot(x, received[start : start + x.size]) / np.vdot(x, x)
    assert abs(gain) == pytest.approx(1.0, abs=0.01)


def test_overflows_are_counted_logged_and_reading_goes_on(
    hardware: FakeSoapyHardware, caplog: pytest.LogCaptureFixture
) -> None:
    hardware.overflow_at_reads = {2, 4}
    with SoapyRadio(CONFIG) as radio:
        with caplog.at_level(logging.WARNING, logger="ota.radios.soapy"):
            received = radio.receive(10000)
        assert received.shape == (10000,) and radio.overflows == 2
    assert "2 overflow(s) while receiving 10000 samples" in caplog.text


def test_timeouts_are_retried_until_the_deadline(hardware: FakeSoapyHardware) -> None:
    hardware.timeout_at_reads = {1, 2, 3}
    with SoapyRadio(CONFIG) as radio:
        assert radio.receive(5000).shape == (5000,)
        assert radio.timeouts == 3
        hardware.stall_rx = True
        start = time.monotonic()
        with pytest.raises(RadioTimeout, match="delivered 0 of 5000 samples within 1 s"):
            radio.receive(5000)
        assert time.monotonic() - start < CONFIG.timeout_s + 5000 / FS + GRACE_S + 0.2


def test_a_hung_read_is_reported_and_close_does_not_block(hardware: FakeSoapyHardware) -> None:
    radio = SoapyRadio(CONFIG)
    hardware.hang_rx = True
    with pytest.raises(RadioTimeout, match=r"did not answer within .* \(readStream\)"):
        radio.receive(1000)
    with pytest.raises(RadioError, match="stopped answering earlier"):
        radio.configure(CONFIG)
    start = time.monotonic()
    radio.close()
    assert radio.closed and time.monotonic() - start < 0.5


def test_tx_underflows_are_counted(hardware: FakeSoapyHardware) -> None:
    with SoapyRadio(CONFIG) as radio:
        radio._device._status.append(StreamResult(SOAPY_SDR_UNDERFLOW))  # the driver reports a late writer
        radio.transmit(burst(1000))
        radio.transmit(burst(1000))  # waits for the first, whose status was polled
        assert radio.underflows == 1


def test_configure_and_transmit_restart_the_rx_stream(hardware: FakeSoapyHardware) -> None:
    with SoapyRadio(CONFIG) as radio:
        rx_stream = radio._rx_stream
        radio.configure(CONFIG.replace(center_freq=2.4e9))
        assert rx_stream.active and radio._device.getFrequency(SOAPY_SDR_RX, 0) == 2.4e9
        radio.transmit(burst(100))
        assert rx_stream.active
    assert rx_stream.closed


def test_without_soapysdr_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "SoapySDR", None)
    with pytest.raises(RadioError, match="apt-get install python3-soapysdr"):
        _import_soapy()
