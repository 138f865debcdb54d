"""The house layout rule that no test of behaviour guards: no module of the three packages over 500 lines."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
MAX_LINES = 500


def test_no_module_in_ota_phy_or_models_is_over_500_lines():
    modules = [path for package in ("ota", "phy", "models") for path in (REPOSITORY / package).rglob("*.py")]
    assert len(modules) > 100  # the packages were found
    long = {str(path.relative_to(REPOSITORY)): n for path in modules
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them along their seams): {long}"
