"""PlutoSDR backend on the fake ``adi`` module: scaling, buffer lifecycle, limits, timeouts, errors.

The fake's own fidelity checks (the errors pyadi-iio raises) come first: the backend is only as well
tested as the fake is faithful.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from fakes import Air
from fakes.fake_adi import (
    CYCLIC_ERROR,
    CYCLIC_SETTER_ERROR,
    LENGTH_ERROR,
    STALE_CODE,
    FakeAdiModule,
    FakePluto,
    FakePlutoHardware,
)

import ota.radios.pluto
from ota.radios import RadioConfig, RadioError, RadioSettingError, RadioTimeout
from ota.radios.device import GRACE_S
from ota.radios.pluto import PlutoRadio, _import_adi
from phy.frame_config import FrameConfig
from phy.numerology import Numerology
from phy.receiver import Receiver
from phy.transmitter import Transmitter

URI = "usb:1.2.5"
FS = 1e6
CONFIG = RadioConfig(sample_rate=FS, center_freq=915e6, uri=URI, tx_gain_db=-10.0, rx_gain_db=40.0,
                     rx_buffer_size=4096, timeout_s=0.5)


@pytest.fixture()
def hardware(monkeypatch: pytest.MonkeyPatch) -> FakePlutoHardware:
    """A fake Pluto at URI whose loop gain is 0 dB with CONFIG's gains (-10 + 40 - 30)."""
    hw = FakePlutoHardware(air=Air(sample_rate=FS, snr_db=30.0, seed=5))
    monkeypatch.setattr(ota.radios.pluto, "_import_adi", lambda: FakeAdiModule({URI: hw}))
    yield hw
    hw.release.set()


def burst(n: int = 2000, seed: int = 0, rms: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) * rms / np.sqrt(2)).astype(np.complex64)


# --- the fake is faithful to pyadi-iio ---


def test_fake_refuses_a_second_push_to_a_cyclic_buffer(hardware: FakePlutoHardware) -> None:
    sdr = FakePluto(hardware, URI)
    sdr.tx_cyclic_buffer = True
    sdr.tx(np.ones(100) * 1000)
    with pytest.raises(Exception, match=CYCLIC_ERROR.replace(".", r"\.")):
        sdr.tx(np.ones(100) * 1000)
    with pytest.raises(Exception, match=CYCLIC_SETTER_ERROR):
        sdr.tx_cyclic_buffer = False
    sdr.tx_destroy_buffer()
    sdr.tx_cyclic_buffer = False
    sdr.tx(np.ones(100) * 1000)
    with pytest.raises(Exception, match=LENGTH_ERROR):
        sdr.tx(np.ones(50) * 1000)


def test_fake_takes_attributes_as_sysfs_does(hardware: FakePlutoHardware) -> None:
    sdr = FakePluto(hardware, URI)
    with pytest.raises(Exception, match="Value must be an int"):
        sdr.rx_lo = 2.4e9
    with pytest.raises(ValueError, match="below 521e3"):
        sdr.sample_rate = 500000
    with pytest.raises(OSError, match="Invalid argument"):
        sdr.sample_rate = 2e6  # written as "2000000.0", which the kernel does not parse
    with pytest.raises(OSError, match="Invalid argument"):
        sdr.tx_lo = 100_000_000  # below the AD9363's 325 MHz
    sdr.gain_control_mode_chan0 = "slow_attack"
    sdr.rx_hardwaregain_chan0 = 10.0  # ignored outside manual mode, as pyadi-iio does
    assert hardware.attributes["rx_hardwaregain_chan0"] == 40.0


def test_fake_serves_stale_blocks_after_a_change_until_the_buffer_is_destroyed(hardware: FakePlutoHardware) -> None:
    sdr = FakePluto(hardware, URI)
    sdr.rx()
    sdr.rx_lo = 2_400_000_000
    assert np.all(sdr.rx() == STALE_CODE + 1j * STALE_CODE)
    sdr.rx_destroy_buffer()
    assert not np.any(sdr.rx() == STALE_CODE + 1j * STALE_CODE)


# --- the backend ---


def test_scales_to_the_dac_and_from_the_adc(hardware: FakePlutoHardware) -> None:
    x = burst(2000)
    hardware.air = Air(sample_rate=FS, snr_db=60.0, seed=1)
    with PlutoRadio(CONFIG) as radio:
        radio.transmit(x)
        received = radio.receive(4000)
    cyclic, iq = hardware.tx_log[-1]
    assert not cyclic
    np.testing.assert_array_equal(iq[:, 0], np.round(x.real * 2**14))
    np.testing.assert_array_equal(iq[:, 1], np.round(x.imag * 2**14))
    words = received * 2048
    assert np.array_equal(words, np.round(words)) and np.abs(words.real).max() <= 2048
    start = hardware.air.latency
    aligned = received[start : start + x.size]
    gain = np.vdot(x, aligned) / np.vdot(x, x)
    assert abs(gain) == pytest.approx(1.0, abs=0.01)  # loop gain 0 dB: the interface's full scale both ways


