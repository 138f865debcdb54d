"""Settings dataclasses from TOML files: reading the file, finding a table, naming unknown keys, building.

Every ``from_toml`` of ``phy`` and ``ota`` (numerology, framing, receiver, link, channel profile, radio) goes
through these, so that a missing file, a file that is not TOML, a missing table, an unknown key and a
refused value are told the same way everywhere, each message naming the file and the table. ``models``
(which does not import ``phy``) reads its training configuration in :mod:`models.train_config`.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_toml(path: str | Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The tables of a TOML file (``what`` names the kind of file, e.g. "radio settings").

    Raises:
        error: when the file is missing or is not TOML, naming ``path``.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None


def required_table(data: dict[str, Any], table: str, source: str | Path, error: type[Exception],
                   what: str) -> Any:
    """``data[table]``, or ``error`` saying that ``source`` has no ``[table]`` where ``what`` was expected."""
    if table not in data:
        raise error(f"{source}: no [{table}] table; expected the {what} there")
    return data[table]


def check_keys(values: Any, allowed: Iterable[str], source: str | Path, table: str,
               error: type[Exception]) -> None:
    """Refuse a ``[table]`` of ``source`` that is not a table of settings or has keys outside ``allowed``."""
    if not isinstance(values, dict):
        raise error(f"{source}: [{table}] must be a table of settings")
    allowed = list(allowed)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise error(f"{source}: unknown key(s) {', '.join(unknown)} in [{table}]; "
                    f"expected some of {', '.join(allowed)}")


def build(kind: type, values: Any, source: str | Path, table: str, error: type[Exception]) -> Any:
    """The dataclass ``kind`` from its ``[table]`` of ``source`` (keys are its fields).

    Raises:
        error: for unknown keys (:func:`check_keys`) and for values that ``kind`` refuses, naming both.
    """
    check_keys(values, (f.name for f in dataclasses.fields(kind)), source, table, error)
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise error(f"{source}: [{table}]: {exc}") from None


def load_settings(kind: type, path: str | Path, table: str, error: type[Exception], what: str) -> Any:
    """The dataclass ``kind`` from the (required) ``[table]`` of the TOML file ``path``; errors as ``error``."""
    data = read_toml(path, error, what)
    return build(kind, required_table(data, table, path, error, what), path, table, error)
