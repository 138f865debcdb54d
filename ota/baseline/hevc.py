"""BPG-class still-image coding: HEVC intra (x265, 4:4:4 chroma) through ``pillow-heif``.

BPG is an HEVC-intra bitstream in a small header; here libheif's x265 encoder (via ``pillow-heif``)
codes the image with 4:4:4 chroma by default (:data:`CHROMA`, pillow-heif's ``chroma=444`` save option;
the decoded file reports it; bpgenc itself defaults to 4:2:0, also available here), 8 bits,
full-range BT.601 YCbCr (the ``nclx`` colour box ``pillow-heif`` writes by default). ``quality`` is
libheif's 0..100 scale (x265's rate factor underneath; higher is better and larger).

Only the HEVC bitstream is counted and sent, never the rest of the HEIF container:
:func:`pack_bitstream` takes the parameter-set NAL units (VPS, SPS, PPS) out of the ``hvcC`` box and
the image's NAL units out of the ``mdat`` box. The packed format is

    u8 P;  P x (u16 length, parameter-set NAL unit);  the mdat payload
    (the image's NAL units, each after its 4-byte big-endian length, as HEIF stores them)

so it delimits itself: a receiver that gets it followed by zero padding (a NAL length of 0 is
impossible) recovers it exactly. :func:`unpack_bitstream` rebuilds a decodable HEIF file at the
receiver from the packed bits and the image size alone: it encodes a mid-grey image of that size
with the same settings to get a container template (ftyp, meta with hdlr/iloc/iinf/pitm/iprp, ipco
with hvcC/colr/ispe/pixi, mdat: nothing in it depends on the image content or the quality but the
``hvcC`` arrays, the ``mdat`` payload and the ``iloc`` extent; the 22-byte ``hvcC`` header, profile,
level, chroma format and bit depths, is the template's), swaps in the received parameter sets and
payload, and rewrites the box sizes and the ``iloc`` offsets: the rebuilt file is byte-identical to
the sender's (tested). The ISO-BMFF boxes are read and
written by the small box parser in this module (only ``meta``, ``iprp`` and ``ipco`` are opened;
every other box is carried as opaque bytes).

Images are (3, H, W) float tensors in [0, 1] (the project's convention, :mod:`models.image_io`) or
(H, W, 3) uint8 arrays; :func:`decode` returns a (3, H, W) float32 tensor.
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass, field

import numpy as np
import pillow_heif
import torch

from models.image_io import to_uint8

CHROMA = "444"
"""Default chroma format given to x265: 4:4:4, the setting chosen for this comparison (bpgenc's own
default, ``-f``, is 4:2:0; pass ``chroma="420"`` to match it)."""
CHROMA_FORMATS = ("420", "422", "444")
MIN_QUALITY = 0
MAX_QUALITY = 100
TEMPLATE_GREY = 128
"""Pixel value of the image whose encoding is the receiver's container template."""
_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0}
"""Boxes opened by the parser -> bytes of their own fields before the child boxes (full box: 4)."""


class HevcError(ValueError):
    """An image of the wrong shape/type, a quality or budget out of range, or an undecodable bitstream."""


@dataclass(frozen=True)
class HevcImage:
    """One HEVC-coded image.

    Attributes:
        data: the whole HEIF file (what :func:`decode` reads).
        bitstream_bits: bits of the packed HEVC bitstream, ``8 * len(pack_bitstream(data))``: what is sent.
        quality: the encoder quality 0..100 it was made with.
        height, width: image size [pixels].
        chroma: the chroma format ("444", "422" or "420").
    """

    data: bytes = field(repr=False)
    bitstream_bits: int
    quality: int
    height: int
    width: int
    chroma: str = CHROMA

    @property
    def file_bits(self) -> int:
        """Bits of the whole HEIF file (container included), for comparison only."""
        return 8 * len(self.data)

    @property
    def bitstream(self) -> bytes:
        """The packed bitstream (:func:`pack_bitstream`)."""
        return pack_bitstream(self.data)


# ---------------------------------------------------------------- ISO-BMFF boxes


@dataclass
class _Box:
    """One ISO-BMFF box: a 4-character type, its own field bytes and, for an opened container, children."""

    kind: bytes
    body: bytes
    children: list[_Box] | None = None

    def to_bytes(self) -> bytes:
        content = self.body + b"".join(child.to_bytes() for child in self.children or ())
        if len(content) + 8 >= 1 << 32:
            raise HevcError(f"box {self.kind!r} too large for a 32-bit size")
        return struct.pack(">I4s", len(content) + 8, self.kind) + content


