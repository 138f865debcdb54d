"""Symbol interleaver: spreads neighbouring payload symbols over the whole transmission.

JSCC symbols are far from i.i.d.: their power varies strongly between latent channels and image
regions, so OFDM symbols filled in order would alternate between weak and strong ones, and the strong
ones would be clipped by the transmitter's peak limit. A lost frame would also erase one contiguous
block of the latent. Permuting the payload with a stride close to ``k / golden ratio`` (coprime with
``k``) puts consecutive symbols far apart, which evens out the power per OFDM symbol (Gaussian-like
PAPR) and turns a lost frame into erasures scattered over the latent.

The permutation depends only on ``k`` (no random generator), so both ends and any later replay of a
capture compute the same one.
"""

from __future__ import annotations

import math

import numpy as np

GOLDEN = (1 + math.sqrt(5)) / 2


def stride_permutation(k: int) -> np.ndarray:
    """Transmit order of a payload of ``k`` symbols: ``perm[j]`` is the payload index sent ``j``-th.

    ``perm[j] = (j * stride) mod k`` with the stride the integer nearest ``k / GOLDEN`` that is
    coprime with ``k``. Returns int64 (k,).
    """
    if k < 1:
        raise ValueError(f"k={k}: a payload has at least one symbol")
    stride = max(1, round(k / GOLDEN))
    while math.gcd(stride, k) != 1:
        stride += 1
    return (np.arange(k, dtype=np.int64) * stride) % k


def interleave(payload: np.ndarray) -> np.ndarray:
    """Payload (k,) in transmit order."""
    return payload[stride_permutation(len(payload))]


def deinterleave(received: np.ndarray) -> np.ndarray:
    """Inverse of :func:`interleave` for any per-symbol array (symbols, noise variances, erasures)."""
    out = np.empty_like(received)
    out[stride_permutation(len(received))] = received
    return out
