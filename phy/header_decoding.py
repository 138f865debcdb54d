"""Decoding many frame headers at once, with a maximum-likelihood shortcut for clean receptions.

A receiver that finds hundreds of frames per second cannot afford one Viterbi pass per header, so
:func:`decode_headers` works on a batch:

1. Shortcut. The hard decisions ``sign(llr)`` maximise the correlation ``sum llr_i x_i`` over *all*
   sequences; when they form a codeword (zero tail included) that codeword is therefore exactly the
   maximum-likelihood one, the Viterbi decoder's answer. The 133 output of the code is a lower-
   triangular Toeplitz map with unit diagonal, so the information bits are recovered by its GF(2)
   inverse, re-encoded with the generator matrix and compared, for the whole batch in two matrix
   products.
2. The other headers go through :func:`phy.convolutional.viterbi_decode` as one batch.

Then the CRC check and the field parsing are done for the whole batch too: the CRC is affine over
GF(2) (``crc(m) = A m + c``, ``A`` and ``c`` taken from :func:`phy.crc.crc32` of unit vectors), and the
fields are dot products with powers of two. A row whose CRC matches becomes a :class:`Header` (or
``None`` when a field is invalid), exactly as :func:`phy.header.decode_header` gives for one header.
The decoded blocks are re-encoded too (one matrix product), so that the receiver knows the header
symbols that were sent without encoding every header again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from phy.convolutional import GENERATORS, TAIL_BITS, conv_encode, sanitize_llr, viterbi_decode
from phy.crc import CRC_BITS, crc32, int_to_bits
from phy.header import FIELD_BITS, HEADER_CODED_BITS, HEADER_INFO_BITS, HEADER_INTERLEAVER, Header

_N_INFO = HEADER_INFO_BITS + CRC_BITS


@lru_cache(maxsize=1)
def _matrices() -> tuple[np.ndarray, np.ndarray]:
    """(inverse of the first output's map, float32 (n, n); generator matrix, float32 (n, 2 (n + 6)))."""
    n = _N_INFO
    generator = np.stack([conv_encode(np.eye(n, dtype=np.uint8)[i]) for i in range(n)]).astype(np.float32)
    taps = [(GENERATORS[0] >> (TAIL_BITS - d)) & 1 for d in range(TAIL_BITS + 1)]
    series = np.zeros(n, dtype=np.uint8)  # power series of 1 / g(D) over GF(2)
    series[0] = 1
    for i in range(1, n):
        series[i] = np.bitwise_xor.reduce([series[i - d] & taps[d] for d in range(1, min(i, TAIL_BITS) + 1)])
    inverse = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        inverse[i, : i + 1] = series[i::-1]
    return inverse, generator


@lru_cache(maxsize=1)
def _crc_affine() -> tuple[np.ndarray, np.ndarray]:
    """``A`` float32 (32, n_info) and ``c`` float32 (32,) with ``crc bits = (A m + c) mod 2``."""
    n = HEADER_INFO_BITS
    c = int_to_bits(crc32(np.zeros(n, dtype=np.uint8)), CRC_BITS)
    a = np.stack([int_to_bits(crc32(np.eye(n, dtype=np.uint8)[i]), CRC_BITS) ^ c for i in range(n)], axis=1)
    return a.astype(np.float32), c.astype(np.float32)


def _fields(bits: np.ndarray) -> dict[str, np.ndarray]:
    """Field values (int64 (batch,) each) of information bits (batch, HEADER_INFO_BITS)."""
    out, start = {}, 0
    for name, width in FIELD_BITS.items():
        weights = 1 << np.arange(width - 1, -1, -1, dtype=np.int64)
        out[name] = bits[:, start : start + width].astype(np.int64) @ weights
        start += width
    return out


def _shortcut(hard: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Information bits (batch, n) from hard decisions (batch, 2 (n + 6)) and whether they form a codeword."""
    inverse, generator = _matrices()
    first = hard[:, 0 : 2 * _N_INFO : 2].astype(np.float32)
    info = np.mod(first @ inverse.T, 2)
    recoded = np.mod(info @ generator, 2)
    valid = np.all(recoded == hard, axis=1)
    return info.astype(np.uint8), valid


@dataclass(frozen=True)
class DecodedHeaders:
    """A batch of decoded headers.

    Attributes:
        headers: one :class:`Header` or ``None`` (CRC failure or invalid field) per row.
        coded: uint8 (B, HEADER_CODED_BITS), the decoded blocks re-encoded and interleaved: the coded
            bits that were sent, wherever ``headers`` is not ``None``.
    """

    headers: list[Header | None]
    coded: np.ndarray


def decode_headers(llr: np.ndarray) -> DecodedHeaders:
    """Decode a batch of headers.

    Args:
        llr: float (batch, HEADER_CODED_BITS), ``log P(b=0)/P(b=1)`` in transmission (interleaved)
            order; NaN counts as erased and infinities are clipped.

    Returns:
        The :class:`DecodedHeaders`.
    """
    x = sanitize_llr(np.asarray(llr)).reshape(-1, HEADER_CODED_BITS)
    if x.shape[0] == 0:
        return DecodedHeaders([], np.zeros((0, HEADER_CODED_BITS), np.uint8))
    coded = HEADER_INTERLEAVER.deinterleave(x)
    hard = (coded < 0).astype(np.uint8)
    bits, valid = _shortcut(hard)
    rest = np.flatnonzero(~valid)
    if rest.size:
        bits[rest] = viterbi_decode(coded[rest], _N_INFO)
    a, c = _crc_affine()
    info = bits[:, :HEADER_INFO_BITS]
    crc_ok = np.all(np.mod(info.astype(np.float32) @ a.T + c, 2) == bits[:, HEADER_INFO_BITS:_N_INFO], axis=1)
    values = _fields(info)
    out: list[Header | None] = [None] * len(bits)
    for i in np.flatnonzero(crc_ok):
        try:
            out[i] = Header(**{name: int(v[i]) for name, v in values.items()})
        except ValueError:
            out[i] = None
    recoded = np.mod(bits.astype(np.float32) @ _matrices()[1], 2).astype(np.uint8)
    return DecodedHeaders(out, HEADER_INTERLEAVER.interleave(recoded))
