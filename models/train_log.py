"""The per-step training log (CSV) and the running means shown in the progress bar and on the card.

``log.csv`` has one row per step with every loss of that step; values a stage does not compute are
left empty. Resuming a run into the same folder keeps the rows up to the resumed step and drops any
later ones (written after that checkpoint by the interrupted run), so the log never has a step twice.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from pathlib import Path

LOG_COLUMNS = (
    "step",  # steps over all stages (1-based)
    "stage",
    "stage_step",  # steps within the stage (1-based)
    "wall_s",  # training seconds so far, over resumes
    "snr_db",  # mean SNR of the batch [dB]
    "g_loss",  # generator loss: beta_m*mse + beta_s*(1-ms_ssim) + beta_p*lpips + beta_g*adv + beta_grid*grid + ...
    "mse",  # as reported by GeneratorLoss
    "lpips",
    "adv",
    "psnr_db",  # batch mean PSNR of x_hat against x [dB]
    "d_loss",  # discriminator loss
    "d_real",
    "d_fake",
    "latent_mse",  # latent stage: mean (z_hat - z)^2 of the TAEF2 latent
    "ms_ssim",  # batch MS-SSIM (RGB) when loss.beta_s > 0
    "grid",  # batch grid index above the source's when loss.beta_grid > 0
    "streak",  # batch streak index when loss.beta_streak > 0
    "hatch",  # batch hatch index when loss.beta_hatch > 0
    "transpose",  # mean (x_hat - D(z^T)^T)^2 when loss.beta_transpose > 0
    "lr",  # learning rate of the encoder + generator at this step
)


class TrainLog:
    """Append-only CSV writer of :data:`LOG_COLUMNS`.

    Args:
        path: the CSV file.
        resume_step: None starts a new log (an old file is replaced); an int keeps the existing rows
            with ``step <= resume_step`` and appends after them.
    """

    def __init__(self, path: str | Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) <= resume_step]
        self._file = self.path.open("w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=LOG_COLUMNS, extrasaction="raise")
        self._writer.writeheader()
        self._writer.writerows({k: row.get(k, "") for k in LOG_COLUMNS} for row in kept)
        self._file.flush()

    def write(self, row: dict[str, float | int | str]) -> None:
        """One step's values (unknown keys raise, missing ones stay empty)."""
        self._writer.writerow({k: _format(v) for k, v in row.items()})

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> TrainLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _format(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


class RunningMeans:
    """Means of the last ``window`` values of each named scalar."""

    def __init__(self, window: int = 100) -> None:
        self.window = window
        self._values: dict[str, deque[float]] = {}

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self._values.setdefault(key, deque(maxlen=self.window)).append(float(value))

    def means(self) -> dict[str, float]:
        return {key: sum(v) / len(v) for key, v in self._values.items() if v}

    def state_dict(self) -> dict[str, list[float]]:
        """The values in the window, to resume the means exactly."""
        return {key: list(values) for key, values in self._values.items()}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        self._values = {key: deque(values, maxlen=self.window) for key, values in state.items()}