def _parse_boxes(data: bytes) -> list[_Box]:
    """Split ``data`` into boxes, opening the containers in :data:`_CONTAINERS`."""
    boxes, offset = [], 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise HevcError("truncated HEIF file: a box header runs past the end")
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if len(data) - offset < 16:
                raise HevcError("truncated HEIF file: a box header runs past the end")
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            raise HevcError(f"corrupt HEIF file: box {kind!r} of size {size} at offset {offset}")
        content = data[offset + header : offset + size]
        if kind in _CONTAINERS:
            skip = _CONTAINERS[kind]
            boxes.append(_Box(kind, content[:skip], _parse_boxes(content[skip:])))
        else:
            boxes.append(_Box(kind, content))
        offset += size
    return boxes


def _find(boxes: list[_Box], *path: bytes) -> _Box:
    """The box at ``path`` (types from the top), e.g. ``_find(boxes, b"meta", b"iloc")``."""
    for kind in path:
        matches = [box for box in boxes if box.kind == kind]
        if len(matches) != 1:
            raise HevcError(f"unsupported HEIF layout: expected one {kind!r} box, found {len(matches)}")
        box = matches[0]
        boxes = box.children or []
    return box


def _box_offset(boxes: list[_Box], target: _Box) -> int:
    """Byte offset of ``target``'s content (after its 8-byte header) in the serialised ``boxes``."""
    offset = 0
    for box in boxes:
        if box is target:
            return offset + 8
        if box.children is not None:
            try:
                return offset + 8 + len(box.body) + _box_offset(box.children, target)
            except LookupError:
                pass
        offset += len(box.to_bytes())
    raise LookupError("box not found")


@dataclass
class _Iloc:
    """The ``iloc`` box of a file with one item stored in one extent (what libheif writes for one image)."""

    version: int
    flags: bytes
    offset_size: int
    length_size: int
    base_offset_size: int
    index_size: int
    item_id: int
    construction_method: int
    data_reference_index: int
    base_offset: int
    extent_offset: int
    extent_length: int

    @staticmethod
    def parse(body: bytes) -> _Iloc:
        reader = _Reader(body)
        version = reader.uint(1)
        flags = reader.take(3)
        sizes = reader.uint(1)
        sizes2 = reader.uint(1)
        offset_size, length_size = sizes >> 4, sizes & 15
        base_offset_size = sizes2 >> 4
        index_size = sizes2 & 15 if version in (1, 2) else 0
        item_count = reader.uint(2 if version < 2 else 4)
        if item_count != 1:
            raise HevcError(f"unsupported HEIF layout: {item_count} items in iloc, expected 1")
        item_id = reader.uint(2 if version < 2 else 4)
        construction_method = reader.uint(2) & 15 if version in (1, 2) else 0
        data_reference_index = reader.uint(2)
        base_offset = reader.uint(base_offset_size)
        if reader.uint(2) != 1:
            raise HevcError("unsupported HEIF layout: the image item is not stored in one extent")
        if index_size:
            reader.uint(index_size)
        extent_offset = reader.uint(offset_size)
        extent_length = reader.uint(length_size)
        return _Iloc(version, flags, offset_size, length_size, base_offset_size, index_size, item_id,
                     construction_method, data_reference_index, base_offset, extent_offset, extent_length)

    def to_bytes(self) -> bytes:
        out = bytearray([self.version]) + self.flags
        out += bytes([self.offset_size << 4 | self.length_size, self.base_offset_size << 4 | self.index_size])
        id_size = 2 if self.version < 2 else 4
        out += _uint(1, id_size) + _uint(self.item_id, id_size)
        if self.version in (1, 2):
            out += _uint(self.construction_method, 2)
        out += _uint(self.data_reference_index, 2) + _uint(self.base_offset, self.base_offset_size)
        out += _uint(1, 2)
        if self.index_size:
            out += _uint(0, self.index_size)
        out += _uint(self.extent_offset, self.offset_size) + _uint(self.extent_length, self.length_size)
        return bytes(out)

    @property
    def start(self) -> int:
        """File offset of the item's data."""
        return self.base_offset + self.extent_offset

    def moved(self, start: int, length: int) -> _Iloc:
        """The same layout pointing at ``length`` bytes from file offset ``start``."""
        base, extent = (start, 0) if self.base_offset_size else (0, start)
        if extent >= 1 << (8 * self.offset_size) or length >= 1 << (8 * self.length_size):
            raise HevcError("image data too large for the template's iloc field sizes")
        return _Iloc(self.version, self.flags, self.offset_size, self.length_size, self.base_offset_size,
                     self.index_size, self.item_id, self.construction_method, self.data_reference_index,
                     base, extent, length)


