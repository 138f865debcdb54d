from __future__ import annotations

import numpy as np
import pytest

from phy.symbol_interleaver import deinterleave, interleave, stride_permutation


@pytest.mark.parametrize("k", [1, 2, 7, 48, 1000, 19200, 24576])
def test_is_a_permutation_and_inverts(k: int) -> None:
    perm = stride_permutation(k)
    assert np.array_equal(np.sort(perm), np.arange(k))
    x = np.random.default_rng(k).standard_normal(k)
    assert np.array_equal(deinterleave(interleave(x)), x)


def test_neighbours_are_sent_far_apart() -> None:
    k = 24576
    position = np.empty(k, np.int64)
    position[stride_permutation(k)] = np.arange(k)
    gaps = np.abs(np.diff(position))  # where consecutive payload symbols land in the transmission
    assert gaps.min() > k // 10


def test_a_lost_block_becomes_scattered_erasures() -> None:
    k, lost = 19200, slice(5000, 6920)  # one frame of ten
    erased = np.zeros(k, bool)
    erased[lost] = True
    spread = deinterleave(erased)
    assert spread.sum() == 1920
    per_tenth = spread.reshape(10, -1).mean(axis=1)  # erasures fall evenly over the payload
    np.testing.assert_allclose(per_tenth, 0.1, atol=0.01)
