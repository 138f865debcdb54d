"""One physical-layer configuration (phy.link_config.LinkConfig) and ``--phy-config`` on the link commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ota.cli import main
from phy.capture import read_capture
from phy.frame_config import FrameConfig
from phy.link_config import TABLES, LinkConfig, LinkConfigError
from phy.numerology import Numerology
from phy.receiver_config import ReceiverConfig

MODEL = "mse-cbr24"  # the fastest shipped model
IMAGE = "matplotlib:grace_hopper.jpg"
CAPTURE = sorted((Path(__file__).parent.parent / "captures").glob("*.sigmf-meta"))[0]


def test_the_three_tables_are_read_and_echoed(tmp_path):
    path = tmp_path / "phy.toml"
    path.write_text('[ofdm]\nfft_size = 128\ncp_len = 32\n[frame]\nmidamble_interval = 4\n'
                    '[receiver]\nequalizer = "mmse"\ntrack_sfo = false\n')
    config = LinkConfig.from_toml(path)
    assert config.numerology == Numerology(fft_size=128, cp_len=32)
    assert config.frame == FrameConfig(midamble_interval=4)
    assert config.receiver == ReceiverConfig(equalizer="mmse", track_sfo=False)
    assert config.to_dict()["receiver"]["equalizer"] == "mmse" and config.to_dict()["ofdm"]["fft_size"] == 128
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert LinkConfig.from_toml(empty) == LinkConfig()


@pytest.mark.parametrize(("text", "named"), [
    ("[equaliser]\nkind = 'zf'\n", "unknown table(s) equaliser"),
    ("[receiver]\nequaliser = 'zf'\n", "unknown key(s) equaliser in [receiver]"),
    ("[receiver]\nequalizer = 'lms'\n", "[receiver]"),
    ("[ofdm]\nfft_size = 100\n", "[ofdm]"),
    ("[ofdm\n", "not valid TOML"),
])
def test_bad_files_are_refused_with_the_culprit_named(tmp_path, text, named):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(LinkConfigError, match=re.escape(named)):
        LinkConfig.from_toml(path)


def _simulate(tmp_path, equalizer: str) -> dict:
    config = tmp_path / f"{equalizer}.toml"
    config.write_text(f'[receiver]\nequalizer = "{equalizer}"\n')
    out = tmp_path / equalizer
    assert main(["simulate", "--model", "mse-cbr48", "--channel", "ofdm", "--profile", "tdl-c", "--snr", "8",
                 "--phy-config", str(config), "--out", str(out)]) == 0
    return json.loads((out / "result.json").read_text())


def test_simulate_with_zf_and_with_mmse_records_and_gives_different_results(tmp_path):
    zf, mmse = _simulate(tmp_path, "zf"), _simulate(tmp_path, "mmse")
    assert zf["config"]["receiver"]["equalizer"] == "zf" and mmse["config"]["receiver"]["equalizer"] == "mmse"
    assert zf["frames_decoded"] == mmse["frames_decoded"] > 0  # the same air, the same draw
    assert zf["post_eq_snr_db"] != pytest.approx(mmse["post_eq_snr_db"], abs=0.1)


def test_a_file_and_options_for_the_same_table_are_refused(tmp_path, capsys):
    path = tmp_path / "phy.toml"
    path.write_text("[ofdm]\nfft_size = 128\ncp_len = 32\n")
    assert main(["simulate", "--channel", "ofdm", "--phy-config", str(path), "--fft-size", "64",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not both" in err and len(err.splitlines()) == 1 and not (tmp_path / "x").exists()
    assert main(["simulate", "--channel", "ofdm", "--phy-config", str(tmp_path / "missing.toml"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "no such physical-layer configuration file" in capsys.readouterr().err


def toml_text(tables: dict[str, dict]) -> str:
    """JSON tables of settings as TOML (JSON's numbers, booleans, strings and lists are TOML's; TOML has no null,
    so a None is left out, which gives its default back for every None default of the settings)."""
    return "".join(f"[{table}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items()
                                            if value is not None) for table, values in tables.items())


def test_a_results_echo_is_a_phy_config_file_of_the_same_configuration(tmp_path):
    path = tmp_path / "phy.toml"
    path.write_text('[ofdm]\nfft_size = 128\ncp_len = 32\n[frame]\nmidamble_interval = 4\ntarget_rms = 0.3\n'
                    '[receiver]\nequalizer = "mmse"\ntrack_sfo = false\nmidamble_interval = 4\n')
    out = tmp_path / "sim"
    assert main(["simulate", "--model", MODEL, "--channel", "awgn", "--phy-config", str(path), "--out", str(out)]) == 0
    echoed = {table: json.loads((out / "result.json").read_text())["config"][table] for table in TABLES}
    again = tmp_path / "echo.toml"
    again.write_text(toml_text(echoed))
    assert LinkConfig.from_toml(again) == LinkConfig.from_toml(path)
    assert LinkConfig.from_toml(again).to_dict() == echoed


def _sent(folder: Path, *phy: str) -> Path:
    """A capture of ``ota tx --radio capture`` (of :data:`IMAGE` by :data:`MODEL`), with the options ``phy``."""
    capture = folder / "sent.sigmf-meta"
    assert main(["tx", IMAGE, "--model", MODEL, "--radio", "capture", "--capture", str(capture), *phy]) == 0
    return capture


def _tx(config: Path, folder: Path) -> dict:
    """What ``ota tx --radio capture --phy-config`` records: the capture's numerology and framing."""
    metadata = read_capture(_sent(folder, "--phy-config", str(config))).metadata
    return {"ofdm": metadata["numerology"], "frame": metadata["frame"]}


