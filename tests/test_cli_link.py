"""The link and the receiving commands, end to end through the CLI, on a tiny model made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import Air
from fakes.fake_adi import FakeAdiModule, FakePlutoHardware

import ota.link
import ota.radios.pluto
from models.checkpoint import ModelCard, save_checkpoint
from models.image_io import save_image
from models.jscc import DeepJSCC, ModelConfig
from ota.cli import main
from ota.radios import RadioConfig

RESULT_KEYS = {"psnr_db", "ms_ssim", "lpips", "snr_db_est", "cbr", "frames_expected", "frames_decoded", "wall_s",
               "config", "versions"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained, small DeepJSCC checkpoint (CBR 1/48): the link must work whatever the weights."""
    torch.manual_seed(0)
    model = DeepJSCC(ModelConfig(channels=32, width=16, n_res_blocks=1))
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, model, ModelCard.for_model("tiny", model, notes="untrained, for tests"))
    return path


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 176x208 smooth colour image (odd multiple-of-16-free sizes are tested elsewhere)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 176), torch.linspace(0, 1, 208), indexing="ij")
    img = torch.stack([xx, yy, 0.5 + 0.4 * torch.sin(6 * xx * yy)])
    return save_image(img, tmp_path_factory.mktemp("img") / "ramp.png")


def run_cli(*argv: str) -> int:
    return main([str(a) for a in argv])


