"""Regression: every capture in captures/ replays to the PSNR stored in its metadata (within 0.1 dB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.registry import resolve_model
from ota.cli import main
from ota.options import file_sha256
from phy.capture import read_capture

CAPTURES = sorted((Path(__file__).parent.parent / "captures").glob("*.sigmf-meta"))


def test_the_captures_folder_is_not_empty() -> None:
    assert len(CAPTURES) >= 3


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_replay_reproduces_the_stored_psnr(path: Path, tmp_path: Path) -> None:
    capture = read_capture(path)
    meta = capture.metadata
    assert meta["synthetic"] is True and "made_by" in meta and "channel" in meta
    assert path.with_suffix(".sigmf-data").stat().st_size < 2 * 2**20
    sent = meta["sent"]
    assert file_sha256(resolve_model(sent["model"])) == sent["model_sha256"], (
        f"{path.name} was made with another {sent['model']} checkpoint: run captures/make_captures.sh"
    )
    out = tmp_path / "replay"
    assert main(["replay", str(path), "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["psnr_db"] == pytest.approx(meta["expected"]["psnr_db"], abs=0.1)
    assert result["frames_decoded"] == meta["expected"]["frames_decoded"]
    dropped = meta["channel"]["dropped_frames"]
    assert result["frames_expected"] - result["frames_decoded"] == len(dropped)
