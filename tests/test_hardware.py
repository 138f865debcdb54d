"""Hardware tests: a real radio named on the command line, its TX looped back to its RX.

    pytest tests/test_hardware.py --radio-uri pluto:usb:1.2.5 --radio-uri soapy:driver=uhd

Connect TX to RX with a cable and a 30-40 dB attenuator (or put the antennas close together). The
radio transmits at ``JSCC_RADIO_FREQ`` Hz (default 2.45e9, the 2.4 GHz ISM band): choose a frequency you
may transmit on. Without ``--radio-uri`` these tests are skipped (tests/conftest.py); with
``--radio-uri emulator:lab`` they run through the channel emulator, a dry run without hardware.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from ota.radios import Radio, RadioConfig, RadioTimeout, open_radio, parse_radio_spec
from phy.frame_config import FrameConfig
from phy.numerology import Numerology
from phy.receiver import Receiver
from phy.transmitter import Transmitter

pytestmark = pytest.mark.hardware

SAMPLE_RATE = 2e6
FREQ = float(os.environ.get("JSCC_RADIO_FREQ", "2.45e9"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "radio_uri" in metafunc.fixturenames:
        metafunc.parametrize("radio_uri", metafunc.config.getoption("--radio-uri") or ["(none given)"])


@pytest.fixture()
def radio(radio_uri: str) -> Radio:
    """The radio at ``radio_uri`` with low TX power and the receiver's AGC where there is one."""
    base = RadioConfig(sample_rate=SAMPLE_RATE, center_freq=FREQ, rx_buffer_size=32768, timeout_s=3.0)
    kind, config = parse_radio_spec(radio_uri, base)
    if kind == "pluto":
        config = config.replace(tx_gain_db=-30.0, gain_mode="slow_attack")
    with open_radio(kind, config) as opened:
        yield opened


def test_a_cyclic_tone_comes_back_at_its_frequency(radio: Radio) -> None:
    n, tone_hz = 4096, SAMPLE_RATE / 8  # 512 whole cycles: the cyclic buffer repeats without a jump
    tone = (0.5 * np.exp(2j * np.pi * tone_hz / SAMPLE_RATE * np.arange(n))).astype(np.complex64)
    radio.transmit(tone, cyclic=True)
    radio.receive(65536)  # AGC settling
    received = radio.receive(65536)
    radio.stop()
    spectrum = np.abs(np.fft.fft(received * np.hanning(received.size))) ** 2
    freqs = np.fft.fftfreq(received.size, 1 / SAMPLE_RATE)
    peak = int(np.argmax(spectrum))
    # Within the carrier offset of two references 20 ppm apart at 2.45 GHz (49 kHz); one radio's own loop is closer.
    assert abs(freqs[peak] - tone_hz) < 60e3
    assert 10 * np.log10(spectrum[peak] / np.median(spectrum)) > 30


def test_an_ofdm_burst_is_decoded(radio: Radio) -> None:
    numerology = Numerology(sample_rate=SAMPLE_RATE)
    rng = np.random.default_rng(0)
    payload = np.exp(2j * np.pi * (rng.integers(0, 4, 4000) + 0.5) / 4).astype(np.complex64)
    sent = Transmitter(numerology, FrameConfig()).transmit(payload, sequence=9).samples
    radio.transmit(sent, cyclic=True)
    radio.receive(65536)
    received = radio.receive(3 * sent.size)
    radio.stop()
    frames = Receiver(numerology).receive(received)
    assert frames, "no frame found: check the TX-RX cable or antennas, the gains and the frequency"
    frame = frames[0]
    assert frame.header.sequence == 9
    decided = np.exp(1j * (np.round(np.angle(frame.symbols) / (np.pi / 2) - 0.5) + 0.5) * np.pi / 2)
    expected = payload[frame.header.offset : frame.header.offset + frame.header.payload_len]
    assert np.mean(~np.isclose(decided, expected, atol=1e-3)) < 0.01


def test_a_receive_returns_within_its_deadline(radio: Radio) -> None:
    n = 200_000
    start = time.monotonic()
    try:
        radio.receive(n)
    except RadioTimeout:
        pass
    assert time.monotonic() - start < radio.config.timeout_s + n / SAMPLE_RATE + 0.5