def result(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


def test_simulate_ofdm_writes_result_image_and_plots(tiny_model: Path, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert run_cli("simulate", image, "--model", tiny_model, "--channel", "ofdm", "--profile", "awgn",
                   "--snr", "20", "--frame-symbols", "20", "--out", out) == 0
    r = result(out)
    assert RESULT_KEYS <= set(r)
    assert r["cbr"] == pytest.approx(1 / 48)
    assert r["frames_expected"] == r["frames_decoded"] > 1
    assert 17.5 < r["snr_db_est"] < 20.5  # AWGN 20 dB less the channel-estimation noise
    assert np.isfinite(r["psnr_db"]) and 0 < r["ms_ssim"] <= 1
    for name in ("reconstruction.png", "comparison.png", "constellation.png", "spectrum.png",
                 "channel_estimate.png", "subcarrier_snr.png"):
        assert (out / name).stat().st_size > 1000, name


def simulated_psnr(image: Path, channel: str, out: Path) -> float:
    """PSNR of ``mse-cbr48`` (a trained model: its output depends on what it receives) at 20 dB."""
    assert run_cli("simulate", image, "--model", "mse-cbr48", "--channel", channel, "--snr", "20",
                   "--out", out) == 0
    return result(out)["psnr_db"]


def test_ofdm_awgn_link_matches_symbol_level_awgn(image: Path, tmp_path: Path) -> None:
    """Over the OFDM chain at 20 dB the generator sees what the symbol-level channel gives it."""
    ofdm, awgn = (simulated_psnr(image, channel, tmp_path / channel) for channel in ("ofdm", "awgn"))
    assert awgn > 25.0  # a trained model on a smooth image: far above what garbage would give
    assert abs(ofdm - awgn) < 0.5


def test_a_scrambled_payload_fails_the_ofdm_awgn_comparison(image: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a link that delivered its symbols out of order would lose far more."""
    awgn = simulated_psnr(image, "awgn", tmp_path / "awgn")
    decode = ota.link.Link.decode

    def scrambled(self, symbols, noise_var, erased, size):
        order = np.random.default_rng(0).permutation(len(symbols))
        return decode(self, symbols[order], noise_var[order], erased[order], size)

    monkeypatch.setattr(ota.link.Link, "decode", scrambled)
    assert awgn - simulated_psnr(image, "ofdm", tmp_path / "ofdm") > 5.0


def test_a_lost_frame_is_erased_and_reported(tiny_model: Path, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "lost"
    assert run_cli("simulate", image, "--model", tiny_model, "--snr", "20", "--frame-symbols", "5",
                   "--drop-frame", "3", "--out", out) == 0
    r = result(out)
    assert r["frames_expected"] == 10
    assert r["frames_decoded"] == 9
    assert r["symbols_erased_fraction"] == pytest.approx(0.1, abs=0.02)
    assert (out / "reconstruction.png").is_file()


def test_tx_to_capture_then_replay_scores_itself(tiny_model: Path, image: Path, tmp_path: Path) -> None:
    capture = tmp_path / "sent.sigmf-meta"
    assert run_cli("tx", image, "--model", tiny_model, "--radio", "capture", "--capture", capture) == 0
    out = tmp_path / "replay"
    assert run_cli("replay", capture, "--model", tiny_model, "--out", out) == 0
    r = result(out)
    assert r["frames_decoded"] == r["frames_expected"] >= 1
    assert r["snr_db_est"] > 15  # a noiseless recording: only the peak limit's clipping distorts it
    assert r["config"]["reference"] == str(image)


def test_loopback_through_the_emulator_radio(tiny_model: Path, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "loop"
    assert run_cli("loopback", image, "--model", tiny_model, "--radio", "emulator:lab", "--radio-snr", "25",
                   "--out", out) == 0
    r = result(out)
    assert r["frames_decoded"] == r["frames_expected"]
    assert r["psnr_db"] is not None


def test_capture_command_records_the_emulated_air(tmp_path: Path) -> None:
    path = tmp_path / "air.sigmf-meta"
    assert run_cli("capture", "--radio", "emulator", "--seconds", "0.01", "--out", path,
                   "--datatype", "ci16_le") == 0
    from phy.capture import read_capture

    cap = read_capture(path)
    assert len(cap.samples) == 20000 and cap.datatype == "ci16_le"
    assert cap.metadata["radio"]["kind"] == "emulator"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "{missing}"], "no such image file"),
        (["simulate", "{not_image}"], "not a readable image"),
        (["simulate", "--model", "no-such-model"], "no-such-model"),
        (["replay", "{truncated}"], "truncated"),
        (["replay", "{wrong_type}"], "datatype"),
        (["tx", "{image}", "--model", "{model}", "--radio", "pluto", "--sample-rate", "100e6"], "sample rate"),
    ],
)
def test_bad_input_gets_one_clear_error_and_writes_nothing(
    argv: list[str], message: str, tiny_model: Path, image: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pluto = FakePlutoHardware(air=Air(sample_rate=2e6, snr_db=30.0, seed=0))
    monkeypatch.setattr(ota.radios.pluto, "_import_adi", lambda: FakeAdiModule({RadioConfig().uri: pluto}))
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is text, not a PNG")
    good = tmp_path / "good.sigmf-meta"
    assert run_cli("tx", image, "--model", tiny_model, "--radio", "capture", "--capture", good) == 0
    truncated = tmp_path / "cut.sigmf-meta"
    (tmp_path / "cut.sigmf-meta").write_text(good.read_text())
    data = (tmp_path / "good.sigmf-data").read_bytes()
    (tmp_path / "cut.sigmf-data").write_bytes(data[: len(data) // 2 + 3])
    wrong_type = tmp_path / "wrong.sigmf-meta"
    wrong_type.write_text(good.read_text().replace("cf32_le", "ri8"))
    (tmp_path / "wrong.sigmf-data").write_bytes(data)
    names = {"missing": tmp_path / "nope.png", "not_image": not_image, "truncated": truncated,
             "wrong_type": wrong_type, "image": image, "model": tiny_model}
    out = tmp_path / "out"
    capsys.readouterr()
    code = run_cli(*[a.format(**names) for a in argv], *([] if argv[0] == "tx" else ["--out", out]))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("model", [None, "mse-cbr48"])
def test_shipped_models_over_the_lab_profile_are_within_1_db_of_awgn(model: str | None, tmp_path: Path) -> None:
    """The issue's acceptance check on the default photograph, for the default model and for
    ``mse-cbr48``, whose PSNR follows the SNR most closely (the generative default gains only 0.4 dB from
    1 to 10 dB, so a gap in SNR shows less in its PSNR). Every one of four channel draws must come within
    1 dB of AWGN, and the draws' absolute gaps within 0.5 dB on average: a gain on one draw cannot hide a
    loss on another."""
    gaps = []
    chosen = ("--model", model) if model else ()
    for seed in range(4):
        psnr = {}
        for channel in ("awgn", "ofdm"):
            out = tmp_path / f"{channel}-{seed}"
            assert run_cli("simulate", "--channel", channel, "--profile", "lab", "--snr", "10", "--seed", seed,
                           *chosen, "--out", out) == 0
            r = result(out)
            psnr[channel] = r["psnr_db"]
        assert r["frames_decoded"] == r["frames_expected"]
        assert abs(r["snr_db_est"] - 10) < 1.0
        gaps.append(abs(psnr["awgn"] - psnr["ofdm"]))
    assert max(gaps) < 1.0, gaps
    assert sum(gaps) / len(gaps) < 0.5, gaps
