"""Time-boxed training: a wall-clock budget, shared among stages, turned into step counts.

``ota train --minutes M`` gives the run M minutes of wall time counted from the **start of the process**
(imports, model building and decoding the images into memory included), so a 10-minute window on a
lent GPU ends on time. The budget is turned into steps, not followed step by step:

1. the selected stages share what is left of the budget in proportion to their configured step counts
   (``[stages]`` then gives shares, not counts); a stage gets its share of the time left when it begins;
2. in each stage the first steps are a *probe*: the learning rate warms up linearly from 10 % of its
   starting value over :data:`PROBE_STEPS` steps (the first of them, which pays for lazy initialisation,
   is not timed) while their durations are measured;
3. the stage's step count is then fixed from the median step time (to fill 95 % of the stage's time left),
   and the learning rate falls along a cosine from its starting value to ``optim.final_lr_fraction`` of
   the configured rate at that step.

So the schedule is a function of the step once fixed, and the run ends with a finished cosine, not a
cut-off one (unless the steps slow down past the plan: then a stage ends when its share of the time is
spent, and the run at the deadline, each with a warning). A stage starts at its configured rate, except
the stage a resumed checkpoint was in: that one starts at the checkpoint's rate (where the last window
left it; never a restart from scratch). The run keeps :attr:`TimeBudget.reserve_s` for the final
checkpoint.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

PROBE_STEPS = 6
"""Steps of each stage run before its step count is fixed (the first one untimed)."""

WARMUP_START = 0.1
"""The warm-up starts at this fraction of the stage's starting learning rate."""

PLAN_FRACTION = 0.95
"""The step count is planned to fill this fraction of a stage's time left: a margin for slower steps."""


def process_age_s() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 where that cannot be read)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22 of proc(5), counted after "pid (comm)"
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return 0.0
    return max(0.0, uptime_s - started_ticks / os.sysconf("SC_CLK_TCK"))


class TimeBudget:
    """A wall-clock deadline for a whole training run.

    Args:
        seconds: the budget, counted from the start of the process (> 0).
        reserve_s: kept back at the end for the final checkpoint and the summary [s].
    """

    def __init__(self, seconds: float, *, reserve_s: float = 3.0) -> None:
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a time budget must be a positive number of seconds, got {seconds}")
        self.seconds = float(seconds)
        self.reserve_s = reserve_s
        self.deadline = time.monotonic() - process_age_s() + self.seconds

    def left_s(self) -> float:
        """Seconds until the deadline less the reserve (negative once past it)."""
        return self.deadline - self.reserve_s - time.monotonic()

    def share_s(self, weight: float, weights_left: float) -> float:
        """The time a stage of ``weight`` gets now, when the stages still to run weigh ``weights_left``."""
        return max(0.0, self.left_s()) * weight / weights_left


@dataclass
class StagePlan:
    """The learning-rate schedule and step count of one stage within a time budget.

    ``factor(k)`` scales the configured learning rates at the stage's ``k``-th step of this run (0-based):
    a linear warm-up from ``WARMUP_START * start`` to ``start`` over the probe, then a cosine from
    ``start`` to ``floor`` ending at step ``steps - 1``. ``steps`` is None until :meth:`fix` sets it.
    """

    seconds: float
    start: float = 1.0
    floor: float = 0.1
    steps: int | None = None
    step_s: list[float] = field(default_factory=list)

    def factor(self, k: int) -> float:
        if k < PROBE_STEPS:
            return self.start * (WARMUP_START + (1 - WARMUP_START) * (k + 1) / PROBE_STEPS)
        if self.steps is None or self.start <= self.floor:
            return self.start
        progress = min((k - PROBE_STEPS + 1) / max(self.steps - PROBE_STEPS, 1), 1.0)
        return self.floor + (self.start - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))

    def record(self, k: int, seconds: float, elapsed_s: float) -> None:
        """Note the duration of step ``k``; after the probe, fix the step count from the median.

        Args:
            k: the step just done (0-based within this run's part of the stage).
            seconds: how long it took.
            elapsed_s: seconds since the stage began.
        """
        if k > 0:
            self.step_s.append(seconds)
        if self.steps is None and k == PROBE_STEPS - 1:
            self.fix(elapsed_s)

    def fix(self, elapsed_s: float) -> int:
        """Fix :attr:`steps`: the probe's steps plus as many more as :data:`PLAN_FRACTION` of the stage's
        time left holds at the median step time."""
        median = statistics.median(self.step_s) if self.step_s else elapsed_s / PROBE_STEPS
        more = int(PLAN_FRACTION * max(0.0, self.seconds - elapsed_s) / max(median, 1e-6))
        self.steps = PROBE_STEPS + more
        return self.steps

    def done(self, k: int) -> bool:
        """Whether ``k`` steps of this stage complete its plan."""
        return self.steps is not None and k >= self.steps

    @property
    def median_step_s(self) -> float | None:
        return statistics.median(self.step_s) if self.step_s else None