def _replay(config: Path, folder: Path) -> dict:
    """What ``ota replay --phy-config`` records: the result's link configuration."""
    out = folder / "replay"
    assert main(["replay", str(_sent(folder)), "--phy-config", str(config), "--out", str(out)]) == 0
    return json.loads((out / "result.json").read_text())["config"]


def _capture(config: Path, folder: Path) -> dict:
    """What ``ota capture --phy-config`` records: the capture's numerology."""
    path = folder / "air.sigmf-meta"
    assert main(["capture", "--radio", "emulator", "--seconds", "0.01", "--out", str(path),
                 "--phy-config", str(config)]) == 0
    return {"ofdm": read_capture(path).metadata["numerology"]}


@pytest.mark.parametrize(("command", "text", "tables"), [
    (_tx, "[ofdm]\nfft_size = 128\ncp_len = 32\n[frame]\nmax_payload_symbols = 20\n", ["ofdm", "frame"]),
    (_replay, '[receiver]\nequalizer = "mmse"\nchannel_smoothing = false\n', ["receiver"]),
    (_capture, "[ofdm]\nfft_size = 128\ncp_len = 32\nsample_rate = 4e6\n", ["ofdm"]),
], ids=["tx-capture", "replay", "capture"])
def test_phy_config_is_accepted_and_recorded(tmp_path, command, text, tables):
    config = tmp_path / "phy.toml"
    config.write_text(text)
    settings = LinkConfig.from_toml(config)
    assert settings.non_default_tables() == tables
    recorded = command(config, tmp_path)
    assert {table: recorded[table] for table in tables} == {table: settings.to_dict()[table] for table in tables}


@pytest.mark.parametrize(("argv", "text", "named"), [
    (["capture", "--radio", "emulator", "--seconds", "0.01"], "[frame]\nmidamble_interval = 8\n", "not [frame]"),
    (["capture", "--radio", "emulator", "--seconds", "0.01"], '[ofdm]\nfft_size = 128\ncp_len = 32\n'
                                                             '[receiver]\nequalizer = "mmse"\n', "not [receiver]"),
    (["replay", str(CAPTURE)], "[ofdm]\nfft_size = 128\ncp_len = 32\n", "not [ofdm]"),
], ids=["capture-frame", "capture-receiver", "replay-ofdm"])
def test_tables_a_command_cannot_use_are_refused_in_one_line(tmp_path, capsys, argv, text, named):
    config = tmp_path / "phy.toml"
    config.write_text(text)
    out = tmp_path / ("air.sigmf-meta" if argv[0] == "capture" else "out")
    assert main([*argv, "--phy-config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1 and not list(tmp_path.glob("air*")) and not out.exists()
