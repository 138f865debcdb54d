"""Writing a JSON report so that a reader never finds it half-written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def write_json(path: str | Path, content: dict, default: Callable | None = None, indent: int | None = 2) -> Path:
    """Write ``content`` as JSON through a hidden temporary file renamed into place.

    Args:
        default: turns values JSON cannot hold into ones it can (as for :func:`json.dumps`).
        indent: spaces per level; None writes one compact line (large machine-read files: a sweep's
            ``results.json`` is a third smaller).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(content, indent=indent, default=default) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path
