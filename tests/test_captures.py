"""Regression: every capture in captures/ replays to the PSNR stored in its metadata (within 0.01 dB)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.checkpoint import weights_sha256
from models.registry import resolve_model
from ota.cli import main
from phy.capture import read_capture

CAPTURES = sorted((Path(__file__).parent.parent / "captures").glob("*.sigmf-meta"))


def test_the_captures_folder_is_not_empty() -> None:
    assert len(CAPTURES) >= 3


def check_capture(path: Path, out: Path) -> None:
    """What every capture must satisfy (captures/README.md): it says what was sent and what decoding it
    gave, a synthetic one also how it was made, and replaying it gives that again."""
    meta = read_capture(path).metadata
    assert {"sent", "numerology", "expected"} <= set(meta) and isinstance(meta.get("synthetic"), bool)
    assert path.with_suffix(".sigmf-data").stat().st_size < 2 * 2**20
    sent = meta["sent"]
    if "model_weights_sha256" in sent:  # written by ota; a hand-made block may leave it out
        assert weights_sha256(resolve_model(sent["model"])) == sent["model_weights_sha256"], (
            f"{path.name} was made with another {sent['model']} checkpoint: run captures/make_captures.sh"
        )
    assert main(["replay", str(path), "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["psnr_db"] == pytest.approx(meta["expected"]["psnr_db"], abs=0.01)
    assert result["frames_decoded"] == meta["expected"]["frames_decoded"]
    if meta["synthetic"]:
        assert "made_by" in meta and "channel" in meta
        dropped = meta["channel"]["dropped_frames"]
        assert result["frames_expected"] - result["frames_decoded"] == len(dropped)


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_replay_reproduces_the_stored_psnr(path: Path, tmp_path: Path) -> None:
    check_capture(path, tmp_path / "replay")


def test_a_real_recording_described_as_the_readme_says_is_accepted(tmp_path: Path) -> None:
    """A lab recording carries no emulator settings: only what was sent, the numerology and the result
    (captures/README.md, step 2). One is made here from a shipped capture's samples."""
    source = CAPTURES[0]
    document = json.loads(source.read_text())
    meta = document["global"]["pjscc:metadata"]
    document["global"]["pjscc:metadata"] = {
        "sent": {"image": meta["sent"]["image"], "model": meta["sent"]["model"]},
        "numerology": meta["numerology"],
        "synthetic": False,
        "setup": "PlutoSDR to PlutoSDR, 1 m, -10 dB TX gain, 40 dB RX gain",
        "expected": meta["expected"],
    }
    path = tmp_path / "bench.sigmf-meta"
    path.write_text(json.dumps(document))
    shutil.copy(source.with_suffix(".sigmf-data"), path.with_suffix(".sigmf-data"))
    check_capture(path, tmp_path / "replay")