class _Reader:
    """Big-endian reader over bytes that fails with :class:`HevcError` when it runs out."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise HevcError("truncated data: a field runs past the end")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big") if n else 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big") if size else b""


# ---------------------------------------------------------------- hvcC (HEVCDecoderConfigurationRecord)

_HVCC_HEADER = 22
"""Bytes of the hvcC record before numOfArrays (profile, level, chroma format, bit depths, ...)."""


def _hvcc_nal_units(body: bytes) -> list[bytes]:
    """The NAL units of an hvcC record's arrays, in order."""
    reader = _Reader(body)
    reader.take(_HVCC_HEADER)
    units = []
    for _ in range(reader.uint(1)):
        reader.uint(1)
        for _ in range(reader.uint(2)):
            units.append(reader.take(reader.uint(2)))
    return units


def _hvcc_with(template: bytes, units: list[bytes]) -> bytes:
    """The template's hvcC header with its arrays replaced by ``units`` grouped by NAL type."""
    flags = template[_HVCC_HEADER + 1] & 0xC0 if template[_HVCC_HEADER] else 0  # array_completeness, reserved
    by_type: dict[int, list[bytes]] = {}
    for unit in units:
        if not unit:
            raise HevcError("corrupt bitstream: an empty parameter-set NAL unit")
        by_type.setdefault((unit[0] >> 1) & 0x3F, []).append(unit)
    out = bytearray(template[:_HVCC_HEADER]) + bytes([len(by_type)])
    for nal_type, group in by_type.items():
        out += bytes([flags | nal_type]) + _uint(len(group), 2)
        for unit in group:
            out += _uint(len(unit), 2) + unit
    return bytes(out)


def _nal_length_size(hvcc: bytes) -> int:
    """Bytes of the NAL length prefixes in mdat (hvcC's lengthSizeMinusOne + 1)."""
    return (hvcc[_HVCC_HEADER - 1] & 3) + 1


# ---------------------------------------------------------------- packing


def pack_bitstream(heif_bytes: bytes) -> bytes:
    """The HEVC bitstream of a single-image HEIF file, in the packed format of the module docstring."""
    boxes = _parse_boxes(heif_bytes)
    hvcc = _find(boxes, b"meta", b"iprp", b"ipco", b"hvcC").body
    mdat = _find(boxes, b"mdat")
    iloc = _Iloc.parse(_find(boxes, b"meta", b"iloc").body)
    start = _box_offset(boxes, mdat)
    if iloc.start != start or iloc.extent_length != len(mdat.body):
        raise HevcError("unsupported HEIF layout: the image item is not the whole mdat payload")
    units = _hvcc_nal_units(hvcc)
    if len(units) > 255:
        raise HevcError(f"{len(units)} parameter sets, at most 255 can be packed")
    out = bytearray([len(units)])
    for unit in units:
        out += _uint(len(unit), 2) + unit
    return bytes(out + mdat.body)


def _split_packed(bits_bytes: bytes, length_size: int) -> tuple[list[bytes], bytes]:
    """(parameter-set NAL units, mdat payload) of a packed bitstream; trailing zero padding dropped."""
    reader = _Reader(bits_bytes)
    units = [reader.take(reader.uint(2)) for _ in range(reader.uint(1))]
    start = reader.pos
    while reader.left >= length_size:
        length = reader.uint(length_size)
        if length == 0:
            reader.pos -= length_size
            break
        reader.take(length)
    if any(bits_bytes[reader.pos :]):
        raise HevcError("corrupt bitstream: non-zero bytes after the last NAL unit")
    return units, bits_bytes[start : reader.pos]


@functools.lru_cache(maxsize=8)
def _template(height: int, width: int, chroma: str) -> bytes:
    """A HEIF file of a mid-grey image of this size, made with the same encoder settings."""
    grey = np.full((height, width, 3), TEMPLATE_GREY, dtype=np.uint8)
    return _encode_uint8(grey, MIN_QUALITY, chroma)


def unpack_bitstream(bits_bytes: bytes, height: int, width: int, chroma: str = CHROMA) -> bytes:
    """Rebuild a decodable HEIF file from a packed bitstream (zero padding allowed), the image size and
    the chroma format it was coded with."""
    if height < 1 or width < 1:
        raise HevcError(f"image size must be positive, got {height}x{width}")
    boxes = _parse_boxes(_template(int(height), int(width), _check_chroma(chroma)))
    hvcc = _find(boxes, b"meta", b"iprp", b"ipco", b"hvcC")
    units, payload = _split_packed(bytes(bits_bytes), _nal_length_size(hvcc.body))
    if not units or not payload:
        raise HevcError("empty bitstream: no parameter sets or no image NAL units")
    hvcc.body = _hvcc_with(hvcc.body, units)
    mdat = _find(boxes, b"mdat")
    mdat.body = payload
    iloc_box = _find(boxes, b"meta", b"iloc")
    iloc = _Iloc.parse(iloc_box.body)
    # the iloc fields keep their sizes, so the mdat offset computed before the rewrite stays right
    iloc_box.body = iloc.moved(_box_offset(boxes, mdat), len(payload)).to_bytes()
    return b"".join(box.to_bytes() for box in boxes)