def test_cyclic_bursts_destroy_the_previous_buffer(hardware: FakePlutoHardware) -> None:
    with PlutoRadio(CONFIG) as radio:
        destroyed = hardware.tx_destroyed
        radio.transmit(burst(1000, 1), cyclic=True)
        radio.transmit(burst(3000, 2), cyclic=True)
        radio.transmit(burst(500, 3))
        assert hardware.tx_destroyed == destroyed + 3
        radio.stop()  # a one-shot burst is not cut short
        assert hardware.tx_destroyed == destroyed + 3
        cyclic = burst(800, 4)
        radio.transmit(cyclic, cyclic=True)
        radio.stop()
        assert hardware.tx_destroyed == destroyed + 5
        received = radio.receive(5000)
        c = np.abs(np.correlate(received, cyclic, "valid")) / np.linalg.norm(cyclic) ** 2
        assert c.max() < 0.2  # the cyclic buffer is gone
    assert [c for c, _ in hardware.tx_log] == [True, True, False, True]


def test_a_one_shot_burst_gets_its_time_on_air_before_the_next(hardware: FakePlutoHardware) -> None:
    with PlutoRadio(CONFIG) as radio:
        radio.transmit(burst(100_000))  # 0.1 s at 1 MS/s
        start = time.monotonic()
        radio.transmit(burst(1000))
        assert time.monotonic() - start >= 0.09


def test_configure_flushes_stale_buffers(hardware: FakePlutoHardware) -> None:
    with PlutoRadio(CONFIG) as radio:
        radio.receive(5000)
        destroyed = hardware.rx_destroyed
        radio.configure(CONFIG.replace(center_freq=2.4e9, rx_gain_db=30.0, rx_buffer_size=1000))
        received = radio.receive(5000)
        assert hardware.rx_destroyed == destroyed + 1
        assert radio._device._rxbuf == 1000  # the new buffer size took effect
    assert not np.any(np.isclose(np.abs(received.real), STALE_CODE / 2048))


def test_the_stream_continues_across_receives(monkeypatch: pytest.MonkeyPatch) -> None:
    def received(sizes: list[int]) -> np.ndarray:
        hw = FakePlutoHardware(air=Air(sample_rate=FS, seed=3))
        monkeypatch.setattr(ota.radios.pluto, "_import_adi", lambda: FakeAdiModule({URI: hw}))
        with PlutoRadio(CONFIG) as radio:
            radio.transmit(burst(1500), cyclic=True)
            return np.concatenate([radio.receive(n) for n in sizes])

    np.testing.assert_array_equal(received([10000]), received([1000, 6000, 3000]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 300e3}, r"sample rate 300 kS/s is outside what PlutoSDR at usb:1\.2\.5 can do "
                                 r"\(521 kS/s\.\.61\.44 MS/s\)"),
        ({"center_freq": 100e6}, "TX centre frequency 100 MHz is outside .* \\(325 MHz..3.8 GHz\\); the AD9363 as "
                                 "shipped; a Pluto switched to AD9364 mode tunes 70 MHz..6 GHz"),
        ({"rx_center_freq": 5e9}, "RX centre frequency 5 GHz"),
        ({"rf_bandwidth": 100e6}, "RF bandwidth 100 MHz is outside .* \\(200 kHz..56 MHz\\)"),
        ({"tx_gain_db": 3.0}, "TX gain 3 dB is outside .* \\(-89.75 dB..0 dB\\)"),
        ({"center_freq": 2.4e9, "rx_gain_db": 75.0}, "RX gain 75 dB .* \\(-4 dB..71 dB\\); at 2400 MHz"),
    ],
)
def test_limits_are_checked_before_the_device_is_touched(
    hardware: FakePlutoHardware, changes: dict, message: str
) -> None:
    with pytest.raises(RadioSettingError, match=message):
        PlutoRadio(CONFIG.replace(**changes))
    assert hardware.opens == 0


def test_ad9364_mode_tunes_below_325_mhz(hardware: FakePlutoHardware) -> None:
    hardware.chip = "ad9364"
    with PlutoRadio(CONFIG.replace(center_freq=100e6), ad9364=True) as radio:
        assert radio.describe()["settings"]["rx_lo"] == 100_000_000


def test_agc_mode_leaves_the_gain_to_the_agc(hardware: FakePlutoHardware) -> None:
    with PlutoRadio(CONFIG.replace(gain_mode="fast_attack", rx_gain_db=None)) as radio:
        settings = radio.describe()["settings"]
    assert settings["gain_control_mode_chan0"] == "fast_attack"
    assert settings["rx_hardwaregain_chan0"] == hardware.agc_gain_db


