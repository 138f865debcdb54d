"""One physical-layer configuration (phy.link_config.LinkConfig) and ``--phy-config`` on the link commands."""

from __future__ import annotations

import json
import re

import pytest

from ota.cli import main
from phy.frame_config import FrameConfig
from phy.link_config import LinkConfig, LinkConfigError
from phy.numerology import Numerology
from phy.receiver_config import ReceiverConfig


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
