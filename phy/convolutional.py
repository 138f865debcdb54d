"""802.11a's rate-1/2, constraint-length-7 convolutional code and its soft-decision Viterbi decoder.

Generators 133 and 171 (octal); for each input bit the encoder emits the 133 output then the 171
output. The MSB of a generator taps the current input bit, the LSB the bit six steps back. The
encoder starts in the all-zero state and is terminated with six zero tail bits, so ``n`` information
bits give ``2 * (n + 6)`` coded bits. Free distance 10: on hard decisions any pattern of up to four
coded-bit errors is corrected.

LLR convention: ``llr = log P(b=0) / P(b=1)``; positive means 0. For BPSK ``x = 1 - 2b`` over AWGN of
real noise variance ``sigma2`` per dimension, ``llr = 2 y / sigma2``.
"""

from __future__ import annotations

import numpy as np

from phy.crc import as_bits

CONSTRAINT_LENGTH = 7
GENERATORS = (0o133, 0o171)
TAIL_BITS = CONSTRAINT_LENGTH - 1
N_STATES = 1 << TAIL_BITS
LLR_LIMIT = 1e6
"""Magnitude LLRs are clipped to (inf becomes this; NaN becomes 0, no information)."""
_CHUNK_VALUES = 1 << 22
"""Branch metrics held at once (float64 values) when decoding a batch."""


def _taps(generator: int) -> np.ndarray:
    """Tap weights by delay 0..6 (delay 0 = current input = the generator's MSB)."""
    return np.array([(generator >> (TAIL_BITS - d)) & 1 for d in range(CONSTRAINT_LENGTH)], dtype=np.int64)


def _parity(x: np.ndarray) -> np.ndarray:
    """Parity of each non-negative integer below 2**7."""
    x = x ^ (x >> 4)
    x = x ^ (x >> 2)
    x = x ^ (x >> 1)
    return x & 1


def _branch_signs() -> np.ndarray:
    """Branch signs of the 64-state trellis, float (64, 2, 2): ``[state, x, j] = 1 - 2 c_j``.

    The state holds the last six input bits, the most recent in bit 5. Entering state ``t`` means the
    input was ``t >> 5``; its two predecessors are ``((t & 31) << 1) | x`` for ``x`` in {0, 1}, and
    ``c_j`` is coded bit ``j`` (from generator ``GENERATORS[j]``) emitted on that branch.
    """
    target = np.arange(N_STATES)
    prev = ((target[:, None] & 31) << 1) | np.arange(2)[None, :]
    register = ((target[:, None] >> 5) << TAIL_BITS) | prev
    coded = np.stack([_parity(register & g) for g in GENERATORS], axis=-1)
    return 1.0 - 2.0 * coded


_SIGN = _branch_signs()


def n_coded_bits(n_info: int) -> int:
    """Coded length for ``n_info`` information bits: ``2 * (n_info + 6)``."""
    return 2 * (n_info + TAIL_BITS)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Encode with the zero-tail-terminated (133, 171) code.

    Args:
        bits: uint8 0/1, shape (n,).

    Returns:
        Coded bits uint8, shape (2 * (n + 6),), ordered [a0, b0, a1, b1, ...] (a from 133, b from 171).
    """
    u = np.concatenate([as_bits(bits).astype(np.int64), np.zeros(TAIL_BITS, dtype=np.int64)])
    out = np.empty((u.size, 2), dtype=np.uint8)
    for j, g in enumerate(GENERATORS):
        out[:, j] = np.convolve(u, _taps(g))[: u.size] & 1
    return out.reshape(-1)


def sanitize_llr(llr: np.ndarray) -> np.ndarray:
    """LLRs as float64 with NaN -> 0 and infinities/huge values clipped to +-LLR_LIMIT."""
    x = np.nan_to_num(np.asarray(llr, dtype=np.float64), nan=0.0, posinf=LLR_LIMIT, neginf=-LLR_LIMIT)
    return np.clip(x, -LLR_LIMIT, LLR_LIMIT)


def viterbi_decode(llr: np.ndarray, n_info: int) -> np.ndarray:
    """Maximum-likelihood soft-decision decoding of the zero-tail-terminated code.

    Vectorised over the 64 states (and over a batch of codewords); loops over time steps only.

    Args:
        llr: float, shape (2 * (n_info + 6),) or (batch, 2 * (n_info + 6)); ``log P(b=0)/P(b=1)``.
            NaN is read as 0 (erased) and infinities are clipped, so any float input decodes.
        n_info: number of information bits.

    Returns:
        Decoded bits uint8, shape (n_info,) or (batch, n_info).
    """
    if n_info < 0:
        raise ValueError(f"n_info={n_info} must be non-negative")
    x = sanitize_llr(llr)
    expected = n_coded_bits(n_info)
    if x.ndim not in (1, 2) or x.shape[-1] != expected:
        raise ValueError(f"llr has shape {x.shape}; expected ({expected},) or (batch, {expected}) for n_info={n_info}")
    steps = x.reshape(-1, n_info + TAIL_BITS, 2)
    if steps.shape[0] == 0:
        return np.zeros((0, n_info), dtype=np.uint8)
    chunk = max(1, _CHUNK_VALUES // (steps.shape[1] * 2 * N_STATES))
    bits = np.concatenate([_viterbi(steps[i : i + chunk]) for i in range(0, steps.shape[0], chunk)])
    return bits[0, :n_info] if x.ndim == 1 else bits[:, :n_info]


def _viterbi(x: np.ndarray) -> np.ndarray:
    """Add-compare-select and traceback on LLRs (batch, n_steps, 2); returns bits (batch, n_steps).

    The state is ``hi * 32 + j`` (``hi`` = the newest input bit); its predecessors are ``2j`` and
    ``2j + 1``, so the metrics viewed as (batch, 32, 2) broadcast against (batch, 2, 32, 2) branches.
    """
    batch, n_steps = x.shape[:2]
    branch = np.einsum("spc,btc->tbsp", _SIGN, x).reshape(n_steps, batch, 2, N_STATES // 2, 2)
    metric = np.full((batch, N_STATES // 2, 2), -np.inf)
    metric[:, 0, 0] = 0.0
    decisions = np.empty((n_steps, batch, 2, N_STATES // 2), dtype=bool)
    for t in range(n_steps):
        candidates = branch[t] + metric[:, None]
        via_even, via_odd = candidates[..., 0], candidates[..., 1]
        np.greater(via_odd, via_even, out=decisions[t])
        metric = np.maximum(via_even, via_odd).reshape(batch, N_STATES // 2, 2)
        if t % 32 == 31:
            metric -= metric.max(axis=(1, 2), keepdims=True)
    state = np.zeros(batch, dtype=np.int64)
    out = np.empty((batch, n_steps), dtype=np.uint8)
    rows = np.arange(batch)
    for t in range(n_steps - 1, -1, -1):
        out[:, t] = state >> 5
        state = ((state & 31) << 1) | decisions[t, rows, state >> 5, state & 31]
    return out
