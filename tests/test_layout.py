"""The house layout rules that no test of behaviour guards: no module of the three packages over 500 lines,
and no command importing the command line back."""

from __future__ import annotations

import ast
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
MAX_LINES = 500


def test_no_module_in_ota_phy_or_models_is_over_500_lines():
    modules = [path for package in ("ota", "phy", "models") for path in (REPOSITORY / package).rglob("*.py")]
    assert len(modules) > 100  # the packages were found
    long = {str(path.relative_to(REPOSITORY)): n for path in modules
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them along their seams): {long}"


def imported_modules(tree: ast.Module, package: str) -> set[str]:
    """Every module an import of ``tree`` (a module of ``package``) may load: ``from A import b`` counts
    as ``A`` and ``A.b`` (b may be a submodule); relative imports are resolved against ``package``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..cli import y
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [node.module])])
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_no_command_imports_the_cli():
    """``ota/cli.py`` imports the commands; a command importing it back is a hidden cycle (``UserError`` and the
    shared options live in ``ota/user_error.py`` and ``ota/options.py``)."""
    commands = sorted((REPOSITORY / "ota" / "commands").glob("*.py"))
    assert len(commands) > 5  # the commands were found
    offenders = [path.name for path in commands
                 if "ota.cli" in imported_modules(ast.parse(path.read_text(encoding="utf-8")), "ota.commands")]
    assert not offenders, f"commands importing ota.cli: {offenders}"
