"""The frame header: its fields, their bit layout and its robust coding.

Coding chain (transmitter): 12 fields, 172 bits MSB first -> CRC-32 appended (204 bits) ->
rate-1/2 K=7 convolutional code, zero-tail terminated (420 bits) -> 20 x 21 block interleaver
(``HEADER_CODED_BITS = 420``), carried as scrambled BPSK on the data subcarriers of the header OFDM
symbols (:func:`header_symbols`). The receiver undoes it from soft LLRs and accepts a header only when
the CRC matches and every field is valid; anything else (noise, a corrupted frame, NaN) is ``None``.

Bit layout (MSB first, in this order):

============  ====  ==========================================================
field         bits  meaning
============  ====  ==========================================================
version         4   header format version (only 1 is supported)
payload_kind    4   :class:`PayloadKind`
sequence       16   transmission id (all frames of one image share it)
frame_index    12   index of this frame, ``< frame_count``
frame_count    12   frames in the transmission, >= 1
payload_len    20   payload symbols in this frame, >= 1
total_len      24   payload symbols in the whole transmission
offset         24   index of this frame's first symbol; ``offset + payload_len <= total_len``
height         16   image height in pixels (0 when not an image)
width          16   image width in pixels (0 when not an image)
model_id        8   JSCC model or CBR id (kind-specific)
aux            16   kind-specific, e.g. QAM order and code id
============  ====  ==========================================================
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

from phy.convolutional import conv_encode, n_coded_bits, viterbi_decode
from phy.crc import CRC_BITS, append_crc, bits_to_int, check_crc, int_to_bits
from phy.interleaver import BlockInterleaver
from phy.pn_sequence import pn_bits, pn_signs

SUPPORTED_VERSIONS = (1,)
HEADER_VERSION = 1


class PayloadKind(IntEnum):
    """What the frame's payload symbols are."""

    RAW = 0
    JSCC = 1
    QAM = 2


FIELD_BITS: dict[str, int] = {
    "version": 4,
    "payload_kind": 4,
    "sequence": 16,
    "frame_index": 12,
    "frame_count": 12,
    "payload_len": 20,
    "total_len": 24,
    "offset": 24,
    "height": 16,
    "width": 16,
    "model_id": 8,
    "aux": 16,
}
HEADER_INFO_BITS = sum(FIELD_BITS.values())
HEADER_CODED_BITS = n_coded_bits(HEADER_INFO_BITS + CRC_BITS)
HEADER_INTERLEAVER = BlockInterleaver(n_rows=20, n_cols=21)

_MINIMUM = {"frame_count": 1, "payload_len": 1, "total_len": 1}


@dataclass(frozen=True, kw_only=True)
class Header:
    """One frame's header (see the module docstring for the fields). Construct with keywords."""

    version: int = HEADER_VERSION
    payload_kind: PayloadKind
    sequence: int
    frame_index: int
    frame_count: int
    payload_len: int
    total_len: int
    offset: int
    height: int = 0
    width: int = 0
    model_id: int = 0
    aux: int = 0

    def __post_init__(self) -> None:
        for name, width in FIELD_BITS.items():
            value = getattr(self, name)
            try:
                value = operator.index(value)
            except TypeError:
                raise ValueError(f"Header.{name}={value!r} must be an integer") from None
            low, high = _MINIMUM.get(name, 0), (1 << width) - 1
            if not low <= value <= high:
                raise ValueError(f"Header.{name}={value} is out of range; expected {low}..{high} ({width} bits)")
            object.__setattr__(self, name, value)
        if self.version not in SUPPORTED_VERSIONS:
            raise ValueError(f"Header.version={self.version} is not supported; expected one of {SUPPORTED_VERSIONS}")
        try:
            object.__setattr__(self, "payload_kind", PayloadKind(self.payload_kind))
        except ValueError:
            names = ", ".join(f"{k.name}={k.value}" for k in PayloadKind)
            raise ValueError(f"Header.payload_kind={self.payload_kind} is unknown; expected one of {names}") from None
        if self.frame_index >= self.frame_count:
            raise ValueError(f"Header.frame_index={self.frame_index} must be below frame_count={self.frame_count}")
        if self.offset + self.payload_len > self.total_len:
            raise ValueError(
                f"Header.offset={self.offset} + payload_len={self.payload_len} exceeds total_len={self.total_len}"
            )

    def to_dict(self) -> dict:
        """Plain-JSON form; ``payload_kind`` by name."""
        d = {f.name: int(getattr(self, f.name)) for f in fields(self)}
        d["payload_kind"] = self.payload_kind.name
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Header:
        """Inverse of :meth:`to_dict` (``payload_kind`` by name or number)."""
        d = dict(d)
        kind = d.get("payload_kind")
        if isinstance(kind, str):
            if kind not in PayloadKind.__members__:
                raise ValueError(f"payload_kind={kind!r} is unknown; expected one of {list(PayloadKind.__members__)}")
            d["payload_kind"] = PayloadKind[kind]
        return cls(**d)


