"""IQ captures in SigMF: one ``.sigmf-data`` (samples) and one ``.sigmf-meta`` (JSON) per recording.

Datatypes: ``cf32_le`` (complex float32, exact) and ``ci16_le`` (interleaved int16 I/Q). For ci16 the
integer is ``round(x * 32768)`` clipped to -32768..32767, i.e. full scale 1.0 = 32768, the same
scaling the ``sigmf`` package's autoscale applies when reading; a PlutoSDR's 12-bit ADC word
``w`` (-2048..2047) read as ``w / 2048`` is stored losslessly as ``16 * w``. The full scale is
written to the global key ``pjscc:ci16_full_scale`` and read back from it (32768 when absent), and
the number of clipped I/Q components to ``pjscc:ci16_clipped``.

This project's keys live in the ``pjscc`` extension namespace (declared in ``core:extensions``):
``pjscc:metadata`` holds the caller's free JSON metadata (configs, what was sent, radio settings),
``pjscc:sample_count`` the number of samples written, so a truncated data file is detected.
Annotation fields other than SigMF's core ones are stored as ``pjscc:<name>``.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import numpy as np
import sigmf
from sigmf import SigMFFile
from sigmf.error import SigMFError
from sigmf.sigmffile import get_sigmf_filenames

from phy.samples import finite_complex64

SUPPORTED_DATATYPES = ("cf32_le", "ci16_le")
SAMPLE_BYTES = {"cf32_le": 8, "ci16_le": 4}
CI16_FULL_SCALE = 32768.0
NAMESPACE = "pjscc"
METADATA_KEY = f"{NAMESPACE}:metadata"
SAMPLE_COUNT_KEY = f"{NAMESPACE}:sample_count"
FULL_SCALE_KEY = f"{NAMESPACE}:ci16_full_scale"
CLIPPED_KEY = f"{NAMESPACE}:ci16_clipped"
_EXTENSION = {"name": NAMESPACE, "version": "1.0.0", "optional": True}
_CORE_ANNOTATION_FIELDS = ("sample_start", "sample_count", "label", "comment", "freq_lower_edge", "freq_upper_edge")


class CaptureError(ValueError):
    """A capture that cannot be written or read: missing, malformed, truncated or not what was expected."""


@dataclass(frozen=True)
class Capture:
    """A capture read back from disk.

    Attributes:
        samples: complex64 (n,), in full-scale units (ci16 divided by its full scale).
        sample_rate: samples/s.
        center_freq: Hz, from the first capture segment's ``core:frequency`` (None when absent).
        datatype: ``cf32_le`` or ``ci16_le``.
        annotations: one dict per annotation with ``sample_start``, ``sample_count``, ``label`` and any
            further fields (``core:``/``pjscc:`` prefixes removed, other namespaces kept).
        metadata: the free metadata given to :func:`write_capture` (``{}`` when there is none).
        global_info: the SigMF ``global`` object as stored.
    """

    samples: np.ndarray
    sample_rate: float
    center_freq: float | None
    datatype: str
    annotations: list[dict]
    metadata: dict
    global_info: dict


def capture_paths(path: str | Path) -> tuple[Path, Path]:
    """``(meta_path, data_path)`` of a capture given with or without a SigMF suffix."""
    names = get_sigmf_filenames(path)
    return names["meta_fn"], names["data_fn"]


def _to_json(value: object, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CaptureError(f"{what} is not JSON-serialisable ({exc}); use plain dict/list/str/int/float/bool") from None


def _samples_bytes(samples: np.ndarray, datatype: str) -> tuple[bytes, dict]:
    """Encode samples (complex64 (n,)) as the datatype's bytes; returns (bytes, extra global keys)."""
    if datatype == "cf32_le":
        return samples.astype("<c8").tobytes(), {}
    scaled = samples.view(np.float32).astype(np.float64) * CI16_FULL_SCALE
    ints = np.clip(np.round(scaled), -32768, 32767)
    clipped = int(np.count_nonzero(ints != np.round(scaled)))
    return ints.astype("<i2").tobytes(), {FULL_SCALE_KEY: CI16_FULL_SCALE, CLIPPED_KEY: clipped}