def test_the_iio_context_gets_the_timeout(hardware: FakePlutoHardware) -> None:
    with PlutoRadio(CONFIG) as radio:
        assert radio._device.ctx.timeout_ms == round(1000 * (CONFIG.timeout_s + CONFIG.rx_buffer_size / FS))


def test_a_uri_without_a_device_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ota.radios.pluto, "_import_adi", lambda: FakeAdiModule({}))
    start = time.monotonic()
    with pytest.raises(RadioError, match=r"PlutoSDR at usb:9\.9\.9 could not be opened \(No device found\).*"
                                         r"iio_info -u usb:9\.9\.9"):
        PlutoRadio(CONFIG.replace(uri="usb:9.9.9"))
    assert time.monotonic() - start < 0.5


def test_a_device_that_does_not_answer_fails_within_the_timeout(hardware: FakePlutoHardware) -> None:
    hardware.hang_open = True
    start = time.monotonic()
    with pytest.raises(RadioTimeout, match=r"PlutoSDR at usb:1\.2\.5 did not answer within 0\.5 s \(opening the IIO "
                                           r"context\): check the USB/Ethernet link"):
        PlutoRadio(CONFIG)
    assert time.monotonic() - start < 0.8


def test_an_iio_timeout_becomes_a_radio_timeout(hardware: FakePlutoHardware) -> None:
    with PlutoRadio(CONFIG) as radio:
        hardware.stall = "timeout"
        start = time.monotonic()
        with pytest.raises(RadioTimeout, match=r"did not answer within 0\.504 s \(rx: \[Errno 110\] Connection timed "):
            radio.receive(1000)
        assert time.monotonic() - start < CONFIG.timeout_s + CONFIG.rx_buffer_size / FS + GRACE_S + 0.2


def test_a_hung_device_is_reported_and_close_does_not_block(hardware: FakePlutoHardware) -> None:
    radio = PlutoRadio(CONFIG)
    hardware.stall = "hang"
    with pytest.raises(RadioTimeout, match="did not answer within"):
        radio.receive(1000)
    with pytest.raises(RadioError, match="stopped answering earlier"):
        radio.transmit(burst(100))
    start = time.monotonic()
    radio.close()
    assert radio.closed and time.monotonic() - start < 0.3


def test_without_pyadi_iio_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "adi", None)
    with pytest.raises(RadioError, match=r"pip install -e '\.\[pluto\]' and install Debian's libiio0"):
        _import_adi()


def test_an_empty_uri_is_refused() -> None:
    with pytest.raises(RadioSettingError, match="needs a URI such as"):
        PlutoRadio(CONFIG.replace(uri=""))


def test_an_ofdm_burst_comes_back_at_the_channel_snr(hardware: FakePlutoHardware) -> None:
    numerology = Numerology(sample_rate=FS)
    rng = np.random.default_rng(0)
    payload = np.exp(2j * np.pi * rng.integers(0, 4, 2000) / 4).astype(np.complex64)
    sent = Transmitter(numerology, FrameConfig()).transmit(payload).samples
    with PlutoRadio(CONFIG) as radio:
        radio.transmit(sent, cyclic=True)
        received = radio.receive(3 * sent.size)
    start = hardware.air.latency
    aligned = received[start : start + sent.size]
    active = sent != 0
    gain = np.vdot(sent[active], aligned[active]) / np.vdot(sent[active], sent[active])
    residual = aligned[active] - gain * sent[active]
    snr_db = 10 * np.log10(np.mean(np.abs(gain * sent[active]) ** 2) / np.mean(np.abs(residual) ** 2))
    # The emulator's SNR counts the occupied subcarriers only: in the time domain it is lower by that fraction.
    assert snr_db == pytest.approx(30.0 + 10 * np.log10(numerology.occupied_fraction), abs=0.5)


def test_an_ofdm_burst_through_a_lab_channel_is_decoded(hardware: FakePlutoHardware) -> None:
    hardware.air = Air(sample_rate=FS, profile="lab", snr_db=20.0, seed=2)
    numerology = Numerology(sample_rate=FS)
    rng = np.random.default_rng(1)
    payload = np.exp(2j * np.pi * (rng.integers(0, 4, 3000) + 0.5) / 4).astype(np.complex64)
    sent = Transmitter(numerology, FrameConfig()).transmit(payload, sequence=5).samples
    with PlutoRadio(CONFIG) as radio:
        radio.transmit(sent, cyclic=True)
        received = radio.receive(2 * sent.size)
    frames = Receiver(numerology).receive(received)
    assert frames and frames[0].header.sequence == 5 and frames[0].header.payload_len == payload.size
    assert np.mean(np.abs(frames[0].symbols - payload) > 0.7) < 0.01  # QPSK decisions at 20 dB