def header_to_dict(h: Header) -> dict:
    """Same as ``h.to_dict()``."""
    return h.to_dict()


def header_to_bits(h: Header) -> np.ndarray:
    """The 172 information bits of a header (fields MSB first), uint8 (HEADER_INFO_BITS,)."""
    return np.concatenate([int_to_bits(getattr(h, name), width) for name, width in FIELD_BITS.items()])


def header_from_bits(bits: np.ndarray) -> Header:
    """Parse 172 information bits; raises ValueError when a field is invalid."""
    values, start = {}, 0
    for name, width in FIELD_BITS.items():
        values[name] = bits_to_int(bits[start : start + width])
        start += width
    return Header(**values)


def encode_header(h: Header) -> np.ndarray:
    """Header -> coded, interleaved bits, uint8 0/1 shape (HEADER_CODED_BITS,)."""
    return HEADER_INTERLEAVER.interleave(conv_encode(append_crc(header_to_bits(h))))


def decode_header(llr: np.ndarray) -> Header | None:
    """Soft-decode one header.

    Args:
        llr: float, shape (HEADER_CODED_BITS,), ``log P(b=0)/P(b=1)`` of the received coded bits in
            transmission (interleaved) order. Any values are accepted: NaN counts as erased (0) and
            infinities are clipped.

    Returns:
        The header, or ``None`` when the CRC fails or a field is invalid.

    Raises:
        ValueError: only when the shape is not (HEADER_CODED_BITS,) (a caller bug, not a channel event).
    """
    x = np.asarray(llr)
    if x.shape != (HEADER_CODED_BITS,):
        raise ValueError(f"llr has shape {x.shape}; expected ({HEADER_CODED_BITS},) header LLRs")
    return decode_headers(x[None])[0]


def decode_headers(llr: np.ndarray) -> list[Header | None]:
    """Soft-decode a batch of headers (e.g. several candidate frame starts) in one Viterbi pass.

    Args:
        llr: float, shape (batch, HEADER_CODED_BITS); as for :func:`decode_header`.

    Returns:
        One ``Header`` or ``None`` per row.
    """
    x = np.asarray(llr)
    if x.ndim != 2 or x.shape[1] != HEADER_CODED_BITS:
        raise ValueError(f"llr has shape {x.shape}; expected (batch, {HEADER_CODED_BITS}) header LLRs")
    bits = viterbi_decode(HEADER_INTERLEAVER.deinterleave(x), HEADER_INFO_BITS + CRC_BITS)
    return [_parse_checked(row) for row in bits]


def _parse_checked(bits: np.ndarray) -> Header | None:
    """Header from decoded info+CRC bits (HEADER_INFO_BITS + 32,), or None if the CRC or a field fails."""
    if not check_crc(bits):
        return None
    try:
        return header_from_bits(bits[:HEADER_INFO_BITS])
    except ValueError:
        return None


def header_scrambling(n_symbols: int, n_data: int) -> np.ndarray:
    """Signs multiplying the header's BPSK, float32 (n_symbols, n_data).

    Without them the header's many zero-valued fields put equal signs on most subcarriers, which add up
    to a peak at the start of the symbol (clipped by the peak limit).
    """
    return pn_signs(n_symbols * n_data, start=31).reshape(n_symbols, n_data)


def header_symbols(coded: np.ndarray, n_symbols: int, n_data: int) -> np.ndarray:
    """The header symbols' data subcarriers for coded header bits, float32 (..., n_symbols, n_data) of +-1.

    Args:
        coded: uint8 (..., HEADER_CODED_BITS), coded bits from :func:`encode_header`.

    The coded bits (BPSK, 0 -> +1) fill the symbols in order, then known padding bits (the PN
    sequence) fill the rest; everything is multiplied by :func:`header_scrambling`.
    """
    coded = np.asarray(coded)
    pad = pn_bits(n_symbols * n_data - coded.shape[-1])
    bits = np.concatenate([coded, np.broadcast_to(pad, (*coded.shape[:-1], pad.size))], axis=-1)
    signs = 1.0 - 2.0 * bits.astype(np.float32)
    return signs.reshape(*coded.shape[:-1], n_symbols, n_data) * header_scrambling(n_symbols, n_data)
