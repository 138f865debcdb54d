"""``benchmarks/ofdm_vs_awgn.py``: JSCC over OFDM against AWGN at the receiver's SNR, and the digital cliff."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.ofdm_vs_awgn import compare, main  # noqa: E402


def entry(image: str, scheme: str, snr_db: float, draw: int = 0, **fields: object) -> dict:
    return {"image": image, "scheme": scheme, "snr_db": snr_db, "cbr": "1/48", "draw": draw, **fields}


AWGN = {"entries": [entry(image, "mse", snr, psnr_db=base + snr / 2)  # PSNR rises 0.5 dB per dB
                    for image, base in (("a", 20.0), ("b", 30.0)) for snr in (1.0, 7.0, 13.0)]}


def ofdm_run() -> dict:
    entries = [
        entry("a", "mse", 10.0, 0, psnr_db=24.0, reception={"post_eq_snr_db": 8.0}),  # AWGN at 8 dB: 24.0
        entry("b", "mse", 10.0, 0, psnr_db=32.5, reception={"post_eq_snr_db": 9.0}),  # AWGN at 9 dB: 34.5
        entry("a", "mse", 10.0, 1, psnr_db=27.0, reception={"post_eq_snr_db": 14.0}),  # beyond the AWGN range
        entry("b", "mse", 10.0, 1, psnr_db=9.0, reception={"post_eq_snr_db": None, "frames_decoded": 0}),
    ]
    for snr, lost in ((1.0, [True, True, True, True]), (7.0, [False, True, False, False]),
                      (13.0, [False, False, False, False])):
        entries += [entry(image, "bpg-ldpc-fixed", snr, draw, lost=lost[2 * draw + i])
                    for draw in (0, 1) for i, image in enumerate("ab")]
    return {"config": {"channel": "ofdm", "profile": {"name": "tdl-c"},
                       "last_run": {"draws": 2, "images": ["a", "b"]}}, "entries": entries}


def test_gaps_are_taken_at_the_post_equalisation_snr_and_the_cliff_where_losses_stop() -> None:
    report = compare(AWGN, {"tdl-c": ofdm_run()})["profiles"]["tdl-c"]
    (jscc,) = report["jscc"]
    assert jscc["gap_db_mean"] == pytest.approx((0.0 - 2.0) / 2) and jscc["gap_db_max_abs"] == pytest.approx(2.0)
    assert jscc["within_1db"] == 1 and jscc["compared"] == 2 and jscc["outside_awgn_range"] == 1
    assert jscc["no_frame_received"] == 1 and jscc["entries"] == 4
    assert jscc["post_eq_snr_db_mean"] == pytest.approx((8 + 9 + 14) / 3)
    (digital,) = report["digital"]
    assert [p["lost_fraction"] for p in digital["points"]] == [1.0, 0.25, 0.0]
    assert digital["points"][1]["lost_fraction_per_draw"] == [0.5, 0.0]
    assert digital["cliff_snr_db"] == 13.0  # 25 % lost at 7 dB is more than the cliff's 10 %


def test_the_command_writes_json_and_the_readme_block(tmp_path: Path) -> None:
    (tmp_path / "awgn.json").write_text(json.dumps({**AWGN, "config": {"channel": "awgn"}}))
    (tmp_path / "ofdm.json").write_text(json.dumps(ofdm_run()))
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- ofdm-table:begin -->\nold\n<!-- ofdm-table:end -->\ny\n")
    args = ["--awgn", str(tmp_path / "awgn.json"), "--ofdm", str(tmp_path / "ofdm.json"),
            "--out", str(tmp_path / "vs.json"), "--readme", str(readme)]
    assert main(args) == 0
    assert json.loads((tmp_path / "vs.json").read_text())["profiles"]["tdl-c"]["digital"][0]["cliff_snr_db"] == 13
    text = readme.read_text()
    assert "old" not in text
    assert "| bpg-ldpc-fixed | 100% (100%, 100%) | 25% (50%, 0%) | 0% (0%, 0%) | from 13 dB |" in text
    assert "| mse | 10 dB | 10.3 dB | -1.00 / 2.00 dB | 1 of 2 | 1 | 1 |" in text
    with pytest.raises(SystemExit):  # an AWGN sweep given as an OFDM one
        main(["--awgn", str(tmp_path / "awgn.json"), "--ofdm", str(tmp_path / "awgn.json"),
              "--out", str(tmp_path / "x")])
