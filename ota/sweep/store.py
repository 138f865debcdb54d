"""``OUT/store.jsonl``: the resumable store of a sweep's entries."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ota.sweep.config import SweepError


class ResultStore:
    """``OUT/store.jsonl``: the configuration identity on the first line, then one JSON line per entry.

    A line cut short by an interruption (the last one) is dropped when the store is opened.
    """

    def __init__(self, path: Path, identity: dict) -> None:
        self.path = path
        self.identity = json.loads(json.dumps(identity))
        self.entries: dict[str, dict] = {}
        if path.exists():
            self._load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_lines([self._config_line()], mode="w")

    def _load(self) -> None:
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):  # an interrupted write: drop the partial line
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        lines = [json.loads(line) for line in complete.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("kind") != "config":
            raise SweepError(f"{self.path} is not a sweep store (no configuration line); use another --out")
        stored = lines[0]["identity"]
        if stored != self.identity:
            keys = sorted(k for k in set(stored) | set(self.identity) if stored.get(k) != self.identity.get(k))
            diff = "; ".join(f"{k}: {stored.get(k)!r} there, {self.identity.get(k)!r} now" for k in keys)
            raise SweepError(
                f"{self.path} holds a sweep with a different configuration ({diff}); "
                "use another --out, or delete the store to start over"
            )
        for line in lines[1:]:
            self.entries[line["key"]] = line

    def _config_line(self) -> dict:
        return {"kind": "config", "identity": self.identity}

    def _write_lines(self, lines: list[dict], mode: str = "a", path: Path | None = None) -> None:
        with open(path or self.path, mode) as f:
            f.write("".join(json.dumps(line) + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def drop(self, keys: set[str]) -> None:
        """Remove the entries ``keys``: the store is rewritten without them (a new file renamed into place)."""
        kept = [entry for key, entry in self.entries.items() if key not in keys]
        staging = self.path.with_name(f".{self.path.name}.tmp")
        self._write_lines([self._config_line(), *kept], mode="w", path=staging)
        os.replace(staging, self.path)
        self.entries = {entry["key"]: entry for entry in kept}

    def add(self, entry: dict) -> None:
        """Append one finished entry (it must carry its ``key``)."""
        self._write_lines([entry])
        self.entries[entry["key"]] = entry
