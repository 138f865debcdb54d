"""The mean of a sample with the t-confidence interval of that mean (sweep summaries, the β ablation's paired
differences)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_and_ci(values: Sequence[float], level: float = 0.95) -> dict[str, float | int]:
    """Mean, sample standard deviation and the half-width of the ``level`` t-confidence interval of the mean."""
    array = np.asarray(values, dtype=np.float64)
    n = array.size
    std = float(array.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)) if n > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "ci95": half, "n": n}
