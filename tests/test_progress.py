"""Progress bars (models.progress): redraws on a terminal, whole lines in a log."""

from __future__ import annotations

import io

import models.progress as progress
from models.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_update_and_no_carriage_returns(monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.0)
    log = io.StringIO()
    for _ in Progress(range(4), desc="work", file=log, mininterval=0.0, miniters=1):
        pass
    text = log.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == len(set(lines)) >= 4
    assert all(line.startswith("work:") for line in lines) and "4/4" in lines[-1]


def test_a_terminal_keeps_tqdms_redraws():
    screen = Terminal()
    for _ in Progress(range(4), desc="work", file=screen, mininterval=0.0, miniters=1):
        pass
    assert "\r" in screen.getvalue()


def test_a_log_is_written_at_most_every_interval():
    log = io.StringIO()
    bar = Progress(range(1000), desc="fast", file=log, miniters=1)
    for i in bar:
        bar.set_postfix(image=i)  # a new postfix each step does not force a line each step
        bar.set_description(f"fast {i % 2}")
    assert len(log.getvalue().splitlines()) <= 2  # the start and the end, not 1,000 redraws