# ---------------------------------------------------------------- encoding and decoding


def _as_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 1] (tensor or array) or (H, W, 3) uint8 -> contiguous (H, W, 3) uint8."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        if image.ndim != 3 or image.shape[2] != 3:
            raise HevcError(f"expected a uint8 image of shape (H, W, 3), got {image.shape}")
        return np.ascontiguousarray(image)
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(image)
    if not isinstance(image, torch.Tensor) or not image.is_floating_point() or image.ndim != 3 or image.shape[0] != 3:
        shape = tuple(getattr(image, "shape", ()))
        raise HevcError(f"expected a float image (3, H, W) in [0, 1] or uint8 (H, W, 3), got {type(image).__name__} "
                        f"of shape {shape}")
    return np.ascontiguousarray(to_uint8(image))


def _encode_uint8(pixels: np.ndarray, quality: int, chroma: str) -> bytes:
    height, width = pixels.shape[:2]
    buffer = io.BytesIO()
    pillow_heif.encode("RGB", (width, height), pixels.tobytes(), buffer, quality=quality, chroma=chroma)
    return buffer.getvalue()


def _check_chroma(chroma: str) -> str:
    if chroma not in CHROMA_FORMATS:
        raise HevcError(f"chroma format must be one of {CHROMA_FORMATS}, got {chroma!r}")
    return chroma


def _check_quality(quality: int) -> int:
    if not isinstance(quality, int | np.integer) or not MIN_QUALITY <= quality <= MAX_QUALITY:
        raise HevcError(f"quality must be an integer in [{MIN_QUALITY}, {MAX_QUALITY}], got {quality!r}")
    return int(quality)


def encode(image: torch.Tensor | np.ndarray, quality: int, chroma: str = CHROMA) -> HevcImage:
    """HEVC-intra code ``image`` at ``quality`` (0..100) with ``chroma`` ("444" by default, "422", "420")."""
    pixels = _as_uint8(image)
    data = _encode_uint8(pixels, _check_quality(quality), _check_chroma(chroma))
    return HevcImage(data, 8 * len(pack_bitstream(data)), int(quality), pixels.shape[0], pixels.shape[1], chroma)


def decode(data: bytes) -> torch.Tensor:
    """A HEIF file -> (3, H, W) float32 tensor in [0, 1]."""
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        pixels = np.asarray(heif)
    except (ValueError, RuntimeError, EOFError, SyntaxError, OSError) as exc:
        raise HevcError(f"not a decodable HEIF/HEVC file ({exc})") from exc
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise HevcError(f"decoded image has shape {pixels.shape}, expected (H, W, 3) RGB")
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div_(255.0)


class QualityLadder:
    """The encodings of one image, made on demand and kept by quality, for repeated budget searches."""

    def __init__(self, image: torch.Tensor | np.ndarray, chroma: str = CHROMA) -> None:
        self.pixels = _as_uint8(image)
        self.chroma = _check_chroma(chroma)
        self._encoded: dict[int, HevcImage] = {}

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def n_encodes(self) -> int:
        """x265 encodings made so far."""
        return len(self._encoded)

    def at(self, quality: int) -> HevcImage:
        """The image coded at ``quality``."""
        quality = _check_quality(quality)
        if quality not in self._encoded:
            self._encoded[quality] = encode(self.pixels, quality, self.chroma)
        return self._encoded[quality]

    def within(self, max_bits: int) -> HevcImage | None:
        """The highest quality whose bitstream fits ``max_bits`` (None when even quality 0 does not fit).

        Bisection over 0..100 keeping ``lo`` fitting and ``hi`` not: the result fits and the next
        quality up does not (or it is quality 100), with about seven encodes.
        """
        if max_bits < 0:
            raise HevcError(f"max_bits must be >= 0, got {max_bits}")
        if self.at(MIN_QUALITY).bitstream_bits > max_bits:
            return None
        if self.at(MAX_QUALITY).bitstream_bits <= max_bits:
            return self.at(MAX_QUALITY)
        lo, hi = MIN_QUALITY, MAX_QUALITY
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.at(mid).bitstream_bits <= max_bits:
                lo = mid
            else:
                hi = mid
        return self.at(lo)


def encode_within(image: torch.Tensor | np.ndarray, max_bits: int, chroma: str = CHROMA) -> HevcImage | None:
    """The highest-quality coding of ``image`` whose bitstream fits ``max_bits`` bits, or None."""
    return QualityLadder(image, chroma).within(max_bits)
