"""``benchmarks/claims_table.py``: the comparison's claims as README tables, wins and losses alike."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.claims_table import main, tables  # noqa: E402
from benchmarks.readme_markers import MarkerError  # noqa: E402

CLAIMS = {
    "metric": "lpips",
    "bandwidth_saving": [
        {"snr_db": 10.0, "scheme": "generative", "reference": "bpg-ldpc", "cbr": "1/48", "lpips": 0.21,
         "reference_cbr": 1 / 25.0, "saving": 1.92, "bracket": [], "reason": None},
        {"snr_db": 10.0, "scheme": "perceptual", "reference": "bpg-ldpc", "cbr": "1/48", "lpips": 0.35,
         "reference_cbr": 1 / 63.0, "saving": 0.76, "bracket": [], "reason": None},
        {"snr_db": 10.0, "scheme": "mse", "reference": "bpg-ldpc", "cbr": "1/48", "lpips": 0.57,
         "reference_cbr": None, "saving": None, "bracket": [], "reason": "better: less than 0.5x"},
        {"snr_db": 10.0, "scheme": "generative", "reference": "bpg-capacity", "cbr": "1/48", "lpips": 0.21,
         "reference_cbr": None, "saving": None, "bracket": [], "reason": "not reached: more than 2x"},
    ],
    "bandwidth_saving_reason": None,
    "snr_gain": None,
    "snr_gain_reason": "no SNR sweep",
}


def test_wins_losses_and_reasons_are_all_in_the_table() -> None:
    text = tables(CLAIMS, "claims.json")
    rows = [line for line in text.splitlines() if line.startswith("| 10 dB")]
    assert rows[0].endswith("| 1.92x | **win** |") and "1/25.0" in rows[0]
    assert rows[1].endswith("| 0.76x | loss |")
    assert "better: less than" in rows[2] and rows[2].endswith("| - | loss (bound) |")
    assert rows[3].endswith("| - | **win** (bound) |")
    assert "SNR gain at equal LPIPS:\n\nnone: no SNR sweep" in text


def test_the_readme_block_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    import json

    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CLAIMS))
    readme = tmp_path / "README.md"
    readme.write_text("# P\n\n<!-- comparison-table:begin -->\nold\n<!-- comparison-table:end -->\n\nrest\n")
    assert main(["--claims", str(claims), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and "**win**" in text and text.startswith("# P\n\n") and text.endswith("\n\nrest\n")
    readme.write_text("# no markers\n")
    with pytest.raises(MarkerError, match="comparison-table:begin"):
        main(["--claims", str(claims), "--readme", str(readme)])
    assert readme.read_text() == "# no markers\n"
