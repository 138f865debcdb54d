"""The command line starts at once: ``ota --help`` imports no command, and each command only its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ota.commands import COMMANDS

REPOSITORY = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys
from ota.cli import build_parser
parser = build_parser({command!r})
try:
    parser.parse_args({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(command: str | None, argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after building and running ``ota``'s parser (help printed)."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(command=command, argv=argv)], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_ota_help_lists_every_command_without_importing_any():
    modules = _modules_after(None, ["--help"])
    assert not any(name.startswith("ota.commands.") for name in modules)
    assert not {"torch", "matplotlib", "sigmf", "sionna", "scipy"} & modules
    help_text = subprocess.run([sys.executable, "-m", "ota.cli", "--help"], cwd=REPOSITORY, capture_output=True,
                               text=True, timeout=60).stdout
    assert all(name in help_text and text[:30] in help_text.replace("\n", " ").replace("  ", " ")
               for name, text in COMMANDS.items())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_imports_only_its_own_module(command):
    modules = _modules_after(command, [command, "--help"])
    loaded = {name.removeprefix("ota.commands.") for name in modules if name.startswith("ota.commands.")}
    assert loaded == {command}


def test_training_needs_no_radio_or_digital_chain_libraries():
    """What the GPU machine lacks (sigmf, sionna, pillow-heif, jsonschema) stays out of ``ota train``."""
    modules = _modules_after("train", ["train", "--help"])
    assert not {"sigmf", "sionna", "pillow_heif", "jsonschema", "matplotlib"} & modules


@pytest.mark.parametrize(("setting", "expected"), [(None, "False"), ("1", "True")])
def test_ota_turns_numpys_huge_page_advice_off_unless_told_otherwise(setting, expected):
    """``ota`` sets ``NUMPY_MADVISE_HUGEPAGE=0`` before numpy loads (see :mod:`ota`); a user's own setting wins."""
    environment = {name: value for name, value in os.environ.items() if name != "NUMPY_MADVISE_HUGEPAGE"}
    if setting is not None:
        environment["NUMPY_MADVISE_HUGEPAGE"] = setting
    probe = "import ota.cli, numpy; print(numpy._core.multiarray._get_madvise_hugepage())"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY, env=environment, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.split() == [expected]