def _annotation_segment(annotation: tuple | Mapping, n_samples: int) -> dict:
    """One annotation (``(start, length, label)`` or a dict) as a SigMF annotation segment."""
    if isinstance(annotation, Mapping):
        fields = dict(annotation)
    elif isinstance(annotation, tuple | list) and len(annotation) == 3:
        fields = dict(zip(("sample_start", "sample_count", "label"), annotation, strict=True))
    else:
        raise CaptureError(f"annotation {annotation!r} must be (start_sample, length, label) or a dict")
    start, count = fields.get("sample_start"), fields.get("sample_count")
    for name, value in (("sample_start", start), ("sample_count", count)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise CaptureError(f"annotation {annotation!r}: {name}={value!r} must be a non-negative integer")
    if start + count > n_samples:
        raise CaptureError(
            f"annotation {annotation!r} ends at sample {start + count}, beyond the {n_samples} samples written"
        )
    segment = {}
    for key, value in fields.items():
        name = str(key)
        full = f"core:{name}" if name in _CORE_ANNOTATION_FIELDS else name if ":" in name else f"{NAMESPACE}:{name}"
        segment[full] = int(value) if name in ("sample_start", "sample_count") else value
    _to_json(segment, f"annotation {annotation!r}")
    return segment


def _check_write_inputs(samples: np.ndarray, sample_rate: float, center_freq: float, datatype: str) -> np.ndarray:
    x = finite_complex64(samples, "the capture's samples", CaptureError)
    if datatype not in SUPPORTED_DATATYPES:
        raise CaptureError(f"datatype={datatype!r} is not supported; expected one of {SUPPORTED_DATATYPES}")
    if not (math.isfinite(sample_rate) and sample_rate > 0):
        raise CaptureError(f"sample_rate={sample_rate} must be a positive number of samples/s")
    if not math.isfinite(center_freq):
        raise CaptureError(f"center_freq={center_freq} must be a finite frequency in Hz")
    return x


def _write_temp(directory: Path, name: str, payload: bytes) -> Path:
    """Write ``payload`` to a new hidden temporary file in ``directory`` (flushed to disk, umask permissions)."""
    tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _write_pair(data_path: Path, data: bytes, meta_path: Path, meta: bytes) -> None:
    """Write both files through temporaries and renames; on any failure no new file is left behind."""
    temporaries: list[Path] = []
    renamed_data = False
    try:
        temporaries.append(_write_temp(data_path.parent, data_path.name, data))
        temporaries.append(_write_temp(meta_path.parent, meta_path.name, meta))
        os.replace(temporaries[0], data_path)
        renamed_data = True
        os.replace(temporaries[1], meta_path)
    except BaseException:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        if renamed_data:
            data_path.unlink(missing_ok=True)
        raise


def write_capture(
    path: str | Path,
    samples: np.ndarray,
    sample_rate: float,
    center_freq: float,
    *,
    datatype: str = "cf32_le",
    annotations: Iterable[tuple | Mapping] = (),
    metadata: Mapping | None = None,
    hw: str | None = None,
    author: str | None = None,
    description: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a SigMF recording atomically: both files appear, or (on any error) neither.

    Each file is written to a hidden temporary in the same directory, flushed, then renamed into
    place, data first and metadata last, so a reader never finds a ``.sigmf-meta`` whose data is
    partial. (With ``overwrite=True`` a failure between the two renames loses the old capture's data.)

    Args:
        path: the capture, with or without ``.sigmf-meta``/``.sigmf-data``; its directory must exist.
        samples: complex (n,), n >= 1, finite; full scale 1.0 for ci16.
        sample_rate: samples/s.
        center_freq: RF centre frequency in Hz (0 for a baseband/emulated capture).
        datatype: ``"cf32_le"`` (exact) or ``"ci16_le"`` (see the module docstring for the scale).
        annotations: ``(start_sample, length, label)`` tuples or dicts with ``sample_start``,
            ``sample_count`` and any further JSON fields (e.g. a frame's header dict).
        metadata: free JSON metadata stored under ``pjscc:metadata``.
        hw, author, description: SigMF ``core:hw``, ``core:author``, ``core:description``.
        overwrite: replace an existing capture at ``path``; otherwise that is an error.

    Returns:
        The path of the ``.sigmf-meta`` file.
    """
    x = _check_write_inputs(samples, float(sample_rate), float(center_freq), datatype)
    meta_path, data_path = capture_paths(path)
    if not meta_path.parent.is_dir():
        raise CaptureError(f"directory {meta_path.parent} does not exist; create it before writing {meta_path.name}")
    if not overwrite and (meta_path.exists() or data_path.exists()):
        raise CaptureError(f"capture {meta_path} or {data_path} already exists; pass overwrite=True to replace it")
    free = dict(metadata or {})
    _to_json(free, "metadata")
    segments = [_annotation_segment(a, x.size) for a in annotations]
    data, extra = _samples_bytes(x, datatype)
    global_info = {
        sigmf.DATATYPE_KEY: datatype,
        sigmf.SAMPLE_RATE_KEY: float(sample_rate),
        sigmf.RECORDER_KEY: "pjscc-ota",
        sigmf.EXTENSIONS_KEY: [_EXTENSION],
        SAMPLE_COUNT_KEY: int(x.size),
        METADATA_KEY: free,
        **extra,
    }
    for key, value in ((sigmf.HW_KEY, hw), (sigmf.AUTHOR_KEY, author), (sigmf.DESCRIPTION_KEY, description)):
        if value is not None:
            global_info[key] = str(value)
    record = SigMFFile(global_info=global_info)
    record.set_data_file(data_buffer=io.BytesIO(data))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    record.add_capture(0, metadata={sigmf.FREQUENCY_KEY: float(center_freq), sigmf.DATETIME_KEY: now})
    for segment in sorted(segments, key=lambda s: s["core:sample_start"]):
        record.add_annotation(segment["core:sample_start"], metadata=segment)
    try:
        record.validate()
    except jsonschema.ValidationError as exc:
        raise CaptureError(f"the capture's metadata fails SigMF validation: {exc.message}") from None
    _write_pair(data_path, data, meta_path, (record.dumps() + "\n").encode())
    return meta_path


def _load_metadata(path: str | Path) -> tuple[Path, Path, dict]:
    """Find, parse and validate a capture's metadata; returns (meta_path, data_path, metadata)."""
    meta_path, data_path = capture_paths(path)
    if not meta_path.is_file():
        raise CaptureError(f"capture metadata {meta_path} not found (a SigMF capture is a .sigmf-meta + .sigmf-data)")
    if not data_path.is_file():
        raise CaptureError(f"capture data {data_path} not found (its metadata {meta_path.name} exists)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptureError(f"{meta_path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise CaptureError(f"{meta_path} is not SigMF metadata: expected a JSON object, found {type(meta).__name__}")
    try:
        sigmf.validate.validate(meta, sigmf.schema.get_schema())
    except (jsonschema.ValidationError, KeyError, TypeError) as exc:
        reason = exc.message if isinstance(exc, jsonschema.ValidationError) else f"{type(exc).__name__}: {exc}"
        raise CaptureError(f"{meta_path} fails SigMF validation: {reason}") from None
    return meta_path, data_path, meta


def _check_layout(meta_path: Path, data_path: Path, meta: dict) -> tuple[str, float, int]:
    """Check datatype, sample rate and data size; returns (datatype, sample_rate, n_samples)."""
    glob = meta["global"]
    datatype = glob["core:datatype"]
    if datatype not in SUPPORTED_DATATYPES:
        raise CaptureError(f"{meta_path} has datatype {datatype!r}; supported datatypes are {SUPPORTED_DATATYPES}")
    if glob.get(sigmf.NUM_CHANNELS_KEY, 1) != 1:
        raise CaptureError(f"{meta_path} has {glob[sigmf.NUM_CHANNELS_KEY]} channels; only single-channel is supported")
    non_conforming = [k for k in (sigmf.DATASET_KEY, sigmf.TRAILING_BYTES_KEY) if glob.get(k)]
    non_conforming += [sigmf.HEADER_BYTES_KEY for c in meta["captures"] if c.get(sigmf.HEADER_BYTES_KEY)]
    if non_conforming:
        raise CaptureError(f"{meta_path} is a non-conforming dataset ({non_conforming}); not supported")
    sample_rate = glob.get(sigmf.SAMPLE_RATE_KEY)
    if not (isinstance(sample_rate, int | float) and sample_rate > 0):
        raise CaptureError(f"{meta_path} has {sigmf.SAMPLE_RATE_KEY}={sample_rate!r}; a positive sample rate is needed")
    size, sample_bytes = data_path.stat().st_size, SAMPLE_BYTES[datatype]
    n_samples, remainder = divmod(size, sample_bytes)
    if remainder:
        raise CaptureError(
            f"{data_path} is truncated: {size} bytes is not a whole number of {datatype} samples "
            f"({sample_bytes} bytes each)"
        )
    declared = glob.get(SAMPLE_COUNT_KEY)
    if declared is not None and n_samples != declared:
        raise CaptureError(
            f"{data_path} holds {n_samples} samples but {meta_path.name} declares {declared} ({SAMPLE_COUNT_KEY})"
            + ("; the data file is truncated" if n_samples < declared else "")
        )
    for a in meta["annotations"]:
        end = a["core:sample_start"] + a.get("core:sample_count", 0)
        if end > n_samples:
            raise CaptureError(
                f"{data_path} is truncated: it holds {n_samples} samples but an annotation "
                f"({a.get('core:label', 'unlabelled')!r}) ends at sample {end}"
            )
    if n_samples == 0:
        raise CaptureError(f"{data_path} holds no samples")
    return datatype, float(sample_rate), n_samples


def _public_annotation(segment: dict) -> dict:
    out = {}
    for key, value in segment.items():
        namespace, _, name = key.partition(":")
        out[name if namespace in ("core", NAMESPACE) else key] = value
    out.setdefault("sample_count", None)
    out.setdefault("label", None)
    return out


def read_capture(path: str | Path, expected_sample_rate: float | None = None) -> Capture:
    """Read a SigMF recording written by :func:`write_capture` (or any conforming cf32_le/ci16_le one).

    Args:
        path: the capture, with or without a SigMF suffix.
        expected_sample_rate: when given, the capture's sample rate must equal it (samples/s).

    Raises:
        CaptureError: missing file, malformed or invalid metadata, unsupported datatype, truncated
            data, checksum mismatch, or a sample rate other than ``expected_sample_rate``.
    """
    meta_path, data_path, meta = _load_metadata(path)
    datatype, sample_rate, _ = _check_layout(meta_path, data_path, meta)
    if expected_sample_rate is not None and not math.isclose(sample_rate, expected_sample_rate, rel_tol=1e-9):
        raise CaptureError(
            f"{meta_path} was recorded at {sample_rate:g} samples/s but {expected_sample_rate:g} samples/s was expected"
        )
    glob = meta["global"]
    full_scale = glob.get(FULL_SCALE_KEY, CI16_FULL_SCALE)
    if datatype == "ci16_le" and not (isinstance(full_scale, int | float) and full_scale > 0):
        raise CaptureError(f"{meta_path}: {FULL_SCALE_KEY}={full_scale!r} must be a positive number")
    try:
        record = SigMFFile(metadata=meta, data_file=data_path, autoscale=False)
        raw = record.read_samples()
    except SigMFError as exc:
        raise CaptureError(f"{data_path} does not match {meta_path.name}: {exc}") from None
    samples = np.asarray(raw, dtype=np.complex64).reshape(-1)
    if datatype == "ci16_le":
        samples = (samples / np.float32(full_scale)).astype(np.complex64)
    captures = meta["captures"]
    center = captures[0].get(sigmf.FREQUENCY_KEY) if captures else None
    return Capture(
        samples=samples,
        sample_rate=sample_rate,
        center_freq=None if center is None else float(center),
        datatype=datatype,
        annotations=[_public_annotation(a) for a in meta["annotations"]],
        metadata=dict(glob.get(METADATA_KEY, {})),
        global_info=glob,
    )


def iter_capture(path: str | Path, chunk: int = 1 << 18) -> Iterator[np.ndarray]:
    """The samples of a capture as complex64 chunks of ``chunk`` (the last shorter), read as they are needed.

    Memory stays at one chunk whatever the capture's length (the data file is memory-mapped); the layout
    is checked as :func:`read_capture` checks it, but the checksum is not (that would read the whole file
    first). :func:`capture_info` gives the metadata.

    Raises:
        CaptureError: as :func:`read_capture` for a missing or malformed capture.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of samples, got {chunk}")
    meta_path, data_path, meta = _load_metadata(path)
    datatype, _, n_samples = _check_layout(meta_path, data_path, meta)
    if n_samples == 0:
        return
    full_scale = np.float32(meta["global"].get(FULL_SCALE_KEY, CI16_FULL_SCALE))
    raw = np.memmap(data_path, dtype="<f4" if datatype == "cf32_le" else "<i2", mode="r", shape=(n_samples, 2))
    for start in range(0, n_samples, chunk):
        block = np.asarray(raw[start : start + chunk], dtype=np.float32)
        if datatype == "ci16_le":
            block /= full_scale
        yield block.view(np.complex64).reshape(-1)


def capture_info(path: str | Path) -> dict:
    """A quick summary from the metadata and the data file's size (samples are not read).

    Returns:
        ``meta_path``, ``data_path``, ``datatype``, ``sample_rate``, ``center_freq``, ``n_samples``,
        ``duration_s``, ``n_annotations``, ``hw``, ``author``, ``description``, ``metadata``.
    """
    meta_path, data_path, meta = _load_metadata(path)
    datatype, sample_rate, n_samples = _check_layout(meta_path, data_path, meta)
    glob, captures = meta["global"], meta["captures"]
    return {
        "meta_path": str(meta_path),
        "data_path": str(data_path),
        "datatype": datatype,
        "sample_rate": sample_rate,
        "center_freq": captures[0].get(sigmf.FREQUENCY_KEY) if captures else None,
        "n_samples": n_samples,
        "duration_s": n_samples / sample_rate,
        "n_annotations": len(meta["annotations"]),
        "hw": glob.get(sigmf.HW_KEY),
        "author": glob.get(sigmf.AUTHOR_KEY),
        "description": glob.get(sigmf.DESCRIPTION_KEY),
        "metadata": glob.get(METADATA_KEY, {}),
    }
