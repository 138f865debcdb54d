"""Progress bars that suit where they are shown: redrawn in place on a terminal, line by line in a log.

:class:`Progress` is ``tqdm`` with one difference: when its output is not a terminal (a log file, a pipe,
CI, the device tool's output), it does not flood the file with carriage-return redraws; it writes one
plain line per update, at most every :data:`LOG_INTERVAL_S` seconds, each different from the last.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

LOG_INTERVAL_S = 30.0
"""Seconds between two lines of a progress bar written to a file."""


class LineWriter:
    """A text stream that turns tqdm's redraws (``\\r`` + bar) into whole lines, repeats dropped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = ""

    def write(self, text: str) -> int:
        for line in text.replace("\r", "\n").split("\n"):
            line = line.strip()
            if line and line != self._last:
                self.stream.write(line + "\n")
                self._last = line
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class Progress(tqdm):
    """``tqdm`` (same arguments) that writes lines, not redraws, when its file is not a terminal."""

    def __init__(self, *args, **kwargs) -> None:
        stream = kwargs.get("file") or sys.stderr
        self._log = not _is_terminal(stream)
        if self._log:
            kwargs.update(file=LineWriter(stream), mininterval=LOG_INTERVAL_S, dynamic_ncols=False, ascii=True)
            kwargs.setdefault("ncols", 100)
        super().__init__(*args, **kwargs)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        """As tqdm's, but in a log the new postfix waits for the next line instead of forcing one."""
        super().set_postfix(ordered_dict, refresh=refresh and not self._log, **kwargs)

    def set_description(self, desc=None, refresh: bool = True) -> None:
        """As tqdm's, but in a log the new description waits for the next line instead of forcing one."""
        super().set_description(desc, refresh=refresh and not self._log)


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
