"""CRC-32 over bit arrays (uint8 0/1, most significant bit first).

The code is CRC-32/BZIP2: generator polynomial 0x04C11DB7 (the IEEE 802.3 polynomial), initial
register 0xFFFFFFFF, no bit reflection, final XOR 0xFFFFFFFF. It is defined for any number of bits,
not just whole bytes, and is bit-exact with the byte-oriented CRC-32/BZIP2 when the length is a
multiple of 8 (check value of the ASCII bytes "123456789": 0xFC891918). The CRC is appended MSB first.
For messages up to 268 bits (the frame header has 172 + 32) this polynomial has Hamming distance 6:
every error pattern of up to 5 bits is detected.
"""

from __future__ import annotations

import numpy as np

CRC_BITS = 32
POLYNOMIAL = 0x04C11DB7
_INIT = 0xFFFFFFFF
_XOR_OUT = 0xFFFFFFFF
_MASK = 0xFFFFFFFF
_TOP = 1 << 31


def _byte_table() -> tuple[int, ...]:
    """Register update for each leading byte value (MSB-first, non-reflected)."""
    table = []
    for byte in range(256):
        reg = byte << 24
        for _ in range(8):
            reg = ((reg << 1) ^ POLYNOMIAL) if reg & _TOP else (reg << 1)
        table.append(reg & _MASK)
    return tuple(table)


_TABLE = _byte_table()


def as_bits(bits: np.ndarray, name: str = "bits") -> np.ndarray:
    """Validate a 1-D array of 0/1 values and return it as uint8, shape (n,)."""
    arr = np.asarray(bits)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of 0/1 values; got shape {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = arr[~np.isin(arr, (0, 1))][:5]
        raise ValueError(f"{name} must contain only 0 and 1; found values such as {bad.tolist()}")
    return arr.astype(np.uint8)


def crc32(bits: np.ndarray) -> int:
    """CRC-32/BZIP2 of a bit sequence.

    Args:
        bits: uint8 0/1, shape (n,), first bit first (MSB-first within any byte it came from).

    Returns:
        The 32-bit CRC as an int in [0, 2**32).
    """
    b = as_bits(bits)
    n_bytes = b.size // 8
    reg = _INIT
    for byte in np.packbits(b[: 8 * n_bytes]).tolist():
        reg = ((reg << 8) & _MASK) ^ _TABLE[(reg >> 24) ^ byte]
    for bit in b[8 * n_bytes :].tolist():
        feedback = ((reg >> 31) ^ bit) & 1
        reg = (reg << 1) & _MASK
        if feedback:
            reg ^= POLYNOMIAL
    return reg ^ _XOR_OUT


def int_to_bits(value: int, width: int) -> np.ndarray:
    """``value`` as ``width`` bits, MSB first, uint8 shape (width,)."""
    return ((int(value) >> np.arange(width - 1, -1, -1, dtype=np.int64)) & 1).astype(np.uint8)


def bits_to_int(bits: np.ndarray) -> int:
    """Integer value of a bit sequence read MSB first."""
    value = 0
    for bit in np.asarray(bits).tolist():
        value = (value << 1) | int(bit)
    return value


def append_crc(bits: np.ndarray) -> np.ndarray:
    """The bits followed by their CRC-32 (MSB first), uint8 shape (n + 32,)."""
    b = as_bits(bits)
    return np.concatenate([b, int_to_bits(crc32(b), CRC_BITS)])


def check_crc(bits: np.ndarray) -> bool:
    """True when the last 32 bits are the CRC-32 of the bits before them.

    Args:
        bits: uint8 0/1, shape (n + 32,), as made by :func:`append_crc`.
    """
    b = as_bits(bits)
    if b.size < CRC_BITS:
        raise ValueError(f"bits has {b.size} bits; a CRC-protected block needs at least {CRC_BITS}")
    return crc32(b[:-CRC_BITS]) == bits_to_int(b[-CRC_BITS:])
