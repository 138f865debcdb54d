"""Generated blocks of a README: the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` lines.

The benchmark scripts write their tables there (``quality-table``: :mod:`benchmarks.quality`;
``comparison-table``: :mod:`benchmarks.claims_table`; ``beta-ablation-table``: :mod:`benchmarks.beta_ablation`),
so that no number in the README is typed by hand.
"""

from __future__ import annotations

from pathlib import Path


class MarkerError(ValueError):
    """A README without exactly one begin marker followed by one end marker of the block."""


def markers(name: str) -> tuple[str, str]:
    """The begin and end marker lines of block ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def check_markers(readme: Path, name: str) -> str:
    """The text of ``readme``, which must hold one begin marker of ``name`` followed by one end marker."""
    if not readme.is_file():
        raise MarkerError(f"--readme {readme}: no such file")
    begin, end = markers(name)
    text = readme.read_text(encoding="utf-8")
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise MarkerError(f"{readme} must hold one {begin} line followed by one {end} line")
    return text


def splice(readme: Path, name: str, content: str) -> None:
    """Replace the text between the markers of block ``name`` in ``readme`` by ``content``."""
    begin, end = markers(name)
    head, rest = check_markers(readme, name).split(begin)
    tail = rest.split(end)[1]
    readme.write_text(f"{head}{begin}\n{content}{end}{tail}", encoding="utf-8")
