"""Follow mode: ``ota tx --count`` into one capture, ``ota replay --follow`` and ``ota rx --follow`` decode
each image of it as it arrives, through a channel the project has not seen, with flat memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import Air
from fakes.fake_soapy import FakeSoapyHardware, FakeSoapyModule

import ota.commands.replay as replay_command
import ota.follow as follow
import ota.radios.soapy
from ota.cli import main
from phy.capture import capture_info, read_capture, write_capture
from phy.receiver import Receiver

REPOSITORY = Path(__file__).resolve().parents[1]
MODEL = "mse-cbr48"  # the fastest decoder: the test is about the stream, not the model
SNR_DB = 16.0


def _unseen_channel(samples: np.ndarray, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Three static paths at 0, 5 and 11 samples, a 1.7 kHz CFO, a 113-sample delay, AWGN at 16 dB.

    Written here for this test only: none of the project's channel profiles (phy.channel.profile) is it.
    """
    taps = np.zeros(12, np.complex64)
    taps[[0, 5, 11]] = [0.9, 0.35 * np.exp(1j), 0.2 * np.exp(-2j)]
    taps /= np.linalg.norm(taps)
    y = np.convolve(np.concatenate([np.zeros(113, np.complex64), samples]), taps)[: samples.size + 113]
    y = y * np.exp(2j * np.pi * 1700.0 / sample_rate * np.arange(y.size))
    active = np.abs(samples) > 0
    power = float(np.mean(np.abs(samples[active]) ** 2))
    noise = rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)
    return (y + noise * np.sqrt(power / 10 ** (SNR_DB / 10) / 2)).astype(np.complex64)


@pytest.fixture(scope="module")
def kodim23(kodak_dir) -> Path:
    return kodak_dir / "kodim23.png"


def _transmissions(kodim23: Path, folder: Path, count: int) -> Path:
    """``ota tx --count`` into a capture, then the capture through :func:`_unseen_channel`."""
    clean = folder / f"clean{count}.sigmf-meta"
    assert main(["tx", str(kodim23), "--model", MODEL, "--radio", "capture", "--capture", str(clean),
                 "--count", str(count)]) == 0
    capture = read_capture(clean)
    impaired = _unseen_channel(capture.samples, capture.sample_rate, np.random.default_rng(count))
    path = folder / f"impaired{count}.sigmf-meta"
    write_capture(path, impaired, capture.sample_rate, capture.center_freq or 915e6, metadata=capture.metadata)
    return path


