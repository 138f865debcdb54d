"""The phase tracker's smoother: its vectorised recursions equal the two-sided exponential weights."""

from __future__ import annotations

import numpy as np
import pytest

from phy.phase_tracking import _Smoother


def dense_weights(alpha: float, n: int) -> np.ndarray:
    """``W[l, i] = alpha^|i - l|`` with each row normalised to sum 1, (n, n)."""
    distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    w = alpha**distance
    return w / w.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n", [1, 2, 5, 64, 257])
def test_apply_equals_the_dense_weights(n):
    rng = np.random.default_rng(n)
    q_over_r = np.array([0.0, 1e-4, 0.05, 1.0, 30.0, 1e6])  # alpha from 1 (flat) down to about 0
    q = rng.standard_normal((q_over_r.size, n)) + 1j * rng.standard_normal((q_over_r.size, n))
    smoother = _Smoother(n, q_over_r)
    want = np.stack([dense_weights(float(a), n) @ row for a, row in zip(smoother.alpha[:, 0], q, strict=True)])
    np.testing.assert_allclose(smoother.apply(q), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(smoother.self_weight(), [np.diag(dense_weights(float(a), n))
                                                        for a in smoother.alpha[:, 0]], rtol=1e-12)
