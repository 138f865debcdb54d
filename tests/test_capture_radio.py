"""SigMF capture radio: recording what is sent, replaying what was recorded, and its errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ota.radios import RadioConfig, RadioError, RadioSettingError
from ota.radios.capture import CaptureRadio, EndOfCapture
from phy.capture import read_capture, write_capture

FS = 1e6


def burst(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 0.2).astype(np.complex64)


@pytest.fixture()
def recording(tmp_path) -> tuple[str, np.ndarray]:
    """A capture of 10000 samples at FS."""
    samples = burst(10000, 0)
    write_capture(tmp_path / "rec", samples, FS, 2.4e9, datatype="cf32_le")
    return str(tmp_path / "rec"), samples


def test_records_every_burst_with_annotations_and_metadata(tmp_path) -> None:
    config = RadioConfig(sample_rate=FS, center_freq=2.4e9, record_path=str(tmp_path / "sent"))
    first, second = burst(300, 1), burst(500, 2)
    with CaptureRadio(config, metadata={"sent": {"image": "kodim01"}}) as radio:
        radio.transmit(first, cyclic=True)
        radio.transmit(second)
        radio.metadata["frames"] = 2  # set after the last burst: written at close
    capture = read_capture(tmp_path / "sent", expected_sample_rate=FS)
    np.testing.assert_array_equal(capture.samples, np.concatenate([first, second]))
    assert capture.center_freq == 2.4e9
    assert [(a["sample_start"], a["sample_count"], a["label"], a["cyclic"]) for a in capture.annotations] == [
        (0, 300, "burst 0", True), (300, 500, "burst 1", False)]
    assert capture.metadata["sent"] == {"image": "kodim01"} and capture.metadata["frames"] == 2
    assert capture.metadata["radio"] == config.to_dict()


def test_replays_a_capture_in_order_then_short_then_ends(recording: tuple[str, np.ndarray]) -> None:
    path, samples = recording
    with CaptureRadio(RadioConfig(sample_rate=FS, capture_path=path)) as radio:
        np.testing.assert_array_equal(radio.receive(6000), samples[:6000])
        assert radio.remaining == 4000
        np.testing.assert_array_equal(radio.receive(6000), samples[6000:])  # what is left: 4000
        with pytest.raises(EndOfCapture, match="all 10000 samples have been received; open it with loop=True"):
            radio.receive(1)


def test_loop_replays_the_capture_again(recording: tuple[str, np.ndarray]) -> None:
    path, samples = recording
    with CaptureRadio(RadioConfig(sample_rate=FS, capture_path=path), loop=True) as radio:
        radio.receive(9000)
        np.testing.assert_array_equal(radio.receive(3000), np.concatenate([samples[9000:], samples[:2000]]))


def test_realtime_replay_runs_at_the_sample_rate(tmp_path) -> None:
    write_capture(tmp_path / "slow", burst(10000, 3), 100e3, 2.4e9)
    with CaptureRadio(RadioConfig(sample_rate=100e3, capture_path=str(tmp_path / "slow")), realtime=True) as radio:
        start = time.monotonic()
        for _ in range(4):
            radio.receive(5000 // 4)
        elapsed = time.monotonic() - start
    assert 0.045 <= elapsed < 0.5  # 5000 samples at 100 kS/s take 50 ms


def test_the_sample_rate_must_match(recording: tuple[str, np.ndarray]) -> None:
    path, _ = recording
    with pytest.raises(RadioSettingError, match=r"rec\.sigmf-meta was recorded at 1e\+06 samples/s but 2e\+06"):
        CaptureRadio(RadioConfig(sample_rate=2e6, capture_path=path))


def test_a_missing_capture_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(RadioSettingError, match=r"cannot be replayed: capture metadata .*nothere\.sigmf-meta not"):
        CaptureRadio(RadioConfig(sample_rate=FS, capture_path=str(tmp_path / "nothere")))


def test_without_a_path_it_says_which_are_needed() -> None:
    with pytest.raises(RadioSettingError, match="needs capture_path .* or record_path"):
        CaptureRadio(RadioConfig())


def test_transmitting_needs_a_record_path(recording: tuple[str, np.ndarray]) -> None:
    path, _ = recording
    with CaptureRadio(RadioConfig(sample_rate=FS, capture_path=path)) as radio:
        with pytest.raises(RadioError, match="records nothing: set record_path"):
            radio.transmit(burst(10, 0))


def test_record_then_replay_follows_the_recording(tmp_path) -> None:
    config = RadioConfig(sample_rate=FS, record_path=str(tmp_path / "loop"))
    first, second = burst(1000, 1), burst(700, 2)
    with CaptureRadio(config) as radio:
        with pytest.raises(EndOfCapture, match="has recorded nothing yet"):
            radio.receive(10)
        radio.transmit(first)
        np.testing.assert_array_equal(radio.receive(1000), first)
        radio.transmit(second)
        np.testing.assert_array_equal(radio.receive(1000), second)  # short: the 700 recorded since


def test_recorded_bursts_fix_the_sample_rate(tmp_path) -> None:
    config = RadioConfig(sample_rate=FS, record_path=str(tmp_path / "fixed"))
    with CaptureRadio(config) as radio:
        radio.transmit(burst(100, 1))
        with pytest.raises(RadioSettingError, match="holds bursts recorded at 1e\\+06 samples/s"):
            radio.configure(config.replace(sample_rate=2e6))
