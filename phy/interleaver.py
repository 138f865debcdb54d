"""Block interleaver: write row by row into an ``n_rows x n_cols`` matrix, read column by column.

Two bits adjacent at the input leave ``n_rows`` positions apart; two positions adjacent at the output
(neighbouring subcarriers once mapped) carry input bits ``n_cols`` apart. With a convolutional code
this turns a burst of unreliable bits (a frequency-selective fade over a few subcarriers) into
isolated errors spread along the trellis, which the Viterbi decoder corrects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class BlockInterleaver:
    """A fixed ``n_rows x n_cols`` block interleaver over the last axis of an array.

    Attributes:
        n_rows: rows of the interleaving matrix (the output spacing of adjacent input bits).
        n_cols: columns (the input spacing of adjacent output bits).
    """

    n_rows: int
    n_cols: int

    def __post_init__(self) -> None:
        for name in ("n_rows", "n_cols"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name}={value} must be a positive integer")

    @property
    def size(self) -> int:
        """Block length ``n_rows * n_cols``."""
        return self.n_rows * self.n_cols

    @cached_property
    def permutation(self) -> np.ndarray:
        """``out[i] = in[permutation[i]]``, int shape (size,)."""
        return np.arange(self.size).reshape(self.n_rows, self.n_cols).T.reshape(-1)

    @cached_property
    def inverse(self) -> np.ndarray:
        """``in[i] = out[inverse[i]]``, int shape (size,)."""
        return np.argsort(self.permutation)

    def _check(self, x: np.ndarray) -> np.ndarray:
        arr = np.asarray(x)
        if arr.ndim == 0 or arr.shape[-1] != self.size:
            raise ValueError(f"last axis has length {arr.shape[-1:] or 'none'}; the interleaver block is {self.size}")
        return arr

    def interleave(self, x: np.ndarray) -> np.ndarray:
        """Permute the last axis (any dtype), shape (..., size) -> (..., size)."""
        return self._check(x)[..., self.permutation]

    def deinterleave(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`interleave` (e.g. on LLRs), shape (..., size) -> (..., size)."""
        return self._check(x)[..., self.inverse]