@pytest.fixture(scope="module")
def streams(kodim23, tmp_path_factory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("follow")
    return {count: _transmissions(kodim23, folder, count) for count in (5, 30)}


def test_tx_count_writes_the_transmissions_back_to_back(streams):
    info = capture_info(streams[30])
    assert info["metadata"]["sent"]["count"] == 30 and info["metadata"]["sent"]["sequence"] == 0
    clean = read_capture(streams[30].with_name("clean30.sigmf-meta"))
    assert len(clean.annotations) == 30  # one burst each, with its gap of silence
    assert clean.samples.size == 30 * (clean.annotations[0]["sample_count"])


REPLAY_PROBE = """
import resource, sys, tracemalloc
import ota.follow as follow
from ota.cli import main

write_summary = follow.Follower.write_summary

def traced_write_summary(self):
    print("TRACED_MB", tracemalloc.get_traced_memory()[0] / 2**20)  # after each image, and at the end
    return write_summary(self)

follow.Follower.write_summary = traced_write_summary
tracemalloc.start()
rc = main(sys.argv[1:])
print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
sys.exit(rc)
"""


def _replay_rss(capture: Path, out: Path, reference: Path) -> tuple[dict, float, list[float]]:
    """``ota replay --follow`` in a fresh process: its summary, its peak resident memory [MB] and the memory
    that Python and numpy hold after each image (tracemalloc, MB)."""
    done = subprocess.run([sys.executable, "-c", REPLAY_PROBE, "replay", str(capture), "--follow", "--chunk", "20000",
                           "--reference", str(reference), "--out", str(out)], cwd=REPOSITORY,
                          env={**os.environ, "PYTHONPATH": str(REPOSITORY)}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("image ") for line in lines) == json.loads((out / "summary.json").read_text())[
        "images_decoded"]  # one line per image
    peak = float(next(line.split()[1] for line in lines if line.startswith("PEAK_RSS_MB")))
    traced = [float(line.split()[1]) for line in lines if line.startswith("TRACED_MB")]
    return json.loads((out / "summary.json").read_text()), peak, traced


@pytest.mark.slow
def test_replay_follow_decodes_all_30_in_order_with_flat_memory(streams, kodim23, weights_dir, tmp_path):
    summary, peak30, traced = _replay_rss(streams[30], tmp_path / "thirty", kodim23)
    assert len(traced) == 31  # after each image and at the end
    # Python and numpy memory flat: what the images 21 to 30 leave held (the least of them: buffers come and go
    # by a megabyte or two) within 0.5 MB of the images 6 to 15 (one image's received frames hold about 0.5 MB)
    assert min(traced[20:30]) - min(traced[5:15]) < 0.5, traced
    assert summary["images_decoded"] == 30 and summary["images_incomplete"] == 0
    assert [image["sequence"] for image in summary["images"]] == list(range(30))
    assert summary["frames_decoded"] == 30 * summary["images"][0]["frames_expected"]
    assert summary["samples_processed"] == capture_info(streams[30])["n_samples"] and summary["overflows"] == 0
    assert summary["rx_msps"] > 0
    assert all(image["psnr_db"] > 22 for image in summary["images"])  # mse-cbr48 gives 24.4 dB clean
    for index in (0, 29):
        result = json.loads((tmp_path / "thirty" / f"{index:05d}" / "result.json").read_text())
        assert result["config"]["sequence"] == index and (tmp_path / "thirty" / f"{index:05d}" /
                                                           "reconstruction.png").is_file()
    five, peak5, _ = _replay_rss(streams[5], tmp_path / "five", kodim23)
    assert five["images_decoded"] == 5
    assert peak30 <= 1.10 * peak5, (peak30, peak5)


def test_rx_follow_from_a_replayed_capture_stops_at_its_end(streams, kodim23, tmp_path, capsys):
    out = tmp_path / "rx"
    assert main(["rx", "--radio", "capture", "--capture", str(streams[5]), "--model", MODEL, "--follow",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [image["sequence"] for image in summary["images"]] == list(range(5))
    assert summary["config"]["radio"]["kind"] == "capture"
    assert "end of the capture" in capsys.readouterr().out


def test_the_summary_lists_only_the_latest_images_and_counts_them_all(streams, tmp_path, monkeypatch):
    """A receiver left running keeps a summary of bounded size: the last SUMMARY_IMAGES images listed, all counted,
    and every image's folder written."""
    monkeypatch.setattr(follow, "SUMMARY_IMAGES", 3)
    out = tmp_path / "bounded"
    assert main(["replay", str(streams[5]), "--follow", "--model", MODEL, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_decoded"] == 5 and summary["images_incomplete"] == 0
    assert [image["sequence"] for image in summary["images"]] == [2, 3, 4]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [f"{i:05d}" for i in range(5)]


def test_ctrl_c_finishes_the_current_image_and_writes_the_summary(streams, tmp_path, monkeypatch):
    real = replay_command.iter_capture
    chunk = capture_info(streams[5])["n_samples"] // 5 // 4  # a quarter of one transmission

    def interrupted(path, size):
        for index, block in enumerate(real(path, size)):
            if index == 10:  # in the middle of the third transmission
                raise KeyboardInterrupt
            yield block

    monkeypatch.setattr(replay_command, "iter_capture", interrupted)
    out = tmp_path / "stopped"
    assert main(["replay", str(streams[5]), "--follow", "--chunk", str(chunk), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_decoded"] == 3 and summary["images_incomplete"] == 1
    assert [image["complete"] for image in summary["images"]] == [True, True, False]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


def test_an_overflow_loses_only_the_image_whose_frame_it_hit(streams, kodim23, tmp_path, monkeypatch):
    """Five transmissions on a fake SoapySDR device's air; the device drops 4096 samples in the middle of the
    third's first frame: ``ota rx --follow`` counts the overflow, erases that frame's symbols from the gap on
    (not read from the shifted samples after it) and decodes the other four images untouched."""
    clean = read_capture(streams[5].with_name("clean5.sigmf-meta"))
    hardware = FakeSoapyHardware(air=Air(sample_rate=clean.sample_rate, snr_db=30.0, seed=4))
    monkeypatch.setattr(ota.radios.soapy, "_import_soapy", lambda: FakeSoapyModule([hardware]))
    start = 3000
    hardware.air.emit(clean.samples, start=start)
    third = clean.annotations[2]
    hit = start + third["sample_start"] + third["sample_count"] // 4  # inside the third's first frame
    hardware.overflow_at_reads = {hit // hardware.mtu + 1}  # reads move one MTU each: this one drops there
    real_read, end = hardware.air.read, start + clean.samples.size + (1 << 18)  # a Ctrl-C loses the chunk it cuts

    def read_until_stopped(n: int) -> np.ndarray:
        if hardware.air.now > end:
            raise KeyboardInterrupt  # the operator stops the receiver once the transmissions are over
        return real_read(n)

    monkeypatch.setattr(hardware.air, "read", read_until_stopped)
    out = tmp_path / "overflow"
    assert main(["rx", "--radio", "soapy:driver=fake,serial=F00D", "--tx-gain", "50", "--rx-gain", "30",
                 "--model", MODEL, "--reference", str(kodim23), "--follow", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overflows"] == 1 and summary["frames_hit_by_overflows"] == 1
    assert [image["sequence"] for image in summary["images"]] == list(range(5))
    assert all(image["complete"] for image in summary["images"])
    erased = json.loads((out / "00002" / "result.json").read_text())["symbols_erased_fraction"]
    assert summary["symbols_erased_by_overflows"] > 0
    assert 0 < erased < 0.5  # from the gap to the end of the first of the image's two frames
    assert all(image["psnr_db"] > 22 for index, image in enumerate(summary["images"]) if index != 2)


def test_tx_count_on_a_radio_sends_each_transmission_as_its_own_burst(kodim23, monkeypatch):
    """``ota tx --count 3`` on a (fake) SoapySDR device: three bursts, one after the other, sequence numbers
    0, 1, 2, each with every frame of the image."""
    hardware = FakeSoapyHardware(air=Air(sample_rate=2e6, snr_db=40.0, seed=5))
    monkeypatch.setattr(ota.radios.soapy, "_import_soapy", lambda: FakeSoapyModule([hardware]))
    assert main(["tx", str(kodim23), "--radio", "soapy:driver=fake,serial=F00D", "--tx-gain", "50",
                 "--model", MODEL, "--count", "3", "--sequence", "7"]) == 0
    assert hardware.end_bursts == 3
    frames = Receiver().receive(np.concatenate(hardware.tx_written))
    sequences = [frame.header.sequence for frame in frames]
    per_image = len(frames) // 3
    assert per_image >= 1 and sequences == [7] * per_image + [8] * per_image + [9] * per_image


@pytest.mark.parametrize(("args", "named"), [(["--count", "0"], "--count"), (["--sequence", "65535", "--count", "2"],
                                                                            "sequence numbers")])
def test_bad_counts_are_refused(kodim23, tmp_path, capsys, args, named):
    capture = tmp_path / "x.sigmf-meta"
    assert main(["tx", str(kodim23), "--model", MODEL, "--radio", "capture", "--capture", str(capture), *args]) == 2
    assert named in capsys.readouterr().err and not capture.exists()


@pytest.mark.parametrize(("args", "named"), [
    (["rx", "--radio", "capture", "--capture", "CAPTURE", "--follow", "0"], "--follow SECONDS must be positive"),
    (["replay", "CAPTURE", "--follow", "--chunk", "0"], "--chunk must be a positive number"),
    (["replay", "MISSING", "--follow"], "missing.sigmf-meta"),
    (["replay", "NOT_A_CAPTURE", "--follow"], "not_a_capture.sigmf-meta"),
])
def test_bad_follow_input_is_one_line_and_exit_status_2(streams, tmp_path, capsys, args, named):
    (tmp_path / "not_a_capture.sigmf-meta").write_text("{ not json")
    paths = {"CAPTURE": str(streams[5]), "MISSING": str(tmp_path / "missing.sigmf-meta"),
             "NOT_A_CAPTURE": str(tmp_path / "not_a_capture.sigmf-meta")}
    out = tmp_path / "out"
    assert main([paths.get(arg, arg) for arg in args] + ["--model", MODEL, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert not out.exists()  # nothing written
